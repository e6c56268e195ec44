//! kleene's own root filesystem for a container: the overlay of its
//! image's layers, pivot_root into it, a fresh /proc, /sys and /dev, its
//! name service files and its volumes (an OCI bundle's are in
//! `bundle_fs.rs`).

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use super::confine::{self, Devices};
use super::net;
use super::sys::{self, check, cstr, mkdir_p, mount, mount_point, CResult};
use crate::platform::fsutil;
use crate::platform::{MountSpec, RunSpec};

/// Write the container's name service files next to its layers, as mounts
/// onto `/etc` (created when the image lacks them). Only containers with
/// networks get them: without, there is no address to name, and a build
/// step or a `disabled` container starts with one mount less.
pub(super) fn dns_files(spec: &RunSpec, dir: &str) -> CResult<Vec<MountSpec>> {
    let mut files = Vec::new();
    // Without a network, the image's files, unless --add-host asks for lines.
    if !spec.attachments.is_empty() || !spec.extra_hosts.is_empty() {
        files.push(("hosts", net::hosts_file(spec)));
    }
    if !spec.attachments.is_empty() {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        files.push(("resolv.conf", net::resolv_conf(&host, &spec.dns)));
        // Its name, as Docker writes it (the image's file names some other
        // machine, or `localhost`).
        files.push(("hostname", format!("{}\n", spec.hostname)));
    }
    files
        .into_iter()
        .map(|(name, text)| {
            let path = format!("{dir}/{name}");
            std::fs::write(&path, text).map_err(|e| format!("write '{path}': {e}"))?;
            Ok(MountSpec {
                source: path.into(),
                destination: format!("/etc/{name}"),
                read_only: false,
                populate: false,
            })
        })
        .collect()
}

/// The root filesystem; `nodev` unless privileged, so device nodes in an
/// image's layers are inert.
pub(super) fn mount_overlay(spec: &RunSpec, dir: &str, rootfs: &str, nodev: bool) -> CResult<()> {
    // Layers usually share one parent directory: name them relative to it, so
    // the mount options (one page at most) fit hundreds of layers.
    let parent = spec
        .layers
        .first()
        .and_then(|l| l.parent())
        .filter(|p| spec.layers.iter().all(|l| l.parent() == Some(*p)));
    let relative = parent.is_some();
    let mut lower = Vec::with_capacity(spec.layers.len());
    for l in spec.layers.iter().rev() {
        let s = if relative {
            l.file_name().and_then(|n| n.to_str())
        } else {
            l.to_str()
        };
        let s = s.ok_or("layer path is not UTF-8")?;
        if s.contains([',', ':']) {
            return Err(format!("layer path '{s}' contains ',' or ':'"));
        }
        lower.push(s);
    }
    if lower.is_empty() {
        return Err("image has no layers".into());
    }
    if let Some(parent) = parent {
        let p = parent.to_str().ok_or("layer path is not UTF-8")?;
        let c = cstr(p)?;
        // SAFETY: valid path.
        check(unsafe { libc::chdir(c.as_ptr()) }, || {
            format!("chdir '{p}'")
        })?;
    }
    let opts = format!(
        "lowerdir={},upperdir={dir}/upper,workdir={dir}/work",
        lower.join(":")
    );
    let flags = if nodev { libc::MS_NODEV } else { 0 };
    mount("overlay", rootfs, "overlay", flags as libc::c_ulong, &opts)
}

/// Where the old root waits inside the new one until the mounts are done
/// (mount sources must stay attached to our namespace to be bind-mounted).
/// The name is random: a symlink in an image cannot aim a mount destination
/// at the host through it.
pub(super) fn old_root_name() -> String {
    let mut b = [0u8; 8];
    // SAFETY: getrandom into a valid buffer; on failure the pid and time make
    // the name unpredictable enough for an image prepared in advance.
    let n = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, b.len(), 0) };
    if n != b.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ (std::process::id() as u64).rotate_left(40)).to_le_bytes();
    }
    format!(
        "/.kleene-oldroot-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

pub(super) fn pivot(rootfs: &str, old_root: &str) -> CResult<()> {
    let r = cstr(rootfs)?;
    let old = cstr(&format!("{rootfs}{old_root}"))?;
    // SAFETY: valid paths, in our own mount namespace.
    unsafe {
        check(libc::chdir(r.as_ptr()), || format!("chdir '{rootfs}'"))?;
        if libc::mkdir(old.as_ptr(), 0o700) < 0 && *libc::__errno_location() != libc::EEXIST {
            return Err(format!(
                "mkdir '{rootfs}{old_root}': {}",
                std::io::Error::last_os_error()
            ));
        }
        check(
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), old.as_ptr()) as libc::c_int,
            || format!("pivot_root '{rootfs}'"),
        )?;
        check(libc::chdir(c"/".as_ptr()), || "chdir /".into())?;
    }
    Ok(())
}

