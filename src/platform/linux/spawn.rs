//! Starting a container's init: one clone(2) into new pid, mount, uts, ipc
//! and net namespaces, then (in the child) the overlay rootfs, pivot_root, a
//! fresh /proc, a minimal /dev, the mounts, and exec. A failure before exec is
//! sent back over a close-on-exec pipe; EOF on that pipe means exec happened.
//! All mounts live in the container's own mount namespace, so they vanish with
//! it: nothing can be left mounted on the host.

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use super::bundle_fs;
use super::cgroup::{self, Cgroup};
use super::confine::{self, Devices};
use super::handshake::Handshake;
use super::init;
use super::net;
use super::netlink::Socket;
use super::netns;
use super::seccomp::{self, Filters};

use super::process;
use super::rootfs::{
    bind_mount, dns_files, drop_old_root, mount_overlay, mount_proc_dev_sys, old_root_name,
    open_path, pivot,
};
use super::sys::{self, check, cstr, mkdir_p, mount, CResult};
use crate::platform::bundle::{BundleSpec, NamespaceKind};
use crate::platform::stream::Stream;
use crate::platform::{failpoint, Error, Result, RunSpec, Started, Stdio};

const CONTAINER_NS: libc::c_int = libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET;

pub fn start(spec: &RunSpec, stdio: &Stdio, spawned: &mut dyn FnMut(i32)) -> Result<Started> {
    // Opened here, in the host's network namespace: the child makes the
    // host ends of its links through it.
    let host_net = net::host_socket(spec)?;
    // A bundle's own preparations come before anything that would need
    // undoing: its pid namespace by path is joined (only children are
    // born into a pid namespace), and the socket pairs for its hooks (the
    // child stops before its root changes for the host's hooks, and gets
    // the state they and its own read) and its new user namespace (the
    // child waits until we wrote its maps).
    let bundle = spec.bundle.as_deref();
    if let Some(b) = bundle {
        join_pid_namespace(b).map_err(Error::Failed)?;
    }
    let pair =
        |want| optional_pair(want).map_err(|e| Error::io("cannot create socket pair", "", e));
    let hook_pair = pair(bundle.is_some_and(|b| !b.hooks.is_empty()))?;
    let userns_pair = pair(bundle.is_some_and(|b| b.new_user_namespace()))?;
    failpoint::check("container.start.cgroup")?;
    let key = spec.cgroup_key();
    let (mut cg, v2_dir) = Cgroup::begin(&key, &spec.limits)?;
    // The group's directories, and a bundle's devices group if made.
    let undo = || {
        let _ = cgroup::remove(&key);
    };
    // A socket, not a pipe: sending to a child that already died must not
    // raise SIGPIPE in us.
    let (go_r, go_w) = match sys::socketpair() {
        Ok(p) => p,
        Err(e) => {
            undo();
            return Err(Error::io("cannot create socket pair", "", e));
        }
    };
    let hs = match Handshake::new(stdio) {
        Ok(h) => h,
        Err(e) => {
            sys::close(go_r);
            sys::close(go_w);
            undo();
            return Err(e);
        }
    };
    // A network namespace made ahead (`netns`) is joined rather than
    // created; taking it waits for its thread, so we clone single-threaded.
    let own_net = bundle.is_none() && !spec.fly && spec.network_driver != "host";
    let netns = if own_net { netns::take() } else { None };
    let flags = if let Some(b) = bundle {
        b.namespaces
            .iter()
            // A time namespace is made by the child (its offsets must be
            // written before anyone is in it); 0x80 is clone(2)'s CSIGNAL.
            .filter(|n| n.path.is_none() && n.kind != NamespaceKind::Time)
            .fold(0, |f, n| f | bundle_fs::clone_flag(n.kind))
    } else if spec.fly {
        libc::CLONE_NEWNS
    } else if !own_net || netns.is_some() {
        CONTAINER_NS & !libc::CLONE_NEWNET
    } else {
        CONTAINER_NS
    };
    let (pid, born) = clone(flags, v2_dir.as_ref().map(|f| f.as_raw_fd()));
    drop(v2_dir);
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        hs.abandon();
        sys::close(go_r);
        sys::close(go_w);
        undo();
        return Err(Error::io(
            "cannot clone container process for",
            &spec.container_dir,
            e,
        ));
    }
    if pid == 0 {
        sys::close(go_w);
        // Only our ends: EOF on one must mean the runtime closed its own.
        let child_end = |pair: Option<(OwnedFd, OwnedFd)>| pair.map(|(_, c)| c.into_raw_fd());
        let sock = hs.child_side();
        let setup = Setup {
            pty_sock: sock,
            host_net: host_net.as_ref(),
            netns: netns.as_ref().map(|f| f.as_raw_fd()),
            go: go_r,
            error_fd: hs.error_fd(),
            hooks: child_end(hook_pair),
            userns: child_end(userns_pair),
        };
        match child(spec, stdio, &setup) {
            Err(m) => hs.fail(&m, 125),
            Ok(never) => match never {},
        }
    }
    sys::close(go_r);
    drop(netns);
    let hook_sock = hook_pair.map(|(p, _)| p);
    let userns_sock = userns_pair.map(|(p, _)| p);
    crate::platform::trace::mark("cloned");
    spawned(pid);
    // The seccomp filter is compiled, and the rest of the group made with
    // the child in it, while the child sets its filesystem up (they run in
    // parallel); it waits for the go, which carries the filter, before
    // anything of the container runs. A profile that does not compile or a
    // limit the host cannot enforce ends the child before it ran anything.
    let ready = match (userns_sock, bundle) {
        (Some(sock), Some(b)) => write_id_maps(sock, b, pid),
        _ => Ok(()),
    }
    .and_then(|_| seccomp::compile(&spec.process.profile).map_err(Error::Failed))
    .and_then(|filters| {
        crate::platform::trace::mark("seccomp filter compiled");
        cg.finish(pid, &spec.limits, born)?;
        if let Some(b) = bundle {
            cgroup::devices::apply(&key, pid, &b.device_rules)?;
            cgroup::extra::apply(&key, pid, &b.resources)?;
        }
        Ok(filters)
    })
    .and_then(|filters| {
        if let (Some(sock), Some(b)) = (hook_sock, bundle) {
            runtime_hooks(sock, b, pid)?;
        }
        Ok(filters)
    });
    match ready {
        Ok(filters) => {
            crate::platform::trace::mark("cgroup made, child in it");
            // A dead child gives EPIPE (no signal); it is reaped by the
            // handshake. Dropping the stream closes it: the child reads EOF.
            // SAFETY: go_w is ours, and nothing else closes it on this path.
            let mut go = unsafe { Stream::from_raw_fd(go_w) };
            let _ = std::io::Write::write_all(&mut go, &filters.to_bytes());
            drop(go);
            let started = hs.parent_side(pid);
            crate::platform::trace::mark("exec'd");
            if started.is_err() {
                // The child is gone (reaped by the handshake): its group is empty.
                undo();
            }
            started
        }
        Err(e) => {
            // No go: the child gives up, and the handshake reaps it. If it
            // had failed on its own before, its reason is the first cause.
            sys::close(go_w);
            let r = match hs.parent_side(pid) {
                Err(Error::Failed(m)) if m != NO_CGROUP => Err(Error::Failed(m)),
                _ => Err(e),
            };
            undo();
            r
        }
    }
}

