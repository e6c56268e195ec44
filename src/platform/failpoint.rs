//! Test-only failure injection: `KLEENE_FAILPOINT=<name>` makes the step of
//! that name fail, so tests can prove a failure at any step leaves nothing
//! behind; `KLEENE_FAILPOINT=<name>:crash` kills the process there on the
//! spot instead (SIGKILL, as `kill -9` would: no unwinding, no cleanup), so
//! tests can prove a crash at any step leaves something `klee system check`
//! finds and repairs. Unset, it costs one environment lookup per process.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static FP: OnceLock<Option<String>> = OnceLock::new();
    FP.get_or_init(|| {
        std::env::var("KLEENE_FAILPOINT")
            .ok()
            .filter(|s| !s.is_empty())
    })
    .as_deref()
}

/// Fail with [`super::Error::Injected`] when `name` is the armed failpoint,
/// or die when it is armed to crash.
pub fn check(name: &str) -> super::Result<()> {
    match armed() {
        Some(fp) if fp == name => Err(super::Error::Injected(name.to_string())),
        Some(fp) if fp.strip_suffix(":crash") == Some(name) => {
            // SAFETY: killing ourselves, as kill -9 from outside would; a
            // namespace's init is immune to its own signals, and ends with
            // _exit (no unwinding, no cleanup) instead.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
                libc::_exit(128 + libc::SIGKILL)
            }
        }
        _ => Ok(()),
    }
}

/// Every failpoint name, for tests that iterate over them.
pub const ALL: &[&str] = &[
    "container.create.fs",
    "container.create.row",
    "container.start.cgroup",
    "container.start.overlay",
    "container.start.mounts",
    "container.start.devices",
    "container.start.pivot",
    "container.start.exec",
    "container.start.network",
    "container.start.confine",
    "container.start.detached",
    "container.supervise",
    "container.monitor",
    "network.create.link",
    "network.firewall",
    "network.remove.row",
    "container.remove.fs",
    "container.remove.row",
    "image.create.fill",
    "image.create.commit",
    "volume.create",
    "volume.remove.row",
    "image.remove.layers",
    "build.run.commit",
    "build.commit",
];