/// Detach the old root once nothing needs host paths any more.
pub(super) fn drop_old_root(old_root: &str) -> CResult<()> {
    let old = cstr(old_root)?;
    // SAFETY: valid path.
    unsafe {
        check(libc::umount2(old.as_ptr(), libc::MNT_DETACH), || {
            "detach old root".into()
        })?;
        libc::rmdir(old.as_ptr());
    }
    Ok(())
}

/// A fresh /proc, /sys (read-only unless privileged) and /dev.
pub(super) fn mount_proc_dev_sys(
    devices: Devices,
    host_dev: &str,
    privileged: bool,
) -> CResult<()> {
    let nsd = (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as libc::c_ulong;
    mkdir_p("/proc", 0o555)?;
    mount("proc", "/proc", "proc", nsd, "")?;
    mkdir_p("/sys", 0o555)?;
    let ro = if privileged { 0 } else { libc::MS_RDONLY };
    mount("sysfs", "/sys", "sysfs", nsd | ro as libc::c_ulong, "")?;
    confine::devices(devices, host_dev)?;
    mkdir_p("/dev/pts", 0o755)?;
    mount(
        "devpts",
        "/dev/pts",
        "devpts",
        (libc::MS_NOSUID | libc::MS_NOEXEC) as libc::c_ulong,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )?;
    mkdir_p("/dev/shm", 0o1777)?;
    mount("shm", "/dev/shm", "tmpfs", nsd, "mode=1777,size=65536k")?;
    for (link, target) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, link).map_err(|e| format!("symlink '{link}': {e}"))?;
    }
    Ok(())
}

pub(super) fn open_path(p: &Path) -> CResult<OwnedFd> {
    let s = p.to_str().ok_or("mount source is not UTF-8")?;
    let fd = sys::open(s, libc::O_PATH)?;
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn bind_mount(m: &MountSpec, src: &OwnedFd) -> CResult<()> {
    use std::os::fd::AsRawFd;
    let src_path = format!("/proc/self/fd/{}", src.as_raw_fd());
    let dest = &m.destination;
    let src_is_dir = std::fs::metadata(&src_path)
        .map(|md| md.is_dir())
        .unwrap_or(true);
    // The destination is resolved inside the container's root: symlinks in
    // the image cannot point it at the host any more.
    mount_point(dest, src_is_dir)?;
    let fresh = m.populate && src_is_dir && fsutil::dir_is_empty(Path::new(&src_path));
    if fresh {
        // An empty volume takes the owner and mode of the image's directory
        // (as Docker), so a `USER app` service can write its own /data.
        if let Ok(md) = std::fs::metadata(dest) {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let _ = std::os::unix::fs::chown(&src_path, Some(md.uid()), Some(md.gid()));
            let _ = std::fs::set_permissions(
                &src_path,
                std::fs::Permissions::from_mode(md.mode() & 0o7777),
            );
        }
    }
    if fresh && !fsutil::dir_is_empty(Path::new(dest)) {
        fsutil::copy_tree(
            Path::new(dest),
            Path::new(&src_path),
            fsutil::Mode::Copy,
            &|_| false,
            &mut (),
        )
        .map_err(|e| format!("pre-populate volume at '{dest}': {e}"))?;
    }
    mount(
        &src_path,
        dest,
        "",
        (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
        "",
    )
    .map_err(|e| e.replace(&src_path, &m.source.display().to_string()))?;
    // Volumes are kleene's own directories: device nodes in them are inert.
    // A read-only mount is read-only all the way down.
    confine::restrict(dest, m.read_only, m.populate)
}
