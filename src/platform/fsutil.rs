//! Tree copies for layers and volumes, done in Rust (no `cp`), preserving
//! what a root filesystem needs: modes, owners, symlinks, devices, hard links
//! and timestamps.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::platform::{Error, Result};

/// How to place regular files in the destination.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Copy bytes.
    Copy,
    /// Hard-link to the source (falls back to copying across filesystems).
    Link,
}

/// Counts work done, for progress displays.
pub trait Progress {
    fn file(&mut self) {}
}
impl Progress for () {}

/// Copy (or hard-link) the tree `src` into `dst` (created if missing).
/// `skip(rel)` leaves out the entry at the relative path `rel` (and below).
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    mode: Mode,
    skip: &dyn Fn(&Path) -> bool,
    progress: &mut dyn Progress,
) -> Result<()> {
    let mut ctx = Ctx {
        mode,
        skip,
        progress,
        inodes: HashMap::new(),
        link_failed: false,
    };
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io("cannot read", src, e))?;
    if !dst.exists() {
        fs::create_dir(dst).map_err(|e| Error::io("cannot create directory", dst, e))?;
    }
    ctx.dir_contents(src, dst, Path::new(""))?;
    set_attrs(dst, &meta)?;
    Ok(())
}

struct Ctx<'a> {
    mode: Mode,
    skip: &'a dyn Fn(&Path) -> bool,
    progress: &'a mut dyn Progress,
    /// (dev, ino) of multiply-linked files already copied, to keep hard links.
    inodes: HashMap<(u64, u64), std::path::PathBuf>,
    link_failed: bool,
}

impl Ctx<'_> {
    fn dir_contents(&mut self, src: &Path, dst: &Path, rel: &Path) -> Result<()> {
        let rd = fs::read_dir(src).map_err(|e| Error::io("cannot read directory", src, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("cannot read directory", src, e))?;
            let name = entry.file_name();
            let rel = rel.join(&name);
            if (self.skip)(&rel) {
                continue;
            }
            self.entry(&src.join(&name), &dst.join(&name), &rel)?;
        }
        Ok(())
    }

    fn entry(&mut self, src: &Path, dst: &Path, rel: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(src).map_err(|e| Error::io("cannot read", src, e))?;
        let ft = meta.file_type();
        self.progress.file();
        if ft.is_dir() {
            match fs::create_dir(dst) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dst.is_dir() => {}
                Err(e) => return Err(Error::io("cannot create directory", dst, e)),
            }
            self.dir_contents(src, dst, rel)?;
            set_attrs(dst, &meta)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(src).map_err(|e| Error::io("cannot read link", src, e))?;
            remove_existing(dst)?;
            std::os::unix::fs::symlink(&target, dst)
                .map_err(|e| Error::io("cannot create symlink", dst, e))?;
            lchown(dst, meta.uid(), meta.gid())?;
        } else if ft.is_file() {
            remove_existing(dst)?;
            if meta.nlink() > 1 {
                if let Some(first) = self.inodes.get(&(meta.dev(), meta.ino())) {
                    return fs::hard_link(first, dst)
                        .map_err(|e| Error::io("cannot create hard link", dst, e));
                }
            }
            if self.mode == Mode::Link && !self.link_failed {
                match fs::hard_link(src, dst) {
                    Ok(()) => return Ok(()),
                    // Another filesystem: copy from now on.
                    Err(e) if e.raw_os_error() == Some(libc::EXDEV) => self.link_failed = true,
                    Err(e) => return Err(Error::io("cannot create hard link", dst, e)),
                }
            }
            fs::copy(src, dst).map_err(|e| Error::io("cannot copy file to", dst, e))?;
            set_attrs(dst, &meta)?;
            if meta.nlink() > 1 {
                self.inodes
                    .insert((meta.dev(), meta.ino()), dst.to_path_buf());
            }
        } else {
            // Devices, fifos and sockets: recreate the node.
            remove_existing(dst)?;
            let c = cstr(dst)?;
            // SAFETY: c is a valid NUL-terminated path.
            let r = unsafe {
                libc::mknod(
                    c.as_ptr(),
                    meta.mode() as libc::mode_t,
                    meta.rdev() as libc::dev_t,
                )
            };
            if r != 0 {
                return Err(Error::io(
                    "cannot create node",
                    dst,
                    io::Error::last_os_error(),
                ));
            }
            set_attrs(dst, &meta)?;
        }
        Ok(())
    }
}

