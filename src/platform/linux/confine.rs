//! The filesystem side of confinement, done in the container's mount
//! namespace after pivot_root: masked and read-only kernel paths, a
//! read-only root, read-only mounts that stay read-only all the way down,
//! and the devices a container sees.

use super::sys::{check, cstr, mkdir_p, mount, CResult};

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_int = 0x8000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Make the mount at `path` and every mount below it read-only. A plain
/// remount only changes the top one: a mount under a `:ro` source would
/// stay writable (and reach the host).
pub fn read_only_recursive(path: &str) -> CResult<()> {
    restrict(path, true, false)
}

/// Add `ro` and/or `nodev` to the mount at `path` and every mount below,
/// keeping its other flags (a remount would reset nosuid, noexec, ...).
pub fn restrict(path: &str, read_only: bool, nodev: bool) -> CResult<()> {
    let c = cstr(path)?;
    let mut set = 0;
    if read_only {
        set |= MOUNT_ATTR_RDONLY;
    }
    if nodev {
        set |= MOUNT_ATTR_NODEV;
    }
    if set == 0 {
        return Ok(());
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) with a valid path and attribute struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(format!("make '{path}' read-only: {e}"));
    }
    // Kernels before 5.12: remount each mount at or below `path`.
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("read mountinfo: {e}"))?;
    let prefix = format!("{}/", path.trim_end_matches('/'));
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        if mp == path || mp.starts_with(&prefix) {
            remount(mp, read_only, nodev)?;
        }
    }
    Ok(())
}

fn remount(path: &str, read_only: bool, nodev: bool) -> CResult<()> {
    let mut flags = 0;
    if read_only {
        flags |= libc::MS_RDONLY;
    }
    if nodev {
        flags |= libc::MS_NODEV;
    }
    remount_bind(path, flags as libc::c_ulong)
}

/// Remount the bind at `path` with `flags` added. A bind remount sets its
/// flags exactly: the mount's nosuid, nodev and noexec are kept (the
/// kernel also refuses to clear locked ones).
pub(super) fn remount_bind(path: &str, flags: libc::c_ulong) -> CResult<()> {
    mount(
        "",
        path,
        "",
        libc::MS_BIND | libc::MS_REMOUNT | current_flags(path) | flags,
        "",
    )
}

/// The flags of the mount at `path` a bind remount must keep.
fn current_flags(path: &str) -> libc::c_ulong {
    let Ok(c) = cstr(path) else { return 0 };
    // SAFETY: statvfs into a zeroed struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } < 0 {
        return 0;
    }
    let mut f = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
    ] {
        if st.f_flag & st_flag != 0 {
            f |= ms;
        }
    }
    f
}

fn remount_ro(path: &str) -> CResult<()> {
    remount(path, true, false)
}

/// Hide kernel paths: `/dev/null` over files, an empty read-only tmpfs
/// over directories. Paths this kernel does not have are skipped.
pub fn mask(paths: &[String]) -> CResult<()> {
    for p in paths {
        let Ok(md) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if md.is_dir() {
            mount(
                "tmpfs",
                p,
                "tmpfs",
                libc::MS_RDONLY as libc::c_ulong,
                "size=0,mode=0555",
            )?;
        } else {
            mount("/dev/null", p, "", libc::MS_BIND as libc::c_ulong, "")?;
        }
    }
    Ok(())
}

/// Kernel interfaces the container may read but not change.
pub fn read_only_paths(paths: &[String]) -> CResult<()> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(
            p,
            p,
            "",
            (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
            "",
        )?;
        read_only_recursive(p)?;
    }
    Ok(())
}

/// `--read-only`: the root filesystem only; /dev, /proc, the name
/// service files and volumes are mounts of their own and keep their mode.
pub fn read_only_root() -> CResult<()> {
    remount_ro("/")
}

