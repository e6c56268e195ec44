//! Thin, checked wrappers over the libc calls the runtime makes between fork
//! and exec. They report errors as strings naming the call and its argument,
//! because the child sends them to the parent over a pipe.

use std::ffi::CString;
use std::os::fd::RawFd;

pub type CResult<T> = Result<T, String>;

pub fn cstr(s: &str) -> CResult<CString> {
    CString::new(s).map_err(|_| format!("'{s}' contains a NUL byte"))
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

pub fn check(r: libc::c_int, what: impl FnOnce() -> String) -> CResult<libc::c_int> {
    if r < 0 {
        Err(format!("{}: {}", what(), errno()))
    } else {
        Ok(r)
    }
}

pub fn mount(
    src: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> CResult<()> {
    let (s, t, f, d) = (cstr(src)?, cstr(target)?, cstr(fstype)?, cstr(data)?);
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let r = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            if fstype.is_empty() {
                std::ptr::null()
            } else {
                f.as_ptr()
            },
            flags,
            if data.is_empty() {
                std::ptr::null()
            } else {
                d.as_ptr() as *const libc::c_void
            },
        )
    };
    check(r, || {
        if fstype.is_empty() {
            format!("mount '{src}' on '{target}'")
        } else {
            format!("mount {fstype} on '{target}'")
        }
    })
    .map(drop)
}

pub fn mkdir_p(path: &str, mode: libc::mode_t) -> CResult<()> {
    // Usually the parent exists: one syscall instead of one per component.
    let full = cstr(path)?;
    // SAFETY: valid path.
    if unsafe { libc::mkdir(full.as_ptr(), mode) } == 0 {
        return Ok(());
    }
    match errno().raw_os_error() {
        Some(libc::EEXIST) => return Ok(()),
        Some(libc::ENOENT) => {}
        _ => return Err(format!("mkdir '{path}': {}", errno())),
    }
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        let c = cstr(&cur)?;
        // SAFETY: valid path.
        if unsafe { libc::mkdir(c.as_ptr(), mode) } < 0 {
            let e = errno();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(format!("mkdir '{cur}': {e}"));
            }
        }
    }
    Ok(())
}

/// Make `dest` something a bind mount can land on: a directory, or an
/// empty file (its parents first).
pub fn mount_point(dest: &str, dir: bool) -> CResult<()> {
    if dir {
        return mkdir_p(dest, 0o755);
    }
    if let Some(parent) = std::path::Path::new(dest).parent().and_then(|p| p.to_str()) {
        mkdir_p(parent, 0o755)?;
    }
    if !std::path::Path::new(dest).exists() {
        std::fs::write(dest, b"").map_err(|e| format!("create mount point '{dest}': {e}"))?;
    }
    Ok(())
}

pub fn dup2(from: RawFd, to: RawFd) -> CResult<()> {
    // SAFETY: plain fd syscall.
    check(unsafe { libc::dup2(from, to) }, || {
        format!("dup2 {from} -> {to}")
    })
    .map(drop)
}

pub fn open(path: &str, flags: libc::c_int) -> CResult<RawFd> {
    let c = cstr(path)?;
    // SAFETY: valid path.
    check(
        unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) },
        || format!("open '{path}'"),
    )
}

/// Write all of `buf`, retrying on EINTR; errors are ignored (best effort,
/// used to report failures).
pub fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n < 0 {
            if errno().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Read until EOF.
pub fn read_to_end(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 && errno().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// A pipe whose ends close on exec.
pub fn pipe() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(errno());
    }
    Ok((fds[0], fds[1]))
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd we own.
    unsafe { libc::close(fd) };
}

/// Send one fd over a UNIX socket.
pub fn send_fd(sock: RawFd, fd: RawFd) -> CResult<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(b"F")];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .map(drop)
        .map_err(|e| format!("send pty to the parent: {e}"))
}

/// Receive one fd from a UNIX socket (None when the peer closed first).
pub fn recv_fd(sock: RawFd) -> std::io::Result<Option<RawFd>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            return Ok(fds.first().copied());
        }
    }
    Ok(None)
}

/// A connected pair of UNIX stream sockets, close-on-exec.
pub fn socketpair() -> std::io::Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } < 0
    {
        return Err(errno());
    }
    Ok((fds[0], fds[1]))
}