fn remove_existing(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).map_err(|e| Error::io("cannot replace", p, e)),
        Ok(_) => fs::remove_file(p).map_err(|e| Error::io("cannot replace", p, e)),
        Err(_) => Ok(()),
    }
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        Error::io(
            "path contains a NUL byte",
            p,
            io::Error::from(io::ErrorKind::InvalidInput),
        )
    })
}

fn lchown(p: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).map_err(|e| Error::io("cannot chown", p, e))
}

/// Owner, mode and times of `meta` onto `p` (not following symlinks).
fn set_attrs(p: &Path, meta: &fs::Metadata) -> Result<()> {
    lchown(p, meta.uid(), meta.gid())?;
    fs::set_permissions(p, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| Error::io("cannot chmod", p, e))?;
    let c = cstr(p)?;
    let times = [
        libc::timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        libc::timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    ];
    // SAFETY: valid path and a two-element timespec array.
    unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Ok(())
}

/// True when the directory has no entries (a missing one counts as empty).
pub fn dir_is_empty(p: &Path) -> bool {
    fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Remove a tree, treating "already gone" as success.
pub fn remove_tree(p: &Path) -> Result<()> {
    // Often empty (a --rm container's directory): one rmdir, no walk.
    if fs::remove_dir(p).is_ok() {
        return Ok(());
    }
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot remove", p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_links_and_hardlinks() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("d/e")).unwrap();
        fs::write(src.join("d/f"), "hello").unwrap();
        fs::hard_link(src.join("d/f"), src.join("g")).unwrap();
        std::os::unix::fs::symlink("d/f", src.join("l")).unwrap();
        fs::write(src.join("skipme"), "x").unwrap();
        fs::set_permissions(src.join("d/f"), fs::Permissions::from_mode(0o640)).unwrap();
        let dst = t.path().join("dst");
        copy_tree(
            &src,
            &dst,
            Mode::Copy,
            &|r| r == Path::new("skipme"),
            &mut (),
        )
        .unwrap();
        assert_eq!(fs::read_to_string(dst.join("d/f")).unwrap(), "hello");
        assert_eq!(fs::read_link(dst.join("l")).unwrap(), Path::new("d/f"));
        assert!(!dst.join("skipme").exists());
        assert!(dst.join("d/e").is_dir());
        let (a, b) = (
            fs::metadata(dst.join("d/f")).unwrap(),
            fs::metadata(dst.join("g")).unwrap(),
        );
        assert_eq!(a.ino(), b.ino(), "hard link kept");
        assert_ne!(
            a.ino(),
            fs::metadata(src.join("d/f")).unwrap().ino(),
            "copied, not linked"
        );
        assert_eq!(a.mode() & 0o777, 0o640);
    }

    #[test]
    fn link_mode_shares_inodes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("f"), "x").unwrap();
        let dst = t.path().join("dst");
        copy_tree(&src, &dst, Mode::Link, &|_| false, &mut ()).unwrap();
        assert_eq!(
            fs::metadata(dst.join("f")).unwrap().ino(),
            fs::metadata(src.join("f")).unwrap().ino()
        );
        assert!(dir_is_empty(&t.path().join("nope")));
        assert!(!dir_is_empty(&dst));
    }
}

/// An exclusive advisory lock (flock) on `path`, created if needed; held
/// until the returned file is dropped (or the process dies: the kernel
/// releases it, so a crash never leaves a lock held).
pub fn lock_file(path: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    }
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("cannot open lock", path, e))?;
    loop {
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(f);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::io("cannot lock", path, e));
        }
    }
}

/// The space files under `p` take on disk (blocks, each inode counted
/// once), without following symbolic links; 0 when `p` is absent.
pub fn disk_usage(p: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(m) = fs::symlink_metadata(p) else {
            return 0;
        };
        let mut n = 0;
        if m.nlink() <= 1 || m.is_dir() || seen.insert((m.dev(), m.ino())) {
            n += m.blocks() * 512;
        }
        if m.is_dir() {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    n += walk(&e.path(), seen);
                }
            }
        }
        n
    }
    walk(p, &mut std::collections::HashSet::new())
}
