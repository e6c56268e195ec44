//! A container's confinement on FreeBSD: the profile is a jail's own
//! permissions (`allow.*` parameters), limits are rctl(8) rules on the jail
//! (added by name before the jail exists, which the kernel applies when it
//! is created, and removed when it is gone: rules outlive their jail), and
//! a read-only root is the dataset's `readonly` property.

use super::FreeBsd;
use crate::platform::security::{CapSet, Limits, SecurityProfile};
use crate::platform::{Error, Result};

/// `allow.*` parameters every FreeBSD kernel has (the `allow.mount.<fs>`
/// ones exist only while their filesystem module is loaded, so
/// `--privileged` cannot name them blindly; `-J` can).
const PRIVILEGED: [&str; 14] = [
    "allow.set_hostname",
    "allow.sysvipc",
    "allow.raw_sockets",
    "allow.chflags",
    "allow.mount",
    "allow.quotas",
    "allow.socket_af",
    "allow.mlock",
    "allow.reserved_ports",
    "allow.read_msgbuf",
    "allow.unprivileged_proc_debug",
    "allow.suser",
    // Mounting inside a jail also needs statfs to show its mounts.
    "enforce_statfs=1",
    // With mount.devfs: no devfs ruleset, every device of the host.
    "devfs_ruleset=0",
];

/// The jail's own name of a capability's permission, when it has one.
const BY_CAPABILITY: [(&str, &str); 5] = [
    ("NET_RAW", "allow.raw_sockets"),
    ("SYS_ADMIN", "allow.mount"),
    ("LINUX_IMMUTABLE", "allow.chflags"),
    ("IPC_LOCK", "allow.mlock"),
    ("SYSLOG", "allow.read_msgbuf"),
];

fn named(given: &[String], param: &str) -> bool {
    let base = param.split('=').next().unwrap_or(param);
    let (head, last) = base.rsplit_once('.').unwrap_or(("", base));
    let negated = if head.is_empty() {
        format!("no{last}")
    } else {
        format!("{head}.no{last}")
    };
    given.iter().any(|g| {
        let g = g.split('=').next().unwrap_or(g);
        g == base || g == negated
    })
}

/// The parameters that carry `p` beyond a default jail, for those the user
/// did not give with `-J` (theirs come later on the command line and win).
pub fn profile_params(p: &SecurityProfile, given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if p.privileged {
        out.extend(PRIVILEGED.iter().map(|s| s.to_string()));
    } else {
        let caps = p.capabilities;
        for (cap, param) in BY_CAPABILITY {
            if caps.has_named(cap) {
                out.push(param.into());
                if cap == "SYS_ADMIN" {
                    out.push("enforce_statfs=1".into());
                }
            }
        }
        // A default jail may bind ports below 1024 and has a super-user.
        if !caps.has_named("NET_BIND_SERVICE") {
            out.push("allow.noreserved_ports".into());
        }
        if caps == CapSet::empty() {
            out.push("allow.nosuser".into());
        }
        if !p.proc_debug {
            out.push("allow.nounprivileged_proc_debug".into());
        }
    }
    out.retain(|o| !named(given, o));
    out
}

/// `jail:<id>:<resource>:deny=<amount>` for each limit: resident memory
/// in bytes, CPU in percent of one core, processes.
pub fn rctl_rules(id: &str, l: &Limits) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(m) = l.memory {
        v.push(format!("jail:{id}:memoryuse:deny={m}"));
    }
    if let Some(c) = l.cpus {
        v.push(format!(
            "jail:{id}:pcpu:deny={}",
            (c * 100.0).round() as u64
        ));
    }
    if let Some(p) = l.pids {
        v.push(format!("jail:{id}:maxproc:deny={p}"));
    }
    v
}

