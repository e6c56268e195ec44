//! The last steps before exec, shared by a container's init and by exec'd
//! processes: standard streams or a pty, the user, the environment, the
//! working directory, and the exec itself. Runs in the child after fork.

use std::convert::Infallible;
use std::os::fd::RawFd;

use super::caps;
use super::seccomp::{self, Filters};
use super::sys::{self, check, cstr, CResult};
use super::user;
use crate::platform::bundle::{ExactProcess, Hook, Rlimit};
use crate::platform::{ExecSpec, Stdio};

/// Set up stdio for `stdio`; with a pty, send its master over `pty_sock`.
/// The pty becomes this process's controlling terminal.
pub fn setup_stdio(stdio: &Stdio, pty_sock: Option<RawFd>) -> CResult<()> {
    match *stdio {
        Stdio::Inherit { stdin } => {
            if !stdin {
                let null = sys::open("/dev/null", libc::O_RDONLY)?;
                sys::dup2(null, 0)?;
            }
        }
        Stdio::Files { out, err } => {
            let null = sys::open("/dev/null", libc::O_RDONLY)?;
            sys::dup2(null, 0)?;
            sys::dup2(out, 1)?;
            sys::dup2(err, 2)?;
        }
        Stdio::Pty => {
            // /dev/ptmx of *this* root, so the slave is /dev/pts/N inside.
            let master = sys::open("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY)?;
            // SAFETY: ioctls on the master we just opened.
            unsafe {
                let unlock: libc::c_int = 0;
                check(libc::ioctl(master, libc::TIOCSPTLCK, &unlock), || {
                    "unlock pty".into()
                })?;
            }
            // SAFETY: TIOCGPTPEER returns a new fd for the slave.
            let slave = check(
                unsafe { libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY) },
                || "open pty slave".into(),
            )?;
            if let Some(sock) = pty_sock {
                sys::send_fd(sock, master)?;
                sys::close(sock);
            }
            sys::close(master);
            // SAFETY: a new session whose controlling terminal is the slave.
            unsafe {
                check(libc::setsid(), || "setsid".into())?;
                check(libc::ioctl(slave, libc::TIOCSCTTY, 0), || {
                    "set controlling tty".into()
                })?;
            }
            for fd in 0..3 {
                sys::dup2(slave, fd)?;
            }
            if slave > 2 {
                sys::close(slave);
            }
        }
    }
    Ok(())
}

fn read_etc(name: &str) -> String {
    std::fs::read_to_string(name).unwrap_or_default()
}

