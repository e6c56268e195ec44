//! `klee image save` / `load`: image archives as Docker (25+) writes them,
//! an OCI image layout and Docker's `manifest.json` in one tar, so
//! `docker load`, `podman load`, `skopeo` (`docker-archive:` and
//! `oci-archive:`) read what kleene saves, and kleene loads what they save
//! (either layout; layers plain, gzip or zstd, told by their first bytes).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{layer, Blob, Found};
use crate::engine::error::{Error, Result};
use crate::engine::image::Image;
use crate::engine::image_create::Progress;
use crate::engine::Engine;

fn bad(file: &str, why: impl std::fmt::Display) -> Error {
    Error::Registry(format!(
        "image archive '{file}': {}",
        printable(&why.to_string())
    ))
}

/// `why` fit for a terminal: the tar crate may quote the bytes of a bad
/// header (binary garbage when the input is not a tar at all), so what is
/// neither printable ASCII nor a letter or digit is shown as `?`, and the
/// whole is kept short.
fn printable(why: &str) -> String {
    let mut out = String::new();
    for c in why.chars().take(300) {
        match c {
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c if c.is_alphanumeric() && c != '\u{fffd}' => out.push(c),
            _ => out.push('?'),
        }
    }
    if why.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// A blob in the archive being written: its digest and size.
fn add_blob(t: &mut tar::Builder<&mut dyn Write>, path: &Path) -> Result<(String, u64)> {
    let digest = layer::file_digest(path).map_err(|e| Error::io("cannot read", path, e))?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o444);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    t.append_data(&mut h, format!("blobs/sha256/{}", &digest[7..]), &mut f)
        .map_err(|e| Error::io("cannot write archive entry", path, e))?;
    Ok((digest, size))
}

fn add_bytes(t: &mut tar::Builder<&mut dyn Write>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o444);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    t.append_data(&mut h, name, data)
        .map_err(|e| Error::io("cannot write archive entry", name, e))
}

impl Engine {
    /// Write images `idents` as one archive to `out`.
    pub fn image_save(
        &mut self,
        idents: &[String],
        out: &mut dyn Write,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let mut images: Vec<Image> = idents
            .iter()
            .map(|i| self.image(i))
            .collect::<Result<_>>()?;
        // The same image named twice is saved once.
        let mut seen = std::collections::HashSet::new();
        images.retain(|i| seen.insert(i.id.clone()));
        if images.is_empty() {
            return Err(Error::invalid("image save", "", "name at least one image"));
        }
        let work = self.registry_work_dir("save")?;
        let r = self.save_into(&images, &work, out, progress);
        let _ = std::fs::remove_dir_all(&work);
        r
    }

