//! A container's confinement as plain data: what its processes may do
//! ([`SecurityProfile`]) and how much they may use ([`Limits`]). The engine
//! computes both from the container's options and jail parameters; each
//! platform enforces them with its own mechanisms (Linux: capabilities,
//! seccomp, masked paths, cgroups; FreeBSD: jail parameters and rctl).

use serde::{Deserialize, Serialize};

use super::seccomp::Profile as SeccompProfile;

/// Capability names by number (`CAP_` left off), as Linux numbers them.
/// They are the vocabulary of `--cap-add`/`--cap-drop` on every platform;
/// FreeBSD maps the ones a jail has a parameter for.
pub const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// What a default container holds: Docker's default list without
/// `NET_RAW` (a jail has no raw sockets unless `allow.raw_sockets`) and
/// without `MKNOD` (a jail cannot create devices).
pub const DEFAULT_CAPABILITIES: [&str; 12] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "AUDIT_WRITE",
    "SETFCAP",
];

/// A set of capabilities, bit N for capability N.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapSet(pub u64);

impl CapSet {
    pub const fn empty() -> CapSet {
        CapSet(0)
    }

    /// Every capability this program knows.
    pub const fn all() -> CapSet {
        CapSet((1u64 << CAPABILITIES.len()) - 1)
    }

    pub fn default_set() -> CapSet {
        let mut s = CapSet::empty();
        for n in DEFAULT_CAPABILITIES {
            s.insert(CapSet::number(n).expect("default capabilities are known"));
        }
        s
    }

    /// The number of a capability named with or without `CAP_`, in any case.
    pub fn number(name: &str) -> Option<u32> {
        let up = name.trim().to_ascii_uppercase();
        let bare = up.strip_prefix("CAP_").unwrap_or(&up);
        CAPABILITIES
            .iter()
            .position(|c| *c == bare)
            .map(|n| n as u32)
    }

    pub fn has(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    /// Is the capability called `name` (without `CAP_`) in the set?
    pub fn has_named(self, name: &str) -> bool {
        CapSet::number(name).is_some_and(|n| self.has(n))
    }

    pub fn insert(&mut self, n: u32) {
        self.0 |= 1 << n;
    }

    pub fn remove(&mut self, n: u32) {
        self.0 &= !(1 << n);
    }

    pub fn intersect(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// `CAP_`-prefixed names, in number order.
    pub fn names(self) -> Vec<String> {
        CAPABILITIES
            .iter()
            .enumerate()
            .filter(|(n, _)| self.has(*n as u32))
            .map(|(_, c)| format!("CAP_{c}"))
            .collect()
    }
}

/// Which system calls a container may make.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SeccompPolicy {
    /// Kleene's default filter (the intent of Docker's default profile),
    /// adjusted to the container's capabilities.
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`, `--privileged`).
    Unconfined,
    /// A profile in Docker's JSON format.
    Custom(Box<SeccompProfile>),
}

impl SeccompPolicy {
    pub fn describe(&self) -> &'static str {
        match self {
            SeccompPolicy::Default => "default",
            SeccompPolicy::Unconfined => "unconfined",
            SeccompPolicy::Custom(_) => "custom",
        }
    }
}

/// Files hidden from a default container (`/dev/null` over files, an
/// empty read-only tmpfs over directories): kernel addresses, keys, timers
/// and hardware a container has no business reading.
pub const MASKED_PATHS: [&str; 13] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kallsyms",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Kernel interfaces a default container can read but not change.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Everything a container's processes are allowed, in one place.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityProfile {
    /// Every capability, no seccomp, no masking, the host's devices, a
    /// writable `/sys` (a jail with every `allow.*`).
    pub privileged: bool,
    /// Bounding set; also permitted and effective for root. Other users
    /// start with none in effect (as after any setuid).
    pub capabilities: CapSet,
    pub seccomp: SeccompPolicy,
    /// `PR_SET_NO_NEW_PRIVS`: setuid binaries and file capabilities give
    /// nothing.
    pub no_new_privileges: bool,
    /// The root filesystem is mounted read-only (volumes keep their mode).
    pub read_only_rootfs: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// Debugging (ptrace, process_vm_*) of the container's own processes
    /// (jail's `allow.unprivileged_proc_debug`, on by default).
    pub proc_debug: bool,
    /// A tiny init as PID 1 that forwards signals and reaps zombies.
    pub init: bool,
}

impl Default for SecurityProfile {
    fn default() -> Self {
        SecurityProfile {
            privileged: false,
            capabilities: CapSet::default_set(),
            seccomp: SeccompPolicy::Default,
            no_new_privileges: false,
            read_only_rootfs: false,
            masked_paths: MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
            proc_debug: true,
            init: false,
        }
    }
}

impl SecurityProfile {
    /// Nothing held back: `--privileged`, and rkt's fly mode.
    pub fn unconfined() -> SecurityProfile {
        SecurityProfile {
            privileged: true,
            capabilities: CapSet::all(),
            seccomp: SeccompPolicy::Unconfined,
            masked_paths: vec![],
            readonly_paths: vec![],
            ..SecurityProfile::default()
        }
    }
}

/// Resource limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes of memory (and swap: the limit covers both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// CPUs' worth of time per period (0.5 = half of one CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Processes (and threads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none() && self.pids.is_none()
    }

    /// `self` with the limits `other` sets (an update).
    pub fn merged(self, other: &LimitsUpdate) -> Limits {
        Limits {
            memory: other.memory.unwrap_or(self.memory),
            cpus: other.cpus.unwrap_or(self.cpus),
            pids: other.pids.unwrap_or(self.pids),
        }
    }
}

/// Bytes in Docker's short form (`64m`), for messages and listings.
pub fn human_bytes(b: u64) -> String {
    for (unit, size) in [
        ("t", 1u64 << 40),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
    ] {
        if b >= size && b.is_multiple_of(size) {
            return format!("{}{unit}", b / size);
        }
    }
    format!("{b}b")
}

/// A change of limits: `Some(None)` removes a limit, `None` keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LimitsUpdate {
    pub memory: Option<Option<u64>>,
    pub cpus: Option<Option<f64>>,
    pub pids: Option<Option<u64>>,
}

impl LimitsUpdate {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none() && self.pids.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names() {
        assert_eq!(CapSet::number("net_raw"), Some(13));
        assert_eq!(CapSet::number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(CapSet::number("cap_checkpoint_restore"), Some(40));
        assert_eq!(CapSet::number("CAP_NOPE"), None);
        let d = CapSet::default_set();
        assert_eq!(d.names().len(), 12);
        assert!(!d.has_named("NET_RAW") && !d.has_named("MKNOD"));
        assert!(d.has_named("CHOWN") && d.has_named("NET_BIND_SERVICE"));
        assert_eq!(CapSet::all().names().len(), 41);
        assert_eq!(CapSet::all().0, 0x1ff_ffff_ffff);
    }

    #[test]
    fn limits_update() {
        let l = Limits {
            memory: Some(64 << 20),
            cpus: Some(0.5),
            pids: None,
        };
        let u = LimitsUpdate {
            memory: Some(None),
            pids: Some(Some(10)),
            ..Default::default()
        };
        assert_eq!(
            l.merged(&u),
            Limits {
                memory: None,
                cpus: Some(0.5),
                pids: Some(10)
            }
        );
    }
}