/// Become the user, take the container's confinement, enter the working
/// directory and exec the command, all inside the current root. Only
/// returns on error.
///
/// The order matters: the bounding set is cut while we still hold
/// CAP_SETPCAP; seccomp is loaded while we still hold CAP_SYS_ADMIN
/// (unless no_new_privs, which lets anyone load it, comes last); the
/// identity changes while we hold CAP_SETUID/SETGID; then the permitted
/// and effective sets shrink to the profile's.
pub fn exec_process(
    spec: &ExecSpec,
    hostname: &str,
    filters: &Filters,
    gate: Option<&Gate>,
) -> CResult<Infallible> {
    if spec.cmd.is_empty() {
        return Err("no command given and the image has no default command".into());
    }
    let (user, env) = match &spec.exact {
        Some(x) => exact_identity(spec, x),
        None => {
            let user = user::resolve(
                &spec.user,
                &read_etc("/etc/passwd"),
                &read_etc("/etc/group"),
            )?;
            let term = if spec.tty {
                Some(std::env::var("TERM").unwrap_or_else(|_| "xterm".into()))
            } else {
                None
            };
            let env = user::login_env(&user, hostname, term.as_deref(), &spec.env);
            (user, env)
        }
    };
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(user::DEFAULT_PATH)
        .to_string();
    let program = find_program(&spec.cmd[0], &path)?;

    let workdir = if spec.workdir.is_empty() {
        // Login-like: the user's home, or / when it does not exist.
        if std::path::Path::new(&user.home).is_dir() {
            user.home.clone()
        } else {
            "/".to_string()
        }
    } else {
        spec.workdir.clone()
    };

    crate::platform::trace::mark("child: user and program found");
    if let Some(x) = &spec.exact {
        // Raising a hard limit and lowering the OOM score need privileges
        // the identity change takes away.
        for r in &x.rlimits {
            set_rlimit(r)?;
        }
        if let Some(adj) = x.oom_score_adj {
            std::fs::write("/proc/self/oom_score_adj", adj.to_string())
                .map_err(|e| format!("set oom_score_adj {adj}: {e}"))?;
        }
        if let Some(profile) = &x.apparmor {
            // Takes effect at the exec; refused by a host without AppArmor.
            let attr = if std::path::Path::new("/proc/self/attr/apparmor/exec").exists() {
                "/proc/self/attr/apparmor/exec"
            } else {
                "/proc/self/attr/exec"
            };
            std::fs::write(attr, format!("exec {profile}"))
                .map_err(|e| format!("apply AppArmor profile '{profile}': {e}"))?;
        }
        if let Some(mask) = x.identity.umask {
            // SAFETY: plain umask.
            unsafe { libc::umask(mask as libc::mode_t) };
        }
    }
    let profile = &spec.profile;
    caps::limit_bounding(profile.capabilities)?;
    crate::platform::trace::mark("child: capability bounding set");
    if !profile.no_new_privileges {
        seccomp::load(filters)?;
        crate::platform::trace::mark("child: seccomp loaded");
    }
    // Everything that can fail on its own is checked before a gate.
    let target = Program {
        path: cstr(&program)?,
        argv: spec.cmd.iter().map(|a| cstr(a)).collect::<CResult<_>>()?,
        envp: env.iter().map(|a| cstr(a)).collect::<CResult<_>>()?,
        wd: cstr(&workdir)?,
        workdir,
    };
    let Some(g) = gate else {
        return become_and_exec(spec, &user, &target, filters);
    };
    // A created container waits here, as root: the start FIFO is opened
    // through /proc/self/fd, which another user could not do. What is
    // left can hardly fail; if it does, only stderr is there to tell.
    if !std::path::Path::new(&target.workdir).is_dir() {
        return Err(format!(
            "working directory '{}' does not exist",
            target.workdir
        ));
    }
    g.wait();
    let e = become_and_exec(spec, &user, &target, filters)
        .err()
        .unwrap_or_default();
    sys::write_all(2, format!("kleene-oci: {e}\n").as_bytes());
    // SAFETY: leave without running destructors, as a failed exec does.
    unsafe { libc::_exit(127) }
}

/// The program to exec, its arguments, environment and directory, as C
/// strings made before the identity changes (and before any start gate).
struct Program {
    path: std::ffi::CString,
    argv: Vec<std::ffi::CString>,
    envp: Vec<std::ffi::CString>,
    wd: std::ffi::CString,
    workdir: String,
}

/// Take the user's identity and capabilities, then exec.
fn become_and_exec(
    spec: &ExecSpec,
    user: &user::User,
    target: &Program,
    filters: &Filters,
) -> CResult<Infallible> {
    let profile = &spec.profile;
    // SAFETY: identity changes in a single-threaded child, groups first.
    unsafe {
        let groups: Vec<libc::gid_t> = user.groups.clone();
        check(libc::setgroups(groups.len(), groups.as_ptr()), || {
            "setgroups".into()
        })?;
        check(libc::setgid(user.gid), || format!("setgid {}", user.gid))?;
        if spec.exact.is_some() {
            // An OCI process keeps the capabilities it is given whatever
            // its user; they are set exactly below.
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0), || {
                "keep capabilities".into()
            })?;
        }
        check(libc::setuid(user.uid), || format!("setuid {}", user.uid))?;
    }
    match &spec.exact {
        Some(x) => caps::set_exact(&x.caps)?,
        None => caps::set(profile.capabilities)?,
    }
    crate::platform::trace::mark("child: identity and capabilities");
    if profile.no_new_privileges {
        // SAFETY: plain prctl.
        check(
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
            || "set no_new_privs".into(),
        )?;
        seccomp::load(filters)?;
    }
    // SAFETY: valid path.
    check(unsafe { libc::chdir(target.wd.as_ptr()) }, || {
        format!("working directory '{}'", target.workdir)
    })?;
    let mut argv_p: Vec<*const libc::c_char> = target.argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = target.envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    close_inherited_at_exec(spec.exact.as_ref().map_or(0, |x| x.preserve_fds));
    reset_signals();
    // SAFETY: NULL-terminated argv/envp of valid C strings.
    unsafe { libc::execve(target.path.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    Err(format!(
        "exec '{}': {}",
        target.path.to_string_lossy(),
        std::io::Error::last_os_error()
    ))
}

/// Where a created container waits for its start (`kleene-oci create`,
/// then `start`): everything is set up and checked, the program found.
pub struct Gate<'a> {
    /// The error pipe to the creator: closing it says "created".
    pub error_fd: RawFd,
    /// The start FIFO, opened `O_PATH` before the root changed.
    pub fifo: RawFd,
    /// `startContainer` hooks, run once started, and the state they read.
    pub hooks: &'a [Hook],
    pub state: &'a str,
}

