//! `klee image push`: an image's layers (each as its diff to the layers
//! below, whiteouts included) gzip-compressed, its config (with one
//! history entry per layer) and an OCI manifest, uploaded to a registry.
//! Blobs the registry has already are not sent again (HEAD first); each
//! is uploaded whole (POST for a location, PUT with its digest).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::client::{err, Client};
use super::config::Config;
use super::reference::Reference;
use crate::engine::error::{Error, Result};
use crate::engine::image::Image;
use crate::engine::image_create::Progress;
use crate::engine::Engine;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A blob ready to upload: its file (None: the registry has it already),
/// digest, size and media type.
struct Ready {
    path: Option<PathBuf>,
    digest: String,
    size: u64,
    media_type: String,
}

impl Engine {
    /// Push image `ident` as `reference` (default: the image's own name and
    /// tag, which then must name a registry or mean Docker Hub).
    pub fn image_push(
        &mut self,
        ident: &str,
        reference: Option<&str>,
        progress: &mut dyn Progress,
    ) -> Result<String> {
        let image = self.image(ident)?;
        let target = match reference {
            Some(r) => r.to_string(),
            None if image.name.is_empty() => {
                return Err(Error::invalid(
                    "image",
                    ident,
                    "it has no name: push IMAGE REGISTRY/NAME:TAG",
                ))
            }
            None => image.nametag(),
        };
        let r = Reference::parse(&target)?;
        if r.digest.is_some() {
            return Err(Error::invalid(
                "push target",
                target,
                "a digest cannot be pushed to; give a tag",
            ));
        }
        let client = Client::new(&r, &Config::load()?)?.for_push();
        let work = self.registry_work_dir("push")?;
        let r2 = r.clone();
        let pushed = self.push_image(&client, &r2, &image, &work, progress);
        let _ = std::fs::remove_dir_all(&work);
        pushed
    }

    fn push_image(
        &mut self,
        client: &Client,
        r: &Reference,
        image: &Image,
        work: &Path,
        progress: &mut dyn Progress,
    ) -> Result<String> {
        progress.message(&format!("pushing {} as {r}", image.id));
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, id) in image.layers.iter().enumerate() {
            // A pulled layer the registry has already (the base of an image
            // built here, usually): its own blob, not a re-packed copy.
            // Or one it can mount from the repository it was pulled from.
            if let Some(o) = super::origin::get(&self.root, id) {
                let url = format!("{}/blobs/{}", client.base(), o.digest);
                let there = client
                    .send("HEAD", &url, &[], None)
                    .is_ok_and(|h| h.status() == 200);
                if there {
                    progress.message(&format!("{} exists", &o.digest[..19]));
                }
                if there || mounted(client, &o, progress) {
                    diff_ids.push(o.diff_id);
                    layers.push(Ready {
                        path: None,
                        digest: o.digest,
                        size: o.size,
                        media_type: o.media_type,
                    });
                    continue;
                }
            }
            let path = work.join(format!("layer-{i}.tar.gz"));
            let e = self.export_layer(id, &path, true)?;
            diff_ids.push(e.diff_id);
            layers.push(Ready {
                path: Some(path),
                digest: e.digest,
                size: e.size,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            });
        }
        // The config it came with, if its layers are still the tars it
        // came with (then it keeps its image ID), else one of ours.
        let original = self
            .image_original(&image.id)?
            .filter(|o| o.diff_ids() == diff_ids);
        let config_bytes = match &original {
            Some(o) => o.config.clone().into_bytes(),
            None => serde_json::to_vec(&config_json(image, &diff_ids)).unwrap_or_default(),
        };
        let config_path = work.join("config.json");
        std::fs::write(&config_path, &config_bytes)
            .map_err(|e| Error::io("cannot write", &config_path, e))?;
        let config_blob = Ready {
            path: Some(config_path),
            digest: format!("sha256:{:x}", Sha256::digest(&config_bytes)),
            size: config_bytes.len() as u64,
            media_type: "application/vnd.oci.image.config.v1+json".into(),
        };
        for b in layers.iter().chain(std::iter::once(&config_blob)) {
            if let Some(path) = &b.path {
                upload(client, r, b, path, progress)?;
            }
        }
        // Its own manifest, if every blob is the one it names (then the
        // push keeps its digest too), else a new one.
        let digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
        let (kind, bytes) = match original
            .and_then(|o| (o.layer_digests().as_ref() == Some(&digests)).then_some(o.manifest)?)
        {
            Some((kind, text)) if !kind.is_empty() => (kind, text.into_bytes()),
            Some((_, text)) => (OCI_MANIFEST.to_string(), text.into_bytes()),
            None => {
                let manifest = json!({
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": config_blob.digest, "size": config_blob.size},
                    "layers": layers.iter().map(|l| json!({
                        "mediaType": l.media_type.replace("vnd.docker.image.rootfs.diff.tar.gzip", "vnd.oci.image.layer.v1.tar+gzip"),
                        "digest": l.digest, "size": l.size})).collect::<Vec<_>>(),
                });
                (
                    OCI_MANIFEST.to_string(),
                    serde_json::to_vec(&manifest).unwrap_or_default(),
                )
            }
        };
        let mpath = work.join("manifest.json");
        std::fs::write(&mpath, &bytes).map_err(|e| Error::io("cannot write", &mpath, e))?;
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let url = format!("{}/manifests/{tag}", client.base());
        let resp = client.send("PUT", &url, &[("Content-Type", kind)], Some(&mpath))?;
        if resp.status() != 201 {
            return Err(err(
                r,
                format!("the registry refused the manifest: {}", answer(resp)),
            ));
        }
        // What this push uploaded, the registry has now: a later push of
        // these layers (another tag, another repository) offers it first.
        for (id, (l, d)) in image.layers.iter().zip(layers.iter().zip(&diff_ids)) {
            if l.path.is_some() && super::origin::get(&self.root, id).is_none() {
                let blob = super::Blob {
                    digest: l.digest.clone(),
                    media_type: l.media_type.clone(),
                    size: l.size,
                };
                super::origin::record(&self.root, id, d, &blob, Some(client.base()));
            }
        }
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        progress.message(&format!("pushed {r}@{digest}"));
        Ok(digest)
    }
}

