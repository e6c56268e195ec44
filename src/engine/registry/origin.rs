//! Where a pulled layer came from: its blob's digest, size and media type
//! and its diff ID, kept in `<root>/blobs/origin/<layer>.json`. A push of
//! an image built on a pulled base then offers the registry the base's
//! own blob (it usually has it) instead of a re-packed copy with another
//! digest, which it would store a second time. The repository it came
//! from is kept too: a registry that lacks the blob in the repository
//! pushed to can mount it from there (a cross-repository blob mount).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Blob;
use crate::engine::error::Result;
use crate::engine::store::store_err;
use crate::engine::Engine;

/// A pulled or loaded image's config and manifest as they came, kept in
/// its row (`images.origin`): saved or pushed with layers that are the
/// very tars it came with, it is written with these, and keeps its
/// config digest (its image ID, to Docker) and, pushed with the very
/// blobs, its manifest digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Original {
    pub config: String,
    /// Media type and text, when it came with one (a registry, an OCI
    /// layout; a docker-archive has none).
    #[serde(default)]
    pub manifest: Option<(String, String)>,
}

impl Original {
    /// The diff IDs its config lists.
    pub fn diff_ids(&self) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&self.config).unwrap_or_default();
        v["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The layer digests its manifest lists.
    pub fn layer_digests(&self) -> Option<Vec<String>> {
        let (_, text) = self.manifest.as_ref()?;
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        v["layers"]
            .as_array()?
            .iter()
            .map(|l| l["digest"].as_str().map(str::to_string))
            .collect()
    }
}

/// Note image `id`'s original config and manifest in its row.
pub(super) fn set_original_tx(
    tx: &rusqlite::Transaction,
    id: &str,
    original: &Original,
) -> Result<()> {
    let text = serde_json::to_string(original).expect("serialisable");
    tx.execute(
        "UPDATE images SET origin = ?2 WHERE id = ?1",
        rusqlite::params![id, text],
    )
    .map_err(|e| store_err(Path::new("metadata.sqlite"), e))?;
    Ok(())
}

impl Engine {
    /// Image `id`'s original config and manifest, if it was pulled or
    /// loaded.
    pub(crate) fn image_original(&self, id: &str) -> Result<Option<Original>> {
        let text: Option<String> = self.store.read(|c| {
            use rusqlite::OptionalExtension;
            c.query_row("SELECT origin FROM images WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map(Option::flatten)
        })?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

fn path(root: &Path, layer: &str) -> PathBuf {
    root.join("blobs")
        .join("origin")
        .join(format!("{layer}.json"))
}

/// Where a pulled layer came from.
pub(super) struct Origin {
    pub diff_id: String,
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// The repository's API base it was pulled from
    /// (`https://host/v2/repo`), when it came from a registry.
    pub source: Option<String>,
}

/// Note layer `id`'s origin (best effort: without it a push re-packs).
pub(super) fn record(root: &Path, id: &str, diff_id: &str, blob: &Blob, source: Option<&str>) {
    let p = path(root, id);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let v = serde_json::json!({
        "diff_id": diff_id, "digest": blob.digest, "size": blob.size, "media_type": blob.media_type,
        "source": source,
    });
    let _ = std::fs::write(p, v.to_string());
}

/// Keep layer `id`'s tar skeleton (best effort: without it a save or a
/// push writes the layer anew, under another diff ID).
pub(super) fn keep_skeleton(root: &Path, id: &str, skeleton: &[u8]) {
    let _ = std::fs::write(path(root, id).with_extension("tarsplit"), skeleton);
}

/// Layer `id`'s tar skeleton, if it was pulled or loaded.
pub(super) fn skeleton(root: &Path, id: &str) -> Option<Vec<u8>> {
    std::fs::read(path(root, id).with_extension("tarsplit")).ok()
}

/// Layer `id`'s origin, if it was pulled or loaded.
pub(super) fn get(root: &Path, id: &str) -> Option<Origin> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path(root, id)).ok()?).ok()?;
    Some(Origin {
        diff_id: v["diff_id"].as_str()?.to_string(),
        digest: v["digest"].as_str()?.to_string(),
        size: v["size"].as_u64()?,
        media_type: v["media_type"].as_str()?.to_string(),
        source: v["source"].as_str().map(str::to_string),
    })
}

/// The repository to mount a blob from when pushing to `target` (both
/// API bases): the source's, if it is another repository of the same
/// registry.
pub(super) fn mount_from<'a>(source: &'a str, target: &str) -> Option<&'a str> {
    let (s_host, s_repo) = source.split_once("/v2/")?;
    let (t_host, t_repo) = target.split_once("/v2/")?;
    (s_host == t_host && s_repo != t_repo).then_some(s_repo)
}

/// Forget layer `id`'s origin (the layer is gone).
pub fn forget(root: &Path, id: &str) {
    let p = path(root, id);
    let _ = std::fs::remove_file(p.with_extension("tarsplit"));
    let _ = std::fs::remove_file(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_mounted_only_from_another_repository_of_the_same_registry() {
        let a = "http://127.0.0.1:5000/v2/test/a";
        assert_eq!(
            mount_from(a, "http://127.0.0.1:5000/v2/test/b"),
            Some("test/a")
        );
        assert_eq!(mount_from(a, a), None);
        assert_eq!(mount_from(a, "http://127.0.0.1:5001/v2/test/b"), None);
        assert_eq!(mount_from(a, "https://127.0.0.1:5000/v2/test/b"), None);
    }
}
