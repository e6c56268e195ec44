//! Read-only merged views of layer chains, for builds that read files out of
//! an image (COPY --from, looking up /etc/passwd for --chown, parent
//! directories). The calling process moves into a private mount namespace the
//! first time, so the views vanish when it exits and the host never sees them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::sys::{self, mkdir_p};
use super::Linux;
use crate::platform::{owner, Error, Platform, Result};

static PRIVATE: AtomicBool = AtomicBool::new(false);
static SEQ: AtomicU32 = AtomicU32::new(0);

fn private_namespace() -> Result<()> {
    if PRIVATE.load(Ordering::Relaxed) {
        return Ok(());
    }
    // SAFETY: unshare of the mount namespace; the caller is single-threaded
    // (a build), and children it creates later inherit the namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } < 0 {
        return Err(Error::io(
            "cannot create a private mount namespace for",
            "the build",
            std::io::Error::last_os_error(),
        ));
    }
    sys::mount(
        "",
        "/",
        "",
        (libc::MS_REC | libc::MS_PRIVATE) as libc::c_ulong,
        "",
    )
    .map_err(Error::Failed)?;
    PRIVATE.store(true, Ordering::Relaxed);
    Ok(())
}

pub fn view(l: &Linux, root: &Path, layers: &[String]) -> Result<PathBuf> {
    match layers {
        [] => {
            // scratch: an empty directory.
            let p = root.join("tmp").join(owner::scratch("empty"));
            std::fs::create_dir_all(&p).map_err(|e| Error::io("cannot create directory", &p, e))?;
            Ok(p)
        }
        // One layer needs no overlay (and overlayfs wants two lowers without an upper).
        [one] => Ok(l.layer_path(root, one)),
        many => {
            private_namespace()?;
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let target = root.join("tmp").join(owner::scratch(&format!("view-{n}")));
            let t = target
                .to_str()
                .ok_or_else(|| Error::Failed("view path is not UTF-8".into()))?;
            mkdir_p(t, 0o700).map_err(Error::Failed)?;
            let lower: Vec<String> = many
                .iter()
                .rev()
                .map(|id| l.layer_path(root, id).display().to_string())
                .collect();
            let r = sys::mount(
                "overlay",
                t,
                "overlay",
                libc::MS_RDONLY as libc::c_ulong,
                &format!("lowerdir={}", lower.join(":")),
            );
            if let Err(e) = r {
                let _ = std::fs::remove_dir(&target);
                return Err(Error::Failed(e));
            }
            // The directory name is only a mount point in our namespace; the
            // host sees an empty directory, removed when the build ends.
            Ok(target)
        }
    }
}

/// Unmount and remove the views (and scratch directories) of this process.
pub fn release(root: &Path) {
    let mine = owner::scratch("");
    let Ok(dir) = std::fs::read_dir(root.join("tmp")) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let what = name.strip_prefix(&mine).unwrap_or("");
        if what.starts_with("view-") || what == "empty" {
            if let Ok(c) = sys::cstr(&e.path().display().to_string()) {
                // SAFETY: detaching a mount we made in our own namespace.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
            let _ = std::fs::remove_dir(e.path());
        }
    }
}
