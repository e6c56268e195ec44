//! A registry layer (a tar, gzip- or zstd-compressed) unpacked into a new
//! kleene layer: entries by the tar crate's `unpack_in` (nothing lands
//! outside the layer: `..`, absolute names and links that leave it are
//! refused), OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) handed to the
//! platform, which marks them as overlayfs does (Linux) or deletes from
//! the parent's clone (FreeBSD), and the uncompressed stream checked
//! against the config's `diff_id`.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::tarsplit::Recorder;

use crate::engine::error::{Error, Result};
use crate::platform::Platform;

/// The decompressor for a layer's media type.
pub fn decoder<'a>(
    media_type: &str,
    r: Box<dyn Read + 'a>,
) -> std::result::Result<Box<dyn Read + 'a>, String> {
    let t = media_type;
    if t.ends_with("+gzip") || t.ends_with(".gzip") || t.ends_with("tar.gz") {
        Ok(Box::new(flate2::read::GzDecoder::new(r)))
    } else if t.ends_with("+zstd") || t.ends_with(".zstd") {
        zstd::stream::read::Decoder::new(r)
            .map(|d| Box::new(d) as Box<dyn Read>)
            .map_err(|e| e.to_string())
    } else if t.ends_with(".tar") || t.ends_with("layer.v1.tar") {
        Ok(r)
    } else {
        Err(format!("unknown layer media type '{t}'"))
    }
}

/// `r` decompressed by what its first bytes say it is (gzip, zstd, xz),
/// or as it is: archives given by hand come with any name, or none
/// (standard input).
pub fn sniffed<'a>(r: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
    use std::io::BufRead;
    let mut b = std::io::BufReader::new(r);
    Ok(match compression(b.fill_buf()?) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(b)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(b)?),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(b)),
        Compression::Bzip2 => {
            return Err(std::io::Error::other(
                "bzip2 is not supported: decompress it first",
            ))
        }
        Compression::None => Box::new(b),
    })
}

/// A stream's compression, as its first bytes (magic numbers) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
    None,
}

pub fn compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else {
        Compression::None
    }
}

/// Unpack `blob` (of `media_type`) into `dest`; its uncompressed content
/// must hash to `diff_id`. `what` names the layer in errors. Returns the
/// tar's skeleton (see [`super::tarsplit`]), if it could be kept.
pub fn apply(
    platform: &dyn Platform,
    dest: &Path,
    blob: &Path,
    media_type: &str,
    diff_id: &str,
    what: &str,
) -> Result<Option<Vec<u8>>> {
    let bad = |why: String| Error::Registry(format!("{what}: {why}"));
    let f = std::fs::File::open(blob).map_err(|e| Error::io("cannot open layer", blob, e))?;
    let reader = decoder(media_type, Box::new(std::io::BufReader::new(f))).map_err(&bad)?;
    let mut hashing = Recorder::new(reader);
    let skeleton = hashing.skeleton.clone();
    {
        let mut archive = tar::Archive::new(&mut hashing);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        // This layer's own entries: an opaque directory keeps them.
        let mut ours: Vec<PathBuf> = Vec::new();
        // Directories' times, set once their contents are written (which
        // changes them): a layer keeps the times its tar gave.
        let mut dirs: Vec<(PathBuf, u64)> = Vec::new();
        for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
            let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let rel = clean(&path)
                .ok_or_else(|| bad(format!("entry '{}' leaves the layer", path.display())))?;
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let dir = rel.parent().unwrap_or(Path::new(""));
                if hidden == ".wh..opq" {
                    platform.opaque(dest, dir, &ours)?;
                } else {
                    platform.whiteout(dest, &dir.join(hidden))?;
                }
                continue;
            }
            let kind = entry.header().entry_type();
            if kind == tar::EntryType::Regular || kind == tar::EntryType::Continuous {
                skeleton
                    .borrow_mut()
                    .file(&rel, entry.raw_file_position(), entry.size());
            }
            if kind.is_dir() {
                if let Ok(t) = entry.header().mtime() {
                    dirs.push((rel.clone(), t));
                }
            }
            entry.unpack_in(dest).map_err(|e| {
                bad(format!(
                    "entry '{}': {}",
                    path.display(),
                    crate::engine::copy::causes(&e)
                ))
            })?;
            ours.push(rel);
        }
        for (rel, t) in dirs.iter().rev() {
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(*t);
            if let Ok(f) = std::fs::File::open(dest.join(rel)) {
                let _ = f.set_times(
                    std::fs::FileTimes::new()
                        .set_modified(when)
                        .set_accessed(when),
                );
            }
        }
    }
    // The tar's end padding counts toward the digest too.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| bad(e.to_string()))?;
    let got = format!("sha256:{:x}", hashing.hash.finalize());
    if got != diff_id {
        return Err(bad(format!(
            "its content is {got}, the image's config says {diff_id} (a corrupt or substituted layer)"
        )));
    }
    let skeleton = std::mem::take(&mut *skeleton.borrow_mut());
    Ok(skeleton.finish())
}

