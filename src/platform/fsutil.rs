//! Tree copies for layers and volumes, done in Rust (no `cp`), preserving
//! what a root filesystem needs: modes, owners, symlinks, devices, hard links
//! and timestamps.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// `path` (absolute, as seen inside a container) resolved under `root` the
/// way the container would see it: symlinks are followed with `root` as
/// `/` and `..` never climbs above it, so an image's `/data -> /etc` names
/// `<root>/etc`, never the host's `/etc`. Missing components are kept as
/// they are (to be made).
pub fn resolve_beneath(root: &Path, path: &Path) -> Result<PathBuf> {
    use std::collections::VecDeque;
    use std::path::Component;
    let mut todo: VecDeque<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let here: PathBuf = root.join(done.iter().collect::<PathBuf>()).join(&c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(Error::io(
                        "cannot resolve",
                        path,
                        io::Error::other("too many levels of symbolic links"),
                    ));
                }
                let target =
                    fs::read_link(&here).map_err(|e| Error::io("cannot read link", &here, e))?;
                if target.is_absolute() {
                    done.clear();
                }
                for (i, t) in target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .enumerate()
                {
                    todo.insert(i, t);
                }
            }
            _ => done.push(c),
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// True when the directory has no entries (a missing one counts as empty).
pub fn dir_is_empty(p: &Path) -> bool {
    fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// The pid of the process that removes in the background (0: none). A
/// pid, not a flag: a monitor forked from kleened exits soon after its
/// work and must finish its removals itself.
static BACKGROUND: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A long-lived process (kleened) finishes removals in the background:
/// its clients get their answer once the tree is out of the way (klee's
/// requests time out after 5 s; a host image has 100,000 files).
pub fn set_background_removal(on: bool) {
    let pid = if on { std::process::id() } else { 0 };
    BACKGROUND.store(pid, std::sync::atomic::Ordering::Relaxed);
}

fn background() -> bool {
    BACKGROUND.load(std::sync::atomic::Ordering::Relaxed) == std::process::id()
}

/// Remove a tree, fast for the caller: renamed to `trash` (a scratch name
/// of this process, on the same filesystem) at once, then removed — now,
/// or by a thread where [`set_background_removal`] is on. A process that
/// dies first leaves `trash` to `system check`, as any scratch of a dead
/// owner. Where it cannot be renamed, it is removed in place.
pub fn discard(p: &Path, trash: &Path) -> Result<()> {
    match fs::rename(p, trash) {
        Ok(()) => {
            if background() {
                let trash = trash.to_path_buf();
                std::thread::spawn(move || remove_tree(&trash));
                Ok(())
            } else {
                remove_tree(trash)
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => remove_tree(p),
    }
}

/// Remove a tree, treating "already gone" as success. A file or symlink
/// where a directory belongs (a stray entry `system check` found) goes too.
pub fn remove_tree(p: &Path) -> Result<()> {
    // Often empty (a --rm container's directory): one rmdir, no walk.
    if fs::remove_dir(p).is_ok() {
        return Ok(());
    }
    let gone = match fs::symlink_metadata(p) {
        Ok(m) if !m.is_dir() => fs::remove_file(p),
        _ => fs::remove_dir_all(p),
    };
    match gone {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot remove", p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_trees_go_now_or_soon() {
        let t = tempfile::tempdir().unwrap();
        for background in [false, true] {
            set_background_removal(background);
            let p = t.path().join("tree");
            fs::create_dir_all(p.join("a/b")).unwrap();
            fs::write(p.join("a/b/f"), "x").unwrap();
            let trash = t.path().join("trash");
            discard(&p, &trash).unwrap();
            assert!(!p.exists());
            for _ in 0..100 {
                if !trash.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(!trash.exists(), "background={background}");
            discard(&p, &trash).unwrap();
        }
        set_background_removal(false);
    }

    #[test]
    fn paths_resolve_beneath_their_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("srv/app")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("data")).unwrap();
        std::os::unix::fs::symlink("../../..", r.join("srv/app/up")).unwrap();
        std::os::unix::fs::symlink("app", r.join("srv/cur")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        let res = |p: &str| resolve_beneath(r, Path::new(p)).unwrap();
        assert_eq!(res("/data/x"), r.join("etc/x"));
        assert_eq!(res("/srv/app/up/etc"), r.join("etc"));
        assert_eq!(res("/srv/cur/new"), r.join("srv/app/new"));
        assert_eq!(res("/../../etc"), r.join("etc"));
        assert_eq!(res("/missing/dir"), r.join("missing/dir"));
        assert!(resolve_beneath(r, Path::new("/loop/x")).is_err());
    }

    #[test]
    fn remove_tree_takes_trees_files_and_links_and_tolerates_absence() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("d/e")).unwrap();
        fs::write(t.path().join("d/e/f"), "x").unwrap();
        fs::write(t.path().join("file"), "x").unwrap();
        std::os::unix::fs::symlink("d", t.path().join("link")).unwrap();
        for name in ["d", "file", "link", "missing"] {
            remove_tree(&t.path().join(name)).unwrap();
        }
        assert!(dir_is_empty(t.path()));
    }

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
    lock_file_with(path, true).map(|f| f.expect("a blocking lock is taken"))
}

/// [`lock_file`], without waiting: `None` when someone else holds it.
pub fn try_lock_file(path: &Path) -> Result<Option<fs::File>> {
    lock_file_with(path, false)
}

fn lock_file_with(path: &Path, wait: bool) -> Result<Option<fs::File>> {
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
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(Some(f));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::io("cannot lock", path, e));
        }
    }
}

/// The space files under `p` take on disk, without following symbolic
/// links; 0 when `p` is absent. A file with several hard links counts for
/// its share (a layer made by hard-linking the host's /usr holds little of
/// its own).
pub fn disk_usage(p: &Path) -> u64 {
    let Ok(m) = fs::symlink_metadata(p) else {
        return 0;
    };
    let own = m.blocks() * 512;
    if !m.is_dir() {
        return own / m.nlink().max(1);
    }
    let mut n = own;
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            n += disk_usage(&e.path());
        }
    }
    n
}

/// Bytes as Docker shows sizes: `0B`, `512B`, `4.1kB`, `12.3MB`, `1.21GB`
/// (powers of 1000, three significant digits).
pub fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}B")
    } else if v < 10.0 {
        format!("{v:.2}{}", UNITS[u])
    } else if v < 100.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

#[cfg(test)]
mod usage_tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(512), "512B");
        assert_eq!(size(4096), "4.10kB");
        assert_eq!(size(12_345_678), "12.3MB");
        assert_eq!(size(1_210_000_000), "1.21GB");
        assert_eq!(size(999_999), "1000kB");
    }

    #[test]
    fn hard_links_count_for_their_share() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), vec![1u8; 64 * 1024]).unwrap();
        let alone = disk_usage(d.path());
        std::fs::hard_link(d.path().join("a"), d.path().join("b")).unwrap();
        // Both links inside: the same total.
        assert_eq!(disk_usage(d.path()), alone);
        assert!(disk_usage(&d.path().join("a")) < alone);
        assert_eq!(disk_usage(&d.path().join("missing")), 0);
    }
}
