//! The one seam between the engine and the operating system. Everything that
//! knows an OS lives below this module; the engine only sees these types and
//! the [`Platform`] trait, whose operations are *ours* (make a layer, start a
//! container), not syscalls.

pub mod bundle;
pub mod bundle_freebsd;
pub mod cmd;
pub mod daemon;
pub mod failpoint;
pub mod fsutil;
pub mod hook;
pub mod inside;
pub mod inventory;
pub mod layer_diff;
pub mod owner;
pub mod seccomp;
pub mod security;
pub mod spec;
pub mod stream;
pub mod term;
pub mod trace;
pub mod user;

// Compiled everywhere: it only builds command lines, so it is golden-tested
// on Linux through a recording runner.
pub mod freebsd;
#[cfg(target_os = "linux")]
pub mod linux;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The default root, overridable with `--root` / `KLEENE_ROOT`. FreeBSD:
/// the mountpoint of `zroot/kleene`, kleened's dataset root.
#[cfg(target_os = "freebsd")]
pub const DEFAULT_ROOT: &str = "/zroot/kleene";
#[cfg(not(target_os = "freebsd"))]
pub const DEFAULT_ROOT: &str = "/var/lib/kleene";

pub use daemon::daemonize;
pub use inventory::Inventory;
pub use security::{Limits, SecurityProfile};
pub use spec::{
    Attachment, ExecSpec, Firewall, FirewallNetwork, FirewallPort, MountSpec, NetworkSpec, RunSpec,
    Stdio,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} '{}': {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        source: nix::Error,
    },
    #[error("{0}")]
    Failed(String),
    #[error("injected failure at '{0}'")]
    Injected(String),
    #[error("{0} is not supported on this platform yet")]
    Unsupported(&'static str),
}

impl Error {
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
    pub fn sys(op: &'static str, source: nix::Error) -> Self {
        Error::Sys { op, source }
    }
}

/// A process the runtime started: the container's init or an exec'd command.
#[derive(Debug)]
pub struct Started {
    pub pid: i32,
    /// The master side of the container's pty, when one was asked for.
    pub pty_master: Option<OwnedFd>,
}

/// What the platform learnt about a container's end, beyond its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitDetails {
    /// The kernel's OOM killer killed one of its processes.
    pub oom_killed: bool,
}

/// How a process ended, in the shell's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// Everything the engine asks of an OS.
pub trait Platform: Send + Sync {
    /// Create the directory skeleton (or datasets) of a root.
    fn prepare_root(&self, root: &Path) -> Result<()>;

