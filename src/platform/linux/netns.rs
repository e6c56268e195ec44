//! A container's network namespace, made ahead of time.
//!
//! A new network namespace is the most expensive part of a container's
//! start (about a millisecond: the kernel registers `lo`, its sysctls and
//! per-namespace state). `klee run` asks for one as soon as it has parsed
//! its arguments; a thread makes it (and brings `lo` up) while the engine
//! opens its store and records the container, and the container's child
//! joins it with setns(2) instead of creating its own. Nothing of it
//! outlives the process: the namespace is an fd, and goes when the fd
//! closes (a failed run, a killed process).
//!
//! Forking is the delicate part: the container is cloned with a raw
//! clone(2), which needs a single-threaded caller, so `take` waits for the
//! thread first; and a process forked meanwhile (a detached monitor) must
//! not wait for a thread it does not have, so only the process that asked
//! may take.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

use super::netlink::Socket;

/// The process that asked (0: nobody).
static ASKER: AtomicI32 = AtomicI32::new(0);
static PENDING: Mutex<Option<JoinHandle<Option<OwnedFd>>>> = Mutex::new(None);

/// Start making a network namespace for the next container this process
/// starts. Failures are not reported here: the start makes its own then.
pub fn prepare() {
    let me = std::process::id() as i32;
    if ASKER.swap(me, Ordering::SeqCst) == me {
        return;
    }
    let t = std::thread::Builder::new()
        .name("netns".into())
        .spawn(|| make().ok());
    if let Ok(t) = t {
        *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
    }
}

/// The namespace `prepare` made, once its thread has ended (None: nobody
/// asked in this process, or it could not be made).
pub fn take() -> Option<OwnedFd> {
    if ASKER.load(Ordering::SeqCst) != std::process::id() as i32 {
        return None;
    }
    ASKER.store(0, Ordering::SeqCst);
    let t = PENDING.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    t.join().ok().flatten()
}

/// On this thread only: a new network namespace with `lo` up.
fn make() -> std::io::Result<OwnedFd> {
    // SAFETY: unshare of the network namespace affects this thread only.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = super::sys::open("/proc/thread-self/ns/net", libc::O_RDONLY | libc::O_CLOEXEC)
        .map_err(std::io::Error::other)?;
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // `lo` is always the first link of a new namespace.
    Socket::open()
        .and_then(|s| s.set_up(1))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::platform::trace::mark("network namespace made");
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_made_ahead_is_taken_once_and_is_not_ours() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: making a network namespace needs root");
            return;
        }
        assert!(take().is_none(), "nothing asked for yet");
        prepare();
        let ns = take().expect("a namespace");
        let ino = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let mine = ino("/proc/self/ns/net").unwrap();
        let made = ino(&format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&ns)
        ))
        .unwrap();
        assert_ne!(mine, made);
        assert!(take().is_none(), "taken once");
    }
}