/// clone(2) into new namespaces, without a new stack (like fork); with a
/// v2 cgroup directory, clone3 makes the child in that group
/// (`CLONE_INTO_CGROUP`, Linux 5.7) and says so; kernels without it get a
/// plain clone and the child is moved afterwards. Returns the pid (-1 on
/// error, errno set) and whether the child was born in the group.
fn clone(flags: libc::c_int, cgroup: Option<RawFd>) -> (i32, bool) {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    if let Some(fd) = cgroup {
        #[repr(C)]
        struct CloneArgs {
            flags: u64,
            pidfd: u64,
            child_tid: u64,
            parent_tid: u64,
            exit_signal: u64,
            stack: u64,
            stack_size: u64,
            tls: u64,
            set_tid: u64,
            set_tid_size: u64,
            cgroup: u64,
        }
        let args = CloneArgs {
            flags: flags as u64 | CLONE_INTO_CGROUP,
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: libc::SIGCHLD as u64,
            stack: 0,
            stack_size: 0,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            cgroup: fd as u64,
        };
        // SAFETY: as fork: the caller is single-threaded and the child
        // only execs or exits.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        } as i32;
        let e = std::io::Error::last_os_error().raw_os_error();
        if pid >= 0 || !matches!(e, Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL)) {
            return (pid, true);
        }
    }
    // SAFETY: clone without a new stack behaves like fork; the caller is
    // single-threaded, and the child only execs or exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    } as i32;
    (pid, false)
}