impl Gate<'_> {
    /// Tell the creator we are ready, then block until someone opens the
    /// FIFO for reading (`start`) and take its byte. From here on a
    /// failure ends the process with its reason on stderr.
    fn wait(&self) {
        sys::close(self.error_fd);
        let started = (|| {
            let path = format!("/proc/self/fd/{}", self.fifo);
            // Kept open (close-on-exec) through the startContainer hooks:
            // `start` reads on to end-of-file, which comes at our exec, so
            // its poststart hooks run after the program started, as the
            // runtime spec orders them.
            let fd = sys::open(&path, libc::O_WRONLY)?;
            sys::write_all(fd, b"0");
            sys::close(self.fifo);
            crate::platform::hook::run_all(self.hooks, "startContainer", self.state)
        })();
        if let Err(e) = started {
            // The creator is gone: stderr is all that is left to tell.
            sys::write_all(2, format!("kleene-oci: {e}\n").as_bytes());
            // SAFETY: leave without running destructors; the container stops.
            unsafe { libc::_exit(1) }
        }
    }
}

/// An OCI process's user (no lookup, but a home from `/etc/passwd` when
/// the environment names none, as runc) and its environment as given.
fn exact_identity(spec: &ExecSpec, x: &ExactProcess) -> (user::User, Vec<String>) {
    let id = &x.identity;
    let home = user::resolve(&id.uid.to_string(), &read_etc("/etc/passwd"), "")
        .map(|u| u.home)
        .unwrap_or_else(|_| "/".into());
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    let u = user::User {
        name: id.uid.to_string(),
        uid: id.uid,
        gid: id.gid,
        home,
        shell: String::new(),
        groups: id.groups.clone(),
    };
    (u, env)
}

fn set_rlimit(r: &Rlimit) -> CResult<()> {
    let Some(res) = rlimit_number(&r.kind) else {
        return Err(format!("unknown rlimit '{}'", r.kind));
    };
    let lim = libc::rlimit {
        rlim_cur: r.soft,
        rlim_max: r.hard,
    };
    // SAFETY: a valid rlimit struct.
    check(unsafe { libc::setrlimit(res, &lim) }, || {
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit into a valid struct.
        unsafe { libc::getrlimit(res, &mut now) };
        format!(
            "setrlimit {} {}:{} (now {}:{}; raising a hard limit needs CAP_SYS_RESOURCE)",
            r.kind, r.soft, r.hard, now.rlim_cur, now.rlim_max
        )
    })
    .map(drop)
}

/// setrlimit(2)'s resource type: glibc's enum, musl's int.
#[cfg(target_env = "musl")]
pub type RlimitResource = libc::c_int;
#[cfg(not(target_env = "musl"))]
pub type RlimitResource = libc::__rlimit_resource_t;

/// `RLIMIT_NOFILE` → its number.
pub fn rlimit_number(name: &str) -> Option<RlimitResource> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

/// Nothing our caller left open passes into the container (a host file or
/// directory descriptor would be a way out): every descriptor from
/// 3 + `preserve` up closes at exec. Ours that must work until then
/// (the error pipe) keep working.
fn close_inherited_at_exec(preserve: u32) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
    let first = 3u32.saturating_add(preserve);
    // SAFETY: close_range only changes descriptor flags here.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return;
    }
    // Before Linux 5.11: one by one.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd: &i32| fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number; a closed one fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Signal dispositions and mask back to defaults for the new program.
fn reset_signals() {
    // SAFETY: plain signal state changes before exec.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

/// `name` itself when it has a '/', else the first executable in `path`.
fn find_program(name: &str, path: &str) -> CResult<String> {
    let executable = |p: &str| {
        cstr(p)
            // SAFETY: valid path.
            .map(|c| unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0)
            .unwrap_or(false)
            && !std::path::Path::new(p).is_dir()
    };
    if name.contains('/') {
        if executable(name) {
            return Ok(name.to_string());
        }
        return Err(format!(
            "executable '{name}' not found or not executable in the container"
        ));
    }
    path.split(':')
        .map(|d| format!("{}/{name}", if d.is_empty() { "." } else { d }))
        .find(|p| executable(p))
        .ok_or_else(|| format!("executable '{name}' not found in $PATH ({path})"))
}
