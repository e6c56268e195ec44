//! In the child, for a container an OCI bundle describes (`kleene-oci`):
//! join the namespaces it names by path, mount what `config.json` lists
//! onto the caller's root filesystem, make the default devices, change
//! root, then the sysctls, host and domain names. Destinations resolve
//! beneath the root (symlinks in the rootfs cannot aim a mount at the host).

use std::os::fd::RawFd;
use std::path::Path;

use super::confine;
use super::sys::{self, check, cstr, mkdir_p, mount, mount_point, CResult};
use crate::platform::bundle::{BundleSpec, DeviceNode, GenericMount, NamespaceKind};
use crate::platform::fsutil;

/// Flags each OCI mount option sets (or, `clear`, removes).
struct Options {
    flags: libc::c_ulong,
    propagation: libc::c_ulong,
    data: Vec<String>,
    bind: bool,
}

fn parse_options(opts: &[String]) -> Options {
    let mut o = Options {
        flags: 0,
        propagation: 0,
        data: vec![],
        bind: false,
    };
    for opt in opts {
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match opt.as_str() {
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                (libc::MS_BIND, 0)
            }
            "rbind" => {
                o.bind = true;
                (libc::MS_BIND | libc::MS_REC, 0)
            }
            p => {
                if let Some(f) = propagation(p) {
                    o.propagation |= f;
                } else {
                    o.data.push(p.to_string());
                }
                (0, 0)
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    o
}

/// `rprivate` → its mount flags.
fn propagation(name: &str) -> Option<libc::c_ulong> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// Namespaces named by path, except pid (the parent joins that one, so
/// its child is born in it): join them, the mount namespace last.
pub fn join_namespaces(b: &BundleSpec) -> CResult<()> {
    let mut joins: Vec<_> = b
        .namespaces
        .iter()
        .filter(|n| n.path.is_some() && n.kind != NamespaceKind::Pid)
        .collect();
    // The user namespace first (it grants the right to join the others),
    // the mount namespace last.
    joins.sort_by_key(|n| match n.kind {
        NamespaceKind::User => 0,
        NamespaceKind::Mount => 2,
        _ => 1,
    });
    for n in joins {
        if let Some(path) = &n.path {
            join(path, n.kind)?;
        }
    }
    Ok(())
}

/// A new time namespace, if the bundle asks for one: made with unshare
/// (the caller stays outside; its exec moves it in), its clocks shifted
/// while nobody is in it yet.
pub fn new_time_namespace(b: &BundleSpec) -> CResult<()> {
    if !b
        .namespaces
        .iter()
        .any(|n| n.kind == NamespaceKind::Time && n.path.is_none())
    {
        return Ok(());
    }
    // SAFETY: unshare in a single-threaded child.
    check(
        unsafe { libc::unshare(clone_flag(NamespaceKind::Time)) },
        || "make a time namespace".into(),
    )?;
    if b.time_offsets.is_empty() {
        return Ok(());
    }
    let text: String = b
        .time_offsets
        .iter()
        .map(|(clock, s, ns)| format!("{clock} {s} {ns}\n"))
        .collect();
    let fd = sys::open("/proc/self/timens_offsets", libc::O_WRONLY)?;
    let n = text.len();
    // SAFETY: a write from a valid buffer; the kernel takes all offsets in one.
    let r = unsafe { libc::write(fd, text.as_ptr().cast(), n) };
    sys::close(fd);
    check(r as i32, || {
        format!(
            "set time offsets ({}): the kernel refused them (an offset that puts a clock below zero or past its range?)",
            text.trim().replace('\n', ", ")
        )
    })
    .map(drop)
}

/// Join the `kind` namespace at `path` (`/proc/PID/ns/net`, a bind of one).
pub fn join(path: &Path, kind: NamespaceKind) -> CResult<()> {
    let p = path.display().to_string();
    let fd = sys::open(&p, libc::O_RDONLY | libc::O_CLOEXEC)?;
    // SAFETY: setns with an fd we opened.
    let r = unsafe { libc::setns(fd, clone_flag(kind)) };
    sys::close(fd);
    check(r, || format!("join {} namespace '{p}'", kind.name())).map(drop)
}

/// The clone(2) flag of a namespace kind.
pub fn clone_flag(kind: NamespaceKind) -> libc::c_int {
    match kind {
        NamespaceKind::Pid => libc::CLONE_NEWPID,
        NamespaceKind::Network => libc::CLONE_NEWNET,
        NamespaceKind::Mount => libc::CLONE_NEWNS,
        NamespaceKind::Ipc => libc::CLONE_NEWIPC,
        NamespaceKind::Uts => libc::CLONE_NEWUTS,
        NamespaceKind::User => libc::CLONE_NEWUSER,
        NamespaceKind::Cgroup => libc::CLONE_NEWCGROUP,
        NamespaceKind::Time => 0x80,
    }
}

/// Mount everything, call `before_root` (the hooks' moment), change root,
/// then the sysctls and names.
pub fn setup(
    b: &BundleSpec,
    hostname: &str,
    before_root: &mut dyn FnMut() -> CResult<()>,
) -> CResult<()> {
    // Host mounts may still propagate in (rslave, as runc), nothing out.
    let prop = if b.rootfs_propagation.is_empty() {
        libc::MS_SLAVE | libc::MS_REC
    } else {
        propagation(&b.rootfs_propagation)
            .ok_or_else(|| format!("unknown rootfsPropagation '{}'", b.rootfs_propagation))?
    };
    mount("", "/", "", prop, "")?;
    let rootfs = b.rootfs.to_str().ok_or("rootfs path is not UTF-8")?;
    // pivot_root wants a mount point.
    mount(
        rootfs,
        rootfs,
        "",
        (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
        "",
    )?;
    if b.nodev_root {
        // Before anything is mounted below it: only the caller's files.
        confine::restrict(rootfs, false, true)?;
    }
    let mut dev_is_host = false;
    for m in &b.mounts {
        mount_one(&b.rootfs, m)?;
        if m.destination.trim_end_matches('/') == "/dev" && parse_options(&m.options).bind {
            dev_is_host = true;
        }
    }
    if !dev_is_host {
        default_devices(&b.rootfs, &b.devices)?;
    }
    before_root()?;
    change_root(rootfs, b.no_pivot)?;
    for (k, v) in &b.sysctl {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        std::fs::write(&path, v).map_err(|e| format!("sysctl {k}={v}: {e}"))?;
    }
    if b.namespace(NamespaceKind::Uts).is_some() {
        if !hostname.is_empty() {
            let h = cstr(hostname)?;
            // SAFETY: valid buffer and length.
            check(
                unsafe { libc::sethostname(h.as_ptr(), hostname.len()) },
                || format!("sethostname '{hostname}'"),
            )?;
        }
        if !b.domainname.is_empty() {
            let d = cstr(&b.domainname)?;
            // SAFETY: valid buffer and length.
            check(
                unsafe { libc::setdomainname(d.as_ptr(), b.domainname.len()) },
                || format!("setdomainname '{}'", b.domainname),
            )?;
        }
    }
    Ok(())
}

/// Open the start FIFO before the root changes (`O_PATH`: no reader yet).
pub fn open_gate(path: &Path) -> CResult<RawFd> {
    sys::open(
        path.to_str().ok_or("start fifo path is not UTF-8")?,
        libc::O_PATH,
    )
}

fn beneath(rootfs: &Path, dest: &str) -> CResult<String> {
    let p = fsutil::resolve_beneath(rootfs, Path::new(dest)).map_err(|e| e.to_string())?;
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("mount destination '{dest}' is not UTF-8"))
}

fn mount_one(rootfs: &Path, m: &GenericMount) -> CResult<()> {
    if !m.destination.starts_with('/') {
        return Err(format!(
            "mount destination '{}' is not absolute",
            m.destination
        ));
    }
    let dest = beneath(rootfs, &m.destination)?;
    let o = parse_options(&m.options);
    if o.bind || m.fstype == "bind" {
        let src_is_dir = std::fs::metadata(&m.source)
            .map_err(|e| format!("mount source '{}': {e}", m.source))?
            .is_dir();
        mount_point(&dest, src_is_dir)?;
        let rec = o.flags & libc::MS_REC;
        mount(&m.source, &dest, "", libc::MS_BIND | rec, "")?;
        // A bind takes its other flags only on a remount.
        let extra = o.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            confine::remount_bind(&dest, extra)?;
        }
    } else {
        mkdir_p(&dest, 0o755)?;
        let fstype = if m.fstype == "cgroup" {
            cgroup_fs()
        } else {
            m.fstype.as_str()
        };
        let data = if fstype == "tmpfs" && m.fstype == "cgroup" {
            "mode=755".to_string()
        } else {
            o.data.join(",")
        };
        match mount(&m.source, &dest, fstype, o.flags, &data) {
            // In a user namespace that does not own the network namespace
            // the kernel refuses a new sysfs: the host's, bound (as runc).
            Err(e) if fstype == "sysfs" && e.contains("Operation not permitted") => {
                mount("/sys", &dest, "", libc::MS_BIND | libc::MS_REC, "")?;
                if o.flags & libc::MS_RDONLY != 0 {
                    confine::remount_bind(&dest, libc::MS_RDONLY)?;
                }
            }
            r => r?,
        }
    }
    if o.propagation != 0 {
        mount("", &dest, "", o.propagation, "")?;
    }
    Ok(())
}

/// A `cgroup` mount: cgroup2 where the host has it (the container's own
/// group as root, with a cgroup namespace), else an empty tmpfs.
fn cgroup_fs() -> &'static str {
    match super::cgroup::layout() {
        super::cgroup::Layout::Unified(_) => "cgroup2",
        _ => "tmpfs",
    }
}