/// `path` relative and without `..` or `.`; `None` when it would leave.
fn clean(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// sha256 of a file, `sha256:<hex>`.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("sha256:{:x}", h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with `entries` (name, kind, link or data), its path and diff ID.
    fn tar_with(dir: &Path, entries: &[(&str, tar::EntryType, &str)]) -> (PathBuf, String) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, extra) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            let data: &[u8] = if *kind == tar::EntryType::Regular {
                extra.as_bytes()
            } else {
                b""
            };
            h.set_size(data.len() as u64);
            if matches!(kind, tar::EntryType::Link | tar::EntryType::Symlink) {
                h.set_link_name(extra).unwrap();
            }
            // set_path refuses `..`: write the raw name as a hostile tool would.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let p = dir.join("layer.tar");
        std::fs::write(&p, &bytes).unwrap();
        (p, format!("sha256:{:x}", Sha256::digest(&bytes)))
    }

    #[test]
    fn entries_cannot_leave_the_layer() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let p = crate::platform::native();
        let plain = "application/vnd.oci.image.layer.v1.tar";
        for (entries, says) in [
            (
                vec![("../evil", tar::EntryType::Regular, "x")],
                "leaves the layer",
            ),
            (
                vec![("a/../../evil", tar::EntryType::Regular, "x")],
                "leaves the layer",
            ),
            (
                vec![("link", tar::EntryType::Link, "../../outside")],
                "link",
            ),
        ] {
            let (f, diff) = tar_with(t.path(), &entries);
            let e = apply(p, &layer, &f, plain, &diff, "test layer")
                .unwrap_err()
                .to_string();
            assert!(e.contains("test layer"), "{e}");
            assert!(e.contains(says) || e.contains("outside"), "{e}");
        }
        assert!(!t.path().join("evil").exists());
        // A symlink out, then a file through it: the file stays inside.
        let (f, diff) = tar_with(
            t.path(),
            &[
                ("esc", tar::EntryType::Symlink, "/tmp"),
                ("esc/owned", tar::EntryType::Regular, "x"),
            ],
        );
        let _ = apply(p, &layer, &f, plain, &diff, "test layer");
        assert!(!Path::new("/tmp/owned").exists());
        // A wrong diff ID is caught.
        let (f, _) = tar_with(t.path(), &[("ok", tar::EntryType::Regular, "x")]);
        let e = apply(
            p,
            &layer,
            &f,
            plain,
            &format!("sha256:{}", "0".repeat(64)),
            "test layer",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("corrupt or substituted"), "{e}");
        let e = decoder("application/vnd.example.layer", Box::new(std::io::empty()))
            .err()
            .unwrap();
        assert!(
            e.contains("unknown layer media type 'application/vnd.example.layer'"),
            "{e}"
        );
    }
}