impl FreeBsd {
    /// Limits need RACCT, off by default and switched on only at boot.
    pub(super) fn check_racct(&self, l: &Limits) -> Result<()> {
        if l.is_empty() {
            return Ok(());
        }
        let flag = if l.memory.is_some() {
            "--memory"
        } else if l.cpus.is_some() {
            "--cpus"
        } else {
            "--pids-limit"
        };
        match self.run(&["/sbin/sysctl", "-n", "kern.racct.enable"]) {
            Ok(o) if o.stdout.trim() == "1" => Ok(()),
            Ok(_) => Err(Error::Failed(format!(
                "cannot enforce {flag}: resource accounting is off; add kern.racct.enable=1 to /boot/loader.conf and reboot"
            ))),
            Err(_) => Err(Error::Failed(format!(
                "cannot enforce {flag}: this kernel has no resource accounting (RACCT/RCTL)"
            ))),
        }
    }

    /// Add the rules of `l` for jail `id` (an existing rule for the same
    /// resource is replaced).
    pub(super) fn add_limits(&self, id: &str, l: &Limits) -> Result<()> {
        let rules = rctl_rules(id, l);
        if rules.is_empty() {
            return Ok(());
        }
        let mut argv = vec!["/usr/bin/rctl", "-a"];
        argv.extend(rules.iter().map(String::as_str));
        self.run(&argv).map(drop)
    }

    /// Remove every rule of jail `id`.
    pub(super) fn remove_limits(&self, id: &str) -> Result<()> {
        self.run(&["/usr/bin/rctl", "-r", &format!("jail:{id}")])
            .map(drop)
    }

    /// A running jail's limits from `old` to `new`: changed ones replaced,
    /// dropped ones removed.
    pub(super) fn change_limits(&self, id: &str, old: &Limits, new: &Limits) -> Result<()> {
        self.check_racct(new)?;
        let changed = Limits {
            memory: new.memory.filter(|_| new.memory != old.memory),
            cpus: new.cpus.filter(|_| new.cpus != old.cpus),
            pids: new.pids.filter(|_| new.pids != old.pids),
        };
        self.add_limits(id, &changed)?;
        for (gone, resource) in [
            (old.memory.is_some() && new.memory.is_none(), "memoryuse"),
            (old.cpus.is_some() && new.cpus.is_none(), "pcpu"),
            (old.pids.is_some() && new.pids.is_none(), "maxproc"),
        ] {
            if gone {
                self.run(&["/usr/bin/rctl", "-r", &format!("jail:{id}:{resource}")])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_is_a_default_jail() {
        assert!(profile_params(&SecurityProfile::default(), &[]).is_empty());
    }

    #[test]
    fn capabilities_become_allow_parameters() {
        let mut p = SecurityProfile::default();
        p.capabilities.insert(CapSet::number("NET_RAW").unwrap());
        p.capabilities.insert(CapSet::number("SYS_ADMIN").unwrap());
        assert_eq!(
            profile_params(&p, &[]),
            ["allow.raw_sockets", "allow.mount", "enforce_statfs=1"]
        );
        // Given with -J: not repeated.
        assert_eq!(
            profile_params(&p, &["allow.raw_sockets".into(), "enforce_statfs=2".into()]),
            ["allow.mount"]
        );
        p.capabilities = CapSet::empty();
        p.proc_debug = false;
        assert_eq!(
            profile_params(&p, &[]),
            [
                "allow.noreserved_ports",
                "allow.nosuser",
                "allow.nounprivileged_proc_debug"
            ]
        );
        // The user's own allow.noraw_sockets counts as naming it.
        assert!(named(&["allow.noraw_sockets".into()], "allow.raw_sockets"));
    }

    #[test]
    fn privileged_is_every_allow() {
        let p = SecurityProfile::unconfined();
        let v = profile_params(&p, &[]);
        assert!(v.contains(&"allow.mount".to_string()));
        assert!(v.contains(&"devfs_ruleset=0".to_string()));
        assert_eq!(v.len(), 14);
    }

    #[test]
    fn limits_are_rctl_rules() {
        let l = Limits {
            memory: Some(64 << 20),
            cpus: Some(0.5),
            pids: Some(100),
        };
        assert_eq!(
            rctl_rules("abc", &l),
            [
                "jail:abc:memoryuse:deny=67108864",
                "jail:abc:pcpu:deny=50",
                "jail:abc:maxproc:deny=100"
            ]
        );
    }
}