    fn save_into(
        &mut self,
        images: &[Image],
        work: &Path,
        out: &mut dyn Write,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let mut t = tar::Builder::new(out);
        add_bytes(&mut t, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let mut index = Vec::new();
        let mut docker = Vec::new();
        let mut written = std::collections::HashSet::new();
        // Layers written already (images share them): digest and size.
        let mut done: std::collections::HashMap<String, (String, u64)> =
            std::collections::HashMap::new();
        for image in images {
            progress.message(&format!(
                "saving {}",
                if image.name.is_empty() {
                    image.id.clone()
                } else {
                    image.nametag()
                }
            ));
            let mut layers = Vec::new();
            for id in &image.layers {
                let path = work.join(format!("layer-{id}.tar"));
                let (digest, size) = match done.get(id) {
                    Some(d) => d.clone(),
                    None => {
                        let e = self.export_layer(id, &path, false)?;
                        done.insert(id.clone(), (e.digest.clone(), e.size));
                        (e.digest, e.size)
                    }
                };
                if written.insert(digest.clone()) {
                    add_blob(&mut t, &path)?;
                }
                layers.push((digest, size));
            }
            let diff_ids: Vec<String> = layers.iter().map(|(d, _)| d.clone()).collect();
            // The config it came with while its layers are the tars it came
            // with: `docker load` then gives it the image ID it had.
            let config = match self
                .image_original(&image.id)?
                .filter(|o| o.diff_ids() == diff_ids)
            {
                Some(o) => o.config.into_bytes(),
                None => serde_json::to_vec(&super::push::config_json(image, &diff_ids))
                    .unwrap_or_default(),
            };
            let cpath = work.join("config.json");
            std::fs::write(&cpath, &config).map_err(|e| Error::io("cannot write", &cpath, e))?;
            let (cdigest, csize) = add_blob(&mut t, &cpath)?;
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
                "layers": layers.iter().map(|(d, s)| json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s})).collect::<Vec<_>>(),
            }))
            .unwrap_or_default();
            let mpath = work.join("manifest");
            std::fs::write(&mpath, &manifest).map_err(|e| Error::io("cannot write", &mpath, e))?;
            let (mdigest, msize) = add_blob(&mut t, &mpath)?;
            let mut desc = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": msize});
            let tags: Vec<String> = if image.name.is_empty() {
                vec![]
            } else {
                vec![image.nametag()]
            };
            if let Some(nt) = tags.first() {
                desc["annotations"] = json!({
                    "io.containerd.image.name": nt,
                    "org.opencontainers.image.ref.name": image.tag,
                });
            }
            index.push(desc);
            docker.push(json!({
                "Config": format!("blobs/sha256/{}", &cdigest[7..]),
                "RepoTags": tags,
                "Layers": layers.iter().map(|(d, _)| format!("blobs/sha256/{}", &d[7..])).collect::<Vec<_>>(),
            }));
        }
        add_bytes(
            &mut t,
            "index.json",
            &serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index})).unwrap_or_default(),
        )?;
        add_bytes(
            &mut t,
            "manifest.json",
            &serde_json::to_vec(&docker).unwrap_or_default(),
        )?;
        t.finish()
            .map_err(|e| Error::io("cannot finish", "the archive", e))
    }

    /// Load every image of the archive read from `input` (`what` names it
    /// in messages); returns them.
    pub fn image_load(
        &mut self,
        input: &mut dyn Read,
        what: &str,
        progress: &mut dyn Progress,
    ) -> Result<Vec<Image>> {
        let work = self.registry_work_dir("load")?;
        let r = (|| {
            let input = layer::sniffed(input).map_err(|e| bad(what, e))?;
            let mut a = tar::Archive::new(input);
            for entry in a.entries().map_err(|e| bad(what, e))? {
                let mut entry = entry.map_err(|e| {
                    let e = e.to_string();
                    if e.contains("when getting cksum for") || e.contains("checksum") {
                        bad(what, "not a tar archive (plain, gzip, zstd or xz), or a corrupt one: a header does not check")
                    } else {
                        bad(what, format!("corrupt archive: {e}"))
                    }
                })?;
                let name = entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                // unpack_in refuses names that leave the directory.
                entry.unpack_in(&work).map_err(|e| {
                    let why = crate::engine::copy::causes(&e);
                    if e.kind() == std::io::ErrorKind::UnexpectedEof
                        || why.contains("failed to write entire file")
                    {
                        bad(
                            what,
                            format!("it ends in the middle of '{name}' (truncated)"),
                        )
                    } else {
                        bad(what, format!("cannot unpack '{name}': {why}"))
                    }
                })?;
            }
            self.load_from(&work, what, progress)
        })();
        let _ = std::fs::remove_dir_all(&work);
        r
    }

    fn load_from(
        &mut self,
        dir: &Path,
        what: &str,
        progress: &mut dyn Progress,
    ) -> Result<Vec<Image>> {
        let read_json = |rel: &str| -> Result<Value> {
            let p = dir.join(rel);
            let text = std::fs::read(&p).map_err(|e| bad(what, format!("{rel}: {e}")))?;
            serde_json::from_slice(&text).map_err(|e| bad(what, format!("{rel}: {e}")))
        };
        let mut found: Vec<Entry> = Vec::new();
        if dir.join("manifest.json").exists() {
            for m in read_json("manifest.json")?
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let config = m["Config"]
                    .as_str()
                    .ok_or_else(|| bad(what, "manifest.json: an entry without Config"))?;
                let layers = m["Layers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| (dir.join(l.as_str().unwrap_or("")), None))
                    .collect();
                let tag = m["RepoTags"][0].as_str().map(str::to_string);
                found.push((dir.join(config), layers, tag, None));
            }
        } else if dir.join("index.json").exists() {
            let blob = |d: &str| {
                dir.join("blobs/sha256")
                    .join(d.trim_start_matches("sha256:"))
            };
            for m in read_json("index.json")?["manifests"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let mut d = m["digest"].as_str().unwrap_or("").to_string();
                let mut kind = m["mediaType"].as_str().unwrap_or("").to_string();
                let mut man: Value =
                    read_json(&format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))?;
                if man.get("manifests").is_some() {
                    let want = super::host_platform();
                    let r =
                        super::reference::Reference::parse("archive/image").expect("a valid name");
                    d = super::pick_platform(&r, &man, &want)?;
                    man = read_json(&format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))?;
                    kind = man["mediaType"].as_str().unwrap_or("").to_string();
                }
                // As it is in the archive, checked against its name.
                let text = std::fs::read(blob(&d)).unwrap_or_default();
                let manifest =
                    (format!("sha256:{:x}", Sha256::digest(&text)) == d).then_some((kind, text));
                let config = blob(man["config"]["digest"].as_str().unwrap_or(""));
                let layers = man["layers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| {
                        (
                            blob(l["digest"].as_str().unwrap_or("")),
                            l["mediaType"].as_str().map(str::to_string),
                        )
                    })
                    .collect();
                let ann = &m["annotations"];
                let name = ann["io.containerd.image.name"]
                    .as_str()
                    .or_else(|| {
                        ann["org.opencontainers.image.ref.name"]
                            .as_str()
                            .filter(|n| n.contains(':') || n.contains('/'))
                    })
                    .map(str::to_string);
                found.push((config, layers, name, manifest));
            }
        } else {
            return Err(bad(
                what,
                "neither manifest.json (docker-archive) nor index.json (OCI layout) in it",
            ));
        }
        let mut out = Vec::new();
        for (config, layers, name, manifest) in found {
            let bytes = std::fs::read(&config)
                .map_err(|e| bad(what, format!("config {}: {e}", config.display())))?;
            let conf: Value =
                serde_json::from_slice(&bytes).map_err(|e| bad(what, format!("config: {e}")))?;
            let mut blobs = Vec::new();
            for (p, mt) in &layers {
                let digest = layer::file_digest(p)
                    .map_err(|e| bad(what, format!("layer {}: {e}", p.display())))?;
                // Where the layout names the blob by digest, the file must be it.
                if let Some(n) = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .filter(|n| n.len() == 64)
                {
                    if mt.is_some() && digest[7..] != *n {
                        return Err(bad(what, format!("blob {n} has digest {digest}: refused")));
                    }
                }
                let media_type = mt.clone().unwrap_or_else(|| sniff(p));
                blobs.push(Blob {
                    digest,
                    media_type,
                    size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                });
            }
            let (nm, tag) = match name.as_deref().map(local_name) {
                Some(Ok(nt)) => nt,
                Some(Err(e)) => return Err(e),
                None => (String::new(), String::new()),
            };
            let f = Found {
                what: format!("image archive '{what}'"),
                config: conf,
                config_digest: format!("sha256:{:x}", Sha256::digest(&bytes)),
                blobs,
                source: None,
                original: super::original(
                    &bytes,
                    manifest.as_ref().map(|(k, t)| (k.clone(), &t[..])),
                ),
            };
            let paths: Vec<PathBuf> = layers.iter().map(|(p, _)| p.clone()).collect();
            let fetch = |missing: &[usize], _: &mut dyn Progress| -> Vec<Result<PathBuf>> {
                missing.iter().map(|&i| Ok(paths[i].clone())).collect()
            };
            let image = self.install(&f, nm, tag, "load", &fetch, progress)?;
            progress.message(&format!(
                "loaded {}",
                if image.name.is_empty() {
                    image.id.clone()
                } else {
                    image.nametag()
                }
            ));
            out.push(image);
        }
        Ok(out)
    }
}

/// An image in an archive: its config file, its layer files (with their
/// media types where the archive says), its name, its manifest (media
/// type and bytes; an OCI layout has one).
type Entry = (
    PathBuf,
    Vec<(PathBuf, Option<String>)>,
    Option<String>,
    Option<(String, Vec<u8>)>,
);

/// A layer file's compression, from its first bytes.
fn sniff(p: &Path) -> String {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(p)
        .and_then(|mut f| f.read(&mut magic))
        .unwrap_or(0);
    match layer::compression(&magic[..n.min(4)]) {
        layer::Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        layer::Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    }
    .into()
}

/// `docker.io/library/x:1`, `localhost/x:1`, `x:1` → kleene's name and tag.
fn local_name(s: &str) -> Result<(String, String)> {
    let r = super::reference::Reference::parse(s)?;
    Ok((r.local_name(), r.local_tag()))
}
