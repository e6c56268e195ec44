//! One end of a socket pair, as `Read` + `Write`, for tar streams between
//! kleene and a child working inside a container (`klee cp`). Writes never
//! raise SIGPIPE (klee restores its default disposition): a peer that gave
//! up is an `EPIPE` error, and the peer's own message says why.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Stream(OwnedFd);

impl Stream {
    /// A connected pair (close-on-exec).
    pub fn pair() -> io::Result<(Stream, Stream)> {
        let mut fds = [0; 2];
        // SAFETY: fds has room for two descriptors.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh descriptors we own.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&a, &b] {
            // SAFETY: setting FD_CLOEXEC on a descriptor we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Ok((Stream(a), Stream(b)))
    }

    /// One end made elsewhere (a container's go socket).
    ///
    /// # Safety
    /// `fd` is an open socket this `Stream` now owns (it closes it).
    pub unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Stream {
        // SAFETY: the caller gives us the descriptor.
        Stream(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// No more writes: the peer reads end-of-file.
    pub fn finish(&self) {
        // SAFETY: shutdown of a socket we own.
        unsafe { libc::shutdown(self.0.as_raw_fd(), libc::SHUT_WR) };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: reading into a buffer we own.
            let n = unsafe {
                libc::read(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: sending from a buffer we own, without SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.0.as_raw_fd(),
                    buf.as_ptr() as *const libc::c_void,
                    buf.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_carries_bytes_and_a_gone_peer_is_an_error_not_a_signal() {
        let (mut a, mut b) = Stream::pair().unwrap();
        a.write_all(b"tar").unwrap();
        a.finish();
        let mut s = String::new();
        b.read_to_string(&mut s).unwrap();
        assert_eq!(s, "tar");
        drop(b);
        let e = a.write_all(&[0; 1 << 16]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
