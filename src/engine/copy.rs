//! `klee cp`: files between a container and the host, as tar streams.
//!
//! The container's side runs in a child whose root is the container's
//! (`Platform::inside_container_fs`): the paths it resolves, symlinks
//! included, cannot leave the container. Archives are unpacked with the tar
//! crate's `unpack_in`, which refuses entries that would land outside the
//! destination (`..`, absolute names, links in the way), on both sides.
//!
//! Docker's path rules: `SRC` is copied *into* an existing directory `DEST`,
//! *as* `DEST` when it does not exist (its parent must), over a file `DEST`
//! when both are files; `SRC/.` copies a directory's contents; `-` is a tar
//! stream on standard input or output (unpacked into a directory that
//! exists). Ownership: by default files belong to whoever unpacks them
//! (root in the container, the caller on the host); `-a` keeps the archive's.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::{Engine, Status};

/// Where copied files come from.
pub enum CopyFrom<'a> {
    /// A file or directory on the host (`SRC/.`: its contents).
    Host(PathBuf),
    /// A tar stream (`-`).
    Tar(&'a mut dyn Read),
}

/// Where copied files go.
pub enum CopyTo<'a> {
    Host(PathBuf),
    Tar(&'a mut dyn Write),
}

/// How to copy: follow a symlink given as the source (`-L`), keep the
/// archive's owners (`-a`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    pub follow_link: bool,
    pub archive: bool,
}

impl Engine {
    /// Copy `src` (a path in container `ident`) to the host or a stream.
    pub fn container_copy_out(
        &mut self,
        ident: &str,
        src: &str,
        to: CopyTo,
        opts: CopyOptions,
    ) -> Result<()> {
        let (c, spec, running, _lock) = self.copy_target(ident)?;
        let src_path = container_path(src)?;
        let name = c.name.clone();
        let mut work = |s: &mut crate::platform::stream::Stream| {
            pack(&src_path, opts.follow_link, s)
                .map_err(|e| format!("cannot copy from container '{name}': {e}"))
        };
        let mut to = to;
        let mut host = |s: &mut crate::platform::stream::Stream| -> crate::platform::Result<()> {
            let r = match &mut to {
                CopyTo::Tar(w) => std::io::copy(s, w).map(drop).map_err(|e| e.to_string()),
                CopyTo::Host(dest) => {
                    let shown = dest.to_string_lossy().into_owned();
                    extract(s, dest, &shown, opts.archive, false)
                }
            };
            r.map_err(|e| crate::platform::Error::Failed(format!("cannot copy to the host: {e}")))
        };
        self.platform
            .inside_container_fs(&spec, running, &mut work, &mut host)?;
        Ok(())
    }

    /// `klee container export`: the container's whole filesystem (its
    /// image's layers and its changes) as a flat tar on `out`. Only while
    /// it is stopped: a running container's root holds its /proc, /sys and
    /// /dev, and its files are changing.
    pub fn container_export(&mut self, ident: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(ident)?;
        if matches!(c.status, Status::Running { .. }) {
            return Err(Error::State(format!(
                "cannot export container '{}' while it runs: stop it first",
                c.name
            )));
        }
        self.container_copy_out(ident, "/.", CopyTo::Tar(out), CopyOptions::default())
    }

    /// Copy from the host or a stream to `dest` (a path in container `ident`).
    pub fn container_copy_in(
        &mut self,
        ident: &str,
        from: CopyFrom,
        dest: &str,
        opts: CopyOptions,
    ) -> Result<()> {
        let (c, spec, running, _lock) = self.copy_target(ident)?;
        if c.security.read_only {
            // As Docker: whether it runs or not.
            return Err(Error::State(format!(
                "cannot copy into container '{}': its root filesystem is read-only (--read-only)",
                c.name
            )));
        }
        let dest_path = container_path(dest)?;
        let stream = matches!(from, CopyFrom::Tar(_));
        if let CopyFrom::Host(src) = &from {
            std::fs::symlink_metadata(src).map_err(|e| Error::io("cannot copy", src, e))?;
        }
        let name = c.name.clone();
        let mut work = |s: &mut crate::platform::stream::Stream| {
            extract(s, &dest_path, dest, opts.archive, stream)
                .map_err(|e| format!("cannot copy into container '{name}': {e}"))
        };
        let mut from = from;
        let mut host = |s: &mut crate::platform::stream::Stream| -> crate::platform::Result<()> {
            let r = match &mut from {
                CopyFrom::Tar(r) => std::io::copy(r, s).map(drop).map_err(|e| e.to_string()),
                CopyFrom::Host(src) => pack(src, opts.follow_link, s),
            };
            s.finish();
            r.map_err(|e| crate::platform::Error::Failed(format!("cannot copy from the host: {e}")))
        };
        self.platform
            .inside_container_fs(&spec, running, &mut work, &mut host)?;
        Ok(())
    }

