//! `kleene-oci init`: the process a bundle's container starts as on
//! FreeBSD, as runj's entrypoint. Spawned on the host, it attaches to the
//! jail, checks the working directory and program, says it is ready, waits
//! for `start` on the FIFO (opened through the state directory held from
//! before the attach), runs the `startContainer` hooks in the jail, takes
//! `process.user`'s exact identity and limits, and exec's the program: its
//! pid is the container's throughout, and the FIFO closes at the exec
//! (`start` waits for that before its poststart hooks).
//!
//! The one part of the FreeBSD back end that makes system calls itself
//! (jail_attach(2) has no command that keeps numeric ids and a clean
//! environment without tools in the jail): compiled on FreeBSD only.

use std::path::PathBuf;

/// The init's orders (its command line).
#[derive(Debug, Clone, Default)]
pub struct InitArgs {
    pub jid: i32,
    /// The container's state directory; `None` for an exec (no gate).
    pub state: Option<PathBuf>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    /// `NAME=SOFT:HARD` (`RLIMIT_NOFILE=1024:1024`).
    pub rlimits: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub args: Vec<String>,
}

/// Become the container's process; returns only with the reason it could
/// not (already written to the state directory's `init.error`).
pub fn run(a: &InitArgs) -> String {
    imp::run(a)
}

#[cfg(target_os = "freebsd")]
mod imp {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::InitArgs;
    use crate::platform::freebsd::oci::{FAILED, READY, START_HOOKS};

