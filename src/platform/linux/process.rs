//! The last steps before exec, shared by a container's init and by exec'd
//! processes: standard streams or a pty, the user, the environment, the
//! working directory, and the exec itself. Runs in the child after fork.

use std::convert::Infallible;
use std::os::fd::RawFd;

use super::caps;
use super::seccomp::{self, Filters};
use super::sys::{self, check, cstr, CResult};
use super::user;
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
pub fn exec_process(spec: &ExecSpec, hostname: &str, filters: &Filters) -> CResult<Infallible> {
    if spec.cmd.is_empty() {
        return Err("no command given and the image has no default command".into());
    }
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
    let profile = &spec.profile;
    caps::limit_bounding(profile.capabilities)?;
    crate::platform::trace::mark("child: capability bounding set");
    if !profile.no_new_privileges {
        seccomp::load(filters)?;
        crate::platform::trace::mark("child: seccomp loaded");
    }
    // SAFETY: identity changes in a single-threaded child, groups first.
    unsafe {
        let groups: Vec<libc::gid_t> = user.groups.clone();
        check(libc::setgroups(groups.len(), groups.as_ptr()), || {
            "setgroups".into()
        })?;
        check(libc::setgid(user.gid), || format!("setgid {}", user.gid))?;
        check(libc::setuid(user.uid), || format!("setuid {}", user.uid))?;
    }
    caps::set(profile.capabilities)?;
    crate::platform::trace::mark("child: identity and capabilities");
    if profile.no_new_privileges {
        // SAFETY: plain prctl.
        check(
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
            || "set no_new_privs".into(),
        )?;
        seccomp::load(filters)?;
    }
    let wd = cstr(&workdir)?;
    // SAFETY: valid path.
    check(unsafe { libc::chdir(wd.as_ptr()) }, || {
        format!("working directory '{workdir}'")
    })?;

    let prog = cstr(&program)?;
    let argv: Vec<std::ffi::CString> = spec.cmd.iter().map(|a| cstr(a)).collect::<CResult<_>>()?;
    let envp: Vec<std::ffi::CString> = env.iter().map(|a| cstr(a)).collect::<CResult<_>>()?;
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    reset_signals();
    // SAFETY: NULL-terminated argv/envp of valid C strings.
    unsafe { libc::execve(prog.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
    Err(format!(
        "exec '{program}': {}",
        std::io::Error::last_os_error()
    ))
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
