//! The attached side of a container process: signal forwarding, a raw local
//! terminal, and copying between it and the container's pty (window size
//! follows ours).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);
static WINCH_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

extern "C" fn winch(_sig: libc::c_int) {
    let fd = WINCH_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe.
        unsafe { libc::write(fd, b"w".as_ptr() as *const libc::c_void, 1) };
    }
}

fn set_handler(sig: libc::c_int, h: extern "C" fn(libc::c_int)) {
    // SAFETY: installing a handler that only makes async-signal-safe calls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = h as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Die quietly on a closed pipe (`klee lsc | head`), as Unix tools do, instead
/// of failing a write; Rust ignores SIGPIPE by default.
pub fn default_sigpipe() {
    // SAFETY: restoring a default disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Fail writes to a closed pipe instead of dying (EPIPE), for a write
/// that must clean up after itself.
pub fn ignore_sigpipe() {
    // SAFETY: setting a disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Forward the usual terminating signals we receive to `pid` (like Docker's
/// sig-proxy), so Ctrl-C or `kill` of the client reaches the container.
pub fn forward_signals_to(pid: i32) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        set_handler(sig, forward);
    }
}

/// Puts a terminal in raw mode and restores it when dropped.
struct RawMode {
    fd: RawFd,
    orig: libc::termios,
}

impl RawMode {
    fn enable(fd: RawFd) -> Option<RawMode> {
        // SAFETY: termios calls on a descriptor we were given.
        unsafe {
            if libc::isatty(fd) != 1 {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) != 0 {
                return None;
            }
            let orig = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
            Some(RawMode { fd, orig })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restoring the saved attributes.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.orig) };
    }
}

fn copy_winsize(from: RawFd, to: RawFd) {
    // SAFETY: winsize ioctls; failures (not a tty) are harmless.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: valid slice.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

/// Copy our stdin to the pty (if `stdin`) and the pty to our stdout until
/// the container side closes it. The local terminal is raw meanwhile.
pub fn relay_pty(master: &OwnedFd, stdin: bool) {
    let m = master.as_raw_fd();
    let _raw = if stdin { RawMode::enable(0) } else { None };
    copy_winsize(0, m);
    let mut pipe = [0; 2];
    // SAFETY: a pipe for SIGWINCH notifications.
    unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    WINCH_PIPE.store(pipe[1], Ordering::Relaxed);
    set_handler(libc::SIGWINCH, winch);

    let mut stdin_open = stdin;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pipe[0],
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            continue; // EINTR
        }
        if fds[0].revents != 0 {
            // SAFETY: valid buffer.
            let r = unsafe { libc::read(m, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r <= 0 {
                break; // EIO: every slave fd is closed
            }
            if !write_all(1, &buf[..r as usize]) {
                break;
            }
        }
        if fds[1].revents != 0 {
            // SAFETY: drain the notification pipe.
            unsafe { libc::read(pipe[0], buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            copy_winsize(0, m);
        }
        if fds[2].revents != 0 {
            // SAFETY: valid buffer.
            let r = unsafe { libc::read(0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r <= 0 {
                stdin_open = false;
                // End of input: send the terminal's EOF character.
                write_all(m, &[4]);
            } else {
                write_all(m, &buf[..r as usize]);
            }
        }
    }
    WINCH_PIPE.store(-1, Ordering::Relaxed);
    // SAFETY: closing our pipe.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
}