    fn errno(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    fn cstr(s: &str) -> Result<CString, String> {
        CString::new(s).map_err(|_| format!("'{s}' contains a NUL byte"))
    }

    /// openat(2) under the state directory, whose fd was taken before the
    /// attach (the directory is outside the jail).
    fn open_in(dir: &OwnedFd, name: &str, flags: libc::c_int) -> Result<OwnedFd, String> {
        let c = cstr(name)?;
        // SAFETY: a valid dirfd and path.
        let fd =
            unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
        if fd < 0 {
            return Err(errno(&format!("open {name}")));
        }
        // SAFETY: fresh fd.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn write_fd(fd: &OwnedFd, b: &[u8]) {
        // SAFETY: writes from a valid buffer.
        unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
    }

    fn limit(name: &str) -> Option<libc::c_int> {
        Some(match name.trim_start_matches("RLIMIT_") {
            "CPU" => libc::RLIMIT_CPU,
            "FSIZE" => libc::RLIMIT_FSIZE,
            "DATA" => libc::RLIMIT_DATA,
            "STACK" => libc::RLIMIT_STACK,
            "CORE" => libc::RLIMIT_CORE,
            "RSS" => libc::RLIMIT_RSS,
            "MEMLOCK" => libc::RLIMIT_MEMLOCK,
            "NPROC" => libc::RLIMIT_NPROC,
            "NOFILE" => libc::RLIMIT_NOFILE,
            "SBSIZE" => libc::RLIMIT_SBSIZE,
            "AS" | "VMEM" => libc::RLIMIT_AS,
            "NPTS" => libc::RLIMIT_NPTS,
            "SWAP" => libc::RLIMIT_SWAP,
            "KQUEUES" => libc::RLIMIT_KQUEUES,
            "UMTXP" => libc::RLIMIT_UMTXP,
            _ => return None,
        } as libc::c_int)
    }

    /// `args[0]` as execvp(3) would find it on the process's PATH (in
    /// the jail: after the attach).
    fn program(a: &InitArgs) -> Result<String, String> {
        let name = a.args.first().ok_or("no program to run")?;
        if name.contains('/') {
            return Ok(name.clone());
        }
        let path = a
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let p = format!("{dir}/{name}");
            let c = cstr(&p)?;
            // SAFETY: a valid path.
            if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
                return Ok(p);
            }
        }
        Err(format!(
            "executable file '{name}' not found in $PATH ({path})"
        ))
    }

    /// Until `start`: attach, check, say ready, wait on the FIFO.
    fn until_started(
        a: &InitArgs,
        dir: Option<&OwnedFd>,
    ) -> Result<(String, Option<OwnedFd>), String> {
        let hooks = match dir {
            Some(d) => match open_in(d, START_HOOKS, libc::O_RDONLY) {
                Ok(fd) => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s)
                        .map_err(|e| format!("read {START_HOOKS}: {e}"))?;
                    Some(s)
                }
                Err(_) => None,
            },
            None => None,
        };
        // SAFETY: jail_attach on a jid; the process enters the jail.
        if unsafe { libc::jail_attach(a.jid) } != 0 {
            return Err(errno(&format!("jail_attach({})", a.jid)));
        }
        let cwd = a.cwd.clone().unwrap_or_else(|| "/".into());
        let c = cstr(&cwd)?;
        // SAFETY: a valid path.
        if unsafe { libc::chdir(c.as_ptr()) } != 0 {
            return Err(errno(&format!("chdir to cwd ('{cwd}') set in config.json")));
        }
        let prog = program(a)?;
        let Some(d) = dir else {
            return Ok((prog, None));
        };
        drop(open_in(d, READY, libc::O_WRONLY | libc::O_CREAT)?);
        // Blocks until `start` opens it for reading.
        let fifo = open_in(d, "exec.fifo", libc::O_WRONLY)?;
        write_fd(&fifo, b"0");
        if let Some(text) = hooks {
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{START_HOOKS}: {e}"))?;
            let list: Vec<crate::platform::bundle::Hook> =
                serde_json::from_value(v["hooks"].clone())
                    .map_err(|e| format!("{START_HOOKS}: {e}"))?;
            let state = v["state"].as_str().unwrap_or("{}");
            let state = crate::platform::bundle::restate(
                state,
                "pid",
                serde_json::json!(std::process::id()),
            );
            crate::platform::hook::run_all(&list, "startContainer", &state)?;
        }
        Ok((prog, Some(fifo)))
    }

    fn become_user(a: &InitArgs) -> Result<(), String> {
        for r in &a.rlimits {
            let (name, v) = r.split_once('=').ok_or_else(|| format!("rlimit '{r}'"))?;
            let (soft, hard) = v.split_once(':').ok_or_else(|| format!("rlimit '{r}'"))?;
            let res = limit(name).ok_or_else(|| format!("rlimit {name} is not one FreeBSD has"))?;
            let l = libc::rlimit {
                rlim_cur: soft.parse().map_err(|_| format!("rlimit '{r}'"))?,
                rlim_max: hard.parse().map_err(|_| format!("rlimit '{r}'"))?,
            };
            // SAFETY: a valid rlimit.
            if unsafe { libc::setrlimit(res, &l) } != 0 {
                return Err(errno(&format!("setrlimit {name}")));
            }
        }
        let groups: Vec<libc::gid_t> = a.groups.iter().map(|g| *g as libc::gid_t).collect();
        // SAFETY: a valid array of gids; then the gid, then the uid.
        unsafe {
            if libc::setgroups(groups.len() as libc::c_int, groups.as_ptr()) != 0 {
                return Err(errno("setgroups"));
            }
            if libc::setgid(a.gid as libc::gid_t) != 0 {
                return Err(errno(&format!("setgid {}", a.gid)));
            }
            if libc::setuid(a.uid as libc::uid_t) != 0 {
                return Err(errno(&format!("setuid {}", a.uid)));
            }
            if let Some(m) = a.umask {
                libc::umask(m as libc::mode_t);
            }
        }
        Ok(())
    }

    pub fn run(a: &InitArgs) -> String {
        let dir = match &a.state {
            Some(s) => {
                let c = match cstr(&s.display().to_string()) {
                    Ok(c) => c,
                    Err(e) => return e,
                };
                // SAFETY: a valid path.
                let fd = unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    )
                };
                if fd < 0 {
                    return errno(&format!("open {}", s.display()));
                }
                // SAFETY: fresh fd.
                Some(unsafe { OwnedFd::from_raw_fd(fd) })
            }
            None => None,
        };
        let fail = |e: String| {
            if let Some(d) = &dir {
                if let Ok(f) = open_in(d, FAILED, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) {
                    write_fd(&f, e.as_bytes());
                }
            }
            e
        };
        let (prog, _fifo) = match until_started(a, dir.as_ref()) {
            Ok(x) => x,
            Err(e) => return fail(e),
        };
        if let Err(e) = become_user(a) {
            return fail(e);
        }
        let argv: Vec<CString> = match a.args.iter().map(|s| cstr(s)).collect() {
            Ok(v) => v,
            Err(e) => return e,
        };
        let envp: Vec<CString> = match a.env.iter().map(|s| cstr(s)).collect() {
            Ok(v) => v,
            Err(e) => return e,
        };
        let p = match cstr(&prog) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let mut av: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
        av.push(std::ptr::null());
        let mut ev: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
        ev.push(std::ptr::null());
        // SAFETY: NULL-terminated arrays of valid C strings. The FIFO is
        // close-on-exec: `start` sees its end here.
        unsafe { libc::execve(p.as_ptr(), av.as_ptr(), ev.as_ptr()) };
        errno(&format!("exec '{prog}'"))
    }
}

#[cfg(not(target_os = "freebsd"))]
mod imp {
    use super::InitArgs;

    pub fn run(_: &InitArgs) -> String {
        "kleene-oci init attaches processes to FreeBSD jails; this host is not FreeBSD".into()
    }
}