    /// The container, its start spec, its init when running, and (when it
    /// is not running) its lock: nobody starts or removes it meanwhile.
    fn copy_target(
        &mut self,
        ident: &str,
    ) -> Result<(
        super::Container,
        crate::platform::RunSpec,
        Option<i32>,
        Option<super::lock::ObjectLock>,
    )> {
        let c = self.container(ident)?;
        let lock = match c.status {
            Status::Running { .. } => None,
            _ => Some(self.lock_object("container", &c.id)?),
        };
        // Locked: re-read, it may have started or gone meanwhile.
        let c = match lock {
            Some(_) => self.container(&c.id)?,
            None => c,
        };
        let running = match c.status {
            Status::Running { pid, .. } => Some(pid),
            _ => None,
        };
        let spec = self.run_spec(&c, false)?;
        Ok((c, spec, running, lock))
    }
}

/// A path inside the container: relative ones are from its root (as
/// Docker's), `..` cannot climb above it.
fn container_path(p: &str) -> Result<PathBuf> {
    if p.is_empty() {
        return Err(Error::Invalid {
            what: "container path",
            value: p.to_string(),
            reason: "give a path in the container, e.g. /etc/hosts".into(),
        });
    }
    let mut out = PathBuf::from("/");
    out.push(p.trim_start_matches('/'));
    // Keep a trailing "/" or "/." (they change what is copied).
    if p.ends_with('/') && !out.as_os_str().to_string_lossy().ends_with('/') {
        out.as_mut_os_string().push("/");
    }
    Ok(out)
}

/// Does `p` ask for a directory's contents (`DIR/.`)?
fn wants_contents(p: &Path) -> bool {
    let s = p.as_os_str().to_string_lossy();
    s.ends_with("/.") || s == "."
}

/// Archive `src` as one entry named after it (its contents as `./…` for
/// `DIR/.`). Symlinks inside are archived as links; `src` itself is
/// followed with `follow`.
fn pack(src: &Path, follow: bool, w: &mut dyn Write) -> std::result::Result<(), String> {
    let shown = src.display().to_string();
    let md = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .map_err(|e| format!("'{shown}': {e}"))?;
    let text = src.as_os_str().to_string_lossy();
    if text.ends_with('/') && !md.is_dir() {
        return Err(format!("'{shown}': not a directory"));
    }
    let mut b = tar::Builder::new(w);
    let contents = wants_contents(src) || src == Path::new("/");
    let name = if md.is_dir() && contents {
        PathBuf::from(".")
    } else {
        PathBuf::from(
            src.file_name()
                .ok_or(format!("'{shown}': no name to copy it as"))?,
        )
    };
    add(&mut b, src, &name, &md).map_err(|e| format!("'{shown}': {e}"))?;
    b.finish().map_err(|e| format!("'{shown}': {e}"))
}

/// One entry, and a directory's entries below it. Files are read for
/// exactly the size their header says (a file that grows is cut there, one
/// that shrinks padded with zeros): what a file in `/proc` or a log being
/// written yields can never run into the next header, so nothing read in a
/// container can forge entries of the archive the host unpacks.
fn add(
    b: &mut tar::Builder<&mut dyn Write>,
    path: &Path,
    name: &Path,
    md: &std::fs::Metadata,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(md, tar::HeaderMode::Complete);
    let ft = md.file_type();
    if ft.is_dir() {
        h.set_size(0);
        b.append_data(&mut h, name, std::io::empty())?;
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let md = std::fs::symlink_metadata(e.path())?;
            add(b, &e.path(), &name.join(e.file_name()), &md)?;
        }
        Ok(())
    } else if ft.is_symlink() {
        h.set_size(0);
        b.append_link(&mut h, name, std::fs::read_link(path)?)
    } else if ft.is_file() {
        let f = std::fs::File::open(path)?;
        let size = md.len();
        let body = f.take(size).chain(std::io::repeat(0)).take(size);
        b.append_data(&mut h, name, body)
    } else {
        // Devices, fifos, sockets: their header alone.
        h.set_size(0);
        b.append_data(&mut h, name, std::io::empty())
    }
}