/// What the parent prepared for the child.
struct Setup<'a> {
    pty_sock: Option<RawFd>,
    host_net: Option<&'a Socket>,
    /// The network namespace to join, made ahead with `lo` up (None: the
    /// clone made one, or the container has none of its own).
    netns: Option<RawFd>,
    /// The seccomp filters here once the child is in its cgroup (EOF
    /// alone: it could not be, or the filters did not compile).
    go: RawFd,
    /// The error pipe (an init closes its copy once it has forked).
    error_fd: RawFd,
    /// A bundle's hook socket: we say when our mounts are made, the
    /// runtime runs its hooks and sends the state (EOF: they failed).
    hooks: Option<RawFd>,
    /// A new user namespace's: a byte once the runtime wrote our maps.
    userns: Option<RawFd>,
}

/// A socket pair if `want`.
fn optional_pair(want: bool) -> std::io::Result<Option<(OwnedFd, OwnedFd)>> {
    if !want {
        return Ok(None);
    }
    let (a, b) = sys::socketpair()?;
    // SAFETY: fresh fds we own.
    Ok(unsafe { Some((OwnedFd::from_raw_fd(a), OwnedFd::from_raw_fd(b))) })
}

/// In the parent: write the child's uid and gid maps (one write each, as
/// the kernel wants), then let it go on.
fn write_id_maps(sock: OwnedFd, b: &BundleSpec, pid: i32) -> Result<()> {
    for (file, map) in [("uid_map", &b.uid_map), ("gid_map", &b.gid_map)] {
        let text: String = map
            .iter()
            .map(|(inside, outside, n)| format!("{inside} {outside} {n}\n"))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text.as_bytes()).map_err(|e| {
            Error::Failed(format!(
                "cannot write the user namespace's {file} ({}): {e}",
                text.trim().replace('\n', ", ")
            ))
        })?;
    }
    let mut s = std::fs::File::from(sock);
    let _ = std::io::Write::write_all(&mut s, b"u");
    Ok(())
}

/// In the child of a new user namespace: wait for our maps, then become
/// its root (unmapped until now).
fn enter_user_namespace(sock: RawFd) -> CResult<()> {
    let mut b = [0u8; 1];
    // SAFETY: reading one byte into a valid buffer.
    let n = unsafe { libc::read(sock, b.as_mut_ptr() as *mut libc::c_void, 1) };
    sys::close(sock);
    if n != 1 {
        return Err(NO_CGROUP.into());
    }
    // SAFETY: plain identity calls in a single-threaded child.
    unsafe {
        check(libc::setresgid(0, 0, 0), || {
            "become root of the user namespace (is gid 0 mapped?)".into()
        })?;
        check(libc::setresuid(0, 0, 0), || {
            "become root of the user namespace (is uid 0 mapped?)".into()
        })?;
    }
    Ok(())
}

/// In the parent: wait until the child's mounts are made, run the host's
/// hooks (`prestart`, `createRuntime`), then send the child the state its
/// own hooks read. A hook's failure is the start's failure.
fn runtime_hooks(sock: OwnedFd, b: &BundleSpec, pid: i32) -> Result<()> {
    let mut s = std::fs::File::from(sock);
    let mut byte = [0u8; 1];
    if std::io::Read::read(&mut s, &mut byte).unwrap_or(0) == 0 {
        // The child died first: its own error says why.
        return Ok(());
    }
    let state = b.hooks.state_for(pid);
    crate::platform::hook::run_all(&b.hooks.prestart, "prestart", &state)
        .and_then(|_| crate::platform::hook::run_all(&b.hooks.runtime, "createRuntime", &state))
        .map_err(Error::Failed)?;
    let _ = std::io::Write::write_all(&mut s, state.as_bytes());
    Ok(())
}