/// The standard character devices of a container's `/dev`.
pub(super) const DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// How the container's `/dev` is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Devices {
    /// The standard nodes made with mknod on a tmpfs. Safe because the
    /// container cannot make more (no CAP_MKNOD) and device nodes anywhere
    /// else (image layers, volumes) do not work (nodev).
    Standard,
    /// The container holds CAP_MKNOD: `/dev` is nodev too, and the
    /// standard devices are the host's nodes bound read-only (so they can
    /// be neither replaced nor chmod-ed); nodes it makes are inert.
    Inert,
    /// `--privileged`: every device node of the host.
    Host,
}

/// Fill `/dev` (a fresh tmpfs); `host_dev` is the host's /dev, reachable
/// through the old root until it is detached.
pub fn devices(kind: Devices, host_dev: &str) -> CResult<()> {
    let nodev = if kind == Devices::Inert {
        libc::MS_NODEV
    } else {
        0
    };
    mkdir_p("/dev", 0o755)?;
    mount(
        "tmpfs",
        "/dev",
        "tmpfs",
        (libc::MS_NOSUID | libc::MS_STRICTATIME | nodev) as libc::c_ulong,
        "mode=755,size=65536k",
    )?;
    match kind {
        Devices::Standard => {
            for (name, major, minor) in DEVICES {
                mknod(&format!("/dev/{name}"), libc::S_IFCHR, 0o666, major, minor)?;
            }
        }
        Devices::Inert => {
            for (name, _, _) in DEVICES {
                let dest = format!("/dev/{name}");
                std::fs::write(&dest, b"").map_err(|e| format!("create '{dest}': {e}"))?;
                mount(
                    &format!("{host_dev}/{name}"),
                    &dest,
                    "",
                    libc::MS_BIND as libc::c_ulong,
                    "",
                )?;
                remount_ro(&dest)?;
            }
        }
        Devices::Host => copy_host_devices(host_dev, "/dev")?,
    }
    Ok(())
}

pub(super) fn mknod(
    path: &str,
    kind: libc::mode_t,
    mode: u32,
    major: u32,
    minor: u32,
) -> CResult<()> {
    let c = cstr(path)?;
    // SAFETY: valid path; with umask 0 the mode is exact.
    unsafe {
        let old = libc::umask(0);
        let r = libc::mknod(c.as_ptr(), kind | mode, libc::makedev(major, minor));
        libc::umask(old);
        check(r, || format!("mknod '{path}'"))?;
    }
    Ok(())
}

/// Recreate the host's device nodes (and their directories) under `to`,
/// leaving out the pseudo-terminal and shared-memory filesystems, which
/// the container gets its own of.
fn copy_host_devices(from: &str, to: &str) -> CResult<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let entries = std::fs::read_dir(from).map_err(|e| format!("read '{from}': {e}"))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Its own pseudo-terminals and shared memory, and the links every
        // /dev gets (made after this).
        if matches!(
            name.as_str(),
            "pts" | "shm" | "mqueue" | "hugepages" | "ptmx" | "fd" | "stdin" | "stdout" | "stderr"
        ) {
            continue;
        }
        let (src, dst) = (format!("{from}/{name}"), format!("{to}/{name}"));
        let Ok(md) = std::fs::symlink_metadata(&src) else {
            continue;
        };
        let ft = md.file_type();
        if ft.is_dir() {
            mkdir_p(&dst, md.permissions().mode() & 0o7777)?;
            copy_host_devices(&src, &dst)?;
        } else if ft.is_char_device() || ft.is_block_device() {
            let kind = if ft.is_char_device() {
                libc::S_IFCHR
            } else {
                libc::S_IFBLK
            };
            let rdev = md.rdev();
            mknod(
                &dst,
                kind,
                md.mode() & 0o7777,
                libc::major(rdev),
                libc::minor(rdev),
            )?;
            let c = cstr(&dst)?;
            // SAFETY: valid path; keep the host's owner (e.g. group disk).
            unsafe { libc::lchown(c.as_ptr(), md.uid(), md.gid()) };
        } else if ft.is_symlink() {
            if let Ok(t) = std::fs::read_link(&src) {
                let _ = std::os::unix::fs::symlink(t, &dst);
            }
        }
    }
    Ok(())
}
