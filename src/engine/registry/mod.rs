//! Images from registries (`klee image pull`): the manifest (an index is
//! resolved to this host's platform), the config, and each layer —
//! downloaded in parallel, every blob checked against its digest,
//! resumed from a partial file after an interruption — unpacked into
//! kleene layers named by their chain ID, so images that share layers
//! share them on disk and a second pull of them downloads nothing.
//!
//! Nothing half-made stays: layers are filled in staging and committed
//! whole; an image row appears only once all its layers exist; partial
//! downloads wait in `<root>/blobs` for the next pull to resume them.

pub mod archive;
pub mod client;
pub mod config;
mod export;
pub mod layer;
pub(crate) mod origin;
pub mod push;
pub mod reference;
pub mod tarsplit;

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use self::client::{err, Client};
use self::reference::Reference;
use super::error::{Error, Result};
use super::image::Image;
use super::image_create::Progress;
use super::{time, Engine};
use crate::platform::fsutil::lock_file;

/// `--platform`: `os/arch[/variant]`; `None` is this host's.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub platform: Option<String>,
}

/// This host's platform as OCI names it.
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        a => a,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// A layer to fetch: its blob's digest, media type and size.
pub(super) struct Blob {
    digest: String,
    media_type: String,
    size: u64,
}

impl Engine {
    /// A fresh scratch directory under `tmp/` for one save, load or push:
    /// named for this process (so `system check` knows whose it is) and
    /// numbered (kleened runs several at once).
    pub(crate) fn registry_work_dir(&self, what: &str) -> Result<PathBuf> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let work = self
            .root
            .join("tmp")
            .join(crate::platform::owner::scratch(&format!("{what}-{n}")));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).map_err(|e| Error::io("cannot create", &work, e))?;
        Ok(work)
    }

    /// Pull `reference` and store it as an image named after it.
    pub fn image_pull(
        &mut self,
        reference: &str,
        opts: &PullOptions,
        progress: &mut dyn Progress,
    ) -> Result<Image> {
        let r = Reference::parse(reference)?;
        let cfg = config::Config::load()?;
        let want = opts.platform.clone().unwrap_or_else(host_platform);
        let parts = want.split('/').count();
        if !(2..=3).contains(&parts) || want.split('/').any(str::is_empty) {
            return Err(Error::invalid(
                "platform",
                want,
                "write it OS/ARCH[/VARIANT], e.g. linux/arm64",
            ));
        }
        progress.message(&format!("pulling {r}"));
        let (client, (mut kind, mut bytes)) = first_answer(&r, &cfg, progress)?;
        if let Some(d) = &r.digest {
            check_digest(&r, d, &bytes)?;
        }
        let mut top: Value = serde_json::from_slice(&bytes)
            .map_err(|e| err(&r, format!("manifest is not JSON: {e}")))?;
        if kind.is_empty() {
            kind = top["mediaType"].as_str().unwrap_or("").to_string();
        }
        if kind.contains("index")
            || kind.contains("manifest.list")
            || top.get("manifests").is_some()
        {
            let digest = pick_platform(&r, &top, &want)?;
            let (k, b) = client.manifest(&digest)?;
            check_digest(&r, &digest, &b)?;
            (kind, bytes) = (k, b);
            top = serde_json::from_slice(&bytes)
                .map_err(|e| err(&r, format!("manifest {digest} is not JSON: {e}")))?;
        }
        if kind.starts_with("application/vnd.docker.distribution.manifest.v1")
            || top["schemaVersion"] == 1
        {
            return Err(err(
                &r,
                "Docker schema 1 manifests are not supported (deprecated since 2017)",
            ));
        }
        if kind.is_empty() {
            kind = top["mediaType"].as_str().unwrap_or("").to_string();
        }
        let config_digest = top["config"]["digest"]
            .as_str()
            .ok_or_else(|| err(&r, "manifest without a config"))?
            .to_string();
        let blobs: Vec<Blob> = top["layers"]
            .as_array()
            .ok_or_else(|| err(&r, "manifest without layers"))?
            .iter()
            .map(|l| Blob {
                digest: l["digest"].as_str().unwrap_or("").to_string(),
                media_type: l["mediaType"].as_str().unwrap_or("").to_string(),
                size: l["size"].as_u64().unwrap_or(0),
            })
            .collect();
        for b in &blobs {
            check_digest_form(&r, &b.digest)?;
            layer::decoder(&b.media_type, Box::new(std::io::empty()))
                .map_err(|e| err(&r, format!("layer {}: {e}", b.digest)))?;
        }
        let dir = self.root.join("blobs");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let config_text = fetch_config(&client, &r, &config_digest)?;
        let conf: Value = serde_json::from_slice(&config_text)
            .map_err(|e| err(&r, format!("image config is not JSON: {e}")))?;
        // A single-platform image asked for another platform: refused, as
        // Docker does, rather than pulled for the wrong machine.
        if let Some(p) = &opts.platform {
            let have = format!(
                "{}/{}",
                conf["os"].as_str().unwrap_or("?"),
                conf["architecture"].as_str().unwrap_or("?")
            );
            if !p.starts_with(&have) {
                return Err(err(
                    &r,
                    format!("the image is for {have}, not the requested platform {p}"),
                ));
            }
        }
        let digests: Vec<String> = blobs.iter().map(|b| b.digest.clone()).collect();
        let sizes: Vec<u64> = blobs.iter().map(|b| b.size).collect();
        let fetch = |missing: &[usize], progress: &mut dyn Progress| -> Vec<Result<PathBuf>> {
            // Bytes that arrived, for the progress bar the caller shows
            // while the workers download.
            let arrived = std::sync::atomic::AtomicU64::new(0);
            let want: u64 = missing.iter().map(|&i| sizes[i]).sum();
            std::thread::scope(|s| {
                let handles: Vec<_> = missing
                    .chunks(missing.len().div_ceil(4).max(1))
                    .map(|part| {
                        let (client, r, dir, digests, arrived) =
                            (&client, &r, &dir, &digests, &arrived);
                        s.spawn(move || {
                            part.iter()
                                .map(|&i| fetch_blob(client, r, dir, &digests[i], arrived))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                while !handles.iter().all(|h| h.is_finished()) {
                    progress.bytes(arrived.load(std::sync::atomic::Ordering::Relaxed), want);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                progress.bytes(want, want);
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join().unwrap_or_else(|_| {
                            vec![Err(Error::Registry("a download thread panicked".into()))]
                        })
                    })
                    .collect()
            })
        };
        let found = Found {
            what: r.to_string(),
            config: conf,
            config_digest,
            blobs,
            source: Some(client.base().to_string()),
            original: original(&config_text, Some((kind, &bytes))),
        };
        let image = self.install(
            &found,
            r.local_name(),
            r.local_tag(),
            "pull",
            &fetch,
            progress,
        )?;
        progress.message(&format!("pulled {r} as {}", image.nametag()));
        Ok(image)
    }

    /// Store the image `f` describes as `name:tag`: its layers by chain
    /// ID, those not here yet from `fetch` (given their indexes, it gives
    /// their blobs' files), unpacked in order, then its row.
    pub(super) fn install(
        &mut self,
        f: &Found,
        name: String,
        tag: String,
        method: &str,
        fetch: &Fetch,
        progress: &mut dyn Progress,
    ) -> Result<Image> {
        let bad = |why: String| Error::Registry(format!("{}: {why}", f.what));
        let diff_ids: Vec<String> = f.config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != f.blobs.len() {
            return Err(bad(format!(
                "the config lists {} layers, the manifest {}",
                diff_ids.len(),
                f.blobs.len()
            )));
        }
        // Layer IDs by chain ID: a layer is its content on top of its
        // parents', so equal chains are equal layers.
        let mut ids: Vec<String> = Vec::new();
        let mut chain = String::new();
        for d in &diff_ids {
            chain = if chain.is_empty() {
                d.clone()
            } else {
                format!(
                    "sha256:{:x}",
                    Sha256::digest(format!("{chain} {d}").as_bytes())
                )
            };
            if chain.len() < 19 {
                return Err(bad(format!("'{d}' is not a sha256 diff ID")));
            }
            ids.push(chain[7..19].to_string());
        }
        self.lease_layers(&ids)?;
        let made = self.fill_layers(f, &diff_ids, &ids, fetch, progress);
        if let Err(e) = made {
            // The layers this pull made that nothing else uses (another
            // pull's lease, an image) go with it.
            let _ = self.build_discard(&ids, false);
            return Err(e);
        }
        let mut image = image_from_config(&f.config);
        image.id = f.config_digest[7..19].to_string();
        image.name = name;
        image.tag = tag;
        image.layers = ids.clone();
        image.method = method.into();
        if image.created.is_empty() {
            image.created = time::now();
        }
        let saved = self.store.write(|tx| {
            super::image::save_image_tx(tx, &image)?;
            if let Some(o) = &f.original {
                origin::set_original_tx(tx, &image.id, o)?;
            }
            super::lease::release_tx(tx, &image.layers)
        });
        if let Err(e) = saved {
            let _ = self.release_layers(&ids);
            return Err(e);
        }
        Ok(image)
    }

    /// Fetch what is missing, then unpack each missing layer on its
    /// parent, in order.
    fn fill_layers(
        &mut self,
        f: &Found,
        diff_ids: &[String],
        ids: &[String],
        fetch: &Fetch,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let blobs = &f.blobs;
        let missing: Vec<usize> = (0..ids.len())
            .filter(|&i| !self.platform.layer_exists(&self.root, &ids[i]))
            .collect();
        let total: u64 = missing.iter().map(|&i| blobs[i].size).sum();
        if !missing.is_empty() {
            progress.message(&format!(
                "fetching {} of {} layers ({})",
                missing.len(),
                ids.len(),
                crate::engine::limits::size(total)
            ));
        }
        let cache = self.root.join("blobs");
        // Downloaded blobs go once unpacked, or when the pull fails (the
        // next one downloads them again); an archive's files are its own.
        let drop_cached = |paths: &std::collections::HashMap<usize, PathBuf>| {
            for p in paths.values().filter(|p| p.starts_with(&cache)) {
                let _ = std::fs::remove_file(p);
            }
        };
        let mut paths = std::collections::HashMap::new();
        let mut failed = None;
        for (&i, p) in missing.iter().zip(fetch(&missing, progress)) {
            match p {
                Ok(p) => {
                    paths.insert(i, p);
                }
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(e) = failed {
            drop_cached(&paths);
            return Err(e);
        }
        let locks = cache.join("locks");
        for &i in &missing {
            let id = &ids[i];
            // One fill of a layer at a time in this root; another pull may
            // have made it meanwhile.
            let _lock = lock_file(&locks.join(format!("layer-{id}")))?;
            if !self.platform.layer_exists(&self.root, id) {
                // Another pull that shared the download and failed took the
                // blob away with its own: fetched again.
                if !paths[&i].exists() && paths[&i].starts_with(&cache) {
                    match fetch(&[i], progress).pop() {
                        Some(Ok(p)) => {
                            paths.insert(i, p);
                        }
                        Some(Err(e)) => {
                            drop_cached(&paths);
                            return Err(e);
                        }
                        None => {}
                    }
                }
                let skeleton = match self.fill_one(f, i, &paths[&i], &diff_ids[i], ids) {
                    Ok(s) => s,
                    Err(e) => {
                        drop_cached(&paths);
                        return Err(e);
                    }
                };
                origin::record(&self.root, id, &diff_ids[i], &blobs[i], f.source.as_deref());
                if let Some(s) = skeleton {
                    origin::keep_skeleton(&self.root, id, &s);
                }
            }
            if paths[&i].starts_with(&cache) {
                let _ = std::fs::remove_file(&paths[&i]);
            }
            progress.message(&format!("layer {} ready", &blobs[i].digest[..19]));
        }
        Ok(())
    }

    /// Unpack layer `i` on its parent and commit it; nothing of it stays
    /// on failure. Returns its tar's skeleton (see [`tarsplit`]).
    fn fill_one(
        &mut self,
        f: &Found,
        i: usize,
        blob: &Path,
        diff_id: &str,
        ids: &[String],
    ) -> Result<Option<Vec<u8>>> {
        let id = &ids[i];
        let parent = (i > 0).then(|| ids[i - 1].as_str());
        let dest = self.platform.begin_layer(&self.root, id, parent)?;
        let what = format!("{}: layer {}", f.what, f.blobs[i].digest);
        let filled = layer::apply(
            self.platform,
            &dest,
            blob,
            &f.blobs[i].media_type,
            diff_id,
            &what,
        )
        .and_then(|skeleton| {
            self.platform
                .commit_layer(&self.root, id)
                .map_err(Error::from)
                .map(|_| skeleton)
        });
        if filled.is_err() {
            let _ = self.platform.destroy_layer(&self.root, id);
        }
        filled
    }
}

/// Given the indexes of the layers not here yet, their blobs' files
/// (downloaded, or in an unpacked archive), reporting bytes as they come.
pub(super) type Fetch<'a> = dyn Fn(&[usize], &mut dyn Progress) -> Vec<Result<PathBuf>> + 'a;

/// An image found in a registry or an archive: its config and layers.
pub(super) struct Found {
    /// What to name in messages (the reference, the archive).
    pub what: String,
    pub config: Value,
    pub config_digest: String,
    pub blobs: Vec<Blob>,
    /// The repository's API base, for a pull (cross-repository mounts
    /// on a later push); `None` for an archive.
    pub source: Option<String>,
    /// Its config and manifest as they came.
    pub original: Option<origin::Original>,
}

/// The config and manifest (media type, bytes) as they came, when they
/// are text (JSON is; anything else is not worth keeping).
pub(super) fn original(
    config: &[u8],
    manifest: Option<(String, &[u8])>,
) -> Option<origin::Original> {
    let manifest = match manifest {
        Some((kind, bytes)) => Some((kind, String::from_utf8(bytes.to_vec()).ok()?)),
        None => None,
    };
    Some(origin::Original {
        config: String::from_utf8(config.to_vec()).ok()?,
        manifest,
    })
}

/// The registry's mirrors first (from the registry file), then the
/// registry: the first that has the manifest serves the whole pull.
fn first_answer(
    r: &Reference,
    cfg: &config::Config,
    progress: &mut dyn Progress,
) -> Result<(Client, (String, Vec<u8>))> {
    for m in cfg.registry(&r.registry).mirrors {
        let mirrored = Reference {
            registry: m.clone(),
            ..r.clone()
        };
        let tried = Client::new(&mirrored, cfg)
            .and_then(|c| c.manifest(&r.target()).map(|answer| (c, answer)));
        match tried {
            Ok(found) => {
                progress.message(&format!("from mirror {m}"));
                return Ok(found);
            }
            Err(e) => progress.message(&format!("mirror {m} skipped: {e}")),
        }
    }
    let client = Client::new(r, cfg)?;
    let answer = client.manifest(&r.target())?;
    Ok((client, answer))
}

fn check_digest_form(r: &Reference, d: &str) -> Result<()> {
    if !reference::is_sha256_digest(d) {
        return Err(err(r, format!("'{d}' is not a sha256 digest")));
    }
    Ok(())
}

fn check_digest(r: &Reference, want: &str, bytes: &[u8]) -> Result<()> {
    let got = format!("sha256:{:x}", Sha256::digest(bytes));
    if got != want {
        return Err(err(r, format!("manifest {want} has digest {got}: refused")));
    }
    Ok(())
}

/// The manifest of an index for platform `want` (`os/arch[/variant]`).
pub(super) fn pick_platform(r: &Reference, index: &Value, want: &str) -> Result<String> {
    let mut parts = want.split('/');
    let (os, arch, variant) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
    );
    let list = index["manifests"].as_array().cloned().unwrap_or_default();
    let found = list.iter().find(|m| {
        let p = &m["platform"];
        p["os"] == os && p["architecture"] == arch && variant.is_none_or(|v| p["variant"] == v)
    });
    match found.and_then(|m| m["digest"].as_str()) {
        Some(d) => {
            check_digest_form(r, d)?;
            Ok(d.to_string())
        }
        None => {
            let have: Vec<String> = list
                .iter()
                .map(|m| {
                    let p = &m["platform"];
                    format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            Err(err(
                r,
                format!(
                    "no image for {want} (it has: {}); choose with --platform",
                    have.join(", ")
                ),
            ))
        }
    }
}

/// A reader that adds what it reads to a shared count.
struct Counted<'a, R> {
    inner: R,
    arrived: &'a std::sync::atomic::AtomicU64,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.arrived
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The image's config blob, verified, in memory: it is small, and a file
/// in `blobs/` would be another pull's to delete meanwhile (two pulls of
/// one image in one root share their files).
fn fetch_config(client: &Client, r: &Reference, digest: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    check_digest_form(r, digest)?;
    let mut resp = client.get(&format!("blobs/{digest}"), None, None)?;
    if resp.status() != 200 {
        return Err(err(
            r,
            format!(
                "the registry answered {} for config {digest}",
                resp.status().as_u16()
            ),
        ));
    }
    // Configs are kilobytes; a registry sending more is not sending one.
    const LIMIT: u64 = 16 << 20;
    let mut bytes = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(r, format!("config {digest}: download interrupted ({e})")))?;
    if bytes.len() as u64 > LIMIT {
        return Err(err(
            r,
            format!("config {digest} is larger than 16 MiB: refused"),
        ));
    }
    let got = format!("sha256:{:x}", Sha256::digest(&bytes));
    if got != digest {
        return Err(err(
            r,
            format!("config {digest} arrived as {got}: refused (corrupt or substituted)"),
        ));
    }
    Ok(bytes)
}

/// Blob `digest` into `dir`, verified: resumed from `<hex>.part` if an
/// earlier pull was interrupted; a finished blob is `<hex>`.
fn fetch_blob(
    client: &Client,
    r: &Reference,
    dir: &Path,
    digest: &str,
    arrived: &std::sync::atomic::AtomicU64,
) -> Result<PathBuf> {
    use std::io::Write;
    check_digest_form(r, digest)?;
    let hex = &digest[7..];
    // One download of a blob at a time in this root: another pull (or
    // another thread of this one) waits, then finds it done.
    let _lock = lock_file(&dir.join("locks").join(format!("blob-{hex}")))?;
    let done = dir.join(hex);
    if done.exists() && layer::file_digest(&done).ok().as_deref() == Some(digest) {
        return Ok(done);
    }
    let part = dir.join(format!("{hex}.part"));
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    // A part that is already whole (a pull killed before it was checked).
    if have > 0 && layer::file_digest(&part).ok().as_deref() == Some(digest) {
        std::fs::rename(&part, &done).map_err(|e| Error::io("cannot store", &done, e))?;
        return Ok(done);
    }
    let mut resp = client.get(&format!("blobs/{digest}"), None, (have > 0).then_some(have))?;
    if resp.status() == 416 && have > 0 {
        // The part is as long as the blob, or longer, and not it: again.
        let _ = std::fs::remove_file(&part);
        resp = client.get(&format!("blobs/{digest}"), None, None)?;
    }
    let status = resp.status().as_u16();
    let append = match status {
        206 => true,
        200 => false,
        404 => return Err(err(r, format!("blob {digest} is not in the registry"))),
        s => {
            return Err(err(
                r,
                format!("the registry answered {s} for blob {digest}"),
            ))
        }
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(&part)
        .map_err(|e| Error::io("cannot write", &part, e))?;
    let mut body = Counted {
        inner: resp.body_mut().as_reader(),
        arrived,
    };
    std::io::copy(&mut body, &mut f).map_err(|e| {
        err(
            r,
            format!("blob {digest}: download interrupted ({e}); pull again to resume"),
        )
    })?;
    f.flush().map_err(|e| Error::io("cannot write", &part, e))?;
    drop(f);
    let got = layer::file_digest(&part).map_err(|e| Error::io("cannot read", &part, e))?;
    if got != digest {
        let _ = std::fs::remove_file(&part);
        return Err(err(
            r,
            format!("blob {digest} arrived as {got}: refused (corrupt or substituted)"),
        ));
    }
    std::fs::rename(&part, &done).map_err(|e| Error::io("cannot store", &done, e))?;
    Ok(done)
}

/// An image's settings from its OCI/Docker config.
fn image_from_config(conf: &Value) -> Image {
    let c = &conf["config"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut image = Image::empty();
    image.created = conf["created"].as_str().unwrap_or("").to_string();
    image.cmd = strings(&c["Cmd"]);
    image.entrypoint = strings(&c["Entrypoint"]);
    image.env = strings(&c["Env"]);
    image.user = c["User"].as_str().unwrap_or("").to_string();
    image.workdir = c["WorkingDir"].as_str().unwrap_or("").to_string();
    image.labels = c["Labels"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    image.exposed_ports = keys(&c["ExposedPorts"]);
    image.volumes = keys(&c["Volumes"]);
    image.stop_signal = c["StopSignal"].as_str().unwrap_or("").to_string();
    image.healthcheck = strings(&c["Healthcheck"]["Test"]);
    image
}
