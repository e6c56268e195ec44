//! Where a pulled layer came from: its blob's digest, size and media type
//! and its diff ID, kept in `<root>/blobs/origin/<layer>.json`. A push of
//! an image built on a pulled base then offers the registry the base's
//! own blob (it usually has it) instead of a re-packed copy with another
//! digest, which it would store a second time.

use std::path::{Path, PathBuf};

use super::Blob;

fn path(root: &Path, layer: &str) -> PathBuf {
    root.join("blobs")
        .join("origin")
        .join(format!("{layer}.json"))
}

/// Note layer `id`'s origin (best effort: without it a push re-packs).
pub(super) fn record(root: &Path, id: &str, diff_id: &str, blob: &Blob) {
    let p = path(root, id);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let v = serde_json::json!({
        "diff_id": diff_id, "digest": blob.digest, "size": blob.size, "media_type": blob.media_type,
    });
    let _ = std::fs::write(p, v.to_string());
}

/// (diff ID, blob digest, size, media type) of layer `id`, if pulled.
pub(super) fn get(root: &Path, id: &str) -> Option<(String, String, u64, String)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path(root, id)).ok()?).ok()?;
    Some((
        v["diff_id"].as_str()?.to_string(),
        v["digest"].as_str()?.to_string(),
        v["size"].as_u64()?,
        v["media_type"].as_str()?.to_string(),
    ))
}

/// Forget layer `id`'s origin (the layer is gone).
pub fn forget(root: &Path, id: &str) {
    let _ = std::fs::remove_file(path(root, id));
}
