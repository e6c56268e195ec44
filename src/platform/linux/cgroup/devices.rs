//! Which device nodes a bundle's container may use (`linux.resources
//! .devices`): on cgroup v1 its group in the `devices` hierarchy, made
//! for bundles only, with the rules written in order (a rule for `a`
//! all devices replaces the list, as the kernel does). The host's v2
//! tree needs an eBPF program instead; until kleene has one, a bundle
//! that restricts devices there loses CAP_MKNOD (see `bundle_caps`).

use std::path::PathBuf;

use super::{layout, place, write, Layout};
use crate::platform::bundle::DeviceRule;
use crate::platform::{Error, Result};

/// The v1 `devices` hierarchy's mount point, if the host has one.
fn v1_root() -> Option<PathBuf> {
    // Once per process: `remove` asks at every container's end.
    static ROOT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| super::v1_mount("devices")).clone()
}

/// The devices group of container group `key` (v1).
pub fn v1_dir(key: &str) -> Option<PathBuf> {
    match layout() {
        Layout::Unified(_) => None,
        _ => v1_root().map(|r| r.join(place(key))),
    }
}

/// Can this host enforce device rules (a v1 `devices` hierarchy)?
pub fn enforceable() -> bool {
    v1_dir("x").is_some()
}

/// One rule as the v1 files spell it: `c 1:3 rwm`, `a *:* rwm`.
fn line(r: &DeviceRule) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    if r.kind == 'a' {
        return "a".into();
    }
    format!("{} {}:{} {}", r.kind, num(r.major), num(r.minor), r.access)
}

/// Put `pid` in group `key`'s devices group and write `rules` in order.
pub fn apply(key: &str, pid: i32, rules: &[DeviceRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let Some(d) = v1_dir(key) else {
        return Ok(());
    };
    std::fs::create_dir_all(&d).map_err(|e| Error::io("cannot create cgroup", &d, e))?;
    // The whole list first, then the process: while "deny all" is written
    // and the allows are not yet, a child setting up (its pty, its
    // devices) would be refused.
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(&d.join(file), &line(r))?;
    }
    write(&d.join("cgroup.procs"), &pid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_written_as_the_kernel_reads_them() {
        let r = |kind, major, minor, access: &str| DeviceRule {
            allow: true,
            kind,
            major,
            minor,
            access: access.into(),
        };
        assert_eq!(line(&r('a', None, None, "rwm")), "a");
        assert_eq!(line(&r('c', Some(1), Some(3), "rwm")), "c 1:3 rwm");
        assert_eq!(line(&r('c', Some(136), None, "rw")), "c 136:* rw");
        assert_eq!(line(&r('b', None, None, "m")), "b *:* m");
    }
}