/// An error and its causes (the tar crate says "failed to unpack X" and
/// keeps the reason one level down).
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// Unpack an archive at `dest` with Docker's rules (module comment).
/// `shown` is `dest` as the user wrote it; `stream`: the archive came as
/// is from the user (`-`), so `dest` must be a directory that exists.
fn extract(
    r: &mut dyn Read,
    dest: &Path,
    shown: &str,
    keep_owner: bool,
    stream: bool,
) -> std::result::Result<(), String> {
    // Entries unpacked, and whether they were a directory's contents (`./…`).
    let unpack = |r: &mut dyn Read, into: &Path| -> std::result::Result<(usize, bool), String> {
        let (mut count, mut contents) = (0, false);
        let mut a = tar::Archive::new(r);
        a.set_preserve_permissions(true);
        a.set_preserve_ownerships(keep_owner);
        if !keep_owner {
            // Files now belong to whoever unpacks them (root): a set-user-ID
            // or set-group-ID bit would make them root's programs. `-a`
            // keeps owners and these bits together.
            a.set_mask(0o6000);
        }
        a.set_overwrite(true);
        for entry in a.entries().map_err(|e| format!("bad archive: {e}"))? {
            let mut entry = entry.map_err(|e| format!("bad archive: {e}"))?;
            let name = entry
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            count += 1;
            contents |= name == "." || name.starts_with("./");
            let inside = entry
                .unpack_in(into)
                .map_err(|e| format!("cannot unpack '{name}': {}", causes(&e)))?;
            if !inside {
                return Err(format!(
                    "archive entry '{name}' would land outside '{}'",
                    into.display()
                ));
            }
        }
        Ok((count, contents))
    };
    // A DEST that is a symlink is followed, as Docker does (inside the
    // container this resolves within its root).
    let resolved;
    let dest = if std::fs::symlink_metadata(dest).is_ok_and(|m| m.file_type().is_symlink())
        && dest.exists()
    {
        resolved = std::fs::canonicalize(dest).map_err(|e| format!("'{shown}': {e}"))?;
        resolved.as_path()
    } else {
        dest
    };
    let trailing_slash = shown.ends_with('/');
    match std::fs::metadata(dest) {
        Ok(md) if md.is_dir() => return unpack(r, dest).map(drop),
        Ok(_) if stream || trailing_slash => {
            return Err(format!("destination '{shown}' is not a directory"))
        }
        Ok(_) => {}
        Err(_) if stream => return Err(format!("destination directory '{shown}' does not exist")),
        Err(_) => {}
    }
    // Copied *as* dest (or over a file): unpack next to it, then rename the
    // one entry into place, so the names inside the archive stay as they are.
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        return Err(format!(
            "destination '{shown}': directory '{}' does not exist",
            parent.display()
        ));
    }
    let tmp = parent.join(format!(".klee-cp-{}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(|e| format!("'{}': {e}", tmp.display()))?;
    let moved = unpack(r, &tmp).and_then(|(count, contents)| {
        if count == 0 {
            return Err("nothing to copy: the archive is empty".into());
        }
        if contents {
            // Contents (`DIR/.`): the destination directory is made of them.
            if dest.exists() {
                return Err(format!("destination '{shown}' is not a directory"));
            }
            return std::fs::rename(&tmp, dest).map_err(|e| format!("'{shown}': {e}"));
        }
        let mut top = std::fs::read_dir(&tmp)
            .map_err(|e| format!("'{}': {e}", tmp.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path());
        let (Some(one), None) = (top.next(), top.next()) else {
            return Err("the archive holds more than one file or directory at its top".into());
        };
        let src_is_dir = std::fs::symlink_metadata(&one).is_ok_and(|m| m.is_dir());
        if src_is_dir && dest.exists() {
            return Err(format!("cannot copy a directory onto file '{shown}'"));
        }
        if !src_is_dir && trailing_slash {
            return Err(format!("destination directory '{shown}' does not exist"));
        }
        std::fs::rename(&one, dest).map_err(|e| format!("'{shown}': {e}"))
    });
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("src/sub")).unwrap();
        std::fs::write(d.path().join("src/a"), "a").unwrap();
        std::fs::write(d.path().join("src/sub/b"), "b").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("src/link")).unwrap();
        d
    }

    fn roundtrip(src: &Path, dest: &Path, shown: &str) -> std::result::Result<(), String> {
        let mut buf = Vec::new();
        pack(src, false, &mut buf)?;
        extract(&mut buf.as_slice(), dest, shown, false, false)
    }

    #[test]
    fn docker_rules_into_as_over_and_contents() {
        let d = tree();
        let p = |s: &str| d.path().join(s);
        // Into an existing directory.
        std::fs::create_dir(p("into")).unwrap();
        roundtrip(&p("src"), &p("into"), "into").unwrap();
        assert_eq!(std::fs::read_to_string(p("into/src/sub/b")).unwrap(), "b");
        // Symlinks stay links (not followed out of the tree).
        assert_eq!(
            std::fs::read_link(p("into/src/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        // As a new name.
        roundtrip(&p("src"), &p("as"), "as").unwrap();
        assert_eq!(std::fs::read_to_string(p("as/a")).unwrap(), "a");
        // A file over a file; a directory onto a file is refused.
        std::fs::write(p("f"), "old").unwrap();
        roundtrip(&p("src/a"), &p("f"), "f").unwrap();
        assert_eq!(std::fs::read_to_string(p("f")).unwrap(), "a");
        let e = roundtrip(&p("src"), &p("f"), "f").unwrap_err();
        assert!(e.contains("cannot copy a directory onto file 'f'"), "{e}");
        // Contents of a directory (also of one holding a single entry).
        roundtrip(&p("src/."), &p("contents"), "contents").unwrap();
        assert_eq!(std::fs::read_to_string(p("contents/sub/b")).unwrap(), "b");
        roundtrip(&p("src/sub/."), &p("one"), "one").unwrap();
        assert_eq!(std::fs::read_to_string(p("one/b")).unwrap(), "b");
        // An empty archive (the other side failed) makes nothing.
        let e = extract(&mut &[0u8; 1024][..], &p("empty"), "empty", false, false).unwrap_err();
        assert!(e.contains("nothing to copy"), "{e}");
        assert!(!p("empty").exists());
        // A missing parent, a file to a missing "dir/".
        let e = roundtrip(&p("src/a"), &p("no/such/f"), "no/such/f").unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = roundtrip(&p("src/a"), &p("newdir/"), "newdir/").unwrap_err();
        assert!(
            e.contains("destination directory 'newdir/' does not exist"),
            "{e}"
        );
        // Nothing left behind by the failures.
        assert!(std::fs::read_dir(d.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".klee-cp")));
        // A DEST that is a symlink to a file is followed (the link stays).
        std::os::unix::fs::symlink(p("f"), p("flink")).unwrap();
        std::fs::write(p("src/a"), "new").unwrap();
        roundtrip(&p("src/a"), &p("flink"), "flink").unwrap();
        assert!(std::fs::symlink_metadata(p("flink"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(p("f")).unwrap(), "new");
        // A missing source names it.
        let e = roundtrip(&p("nope"), &p("x"), "x").unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn archives_cannot_escape_their_destination() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        // A symlink to outside, then a file through it.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "out", d.path()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "out/escaped", &b"x"[..]).unwrap();
        let buf = b.into_inner().unwrap();
        let r = extract(&mut buf.as_slice(), &dest, "dest", false, true);
        assert!(r.is_err(), "{r:?}");
        assert!(!d.path().join("escaped").exists());
        // A stream needs an existing directory.
        let e = extract(&mut &b""[..], &d.path().join("none"), "none", false, true).unwrap_err();
        assert!(
            e.contains("destination directory 'none' does not exist"),
            "{e}"
        );
    }

    #[test]
    fn container_paths_start_at_its_root() {
        assert_eq!(
            container_path("etc/hosts").unwrap(),
            Path::new("/etc/hosts")
        );
        assert_eq!(
            container_path("/data/").unwrap().to_string_lossy(),
            "/data/"
        );
        assert!(wants_contents(&container_path("/data/.").unwrap()));
        assert!(container_path("").is_err());
    }
}