/// In the child: our mounts are made; the runtime's hooks run, then the
/// container's (`createContainer`), here in our mount namespace. Returns
/// the state (for `startContainer` hooks).
fn container_hooks(sock: RawFd, b: &BundleSpec) -> CResult<String> {
    sys::write_all(sock, b"m");
    let state = sys::read_to_end(sock);
    sys::close(sock);
    if state.is_empty() {
        // The runtime gave up (a hook failed): its error is the one to tell.
        return Err(NO_CGROUP.into());
    }
    let state = String::from_utf8_lossy(&state).into_owned();
    crate::platform::hook::run_all(&b.hooks.container, "createContainer", &state)?;
    Ok(state)
}

/// What a child says when the runtime gave up on it (its cgroup, seccomp
/// filter or hooks failed): the runtime's own error is reported instead.
const NO_CGROUP: &str = "the container's cgroup, seccomp filter or hooks could not be set up";

/// Wait until the parent has put us in the container's cgroup, and take
/// the seccomp filters it compiled meanwhile.
fn wait_for_go(go: RawFd) -> CResult<Filters> {
    // SAFETY: the child's end of the go socket, ours to read and close.
    let mut go = unsafe { Stream::from_raw_fd(go) };
    let mut msg = Vec::with_capacity(8192);
    std::io::Read::read_to_end(&mut go, &mut msg).map_err(|_| NO_CGROUP.to_string())?;
    Filters::from_bytes(&msg).ok_or_else(|| NO_CGROUP.into())
}

