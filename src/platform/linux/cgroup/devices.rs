//! Which device nodes a bundle's container may use (`linux.resources
//! .devices`): on cgroup v1 its group in the `devices` hierarchy, made
//! for bundles only, with the rules written in order (a rule for `a`
//! all devices replaces the list, as the kernel does); on a v2-only host
//! an eBPF program attached to its group ([`super::device_bpf`]). Where
//! neither exists, a bundle that restricts devices gets a `nodev` root and
//! loses CAP_MKNOD (kleene-oci's `convert.rs`).

use super::{device_bpf, v1_group, v2_group, write};
use crate::platform::bundle::DeviceRule;
use crate::platform::{Error, Result};

/// Can this host enforce device rules (a v1 `devices` hierarchy, or
/// device programs on a v2 host)? `KLEENE_NO_DEVICES_CGROUP` says no
/// (tests of the fallback; it only ever adds restrictions).
pub fn enforceable() -> bool {
    if std::env::var_os("KLEENE_NO_DEVICES_CGROUP").is_some() {
        return false;
    }
    v1_group("devices", "x").is_some() || (v2_group("x").is_some() && device_bpf::available())
}

/// One rule as the v1 files spell it: `c 1:3 rwm`, `a *:* rwm`.
fn line(r: &DeviceRule) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    if r.kind == 'a' {
        return "a".into();
    }
    format!("{} {}:{} {}", r.kind, num(r.major), num(r.minor), r.access)
}

/// The caller's rules, then the devices every container needs (as runc
/// appends them; Podman sends a bare "deny all"): making any node, the
/// standard ones, pseudo-terminals, /dev/net/tun.
fn full_list(rules: &[DeviceRule]) -> Vec<DeviceRule> {
    let allow = |kind, major, minor, access: &str| DeviceRule {
        allow: true,
        kind,
        major,
        minor,
        access: access.into(),
    };
    let mut v = rules.to_vec();
    v.extend([
        allow('c', None, None, "m"),
        allow('b', None, None, "m"),
        allow('c', Some(136), None, "rwm"),
        allow('c', Some(5), Some(2), "rwm"),
        allow('c', Some(10), Some(200), "rwm"),
    ]);
    v.extend(
        super::super::confine::DEVICES
            .iter()
            .map(|&(_, major, minor)| allow('c', Some(major.into()), Some(minor.into()), "rwm")),
    );
    v
}

/// Enforce `rules` for group `key`, whose process is `pid`: its v1 devices
/// group (made here, `pid` moved in once the whole list is written: while
/// "deny all" is and the allows are not yet, a child setting up its pty
/// would be refused), or its v2 group's device program.
pub fn apply(key: &str, pid: i32, rules: &[DeviceRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let list = full_list(rules);
    if let Some(d) = v1_group("devices", key) {
        std::fs::create_dir_all(&d).map_err(|e| Error::io("cannot create cgroup", &d, e))?;
        for r in &list {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&d.join(file), &line(r))?;
        }
        return write(&d.join("cgroup.procs"), &pid.to_string());
    }
    match v2_group(key) {
        Some(d) if d.is_dir() => device_bpf::attach(&d, &list),
        _ => Ok(()),
    }
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
