//! Running a command inside a running container, as jexec(8) does: join the
//! init's namespaces and root, then exec with the container's user database.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::cgroup;
use super::handshake::Handshake;
use super::process;
use super::seccomp::{self, Filters};
use super::sys::{self, check, CResult};
use crate::platform::{Error, ExecSpec, Result, Started, Stdio};

pub fn exec(target: i32, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
    let open = |p: String| -> Result<OwnedFd> {
        let fd = sys::open(&p, libc::O_RDONLY).map_err(Error::Failed)?;
        // SAFETY: a fresh fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let ns = |n: &str| open(format!("/proc/{target}/ns/{n}"));
    // Open everything before joining anything: paths change meaning after.
    let (ipc, uts, net, pidns, mnt) = (ns("ipc")?, ns("uts")?, ns("net")?, ns("pid")?, ns("mnt")?);
    // Namespaces only some containers have (kleene-oci's bundles): the
    // target's when it is not ours.
    let own = |n: &str| -> Result<Option<OwnedFd>> {
        let ino = |fd: &OwnedFd| {
            // SAFETY: fstat into a zeroed struct on an fd we own.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
            (st.st_dev, st.st_ino)
        };
        let (Ok(theirs), Ok(ours)) = (ns(n), open(format!("/proc/self/ns/{n}"))) else {
            // A kernel without this kind: nobody has one of their own.
            return Ok(None);
        };
        Ok((ino(&theirs) != ino(&ours)).then_some(theirs))
    };
    // A user namespace of its own is joined first: it owns the others.
    let userns = own("user")?;
    let timens = own("time")?;
    let root = {
        let p = format!("/proc/{target}/root");
        let fd = sys::open(&p, libc::O_PATH | libc::O_DIRECTORY).map_err(Error::Failed)?;
        // SAFETY: a fresh fd we own.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    let own_pidns = open("/proc/self/ns/pid".into())?;
    // The exec'd process shares the container's confinement and group.
    let filters = seccomp::compile(&spec.profile).map_err(Error::Failed)?;
    let cgroup = cgroup::join_fds(&spec.container);

    let hs = Handshake::new(stdio)?;

    // Children we fork from now on are born in the container's pid namespace.
    // SAFETY: setns on an fd we own.
    if unsafe { libc::setns(pidns.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
        return Err(Error::io(
            "cannot join the pid namespace of process",
            target.to_string(),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the caller is single-threaded; the child only execs or exits.
    let pid = unsafe { libc::fork() };
    // SAFETY: back to our own namespace for any later children of ours.
    unsafe { libc::setns(own_pidns.as_raw_fd(), libc::CLONE_NEWPID) };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        hs.abandon();
        return Err(Error::io("cannot fork for exec in", target.to_string(), e));
    }
    if pid == 0 {
        let sock = hs.child_side();
        let mut fds = vec![ipc.as_raw_fd(), uts.as_raw_fd(), net.as_raw_fd()];
        fds.extend(timens.as_ref().map(|f| f.as_raw_fd()));
        fds.push(mnt.as_raw_fd());
        let joins: Vec<RawFd> = cgroup.iter().map(|f| f.as_raw_fd()).collect();
        let target = Target {
            userns: userns.as_ref().map(|f| f.as_raw_fd()),
            ns: &fds,
            root: root.as_raw_fd(),
            cgroup: &joins,
            filters: &filters,
        };
        match child(&target, spec, stdio, sock) {
            Err(m) => hs.fail(&m, 126),
            Ok(never) => match never {},
        }
    }
    hs.parent_side(pid)
}

/// The container to enter: its namespaces, root, group and filters.
struct Target<'a> {
    userns: Option<RawFd>,
    ns: &'a [RawFd],
    root: RawFd,
    cgroup: &'a [RawFd],
    filters: &'a Filters,
}

fn child(
    t: &Target,
    spec: &ExecSpec,
    stdio: &Stdio,
    pty_sock: Option<RawFd>,
) -> CResult<std::convert::Infallible> {
    cgroup::join(t.cgroup)?;
    if let Some(fd) = t.userns {
        // SAFETY: joining a namespace by fd in a single-threaded child.
        check(unsafe { libc::setns(fd, libc::CLONE_NEWUSER) }, || {
            "join the container's user namespace".into()
        })?;
    }
    for &fd in t.ns {
        // SAFETY: joining namespaces by fd in a single-threaded child.
        check(unsafe { libc::setns(fd, 0) }, || {
            "join container namespace".into()
        })?;
    }
    // SAFETY: enter the container's root (covers fly containers, which chroot).
    unsafe {
        check(libc::fchdir(t.root), || "enter container root".into())?;
        check(libc::chroot(c".".as_ptr()), || {
            "chroot into container".into()
        })?;
        check(libc::chdir(c"/".as_ptr()), || "chdir /".into())?;
    }
    process::setup_stdio(stdio, pty_sock)?;
    // HOSTNAME is the container's name in its UTS namespace (joined above),
    // as its init's: not the image's /etc/hostname, which may be anything.
    let mut name = [0u8; 65];
    // SAFETY: buffer of the documented maximum size.
    unsafe { libc::gethostname(name.as_mut_ptr() as *mut libc::c_char, 64) };
    let uts = String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).unwrap_or(64)])
        .into_owned();
    process::exec_process(spec, &uts, t.filters, None)
}