/// Everything between clone and exec. Only returns on error.
fn child(spec: &RunSpec, stdio: &Stdio, setup: &Setup) -> CResult<std::convert::Infallible> {
    let fp = |name: &str| failpoint::check(name).map_err(|e| e.to_string());
    if spec.die_with_caller {
        // Set before the go: a caller that died earlier never sends it.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    }
    if !matches!(stdio, Stdio::Pty) {
        process::setup_stdio(stdio, None)?;
    }
    let profile = &spec.process.profile;
    if let Some(b) = spec.bundle.as_deref() {
        return bundle_child(spec, b, stdio, setup);
    }
    let own_net = !spec.fly && spec.network_driver != "host";
    if own_net {
        fp("container.start.network")?;
        if let Some(ns) = setup.netns {
            // SAFETY: setns with an fd we were given; then closed (ours).
            check(unsafe { libc::setns(ns, libc::CLONE_NEWNET) }, || {
                "cannot join the container's network namespace".into()
            })?;
            sys::close(ns);
        }
        net::setup_child(spec, setup.host_net, setup.netns.is_none())?;
        crate::platform::trace::mark("child: network");
    }
    make_mounts_private()?;
    let (dir, rootfs) = dirs(spec)?;
    let old_root = old_root_name();
    fp("container.start.overlay")?;
    if spec.ephemeral {
        mount("tmpfs", dir, "tmpfs", 0, "mode=0700")?;
        for d in ["upper", "work", "rootfs"] {
            mkdir_p(&format!("{dir}/{d}"), 0o755)?;
        }
    }
    mount_overlay(spec, dir, &rootfs, !profile.privileged)?;

    // The container's own /etc/hosts and /etc/resolv.conf, mounted first so
    // the user's mounts can replace them.
    let mut mounts = Vec::with_capacity(spec.mounts.len() + 2);
    if own_net {
        mounts.extend(dns_files(spec, dir)?);
    }
    mounts.extend(spec.mounts.iter().cloned());

    // Open mount sources now: after pivot_root the host paths are gone, and
    // an fd keeps naming the same directory whatever happens to its path.
    let sources: Vec<OwnedFd> = mounts
        .iter()
        .map(|m| open_path(&m.source))
        .collect::<CResult<_>>()?;

    if spec.fly {
        // rkt's fly: the host's /dev, /proc and /sys, then chroot.
        for d in ["dev", "proc", "sys"] {
            let target = format!("{rootfs}/{d}");
            mkdir_p(&target, 0o755)?;
            mount(
                &format!("/{d}"),
                &target,
                "",
                (libc::MS_BIND | libc::MS_REC) as libc::c_ulong,
                "",
            )?;
        }
        fp("container.start.pivot")?;
        let r = cstr(&rootfs)?;
        // SAFETY: valid paths; we are in our own mount namespace.
        unsafe {
            check(libc::chdir(r.as_ptr()), || format!("chdir '{rootfs}'"))?;
            check(libc::chroot(c".".as_ptr()), || format!("chroot '{rootfs}'"))?;
            check(libc::chdir(c"/".as_ptr()), || "chdir /".into())?;
        }
    } else {
        fp("container.start.pivot")?;
        pivot(&rootfs, &old_root)?;
        fp("container.start.devices")?;
        let devices = if profile.privileged {
            Devices::Host
        } else if profile.capabilities.has_named("MKNOD") {
            Devices::Inert
        } else {
            Devices::Standard
        };
        mount_proc_dev_sys(devices, &format!("{old_root}/dev"), profile.privileged)?;
        let h = cstr(&spec.hostname)?;
        // SAFETY: valid buffer and length.
        check(
            unsafe { libc::sethostname(h.as_ptr(), spec.hostname.len()) },
            || format!("sethostname '{}'", spec.hostname),
        )?;
    }

    fp("container.start.mounts")?;
    for (m, fd) in mounts.iter().zip(&sources) {
        bind_mount(m, fd)?;
    }
    drop(sources);
    if !spec.fly {
        drop_old_root(&old_root)?;
        crate::platform::trace::mark("child: root filesystem");
        fp("container.start.confine")?;
        if own_net {
            // ping without raw sockets (ICMP datagram sockets), as Docker
            // does; this only touches the container's own network, and
            // must come before /proc/sys turns read-only.
            let _ = std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
        }
        confine::mask(&profile.masked_paths)?;
        confine::read_only_paths(&profile.readonly_paths)?;
        crate::platform::trace::mark("child: kernel paths masked");
    }
    if profile.read_only_rootfs {
        confine::read_only_root()?;
    }

    if matches!(stdio, Stdio::Pty) {
        process::setup_stdio(stdio, setup.pty_sock)?;
    }
    let filters = wait_for_go(setup.go)?;
    crate::platform::trace::mark("child: go");
    fp("container.start.exec")?;
    if profile.init && !spec.fly {
        return init::run(&filters, Some(setup.error_fd), || {
            process::exec_process(&spec.process, &spec.hostname, &filters, None)
        });
    }
    process::exec_process(&spec.process, &spec.hostname, &filters, None)
}

/// The child of a container an OCI bundle describes: its namespaces,
/// mounts and root as `config.json` says, kleene's confinement, then the
/// wait for `start` when there is a start gate.
fn bundle_child(
    spec: &RunSpec,
    b: &BundleSpec,
    stdio: &Stdio,
    setup: &Setup,
) -> CResult<std::convert::Infallible> {
    if let Some(sock) = setup.userns {
        enter_user_namespace(sock)?;
        return bundle_setup(spec, b, stdio, setup).map_err(|e| {
            if !e.contains("Permission denied") {
                return e;
            }
            let host = b.root_uid().unwrap_or(0);
            format!(
                "{e} (in its user namespace the container's root is host uid {host}, which must be able \
                 to reach the bundle and the runtime's --root: make their parent directories searchable, \
                 e.g. mode 0711)"
            )
        });
    }
    bundle_setup(spec, b, stdio, setup)
}

fn bundle_setup(
    spec: &RunSpec,
    b: &BundleSpec,
    stdio: &Stdio,
    setup: &Setup,
) -> CResult<std::convert::Infallible> {
    let profile = &spec.process.profile;
    bundle_fs::join_namespaces(b)?;
    bundle_fs::new_time_namespace(b)?;
    let gate = b
        .start_gate
        .as_deref()
        .map(bundle_fs::open_gate)
        .transpose()?;
    let mut state = String::new();
    bundle_fs::setup(b, &spec.hostname, &mut || {
        if let Some(sock) = setup.hooks {
            state = container_hooks(sock, b)?;
        }
        Ok(())
    })?;
    confine::mask(&profile.masked_paths)?;
    confine::read_only_paths(&profile.readonly_paths)?;
    if b.readonly {
        confine::read_only_root()?;
    }
    // A missing working directory is made (runc's rule), as root before
    // the user changes; a read-only root leaves the check to exec.
    let _ = sys::mkdir_p(&spec.process.workdir, 0o755);
    if matches!(stdio, Stdio::Pty) {
        process::setup_stdio(stdio, setup.pty_sock)?;
        // The terminal is also the container's console, as with runc.
        let console = "/dev/console";
        if sys::mount_point(console, false).is_ok() {
            let _ = sys::mount(
                "/proc/self/fd/0",
                console,
                "",
                libc::MS_BIND as libc::c_ulong,
                "",
            );
        }
    }
    let filters = wait_for_go(setup.go)?;
    // startContainer hooks run once `start` came: the container is created.
    let start_state = crate::platform::bundle::restate(&state, "status", "created".into());
    let gate = gate.map(|fifo| process::Gate {
        error_fd: setup.error_fd,
        fifo,
        hooks: &b.hooks.start,
        state: &start_state,
    });
    process::exec_process(&spec.process, &spec.hostname, &filters, gate.as_ref())
}

/// A bundle's pid namespace given by path is joined here, in the parent:
/// only children are born into a pid namespace.
fn join_pid_namespace(b: &BundleSpec) -> CResult<()> {
    match b
        .namespace(NamespaceKind::Pid)
        .and_then(|n| n.path.as_ref())
    {
        Some(path) => bundle_fs::join(path, NamespaceKind::Pid),
        None => Ok(()),
    }
}

/// Nothing we mount may propagate back to the host.
fn make_mounts_private() -> CResult<()> {
    mount(
        "",
        "/",
        "",
        (libc::MS_REC | libc::MS_PRIVATE) as libc::c_ulong,
        "",
    )
}

/// The container's directory and the root filesystem's mount point in it.
fn dirs(spec: &RunSpec) -> CResult<(&str, String)> {
    let dir = spec
        .container_dir
        .to_str()
        .ok_or("container path is not UTF-8")?;
    Ok((dir, format!("{dir}/rootfs")))
}

/// In a forked child (`klee cp`): make our root the container's. A running
/// container (its mount namespace `mnt`): join it. A stopped one: a private
/// mount namespace with its overlay and volumes, as its start would make
/// them, then `pivot_root` into it.
pub fn enter_container_fs(spec: &RunSpec, mnt: Option<RawFd>) -> CResult<()> {
    if let Some(ns) = mnt {
        // SAFETY: setns with a descriptor we were given; single-threaded child.
        check(unsafe { libc::setns(ns, libc::CLONE_NEWNS) }, || {
            "cannot join the container's mount namespace".into()
        })?;
        // SAFETY: plain chdir.
        check(unsafe { libc::chdir(c"/".as_ptr()) }, || "chdir /".into())?;
        return Ok(());
    }
    if spec.ephemeral {
        return Err(format!(
            "container '{}' keeps its files in memory while it runs (--rm): start it first",
            spec.name
        ));
    }
    // SAFETY: unshare of the mount namespace; single-threaded child.
    check(unsafe { libc::unshare(libc::CLONE_NEWNS) }, || {
        "cannot create a mount namespace".into()
    })?;
    make_mounts_private()?;
    let (dir, rootfs) = dirs(spec)?;
    mount_overlay(spec, dir, &rootfs, true)?;
    let sources: Vec<OwnedFd> = spec
        .mounts
        .iter()
        .map(|m| open_path(&m.source))
        .collect::<CResult<_>>()?;
    let old_root = old_root_name();
    pivot(&rootfs, &old_root)?;
    // Bind mounts name their sources by /proc/self/fd: a /proc for as long
    // as they take (this namespace is the child's alone).
    if !spec.mounts.is_empty() {
        mkdir_p("/proc", 0o555)?;
        mount(
            "proc",
            "/proc",
            "proc",
            libc::MS_NOSUID as libc::c_ulong,
            "",
        )?;
        for (m, fd) in spec.mounts.iter().zip(&sources) {
            bind_mount(m, fd)?;
        }
        // SAFETY: a path we mounted.
        unsafe { libc::umount2(c"/proc".as_ptr(), libc::MNT_DETACH) };
    }
    drop(sources);
    drop_old_root(&old_root)
}
