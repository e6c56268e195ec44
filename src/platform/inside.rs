//! Work inside a container's filesystem, in a forked child whose root is
//! the container's (`klee cp`). The child enters the container's view (a
//! platform's own way, `enter`), then runs `work` with one end of a stream;
//! the caller runs `host` with the other end at the same time. Everything
//! the child resolves, symlinks included, resolves inside the container:
//! its root is the container's root, so nothing it reads or writes can be
//! outside it.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};

use super::stream::Stream;
use super::{Error, Result};

pub type Work<'a> = dyn FnMut(&mut Stream) -> std::result::Result<(), String> + 'a;

pub fn run(
    what: &str,
    enter: &dyn Fn() -> std::result::Result<(), String>,
    work: &mut Work,
    host: &mut dyn FnMut(&mut Stream) -> Result<()>,
) -> Result<()> {
    let (mut ours, mut theirs) =
        Stream::pair().map_err(|e| Error::io("cannot create socket pair for", what, e))?;
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(Error::io(
            "cannot create pipe for",
            what,
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fresh descriptors we own.
    let (err_r, err_w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the callers are single-threaded where this runs (the CLI, a
    // script); the child only touches the filesystem and its descriptors.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::io(
            "cannot fork for",
            what,
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        drop(ours);
        drop(err_r);
        let r = enter().and_then(|_| work(&mut theirs));
        drop(theirs);
        let code = match r {
            Ok(()) => 0,
            Err(m) => {
                let mut f = std::fs::File::from(err_w);
                let _ = std::io::Write::write_all(&mut f, m.as_bytes());
                1
            }
        };
        // SAFETY: leave without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(theirs);
    drop(err_w);
    let host_result = host(&mut ours);
    // The child reads end-of-file once we are done, whatever happened.
    drop(ours);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    let mut msg = String::new();
    let _ = std::fs::File::from(err_r).read_to_string(&mut msg);
    // When one side gives up, the other finds the stream closed: the side
    // that did not fail on a broken pipe says what went wrong.
    let epipe = std::io::Error::from_raw_os_error(libc::EPIPE).to_string();
    let theirs_is_the_cause = !msg.is_empty() && (host_result.is_ok() || !msg.contains(&epipe));
    if theirs_is_the_cause {
        return Err(Error::Failed(msg));
    }
    host_result?;
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(Error::Failed(format!(
            "the process working inside the container for {what} ended abnormally (status {status})"
        )));
    }
    Ok(())
}
