//! What the engine hands the runtime: plain data, no OS types.

use std::os::fd::RawFd;
use std::path::PathBuf;

use super::bundle::{BundleSpec, ExactProcess};
use super::security::{Limits, SecurityProfile};

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
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    pub id: String,
    /// The container's name (for its `/etc/hosts`).
    pub name: String,
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
    /// The networks the container is connected to.
    pub attachments: Vec<Attachment>,
    /// Nameservers for its `/etc/resolv.conf` (empty: the host's).
    pub dns: Vec<String>,
    /// The writable layer lives in a tmpfs of the container's own mount
    /// namespace (containers removed when they exit): nothing to create or
    /// delete on disk, and no filesystem sync when it goes away.
    pub ephemeral: bool,
    /// Memory, CPU and process limits (the container's confinement is
    /// `process.profile`).
    pub limits: Limits,
    /// Killed when the process that started it dies (a build step: nobody
    /// would collect what it makes).
    pub die_with_caller: bool,
    /// Extra `/etc/hosts` lines, `NAME:IP` (`--add-host`).
    pub extra_hosts: Vec<String>,
    /// An OCI bundle's root, mounts and namespaces instead of kleene's
    /// own (`kleene-oci`).
    pub bundle: Option<Box<BundleSpec>>,
}

impl RunSpec {
    /// The key the platform files the container's resources under. Linux:
    /// its control group, a bundle's `cgroupsPath` (with a leading '/':
    /// from each hierarchy's root), else its ID under kleene's parent
    /// group. FreeBSD bundles: the jail's name.
    pub fn cgroup_key(&self) -> String {
        if let Some(fb) = self.bundle.as_ref().and_then(|b| b.freebsd.as_ref()) {
            // A jail's name is what its rctl rules, processes and mounts
            // are found by.
            return fb.jail_name(&self.id);
        }
        match self.bundle.as_ref().and_then(|b| b.cgroup_path.as_deref()) {
            Some(p) => format!("/{}", p.trim_start_matches('/')),
            None => self.id.clone(),
        }
    }
}

/// A container's place in one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// The endpoint's ID (to save the link name in).
    pub endpoint: String,
    /// The network's interface (a bridge for vnet).
    pub interface: String,
    pub ip: String,
    pub ip6: String,
    /// Prefix lengths of the network's subnets.
    pub prefix: u8,
    pub prefix6: u8,
    /// Default gateways inside the container (vnet), resolved, or "".
    pub gateway: String,
    pub gateway6: String,
    /// The vnet link's base name (`epair3`), once made.
    pub epair: Option<String>,
    /// The network has no inter-container connectivity (`icc` off).
    pub isolated: bool,
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
    /// The container's confinement, which exec'd processes share.
    pub profile: SecurityProfile,
    /// An OCI process: exactly this identity, environment (`env` alone,
    /// no login variables) and capability sets.
    pub exact: Option<Box<ExactProcess>>,
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

/// A network's link as the platform creates it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    /// `loopback`, `bridge` or `custom`.
    pub kind: String,
    pub interface: String,
    /// Gateway addresses to put on the interface (resolved `<auto>`), with
    /// their prefix lengths, or "".
    pub gateway: String,
    pub gateway6: String,
}

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallNetwork {
    pub id: String,
    pub interface: String,
    /// IPv4 CIDR, or "".
    pub subnet: String,
    /// IPv6 CIDR, or "".
    pub subnet6: String,
    /// The interface NAT goes out of, or "" for no NAT.
    pub nat_if: String,
    pub icc: bool,
    pub internal: bool,
    /// Host ends of vnet containers' links on the network.
    pub epairs: Vec<String>,
}

/// A published port of a container, with the addresses it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallPort {
    /// Empty (and no addresses): every local address on Linux, the host
    /// gateway's interface on FreeBSD.
    pub interfaces: Vec<String>,
    /// Local addresses the port is bound to (Docker's `IP:HOST:CONTAINER`).
    pub addresses: Vec<String>,
    /// `N` or `A:B`.
    pub host_port: String,
    /// `N`, or `N:*` with a host range.
    pub container_port: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub ip4: String,
    pub ip6: String,
}

/// Everything the firewall is generated from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firewall {
    /// The interface of the default route, if known.
    pub host_gateway: Option<String>,
    pub networks: Vec<FirewallNetwork>,
    pub ports: Vec<FirewallPort>,
}
