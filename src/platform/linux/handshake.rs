//! The channel between a forked child and its parent until exec: a
//! close-on-exec error pipe (EOF means the exec happened, bytes are the
//! reason it did not) and, for a pty, a socket that carries its master fd.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::sys;
use super::wait;
use crate::platform::{Error, Result, Started, Stdio};

pub struct Handshake {
    err_r: RawFd,
    err_w: RawFd,
    pty: Option<(RawFd, RawFd)>,
}

impl Handshake {
    pub fn new(stdio: &Stdio) -> Result<Handshake> {
        let (err_r, err_w) = sys::pipe().map_err(|e| Error::io("cannot create pipe", "", e))?;
        let pty = if matches!(stdio, Stdio::Pty) {
            match sys::socketpair() {
                Ok(p) => Some(p),
                Err(e) => {
                    sys::close(err_r);
                    sys::close(err_w);
                    return Err(Error::io("cannot create socket pair", "", e));
                }
            }
        } else {
            None
        };
        Ok(Handshake { err_r, err_w, pty })
    }

    /// The fork failed: release everything.
    pub fn abandon(self) {
        for fd in [self.err_r, self.err_w] {
            sys::close(fd);
        }
        if let Some((a, b)) = self.pty {
            sys::close(a);
            sys::close(b);
        }
    }

    /// In the child: keep our ends; returns the socket to send a pty on.
    pub fn child_side(&self) -> Option<RawFd> {
        sys::close(self.err_r);
        self.pty.map(|(a, b)| {
            sys::close(a);
            b
        })
    }

    /// In the child: the error pipe's write end.
    pub fn error_fd(&self) -> RawFd {
        self.err_w
    }

    /// In the child, when setup failed: tell the parent why, and exit.
    pub fn fail(&self, msg: &str, code: i32) -> ! {
        sys::write_all(self.err_w, msg.as_bytes());
        // SAFETY: leave the child without running the parent's destructors.
        unsafe { libc::_exit(code) }
    }

    /// In the parent: wait for the exec (or the failure) of child `pid`.
    pub fn parent_side(self, pid: i32) -> Result<Started> {
        sys::close(self.err_w);
        let master = self.pty.and_then(|(a, b)| {
            sys::close(b);
            let fd = sys::recv_fd(a).ok().flatten();
            sys::close(a);
            // SAFETY: a fresh fd received from the child, owned from here on.
            fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        });
        let err = sys::read_to_end(self.err_r);
        sys::close(self.err_r);
        if !err.is_empty() {
            let _ = wait(pid);
            return Err(Error::Failed(String::from_utf8_lossy(&err).into_owned()));
        }
        Ok(Started {
            pid,
            pty_master: master,
        })
    }
}
