//! Resource settings only OCI bundles ask for (`kleene-oci`): CPU shares,
//! memory+swap, a memory reservation and a cpuset, written once the group
//! is made and the container's process is in it. The v1 cpuset hierarchy
//! is not one kleene uses for its own containers: the group is made there
//! for bundles that ask, each new level given its parent's CPUs and
//! memory nodes first (the kernel wants both before any task joins).

use std::path::Path;

use super::limits::v1_dir;
use super::{dirs, enable_v2, layout, read, v1_group, write, Layout};
use crate::platform::bundle::ExtraResources;
use crate::platform::{Error, Result};

/// cgroup v2's weight for v1 shares (runc's conversion: 2..262144 → 1..10000).
pub fn weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

pub fn apply(key: &str, pid: i32, x: &ExtraResources) -> Result<()> {
    let l = layout();
    let ds = dirs(l, key);
    match l {
        Layout::Unified(root) => {
            let d = &ds[0];
            if let Some(s) = x.cpu_shares {
                write(&d.join("cpu.weight"), &weight(s).to_string())?;
            }
            if let Some(sw) = x.memory_swap {
                let limit = read(&d.join("memory.max")).trim().parse::<i64>().ok();
                let v = match (sw, limit) {
                    (-1, _) | (_, None) => "max".to_string(),
                    (sw, Some(m)) => (sw - m).max(0).to_string(),
                };
                write(&d.join("memory.swap.max"), &v)?;
            }
            if let Some(r) = x.memory_reservation {
                write(&d.join("memory.low"), &r.to_string())?;
            }
            if x.cpuset_cpus.is_some() || x.cpuset_mems.is_some() {
                enable_v2(root, d, &["cpuset"])?;
                if let Some(c) = &x.cpuset_cpus {
                    write(&d.join("cpuset.cpus"), c)?;
                }
                if let Some(m) = &x.cpuset_mems {
                    write(&d.join("cpuset.mems"), m)?;
                }
            }
        }
        Layout::Legacy { .. } => {
            if let (Some(s), Some(d)) = (x.cpu_shares, v1_dir(l, &ds, "cpu")) {
                write(&d.join("cpu.shares"), &s.to_string())?;
            }
            if let Some(d) = v1_dir(l, &ds, "memory") {
                let memsw = d.join("memory.memsw.limit_in_bytes");
                if let (Some(sw), true) = (x.memory_swap, memsw.exists()) {
                    write(&memsw, &sw.to_string())?;
                }
                if let Some(r) = x.memory_reservation {
                    write(&d.join("memory.soft_limit_in_bytes"), &r.to_string())?;
                }
            }
            if x.cpuset_cpus.is_some() || x.cpuset_mems.is_some() {
                let d = v1_group("cpuset", key).ok_or_else(|| {
                    Error::Failed(
                        "linux.resources.cpu.cpus/mems: this host has no cpuset hierarchy".into(),
                    )
                })?;
                make_cpuset(&d)?;
                if let Some(c) = &x.cpuset_cpus {
                    write(&d.join("cpuset.cpus"), c)?;
                }
                if let Some(m) = &x.cpuset_mems {
                    write(&d.join("cpuset.mems"), m)?;
                }
                write(&d.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Layout::None => {}
    }
    Ok(())
}

/// Make `d` and its missing parents, each with its parent's CPUs and nodes.
fn make_cpuset(d: &Path) -> Result<()> {
    if d.is_dir() {
        return Ok(());
    }
    let parent = d
        .parent()
        .ok_or_else(|| Error::Failed("cpuset root".into()))?;
    make_cpuset(parent)?;
    std::fs::create_dir(d).map_err(|e| Error::io("cannot create cgroup", d, e))?;
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let v = read(&parent.join(f));
        write(&d.join(f), v.trim())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_become_weights_as_runc_converts_them() {
        assert_eq!(super::weight(2), 1);
        assert_eq!(super::weight(1024), 39);
        assert_eq!(super::weight(262_144), 10_000);
    }
}
