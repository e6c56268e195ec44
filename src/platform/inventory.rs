//! What a root holds on the OS side, as `system check` compares it with the
//! store: every object kleene makes, by the name the store knows it by.

use std::path::PathBuf;

/// The OS side of a root, listed before the store is read (so that an
/// object made meanwhile, whose row is always written first, is never
/// taken for debris).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Committed layers, by ID.
    pub layers: Vec<String>,
    /// Containers' filesystems, by container ID (a build step's carries
    /// its owner: `<id>-<pid>-<start>`).
    pub containers: Vec<String>,
    /// Volumes' storage, by name.
    pub volumes: Vec<String>,
    /// Entries of the root's `tmp/`.
    pub scratch: Vec<String>,
    /// Containers' resource groups (Linux cgroups, FreeBSD rctl rules), by
    /// container ID. Other roots' may be among them.
    pub groups: Vec<String>,
    /// Running jails whose root is in this root (FreeBSD), by name.
    pub jails: Vec<String>,
    /// Network interfaces on the host, by name.
    pub links: Vec<String>,
    /// Mounts the host sees inside containers' directories or `tmp/`
    /// (kleene makes none there that outlive their process).
    pub mounts: Vec<PathBuf>,
}