/// A response's status and, if any, the registry's error message.
fn answer(mut resp: ureq::http::Response<ureq::Body>) -> String {
    let status = resp.status();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_string))
        .unwrap_or_default();
    if msg.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {msg}")
    }
}

/// Ask the registry to mount a pulled layer's blob from the repository it
/// came from (same registry, another repository): 201 is done; anything
/// else (the registry does not, or may not for these credentials, and
/// starts an ordinary upload instead) cancels that upload and says no.
fn mounted(client: &Client, o: &super::origin::Origin, progress: &mut dyn Progress) -> bool {
    let Some(from) = o
        .source
        .as_deref()
        .and_then(|s| super::origin::mount_from(s, client.base()))
    else {
        return false;
    };
    let url = format!(
        "{}/blobs/uploads/?mount={}&from={from}",
        client.base(),
        o.digest
    );
    let Ok(resp) = client.send("POST", &url, &[], None) else {
        return false;
    };
    if resp.status() == 201 {
        progress.message(&format!("{} mounted from {from}", &o.digest[..19]));
        return true;
    }
    if let Some(loc) = upload_location(client, &resp) {
        let _ = client.send("DELETE", &loc, &[], None);
    }
    false
}

/// An upload's absolute URL from a response's Location header (registries
/// answer it relative to their origin, or whole).
fn upload_location(client: &Client, resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    let location = resp.headers().get("location")?.to_str().ok()?;
    Some(if location.starts_with('/') {
        let origin: String = client
            .base()
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        format!("{origin}{location}")
    } else {
        location.to_string()
    })
}

/// One blob, unless the registry has it.
fn upload(
    client: &Client,
    r: &Reference,
    b: &Ready,
    path: &Path,
    progress: &mut dyn Progress,
) -> Result<()> {
    let blob_url = format!("{}/blobs/{}", client.base(), b.digest);
    let head = client.send("HEAD", &blob_url, &[], None)?;
    if head.status() == 200 {
        progress.message(&format!("{} exists", &b.digest[..19]));
        return Ok(());
    }
    let start = client.send(
        "POST",
        &format!("{}/blobs/uploads/", client.base()),
        &[],
        None,
    )?;
    if start.status() != 202 {
        return Err(err(
            r,
            format!("the registry refused an upload: {}", answer(start)),
        ));
    }
    let location =
        upload_location(client, &start).ok_or_else(|| err(r, "an upload without a Location"))?;
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = client.send(
        "PUT",
        &format!("{location}{sep}digest={}", b.digest),
        &[("Content-Type", "application/octet-stream".into())],
        Some(path),
    )?;
    if put.status() != 201 {
        return Err(err(r, format!("blob {}: {}", b.digest, answer(put))));
    }
    progress.message(&format!(
        "{} pushed ({})",
        &b.digest[..19],
        crate::engine::limits::size(b.size)
    ));
    Ok(())
}

/// The OCI config of `image` with its layers' diff IDs.
pub(super) fn config_json(image: &Image, diff_ids: &[String]) -> Value {
    let set = |v: &[String]| -> Value {
        v.iter()
            .map(|p| (p.clone(), json!({})))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let mut c = serde_json::Map::new();
    if !image.env.is_empty() {
        c.insert("Env".into(), json!(image.env));
    }
    if !image.cmd.is_empty() {
        c.insert("Cmd".into(), json!(image.cmd));
    }
    if !image.entrypoint.is_empty() {
        c.insert("Entrypoint".into(), json!(image.entrypoint));
    }
    if !image.workdir.is_empty() {
        c.insert("WorkingDir".into(), json!(image.workdir));
    }
    // Empty is root to every runtime; a name needs a passwd to look it up
    // in, which flat images may not have (umoci refuses then).
    if !image.user.is_empty() && image.user != "root" && image.user != "0" {
        c.insert("User".into(), json!(image.user));
    }
    if !image.labels.is_empty() {
        c.insert("Labels".into(), json!(image.labels));
    }
    if !image.exposed_ports.is_empty() {
        c.insert("ExposedPorts".into(), set(&image.exposed_ports));
    }
    if !image.volumes.is_empty() {
        c.insert("Volumes".into(), set(&image.volumes));
    }
    if !image.stop_signal.is_empty() {
        c.insert("StopSignal".into(), json!(image.stop_signal));
    }
    if !image.healthcheck.is_empty() {
        c.insert("Healthcheck".into(), json!({"Test": image.healthcheck}));
    }
    let history: Vec<Value> = diff_ids
        .iter()
        .enumerate()
        .map(|(i, _)| {
            json!({"created": image.created, "created_by": format!("kleene layer {}", image.layers[i])})
        })
        .collect();
    json!({
        "created": image.created,
        "architecture": super::host_platform().split('/').nth(1).unwrap_or("amd64"),
        "os": std::env::consts::OS,
        "config": c,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    })
}
