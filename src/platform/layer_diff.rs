//! A layer that holds a whole filesystem — FreeBSD's, a ZFS clone of its
//! parent layer's snapshot — as an OCI layer tar: only what differs from
//! the parent. Added and changed entries are written whole, entries the
//! parent had and the layer has not become `.wh.NAME`. "Changed" is what
//! Docker's naive differ calls it: another type, mode, owner, device or
//! link target; for non-directories also another size or modification
//! time (a clone keeps both exactly for what it did not touch, and a
//! directory's time moves with its children, so it is not compared).
//! Entries come in a stable (sorted) order with their owners, modes and
//! times, as the Linux back end writes overlayfs layers.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Error, Result};

fn names(dir: &Path) -> std::io::Result<BTreeSet<OsString>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect()
}

fn differs(new: &Path, n: &std::fs::Metadata, old: &Path, o: &std::fs::Metadata) -> bool {
    // st_mode holds the type bits as well as the permissions.
    if n.mode() != o.mode() || n.uid() != o.uid() || n.gid() != o.gid() || n.rdev() != o.rdev() {
        return true;
    }
    if n.is_dir() {
        return false;
    }
    if n.file_type().is_symlink() {
        return std::fs::read_link(new).ok() != std::fs::read_link(old).ok();
    }
    n.size() != o.size() || n.mtime() != o.mtime() || n.mtime_nsec() != o.mtime_nsec()
}

/// An empty regular file `rel`, owned by root: what OCI whiteouts
/// (`.wh.NAME`, `.wh..wh..opq`) are in a layer tar.
pub fn whiteout(b: &mut tar::Builder<&mut dyn Write>, rel: &Path) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, rel, std::io::empty())
}

/// `rel` of `root` against the same path of `parent` (None: nothing there).
fn walk(
    b: &mut tar::Builder<&mut dyn Write>,
    parent: Option<&Path>,
    root: &Path,
    rel: &Path,
) -> std::io::Result<()> {
    let here = names(&root.join(rel))?;
    // The parent's directory here, if it had one.
    let below = parent
        .map(|p| p.join(rel))
        .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()));
    if let Some(d) = &below {
        for gone in names(d)?.difference(&here) {
            let mut wh = OsString::from(".wh.");
            wh.push(gone);
            whiteout(b, &rel.join(wh))?;
        }
    }
    for name in &here {
        let r = rel.join(name);
        let full = root.join(&r);
        let md = std::fs::symlink_metadata(&full)?;
        let old = below.as_ref().map(|d| d.join(name));
        let om = old.as_ref().and_then(|o| std::fs::symlink_metadata(o).ok());
        let changed = match (&old, &om) {
            (Some(o), Some(om)) => differs(&full, &md, o, om),
            _ => true,
        };
        if changed {
            b.append_path_with_name(&full, &r)?;
        }
        if md.is_dir() {
            // Below a directory that was not one (or not there), all is new.
            let p = if om.as_ref().is_some_and(|m| m.is_dir()) {
                parent
            } else {
                None
            };
            walk(b, p, root, &r)?;
        }
    }
    Ok(())
}

/// Write layer directory `dir` to `out` as an uncompressed tar of what
/// differs from `parent` (the layer below's directory; None: the whole
/// directory, a base layer).
pub fn write(parent: Option<&Path>, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    walk(&mut b, parent, dir, Path::new(""))
        .and_then(|_| b.finish())
        .map_err(|e| Error::io("cannot pack layer", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entries(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn only_what_differs_from_the_parent_with_deletions_as_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let (p, c) = (t.path().join("parent"), t.path().join("child"));
        for d in [&p, &c] {
            std::fs::create_dir_all(d.join("etc")).unwrap();
            std::fs::create_dir_all(d.join("data/sub")).unwrap();
            std::fs::create_dir_all(d.join("gone-dir/x")).unwrap();
            std::fs::create_dir_all(d.join("was-dir")).unwrap();
            std::fs::write(d.join("etc/same"), "same\n").unwrap();
            std::fs::write(d.join("etc/gone"), "gone\n").unwrap();
            std::fs::write(d.join("etc/mode"), "m\n").unwrap();
            std::fs::write(d.join("data/sub/deep"), "deep\n").unwrap();
            std::os::unix::fs::symlink("same", d.join("etc/link")).unwrap();
        }
        // The clone keeps times: make the child's copies match the parent's.
        for f in ["etc/same", "etc/gone", "etc/mode", "data/sub/deep"] {
            let m = std::fs::metadata(p.join(f)).unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(c.join(f))
                .unwrap()
                .set_modified(m)
                .unwrap();
        }
        std::fs::remove_file(c.join("etc/gone")).unwrap();
        std::fs::remove_dir_all(c.join("gone-dir")).unwrap();
        std::fs::set_permissions(c.join("etc/mode"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::fs::write(c.join("data/sub/deep"), "changed, longer\n").unwrap();
        std::fs::write(c.join("etc/new"), "new\n").unwrap();
        std::fs::remove_file(c.join("etc/link")).unwrap();
        std::os::unix::fs::symlink("new", c.join("etc/link")).unwrap();
        std::fs::remove_dir(c.join("was-dir")).unwrap();
        std::fs::write(c.join("was-dir"), "a file now\n").unwrap();
        std::fs::create_dir_all(c.join("fresh/inner")).unwrap();
        std::fs::write(c.join("fresh/inner/f"), "f\n").unwrap();

        let mut out = Vec::new();
        write(Some(&p), &c, &mut out).unwrap();
        let mut got = entries(&out);
        got.sort();
        assert_eq!(
            got,
            [
                ".wh.gone-dir",
                "data/sub/deep",
                "etc/.wh.gone",
                "etc/link",
                "etc/mode",
                "etc/new",
                "fresh",
                "fresh/inner",
                "fresh/inner/f",
                "was-dir",
            ]
        );
        // Without a parent: everything.
        let mut out = Vec::new();
        write(None, &c, &mut out).unwrap();
        assert!(entries(&out).contains(&"etc/same".to_string()));
        // Identical trees: an empty layer.
        let mut out = Vec::new();
        write(Some(&p), &p, &mut out).unwrap();
        assert!(entries(&out).is_empty());
    }
}
