//! Which device nodes a bundle's container may use (`linux.resources
//! .devices`): on cgroup v1 its group in the `devices` hierarchy, made
//! for bundles only, with the rules written in order (a rule for `a`
//! all devices replaces the list, as the kernel does). The host's v2
//! tree needs an eBPF program instead; until kleene has one, a bundle
//! that restricts devices there gets a `nodev` root and loses CAP_MKNOD
//! (kleene-oci's `convert.rs`).

use super::{v1_group, write};
use crate::platform::bundle::DeviceRule;
use crate::platform::{Error, Result};

/// Can this host enforce device rules (a v1 `devices` hierarchy)?
pub fn enforceable() -> bool {
    v1_group("devices", "x").is_some()
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
    let Some(d) = v1_group("devices", key) else {
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
    // The devices every container needs, after the caller's rules (as
    // runc appends them; Podman sends a bare "deny all"): making any node,
    // the standard ones, pseudo-terminals, /dev/net/tun.
    let standard = super::super::confine::DEVICES
        .iter()
        .map(|&(_, major, minor)| format!("c {major}:{minor} rwm"));
    let more = [
        "c *:* m",
        "b *:* m",
        "c 136:* rwm",
        "c 5:2 rwm",
        "c 10:200 rwm",
    ];
    for l in more.into_iter().map(String::from).chain(standard) {
        write(&d.join("devices.allow"), &l)?;
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
