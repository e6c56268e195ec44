//! A container as an OCI bundle describes it (`kleene-oci`): the caller
//! made its root filesystem and names every mount, namespace and device,
//! so the runtime takes them as given instead of making kleene's own
//! (overlay of image layers, standard /proc, /dev and /sys). Plain data;
//! each platform turns it into its mechanisms.

use std::path::PathBuf;

/// Namespace kinds an OCI `config.json` names (`linux.namespaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    Pid,
    Network,
    Mount,
    Ipc,
    Uts,
    User,
    Cgroup,
    Time,
}

impl NamespaceKind {
    pub fn name(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "pid",
            NamespaceKind::Network => "network",
            NamespaceKind::Mount => "mount",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::User => "user",
            NamespaceKind::Cgroup => "cgroup",
            NamespaceKind::Time => "time",
        }
    }
}

/// A namespace of the container: a new one, or an existing one joined by
/// its path (`/proc/PID/ns/net`, a bind-mounted namespace file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub kind: NamespaceKind,
    pub path: Option<PathBuf>,
}

/// One entry of `mounts`, in order; options as the OCI spec spells them
/// (`ro`, `nosuid`, `rbind`, `rprivate`, …, and filesystem data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericMount {
    pub destination: String,
    pub fstype: String,
    /// A host path for binds (absolute), else the filesystem's source.
    pub source: String,
    pub options: Vec<String>,
}

/// A device node to make in the container's `/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: String,
    /// `c`, `b`, `u` or `p`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A rule of the device allow list (`linux.resources.devices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a` (all), `c` or `b`.
    pub kind: char,
    /// `None`: any.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `r`, `w`, `m`.
    pub access: String,
}

/// Does this allow list keep any device from the container? Only a list
/// whose last `a` rule allows everything, with no deny after it, does not.
pub fn devices_restricted(rules: &[DeviceRule]) -> bool {
    let mut open = false;
    for r in rules {
        if r.kind == 'a' {
            open = r.allow;
        } else if !r.allow {
            open = false;
        }
    }
    !open
}

/// Resource settings beyond kleene's [`Limits`](super::Limits) that
/// bundles may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraResources {
    pub cpu_shares: Option<u64>,
    /// Memory plus swap, bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

/// What a bundle adds to a [`RunSpec`](super::RunSpec).
#[derive(Debug, Clone, Default)]
pub struct BundleSpec {
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    pub readonly: bool,
    pub mounts: Vec<GenericMount>,
    pub namespaces: Vec<Namespace>,
    pub devices: Vec<DeviceNode>,
    /// The device allow list, in order.
    pub device_rules: Vec<DeviceRule>,
    /// A new user namespace's maps: (inside, outside, count).
    pub uid_map: Vec<(u32, u32, u32)>,
    pub gid_map: Vec<(u32, u32, u32)>,
    pub resources: ExtraResources,
    /// `net.ipv4.ip_forward` → value.
    pub sysctl: Vec<(String, String)>,
    pub domainname: String,
    /// The container's group, relative to each hierarchy's root (`None`:
    /// kleene's own place for `id`).
    pub cgroup_path: Option<String>,
    /// `private`, `rprivate`, `slave`, … for the container's mounts as a
    /// whole (`linux.rootfsPropagation`; default rprivate).
    pub rootfs_propagation: String,
    /// Device nodes in the root filesystem are inert (`nodev`): the
    /// device allow list cannot be enforced on this host.
    pub nodev_root: bool,
    /// chroot instead of pivot_root (`--no-pivot`: a root on a ramfs).
    pub no_pivot: bool,
    /// A FIFO the container waits on, set up and checked, until someone
    /// reads it (`kleene-oci start`); `None` runs the command at once.
    pub start_gate: Option<PathBuf>,
    pub hooks: StartHooks,
    /// The `freebsd` section (jail parameters, devfs devices): set for
    /// bundles run on FreeBSD jails, where `namespaces` and the Linux
    /// fields above stay empty.
    pub freebsd: Option<super::bundle_freebsd::FreeBsdSection>,
    /// A new time namespace's offsets: (`monotonic`|`boottime`, seconds,
    /// nanoseconds).
    pub time_offsets: Vec<(String, i64, u32)>,
}

impl BundleSpec {
    /// The namespace of `kind`, if the container has one of its own (new
    /// or joined).
    pub fn namespace(&self, kind: NamespaceKind) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.kind == kind)
    }

    /// Who the root of the container's new user namespace is on the host.
    pub fn root_uid(&self) -> Option<u32> {
        self.uid_map.iter().find(|m| m.0 == 0).map(|m| m.1)
    }

    pub fn root_gid(&self) -> Option<u32> {
        self.gid_map.iter().find(|m| m.0 == 0).map(|m| m.1)
    }

    /// Does the container get a user namespace of its own, made at its
    /// clone (its maps written by the runtime)?
    pub fn new_user_namespace(&self) -> bool {
        self.namespace(NamespaceKind::User)
            .is_some_and(|n| n.path.is_none())
    }
}

/// A process's exact identity (OCI `process.user`): no lookup in the
/// container's `/etc/passwd` or `/etc/group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
}

/// A process's five capability sets (OCI `process.capabilities`), as
/// capability numbers' bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// A resource limit (`RLIMIT_NOFILE` etc., by its OCI name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// How an OCI process differs from a kleene one: exact identity,
/// environment and capability sets, limits and OOM score.
#[derive(Debug, Clone, Default)]
pub struct ExactProcess {
    pub identity: Identity,
    pub caps: CapSets,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    /// An AppArmor profile to enter at exec.
    pub apparmor: Option<String>,
    /// Descriptors 3 to 3+N-1 pass to the process (`--preserve-fds`).
    pub preserve_fds: u32,
}

/// A program the OCI lifecycle runs at one of its points (`hooks`), with
/// the container's state JSON on its stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    /// `args[0]` is the program's argv[0].
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Seconds before it is killed and counted as failed.
    pub timeout: Option<u64>,
}

/// The hooks the runtime itself runs while it starts a container; the
/// front end runs `poststart` and `poststop`.
#[derive(Debug, Clone, Default)]
pub struct StartHooks {
    /// `prestart` (deprecated by the spec, still used by Docker), then
    /// `createRuntime`: on the host, once the container's mounts are
    /// made, before its root changes.
    pub prestart: Vec<Hook>,
    pub runtime: Vec<Hook>,
    /// `createContainer`: in the container's mount namespace, before its
    /// root changes.
    pub container: Vec<Hook>,
    /// `startContainer`: in the container, once `start` is called, before
    /// the process runs.
    pub start: Vec<Hook>,
    /// The state JSON they read, with `"pid": 0` for the runtime to fill.
    pub state: String,
}

impl StartHooks {
    pub fn is_empty(&self) -> bool {
        self.prestart.is_empty()
            && self.runtime.is_empty()
            && self.container.is_empty()
            && self.start.is_empty()
    }

    /// The state JSON with the container's pid as the host sees it.
    pub fn state_for(&self, pid: i32) -> String {
        restate(&self.state, "pid", serde_json::json!(pid))
    }
}

/// `state` (a state JSON) with its `key` set to `value`; unchanged when it
/// is not JSON (it always is: the runtime wrote it).
pub fn restate(state: &str, key: &str, value: serde_json::Value) -> String {
    match serde_json::from_str::<serde_json::Value>(state) {
        Ok(mut v) => {
            v[key] = value;
            v.to_string()
        }
        Err(_) => state.to_string(),
    }
}
