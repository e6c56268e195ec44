//! What the engine hands the runtime: plain data, no OS types.

use std::os::fd::RawFd;
use std::path::PathBuf;

/// One mount inside a container.
#[derive(Debug, Clone)]
pub struct MountSpec {
    /// Host path (a volume's directory or a host path).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub read_only: bool,
    /// Copy the image's content at `destination` into an empty `source` first
    /// (Docker's rule for new volumes).
    pub populate: bool,
}

/// Start a container's init.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub id: String,
    pub hostname: String,
    /// Read-only layers, bottom first.
    pub layers: Vec<PathBuf>,
    /// The container's directory (holds upper/, work/, rootfs/).
    pub container_dir: PathBuf,
    pub mounts: Vec<MountSpec>,
    pub process: ExecSpec,
    /// rkt's fly mode: chroot only, the host's pid, network, uts and ipc.
    pub fly: bool,
    /// jail(8) parameters given by the user (FreeBSD).
    pub jail_params: Vec<String>,
    /// `disabled`, `host`, `ipnet` or `vnet`.
    pub network_driver: String,
    /// The writable layer lives in a tmpfs of the container's own mount
    /// namespace (containers removed when they exit): nothing to create or
    /// delete on disk, and no filesystem sync when it goes away.
    pub ephemeral: bool,
}

/// A process to run inside a container.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// The container's ID (its jail name on FreeBSD).
    pub container: String,
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries layered over the login environment (later wins).
    pub env: Vec<String>,
    /// User name or `uid[:gid]`; empty means root.
    pub user: String,
    /// Working directory; empty means the user's home (as `jexec -l`).
    pub workdir: String,
    pub tty: bool,
}

/// Where a started process's standard streams go.
#[derive(Debug, Clone, Copy)]
pub enum Stdio {
    /// Share ours; stdin is /dev/null unless `stdin` is set.
    Inherit { stdin: bool },
    /// All three to these fds (e.g. a log file), stdin from /dev/null.
    Files { out: RawFd, err: RawFd },
    /// A new pty inside the container; its master comes back in `Started`.
    Pty,
}