/// The devices every container has (OCI's default list), then the
/// bundle's own; device nodes we may not make are bound from the host.
fn default_devices(rootfs: &Path, extra: &[DeviceNode]) -> CResult<()> {
    let dev = beneath(rootfs, "/dev")?;
    mkdir_p(&dev, 0o755)?;
    let standard = confine::DEVICES
        .iter()
        .map(|&(n, major, minor)| DeviceNode {
            path: format!("/dev/{n}"),
            kind: 'c',
            major: major.into(),
            minor: minor.into(),
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    for d in standard.chain(extra.iter().cloned()) {
        let path = beneath(rootfs, &d.path)?;
        let _ = std::fs::remove_file(&path);
        if let Some(parent) = Path::new(&path).parent().and_then(|p| p.to_str()) {
            mkdir_p(parent, 0o755)?;
        }
        let kind = match d.kind {
            'b' => libc::S_IFBLK,
            'p' => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        let made = confine::mknod(&path, kind, d.mode & 0o7777, d.major as u32, d.minor as u32);
        if made.is_ok() {
            let c = cstr(&path)?;
            // SAFETY: valid path.
            unsafe { libc::chown(c.as_ptr(), d.uid, d.gid) };
        } else {
            // No CAP_MKNOD: the host's node, bound.
            mount_point(&path, false)?;
            mount(&d.path, &path, "", libc::MS_BIND, "")?;
        }
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, format!("{dev}/{link}"));
    }
    if Path::new(&format!("{dev}/pts")).is_dir() {
        let ptmx = format!("{dev}/ptmx");
        let _ = std::fs::remove_file(&ptmx);
        let _ = std::os::unix::fs::symlink("pts/ptmx", &ptmx);
    }
    Ok(())
}

fn change_root(rootfs: &str, no_pivot: bool) -> CResult<()> {
    let r = cstr(rootfs)?;
    // SAFETY: valid paths, in our own mount namespace.
    unsafe {
        check(libc::chdir(r.as_ptr()), || format!("chdir '{rootfs}'"))?;
        if no_pivot {
            check(
                libc::mount(
                    c".".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_MOVE,
                    std::ptr::null(),
                ),
                || format!("move '{rootfs}' to /"),
            )?;
            check(libc::chroot(c".".as_ptr()), || format!("chroot '{rootfs}'"))?;
        } else {
            // pivot_root(".", "."): the old root stacks under the new one
            // and is detached at once, with no directory to make for it.
            check(
                libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int,
                || format!("pivot_root '{rootfs}'"),
            )?;
            check(
                libc::mount(
                    c"".as_ptr(),
                    c".".as_ptr(),
                    std::ptr::null(),
                    libc::MS_SLAVE | libc::MS_REC,
                    std::ptr::null(),
                ),
                || "make the old root a slave".into(),
            )?;
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH), || {
                "detach the old root".into()
            })?;
        }
        check(libc::chdir(c"/".as_ptr()), || "chdir /".into())?;
    }
    Ok(())
}
