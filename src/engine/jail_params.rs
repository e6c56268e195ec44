//! What jail(8) parameters mean for a container's confinement. A FreeBSD
//! jail gets them as they are; on Linux the ones with a Linux meaning change
//! the security profile (`allow.raw_sockets` grants raw sockets, ...) and the
//! others are kept and reported as FreeBSD-only.

use super::error::{Error, Result};
use crate::platform::security::CapSet;

/// The Linux meaning of a jail parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// The permission is this capability.
    Capability(&'static str),
    /// `allow.suser=0`: root in the container holds no capabilities.
    Superuser,
    /// `allow.unprivileged_proc_debug`: ptrace of the container's own
    /// processes.
    ProcDebug,
    /// `host.hostname`: the container's hostname.
    Hostname,
}

/// Parameters (or prefixes, for `allow.mount.*`) with a Linux meaning, and
/// why, for docs/security.md.
const MEANINGS: &[(&str, Meaning)] = &[
    ("allow.raw_sockets", Meaning::Capability("NET_RAW")),
    ("allow.mount", Meaning::Capability("SYS_ADMIN")),
    ("allow.chflags", Meaning::Capability("LINUX_IMMUTABLE")),
    ("allow.mlock", Meaning::Capability("IPC_LOCK")),
    ("allow.read_msgbuf", Meaning::Capability("SYSLOG")),
    ("allow.settime", Meaning::Capability("SYS_TIME")),
    ("allow.adjtime", Meaning::Capability("SYS_TIME")),
    (
        "allow.reserved_ports",
        Meaning::Capability("NET_BIND_SERVICE"),
    ),
    ("allow.suser", Meaning::Superuser),
    ("allow.unprivileged_proc_debug", Meaning::ProcDebug),
    ("host.hostname", Meaning::Hostname),
];

/// What a container's jail parameters change on Linux.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JailEffects {
    pub grant: CapSet,
    pub revoke: CapSet,
    /// `allow.suser=0`.
    pub no_superuser: bool,
    pub proc_debug: Option<bool>,
    pub hostname: Option<String>,
    /// Parameters without a Linux meaning, as given.
    pub freebsd_only: Vec<String>,
}

/// Split `name[=value]`; jail(8)'s `no` prefix on the last component of a
/// boolean (`allow.noraw_sockets`) means `=false`.
fn split(param: &str) -> (String, Option<String>) {
    let (name, value) = match param.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"').to_string())),
        None => (param.trim(), None),
    };
    if value.is_none() {
        let (head, last) = match name.rsplit_once('.') {
            Some((h, l)) => (format!("{h}."), l),
            None => (String::new(), name),
        };
        if let Some(rest) = last.strip_prefix("no") {
            let plain = format!("{head}{rest}");
            if meaning(&plain).is_some() {
                return (plain, Some("false".into()));
            }
        }
    }
    (name.to_string(), value)
}

fn meaning(name: &str) -> Option<Meaning> {
    MEANINGS
        .iter()
        .find(|(p, _)| name == *p || (*p == "allow.mount" && name.starts_with("allow.mount.")))
        .map(|(_, m)| *m)
}

fn boolean(param: &str, value: Option<&str>) -> Result<bool> {
    match value {
        None => Ok(true),
        Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(_) => Err(Error::invalid(
            "jail parameter",
            param,
            "expected a boolean value (1, 0, true or false)",
        )),
    }
}

/// The Linux meaning of `params`, in order (a later parameter wins).
pub fn effects(params: &[String]) -> Result<JailEffects> {
    let mut fx = JailEffects::default();
    for p in params {
        let (name, value) = split(p);
        let Some(m) = meaning(&name) else {
            fx.freebsd_only.push(p.clone());
            continue;
        };
        match m {
            Meaning::Hostname => {
                let h = value.unwrap_or_default();
                if h.is_empty() || h.len() > 64 || h.contains(['/', ' ', '\0']) {
                    return Err(Error::invalid(
                        "jail parameter",
                        p.as_str(),
                        "host.hostname needs a hostname of 1 to 64 characters",
                    ));
                }
                fx.hostname = Some(h);
            }
            Meaning::Capability(cap) => {
                let n = CapSet::number(cap).expect("mapped capabilities are known");
                if boolean(p, value.as_deref())? {
                    fx.grant.insert(n);
                    fx.revoke.remove(n);
                } else {
                    fx.revoke.insert(n);
                    fx.grant.remove(n);
                }
            }
            Meaning::Superuser => fx.no_superuser = !boolean(p, value.as_deref())?,
            Meaning::ProcDebug => fx.proc_debug = Some(boolean(p, value.as_deref())?),
        }
    }
    Ok(fx)
}

/// The jail parameters that have a Linux meaning, and that meaning, for
/// documentation and `--help`.
pub fn mapping() -> Vec<(&'static str, String)> {
    MEANINGS
        .iter()
        .map(|(p, m)| {
            let what = match m {
                Meaning::Capability(c) => format!("CAP_{c}"),
                Meaning::Superuser => "=0 drops every capability".into(),
                Meaning::ProcDebug => "=0 denies ptrace and process_vm_*".into(),
                Meaning::Hostname => "the container's hostname".into(),
            };
            (*p, what)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(p: &[&str]) -> JailEffects {
        effects(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn capabilities_from_allow_parameters() {
        let raw = CapSet::number("NET_RAW").unwrap();
        assert!(fx(&["allow.raw_sockets"]).grant.has(raw));
        assert!(fx(&["allow.raw_sockets=1"]).grant.has(raw));
        assert!(fx(&["allow.raw_sockets=true"]).grant.has(raw));
        assert!(fx(&["allow.raw_sockets=0"]).revoke.has(raw));
        assert!(fx(&["allow.noraw_sockets"]).revoke.has(raw));
        // The later one wins.
        let f = fx(&["allow.raw_sockets", "allow.noraw_sockets"]);
        assert!(f.revoke.has(raw) && !f.grant.has(raw));
        let admin = CapSet::number("SYS_ADMIN").unwrap();
        assert!(fx(&["allow.mount"]).grant.has(admin));
        assert!(fx(&["allow.mount.tmpfs"]).grant.has(admin));
        assert!(fx(&["allow.mount.notmpfs"]).revoke.has(admin));
    }

    #[test]
    fn other_meanings_and_freebsd_only() {
        let f = fx(&[
            "allow.suser=0",
            "allow.unprivileged_proc_debug=0",
            "host.hostname=web",
            "exec.start=\"/bin/sh /etc/rc\"",
            "allow.sysvipc",
            "vnet",
        ]);
        assert!(f.no_superuser);
        assert_eq!(f.proc_debug, Some(false));
        assert_eq!(f.hostname.as_deref(), Some("web"));
        assert_eq!(
            f.freebsd_only,
            vec!["exec.start=\"/bin/sh /etc/rc\"", "allow.sysvipc", "vnet"]
        );
    }

    #[test]
    fn bad_values() {
        let e = effects(&["allow.raw_sockets=maybe".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid jail parameter 'allow.raw_sockets=maybe': expected a boolean value (1, 0, true or false)"
        );
        assert!(effects(&["host.hostname=".into()]).is_err());
    }
}
