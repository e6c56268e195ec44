//! Detaching work from the caller: the monitor of a detached container runs
//! in a daemonised grandchild (own session, stdio on /dev/null) so the
//! caller can exit, and reports back once over a pipe.

use super::{Error, Result};

fn fd_pipe() -> Result<(i32, i32)> {
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(Error::io(
            "cannot create pipe",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on our fds so exec'd processes never hold them.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((fds[0], fds[1]))
}

/// Run `f` in a daemonised grandchild. `f` gets a `report` callback; the first
/// report is returned to the caller (empty if `f` reported nothing).
/// The caller must be single-threaded.
pub fn daemonize(f: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Result<Vec<u8>> {
    let (r, w) = fd_pipe()?;
    // SAFETY: single-threaded caller; the child only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: closing our own fds.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
        return Err(Error::io("cannot fork the monitor process", "", e));
    }
    if pid == 0 {
        // SAFETY: we are the child: new session, second fork, stdio to /dev/null.
        unsafe {
            libc::close(r);
            libc::setsid();
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            // The caller may be gone by the time we report (killed, or a
            // client that did not wait): a write to its pipe must fail,
            // not kill the monitor, which still has to record the exit.
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
        let mut open = true;
        let mut report = |msg: &[u8]| {
            if open {
                let mut m = msg;
                while !m.is_empty() {
                    // SAFETY: valid slice.
                    let n = unsafe { libc::write(w, m.as_ptr() as *const libc::c_void, m.len()) };
                    if n <= 0 {
                        break;
                    }
                    m = &m[n as usize..];
                }
                // SAFETY: our write end, closed once.
                unsafe { libc::close(w) };
                open = false;
            }
        };
        f(&mut report);
        // SAFETY: leave without unwinding into the parent's stack frames.
        unsafe { libc::_exit(0) };
    }
    // A crash here leaves the monitor without anyone to report to.
    super::failpoint::check("container.start.detached")?;
    // SAFETY: our write end; then reap the intermediate child.
    unsafe {
        libc::close(w);
        let mut st = 0;
        while libc::waitpid(pid, &mut st, 0) < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(r, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: our read end.
    unsafe { libc::close(r) };
    Ok(out)
}