    /// Begin a new layer on top of `parent`: a directory to fill, not yet
    /// visible as a layer. (Linux layers hold only their changes, so it starts
    /// empty; a ZFS layer is a whole filesystem, a clone of its parent.)
    fn begin_layer(&self, root: &Path, id: &str, parent: Option<&str>) -> Result<PathBuf>;
    /// Make a filled layer permanent.
    fn commit_layer(&self, root: &Path, id: &str) -> Result<()>;
    /// Remove a layer (committed or not); absent layers are not an error.
    fn destroy_layer(&self, root: &Path, id: &str) -> Result<()>;
    /// Does committed layer `id` exist?
    fn layer_exists(&self, root: &Path, id: &str) -> bool {
        self.layer_path(root, id).exists()
    }
    /// Write layer `id` as an OCI layer tar (its changes to the layers
    /// below, deletions as `.wh.` whiteouts), for `klee image push`.
    fn layer_tar(&self, root: &Path, id: &str, out: &mut dyn std::io::Write) -> Result<()> {
        let _ = (root, id, out);
        Err(Error::Unsupported("exporting layers"))
    }
    /// A registry layer deletes `rel` of the layers below it (an OCI
    /// whiteout, `.wh.NAME`). By default the layer is a copy of the one
    /// below (FreeBSD's ZFS clone), so the path is removed; Linux marks it
    /// for overlayfs instead.
    fn whiteout(&self, layer: &Path, rel: &Path) -> Result<()> {
        let p = fsutil::resolve_beneath(layer, &Path::new("/").join(rel))?;
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => fsutil::remove_tree(&p),
            Ok(_) => std::fs::remove_file(&p).map_err(|e| Error::io("cannot remove", &p, e)),
            Err(_) => Ok(()),
        }
    }
    /// A registry layer's directory `rel` hides what the layers below have
    /// in it (`.wh..wh..opq`); `ours` are the layer's own entries so far,
    /// which stay. By default what else is in it goes.
    fn opaque(&self, layer: &Path, rel: &Path, ours: &[PathBuf]) -> Result<()> {
        let dir = fsutil::resolve_beneath(layer, &Path::new("/").join(rel))?;
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let child = rel.join(e.file_name());
            if !ours.iter().any(|o| o == &child || o.starts_with(&child)) {
                self.whiteout(layer, &child)?;
            }
        }
        Ok(())
    }
    /// Where a committed layer's files are.
    fn layer_path(&self, root: &Path, id: &str) -> PathBuf;
    /// A base layer made from an existing dataset (`zfs-copy`, `zfs-clone`);
    /// returns where its files are.
    fn layer_from_dataset(
        &self,
        root: &Path,
        id: &str,
        dataset: &str,
        clone: bool,
    ) -> Result<PathBuf> {
        let _ = (root, id, dataset, clone);
        Err(Error::Unsupported("creating images from ZFS datasets"))
    }
    /// Remove the snapshot `dataset@id` a copy or clone was made from.
    fn release_dataset_snapshot(&self, dataset: &str, id: &str) -> Result<()> {
        let _ = (dataset, id);
        Ok(())
    }
    /// Download `url` to `dest` (FreeBSD: fetch(1)).
    fn download(&self, url: &str, dest: &Path) -> Result<()> {
        let _ = dest;
        Err(Error::Failed(format!(
            "cannot fetch '{url}': downloading base systems is supported on FreeBSD only"
        )))
    }
    /// The host's release and machine (`uname -r`, `uname -m`).
    fn host_release(&self) -> Result<(String, String)> {
        Err(Error::Unsupported("fetch-auto (FreeBSD releases)"))
    }
    /// Bring a base system at `path` up to date (freebsd-update).
    fn update_base(&self, path: &Path) -> Result<()> {
        let _ = path;
        Err(Error::Unsupported("--update (freebsd-update)"))
    }
    /// What a base-image method and source sent through kleened's API (whose
    /// client offers FreeBSD's methods only) mean on this platform, as
    /// `klee image create` arguments.
    fn base_method_for_api(&self, method: &str, source: &str) -> (String, String) {
        (method.to_string(), source.to_string())
    }
    /// Does a network interface of this name exist on the host?
    fn interface_exists(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// The interface of the host's default route, if any.
    fn host_gateway(&self) -> Option<String> {
        None
    }
    /// The host's IPv4 routes other than the default, as (`ADDR/PREFIX`,
    /// interface): what a new network's subnet must not overlap to be
    /// picked as a free one (another program's, or another kleene root's).
    fn host_routes(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Create a network's link (interface, gateway addresses).
    fn create_network(&self, net: &NetworkSpec) -> Result<()> {
        let _ = net;
        Err(Error::Unsupported(
            "networks (Linux networking is issue #6)",
        ))
    }
    /// Remove a network's link (`members`: interfaces to detach first).
    fn destroy_network(&self, net: &NetworkSpec, members: &[String]) -> Result<()> {
        let _ = (net, members);
        Err(Error::Unsupported(
            "networks (Linux networking is issue #6)",
        ))
    }
    /// Make the per-container links a start needs (FreeBSD vnet: an epair
    /// for each attachment, recorded in it).
    fn prepare_links(&self, spec: &mut RunSpec) -> Result<()> {
        let _ = spec;
        Ok(())
    }
    /// A running container's attachments changed (ipnet connect/disconnect):
    /// adjust its addresses. `pid` is its init.
    fn relink(
        &self,
        id: &str,
        pid: i32,
        driver: &str,
        before: &[Attachment],
        after: &[Attachment],
    ) -> Result<()> {
        let _ = (id, pid, driver, before, after);
        Ok(())
    }
    /// Apply changed parameters to a running container (FreeBSD: `jail -m`).
    fn update_params(&self, id: &str, params: &[String]) -> Result<()> {
        let _ = (id, params);
        Ok(())
    }
    /// Load the firewall generated from `fw` (replacing kleene's previous rules).
    fn apply_firewall(&self, root: &Path, fw: &Firewall) -> Result<()> {
        let _ = (root, fw);
        Ok(())
    }
    /// Turn a stopped container's changes into the layer `layer_id` (a build
    /// step); returns false when there were no changes (no layer made).
    fn commit_container(&self, root: &Path, id: &str, layer_id: &str) -> Result<bool>;
    /// A read-only merged view of `layers` (bottom first) for this process
    /// to read from; it lives until the process exits.
    fn view(&self, root: &Path, layers: &[String]) -> Result<PathBuf>;
    /// Unmount and remove every view this process made.
    fn release_views(&self, root: &Path);

    /// Create a container's writable filesystem over `layers` (bottom first).
    /// An `ephemeral` container (removed when it exits) keeps its writable
    /// layer in memory, made at start inside its own mount namespace.
    fn create_container_fs(
        &self,
        root: &Path,
        id: &str,
        layers: &[String],
        ephemeral: bool,
    ) -> Result<PathBuf>;
    /// Does container `id`'s filesystem exist?
    fn container_fs_exists(&self, root: &Path, id: &str) -> bool {
        self.container_dir(root, id).is_dir()
    }
    /// Remove a container's filesystem; absent is not an error.
    fn destroy_container_fs(&self, root: &Path, id: &str) -> Result<()>;
    /// The container's own directory (log, upper layer, …).
    fn container_dir(&self, root: &Path, id: &str) -> PathBuf;
    /// Where a detached container's output goes.
    fn log_path(&self, root: &Path, id: &str) -> PathBuf;

    fn create_volume(&self, root: &Path, name: &str) -> Result<PathBuf>;
    fn destroy_volume(&self, root: &Path, name: &str) -> Result<()>;
    fn volume_path(&self, root: &Path, name: &str) -> PathBuf;
    /// Move volume `name`'s storage aside, whole, before its data is
    /// deleted: returns its scratch name in `tmp/` (`None`: it cannot be
    /// moved, and `destroy_volume` deletes it in place).
    fn trash_volume(&self, root: &Path, name: &str) -> Result<Option<String>> {
        let _ = (root, name);
        Ok(None)
    }
    /// Does volume `name`'s storage exist?
    fn volume_exists(&self, root: &Path, name: &str) -> bool {
        self.volume_path(root, name).is_dir()
    }

    /// Start a container's init process with its isolation; returns once the
    /// command has been exec'd (or failed to be).
    fn start(&self, spec: &RunSpec, stdio: &Stdio) -> Result<Started> {
        self.start_with(spec, stdio, &mut |_| {})
    }
    /// `start`, calling `spawned` with the init's pid as soon as it exists
    /// (Linux: while the child still sets itself up, so the caller's own
    /// work, recording the start, overlaps with it).
    fn start_with(
        &self,
        spec: &RunSpec,
        stdio: &Stdio,
        spawned: &mut dyn FnMut(i32),
    ) -> Result<Started>;
    /// Run a command inside a running container (its init is `target`).
    fn exec(&self, target: i32, spec: &ExecSpec, stdio: &Stdio) -> Result<Started>;
    /// Run `work` in a child process whose root directory is the
    /// container's filesystem as its processes see it: a running
    /// container's (init `running`) mount namespace, volumes included; a
    /// stopped one's layers and writable layer with its volumes, mounted
    /// for the child alone. `host` runs here meanwhile with the other end
    /// of the stream (`klee cp`'s tar); the child's error is the error.
    fn inside_container_fs(
        &self,
        spec: &RunSpec,
        running: Option<i32>,
        work: &mut inside::Work,
        host: &mut dyn FnMut(&mut stream::Stream) -> Result<()>,
    ) -> Result<()>;
    /// Rewrite a running container's `/etc/hosts` (init `pid`) from `spec`
    /// (its names, its peers), if it is the one kleene made for it.
    fn refresh_hosts(&self, spec: &RunSpec, pid: i32) -> Result<()> {
        let _ = (spec, pid);
        Ok(())
    }
    /// A container with a network of its own is about to start in this
    /// process, in the foreground (`klee run`): Linux makes its network
    /// namespace meanwhile, the most expensive part of a start, in
    /// parallel with the engine's own work (see `linux/netns.rs`). Nothing
    /// is left behind when no start follows.
    fn prepare_network(&self) {}
    /// The start time of a process (0 when unknown), to tell it from a
    /// later process that reuses its pid.
    fn start_time(&self, pid: i32) -> u64;
    /// Is the process with this pid and start time still alive (not a zombie)?
    fn alive(&self, pid: i32, start_time: u64) -> bool;
    /// Is container `id` (whose init is `pid`) still running? (Linux: its
    /// init is alive; FreeBSD: `jls` knows the jail, which outlives its
    /// command while daemons run in it.)
    fn container_running(&self, id: &str, pid: i32, start_time: u64) -> bool {
        let _ = id;
        self.alive(pid, start_time)
    }
    /// Send a signal to a process.
    fn signal(&self, pid: i32, signal: i32) -> Result<()>;
    /// Send a signal to a process and all its descendants (children first
    /// found, then the process), e.g. to SIGKILL what a relay runs.
    fn signal_tree(&self, pid: i32, signal: i32) -> Result<()> {
        self.signal(pid, signal)
    }
    /// Stop container `id` whose init is `pid`: SIGTERM asks, SIGKILL forces.
    /// (FreeBSD: SIGTERM runs the jail's `exec.stop` from `jail_params`.)
    fn stop_container(&self, id: &str, pid: i32, signal: i32, jail_params: &[String])
        -> Result<()>;
    /// What running container `id` uses now (`klee stats`).
    fn container_usage(&self, id: &str) -> Result<Usage> {
        let _ = id;
        Ok(Usage::default())
    }
    /// The processes of running container `id` (`klee top`).
    fn container_processes(&self, id: &str, pid: i32) -> Result<Vec<ProcessInfo>> {
        let _ = (id, pid);
        Ok(Vec::new())
    }
    /// Facts about this host for `klee info`: (what, value) pairs.
    fn describe(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Send `signal` to every process of the container whose resources
    /// are filed under `key` (its init is `pid`; `kleene-oci kill --all`).
    /// Linux: the init and its descendants; FreeBSD: the jail's processes.
    fn signal_all(&self, key: &str, pid: i32, signal: i32) -> Result<()> {
        let _ = key;
        self.signal_tree(pid, signal)
    }
    /// Send `signal` to running container `id` (its init is `pid`).
    fn kill_container(&self, id: &str, pid: i32, signal: i32) -> Result<()> {
        let _ = id;
        self.signal(pid, signal)
    }
    /// Wait for a child process of ours to end.
    fn wait(&self, pid: i32) -> Result<ExitStatus>;
    /// Wait for a container whose init is our child `pid`: its command's
    /// status, returned once the container is gone (FreeBSD: a jail
    /// outlives its command while daemons it started run in it).
    fn wait_container(&self, spec: &RunSpec, pid: i32) -> Result<ExitStatus> {
        let _ = spec;
        self.wait(pid)
    }
    /// Undo what `start` set up around the container, once its init ended
    /// (FreeBSD: nullfs and devfs mounts, rctl rules; Linux: the cgroup,
    /// the mount namespace took the mounts along), and say how it ended.
    fn after_exit(&self, spec: &RunSpec) -> Result<ExitDetails> {
        let _ = spec;
        Ok(ExitDetails::default())
    }
    /// Can these layers (an image's, about to be removed) go without taking
    /// anything else along? (FreeBSD: a ZFS clone made outside kleene of
    /// one of them would block or be taken by the destroy.)
    fn check_layers_removable(&self, root: &Path, ids: &[String]) -> Result<()> {
        let _ = (root, ids);
        Ok(())
    }
    /// Does this host know these jail parameters (`-J`)? (FreeBSD: the
    /// kernel's `security.jail.param` and jail(8)'s own; elsewhere they
    /// are kept for FreeBSD and checked there.)
    fn check_jail_params(&self, params: &[String]) -> Result<()> {
        let _ = params;
        Ok(())
    }
    /// Can this host enforce `limits`? (Checked at create, so a container
    /// that could never start is not made.)
    fn check_limits(&self, limits: &Limits) -> Result<()> {
        let _ = limits;
        Ok(())
    }
    /// Can a bundle's device allow list be enforced here (a devices cgroup)?
    fn enforces_device_rules(&self) -> bool {
        false
    }
    /// Is this Linux security module (`apparmor`, `selinux`) enabled?
    fn has_lsm(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// Freeze (`on`) or thaw every process of the container whose group
    /// is `key` (`RunSpec::cgroup_key`).
    fn freeze(&self, key: &str, on: bool) -> Result<()> {
        let _ = (key, on);
        Err(Error::Unsupported("freezing a container's processes"))
    }
    /// Is the container whose group is `key` frozen?
    fn frozen(&self, key: &str) -> bool {
        let _ = key;
        false
    }
    /// Change the limits of running container `id` from `old` to `new`.
    fn update_limits(&self, id: &str, old: &Limits, new: &Limits) -> Result<()> {
        let _ = (id, old, new);
        Err(Error::Unsupported(
            "changing the limits of a running container",
        ))
    }
    /// Remove what a container's run left behind when nobody saw it end
    /// (its supervisor was killed): Linux, its cgroup, killing what still
    /// runs in it.
    fn forget_container(&self, id: &str) -> Result<()> {
        let _ = id;
        Ok(())
    }

    /// The platform section of an OCI `config.json` this platform runs
    /// (`linux`, `freebsd`); the others are ignored, as runc does.
    fn oci_section(&self) -> &'static str {
        "linux"
    }
    /// Remove what a bundle's container made outside its processes once
    /// they are gone: FreeBSD, its jail (by `key`, its name) and the
    /// mounts under `rootfs`. Linux: nothing (its mount namespace took
    /// them). Also for a create that died half-way: whatever exists.
    fn release_bundle(&self, key: &str, rootfs: &Path) -> Result<()> {
        let _ = (key, rootfs);
        Ok(())
    }

    /// What exists of `root` on the OS side (`system check`).
    fn inventory(&self, root: &Path) -> Result<Inventory> {
        let _ = root;
        Err(Error::Unsupported("system check"))
    }
    /// Does container `id`'s resource group (cgroup, rctl rules) exist?
    fn group_exists(&self, id: &str) -> bool {
        let _ = id;
        true
    }
    /// Remove the scratch object `tmp/<name>` of a process that is gone.
    fn remove_scratch(&self, root: &Path, name: &str) -> Result<()> {
        fsutil::remove_tree(&root.join("tmp").join(name))
    }
    /// Remove a network interface left behind.
    fn remove_link(&self, name: &str) -> Result<()> {
        let _ = name;
        Ok(())
    }
    /// Detach a mount left behind.
    fn unmount(&self, path: &Path) -> Result<()> {
        let _ = path;
        Ok(())
    }
    /// The host-side links container `id` has while it runs with these
    /// attachments (to find those left behind).
    fn container_links(&self, id: &str, attachments: &[Attachment]) -> Vec<String> {
        let _ = (id, attachments);
        vec![]
    }
    /// Stop a jail left running (FreeBSD).
    fn remove_jail(&self, name: &str) -> Result<()> {
        let _ = name;
        Ok(())
    }
    /// Is the firewall loaded what `fw` generates?
    fn firewall_current(&self, root: &Path, fw: &Firewall) -> bool {
        let _ = (root, fw);
        true
    }
    /// Load the firewall `fw` generates even if it was loaded before (its
    /// rules may have been changed or flushed behind kleene's back).
    fn reload_firewall(&self, root: &Path, fw: &Firewall) -> Result<()> {
        self.apply_firewall(root, fw)
    }
}

/// Wait for a child process of ours to end (any Unix).
pub fn wait_pid(pid: i32) -> Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::io("cannot wait for process", pid.to_string(), e));
        }
    }
    if libc::WIFSIGNALED(status) {
        Ok(ExitStatus::Signal(libc::WTERMSIG(status)))
    } else {
        Ok(ExitStatus::Code(libc::WEXITSTATUS(status)))
    }
}

/// Send `signal` to `pid`; a process that is already gone is not an error.
pub fn kill_pid(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(pid, signal) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(Error::io("cannot signal process", pid.to_string(), e));
        }
    }
    Ok(())
}

/// The platform this binary was built for.
pub fn native() -> &'static dyn Platform {
    #[cfg(target_os = "linux")]
    {
        &linux::Linux
    }
    #[cfg(target_os = "freebsd")]
    {
        &freebsd::SYSTEM
    }
}

/// The kernel's name and release (`uname -sr`).
pub fn kernel() -> String {
    // SAFETY: uname fills a zeroed struct of C strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", field(&u.sysname), field(&u.release))
}

/// A container's use of the machine, as far as the platform can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// CPU time used since it started, in nanoseconds.
    pub cpu_ns: Option<u64>,
    /// Memory in use, bytes.
    pub memory: Option<u64>,
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
}

/// One process of a container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    /// The uid (Linux) or user name (FreeBSD).
    pub user: String,
    /// CPU time, seconds.
    pub cpu_seconds: u64,
    pub command: String,
}
