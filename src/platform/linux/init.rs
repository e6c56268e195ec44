//! `--init`: a tiny PID 1 for the container, which is this very program
//! (the process that set the container up forks once more instead of
//! exec'ing). It forwards the signals it gets to the command and reaps
//! every orphan, so a server that ignores SIGTERM as PID 1 still stops on
//! SIGTERM, and zombies do not pile up. It holds no capabilities, no file
//! descriptors but the standard three, is not dumpable (container root
//! cannot ptrace it or read its memory) and runs under the container's
//! seccomp filter.

use std::convert::Infallible;

use super::caps;
use super::seccomp::{self, Filters};
use super::sys::CResult;
use crate::platform::security::CapSet;

/// Fork the command; this process then serves as init until it exits.
/// `child` runs in the forked process (it execs the command); `keep` is an
/// fd to close in the init only after the fork (the parent's error pipe:
/// its EOF must come from the command's exec).
pub fn run(
    filters: &Filters,
    close_after_fork: Option<i32>,
    child: impl FnOnce() -> CResult<Infallible>,
) -> CResult<Infallible> {
    // SAFETY: signal mask manipulation in a single-threaded process. The
    // command unblocks everything before it execs.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    // Before the fork: the command may read /proc/1/cmdline at once (the
    // child's copy goes at its exec).
    hide_command_line();
    // SAFETY: single-threaded; the child only execs or exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "fork the command: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        // The command's own process group, in the foreground of its
        // terminal if it has one (SIGTTOU is blocked, so this works from
        // the background).
        // SAFETY: plain process-group calls.
        unsafe {
            libc::setpgid(0, 0);
            if libc::isatty(0) == 1 {
                libc::tcsetpgrp(0, libc::getpid());
            }
        }
        return child();
    }
    // SAFETY: from here on this process only waits and forwards signals.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        if let Some(fd) = close_after_fork {
            libc::close(fd);
        }
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, c"kleene-init".as_ptr(), 0, 0, 0);
    }
    // Nothing to keep: the init needs no privilege to wait and signal.
    let _ = caps::limit_bounding(CapSet::empty());
    let _ = caps::set(CapSet::empty());
    // SAFETY: plain prctl.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    let _ = seccomp::load(filters);
    serve(pid, &all)
}

/// This process is a fork of the `klee` that started the container, and
/// `/proc/1/cmdline` (readable by every user in it) would show that
/// command line: host paths, options, `-e` values. Overwrite it in place
/// (the kernel reads it from our memory, between `arg_start` and
/// `arg_end` of /proc/self/stat).
fn hide_command_line() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces) start at 3.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let f: Vec<usize> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let (Some(&start), Some(&end)) = (f.get(45), f.get(46)) else {
        return;
    };
    if start == 0 || end <= start {
        return;
    }
    let name = b"kleene-init";
    // SAFETY: [start, end) is this process's own argument area (on its
    // stack), which nothing reads any more.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, end - start);
        std::ptr::copy_nonoverlapping(
            name.as_ptr(),
            start as *mut u8,
            name.len().min(end - start - 1),
        );
    }
}

fn serve(main: i32, all: &libc::sigset_t) -> ! {
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for one of the blocked signals.
        let sig = unsafe { libc::sigwaitinfo(all, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig == libc::SIGCHLD {
            loop {
                let mut status = 0;
                // SAFETY: reaping any child without blocking.
                let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if r <= 0 {
                    break;
                }
                if r == main {
                    let code = if libc::WIFSIGNALED(status) {
                        128 + libc::WTERMSIG(status)
                    } else {
                        libc::WEXITSTATUS(status)
                    };
                    // SAFETY: leaving; the kernel ends the rest of the
                    // namespace with us.
                    unsafe { libc::_exit(code) };
                }
            }
        } else {
            // SAFETY: forwarding to the command.
            unsafe { libc::kill(main, sig) };
        }
    }
}
