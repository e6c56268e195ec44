//! A container's confinement options, as stored, and the
//! [`SecurityProfile`] they make together with its jail parameters. Every
//! front end (CLI flags, DSL option maps, API fields) goes through
//! [`SecurityOptions::parse`], so they accept the same words and give the
//! same errors.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::jail_params;
use crate::platform::seccomp::Profile as SeccompProfile;
use crate::platform::security::{CapSet, SeccompPolicy, SecurityProfile};

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a container was created with; the profile is derived from it at
/// each start, so a newer kleene's default applies to old containers too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityConfig {
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// `CAP_…` names or `ALL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_new_privileges: bool,
    /// `unconfined`, or a profile in Docker's JSON format (the file's text,
    /// kept so the container does not depend on the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<String>,
    /// `systempaths=unconfined`: no masked or read-only kernel paths.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unmask_paths: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub init: bool,
}

/// Confinement options as a front end takes them.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only: bool,
    /// Docker's `--security-opt` words.
    pub security_opt: Vec<String>,
    pub init: bool,
}

/// A capability name normalised to `CAP_X`, or `ALL`.
fn cap_name(s: &str) -> Result<String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok("ALL".into());
    }
    match CapSet::number(s) {
        Some(n) => Ok(format!(
            "CAP_{}",
            crate::platform::security::CAPABILITIES[n as usize]
        )),
        None => Err(Error::invalid(
            "capability",
            s,
            "unknown capability; expected a name such as NET_RAW or CAP_SYS_ADMIN, or ALL (see docs/security.md)",
        )),
    }
}

fn opt_bool(opt: &str, v: &str) -> Result<bool> {
    match v {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid(
            "security option",
            opt,
            "expected true or false",
        )),
    }
}

impl SecurityOptions {
    /// Check and normalise; a seccomp profile file is read and validated
    /// now, so a bad one fails the create, not a later start.
    pub fn parse(&self) -> Result<SecurityConfig> {
        let mut c = SecurityConfig {
            privileged: self.privileged,
            read_only: self.read_only,
            init: self.init,
            ..SecurityConfig::default()
        };
        for (list, out) in [
            (&self.cap_add, &mut c.cap_add),
            (&self.cap_drop, &mut c.cap_drop),
        ] {
            for s in list {
                if s.trim().is_empty() {
                    return Err(Error::invalid(
                        "capability",
                        s.as_str(),
                        "an empty name; expected a name such as NET_RAW, or ALL",
                    ));
                }
                // `--cap-add A,B` as Docker's compose and API users write it.
                for one in s.split(',').filter(|x| !x.trim().is_empty()) {
                    let n = cap_name(one)?;
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        if let Some(both) = c.cap_add.iter().find(|a| c.cap_drop.contains(a)) {
            return Err(Error::invalid(
                "capability",
                both.as_str(),
                "it is both added (--cap-add) and dropped (--cap-drop)",
            ));
        }
        for o in &self.security_opt {
            let (key, value) = match o.split_once(['=', ':']) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (o.trim(), ""),
            };
            match key {
                "no-new-privileges" => c.no_new_privileges = opt_bool(o, value)?,
                "seccomp" => c.seccomp = seccomp_option(o, value)?,
                "systempaths" if value == "unconfined" => c.unmask_paths = true,
                // True of every kleene container: accepted, nothing to do.
                "apparmor" if value == "unconfined" => {}
                "label" if value == "disable" => {}
                "apparmor" | "label" => {
                    return Err(Error::invalid(
                        "security option",
                        o.as_str(),
                        "kleene does not use AppArmor or SELinux; only apparmor=unconfined and label=disable are accepted",
                    ))
                }
                _ => {
                    return Err(Error::invalid(
                        "security option",
                        o.as_str(),
                        "expected no-new-privileges[=true|false], seccomp=unconfined|FILE.json or systempaths=unconfined",
                    ))
                }
            }
        }
        Ok(c)
    }
}

/// `unconfined`, `default`/`builtin`, a profile's JSON text (the API sends
/// the text, as Docker's does) or a file holding one.
fn seccomp_option(opt: &str, value: &str) -> Result<Option<String>> {
    match value {
        "unconfined" => return Ok(Some("unconfined".into())),
        "default" | "builtin" => return Ok(None),
        "" => {
            return Err(Error::invalid(
                "security option",
                opt,
                "seccomp needs a value: unconfined, default or a profile file",
            ))
        }
        _ => {}
    }
    let (text, origin) = if value.starts_with('{') {
        (value.to_string(), "the profile".to_string())
    } else {
        let text = std::fs::read_to_string(value).map_err(|e| {
            Error::invalid(
                "security option",
                opt,
                format!("cannot read seccomp profile '{value}': {e}"),
            )
        })?;
        (text, format!("seccomp profile '{value}'"))
    };
    SeccompProfile::parse(&text)
        .map_err(|e| Error::invalid("security option", opt, format!("{origin}: {e}")))?;
    Ok(Some(text))
}

/// A container's profile and what its jail parameters mean here.
#[derive(Debug, Clone, PartialEq)]
pub struct Confinement {
    pub profile: SecurityProfile,
    /// From `host.hostname`.
    pub hostname: Option<String>,
    /// Jail parameters with no Linux meaning (FreeBSD uses them all).
    pub freebsd_only: Vec<String>,
}

impl SecurityConfig {
    /// The seccomp policy asked for, or `otherwise`.
    fn seccomp_policy(&self, otherwise: SeccompPolicy) -> Result<SeccompPolicy> {
        Ok(match self.seccomp.as_deref() {
            None => otherwise,
            Some("unconfined") => SeccompPolicy::Unconfined,
            Some(text) => SeccompPolicy::Custom(Box::new(
                SeccompProfile::parse(text)
                    .map_err(|e| Error::invalid("seccomp profile", "(stored)", e))?,
            )),
        })
    }

    /// The profile of a container with these options and jail parameters.
    /// rkt's fly mode is unconfined by design.
    pub fn confinement(&self, jail_params: &[String], fly: bool) -> Result<Confinement> {
        let fx = jail_params::effects(jail_params)?;
        let mut p = if fly || self.privileged {
            SecurityProfile::unconfined()
        } else {
            SecurityProfile::default()
        };
        if !fly && !self.privileged {
            let mut caps = p.capabilities;
            caps.0 |= fx.grant.0;
            caps.0 &= !fx.revoke.0;
            if fx.no_superuser {
                caps = CapSet::empty();
            }
            let named = |v: &Vec<String>| {
                let mut s = CapSet::empty();
                for n in v.iter().filter(|n| *n != "ALL") {
                    s.insert(CapSet::number(n).expect("names were checked"));
                }
                s
            };
            let (add, drop) = (named(&self.cap_add), named(&self.cap_drop));
            caps = if self.cap_add.iter().any(|a| a == "ALL") {
                CapSet(CapSet::all().0 & !drop.0)
            } else if self.cap_drop.iter().any(|d| d == "ALL") {
                add
            } else {
                CapSet((caps.0 | add.0) & !drop.0)
            };
            p.capabilities = caps;
            if let Some(d) = fx.proc_debug {
                p.proc_debug = d;
            }
            p.seccomp = self.seccomp_policy(SeccompPolicy::Default)?;
            if self.unmask_paths {
                p.masked_paths.clear();
                p.readonly_paths.clear();
            }
        } else if fly {
            // Unconfined by design, but what the user takes away explicitly
            // is taken away: dropped capabilities, a seccomp profile.
            if self.cap_drop.iter().any(|d| d == "ALL") {
                p.capabilities = CapSet::empty();
            }
            for d in self.cap_drop.iter().filter(|d| *d != "ALL") {
                p.capabilities
                    .remove(CapSet::number(d).expect("names were checked"));
            }
            p.seccomp = self.seccomp_policy(SeccompPolicy::Unconfined)?;
        }
        p.no_new_privileges = self.no_new_privileges;
        p.read_only_rootfs = self.read_only;
        p.init = self.init;
        Ok(Confinement {
            profile: p,
            hostname: fx.hostname,
            freebsd_only: fx.freebsd_only,
        })
    }
}

/// How `inspect` shows a container's confinement.
#[derive(Debug, Clone, Serialize)]
pub struct ConfinementView {
    pub privileged: bool,
    pub capabilities: Vec<String>,
    pub seccomp: &'static str,
    pub no_new_privileges: bool,
    pub read_only_rootfs: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub init: bool,
    /// Jail parameters that only FreeBSD applies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freebsd_only: Vec<String>,
}

impl From<&Confinement> for ConfinementView {
    fn from(c: &Confinement) -> Self {
        let p = &c.profile;
        ConfinementView {
            privileged: p.privileged,
            capabilities: p.capabilities.names(),
            seccomp: p.seccomp.describe(),
            no_new_privileges: p.no_new_privileges,
            read_only_rootfs: p.read_only_rootfs,
            masked_paths: p.masked_paths.clone(),
            readonly_paths: p.readonly_paths.clone(),
            init: p.init,
            freebsd_only: c.freebsd_only.clone(),
        }
    }
}

/// `inspect`: a container and the confinement its options make.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerInspect {
    #[serde(flatten)]
    pub container: super::Container,
    pub confinement: ConfinementView,
    /// The networks it is connected to, with its addresses there.
    pub networks: Vec<NetworkView>,
}

/// A container's place on a network, for `inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkView {
    pub network: String,
    pub network_id: String,
    pub endpoint_id: String,
    pub ip_address: String,
    pub ip_address6: String,
}

impl super::Engine {
    pub fn container_inspect(&self, ident: &str) -> Result<ContainerInspect> {
        let container = self.container(ident)?;
        let conf = container
            .security
            .confinement(&container.jail_param, container.fly)?;
        let nets = self.networks()?;
        let networks = self
            .endpoints()?
            .into_iter()
            .filter(|ep| ep.container_id == container.id)
            .map(|ep| NetworkView {
                network: nets
                    .iter()
                    .find(|n| n.id == ep.network_id)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                network_id: ep.network_id,
                endpoint_id: ep.id,
                ip_address: ep.ip_address,
                ip_address6: ep.ip_address6,
            })
            .collect();
        Ok(ContainerInspect {
            confinement: ConfinementView::from(&conf),
            container,
            networks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add: &[&str], drop: &[&str], sec: &[&str]) -> SecurityOptions {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        SecurityOptions {
            cap_add: v(add),
            cap_drop: v(drop),
            security_opt: v(sec),
            ..Default::default()
        }
    }

    fn caps(c: &SecurityConfig, jail: &[&str]) -> Vec<String> {
        let j: Vec<String> = jail.iter().map(|s| s.to_string()).collect();
        c.confinement(&j, false)
            .unwrap()
            .profile
            .capabilities
            .names()
    }

    #[test]
    fn default_profile() {
        let c = SecurityOptions::default().parse().unwrap();
        let p = c.confinement(&[], false).unwrap().profile;
        assert_eq!(p.capabilities.names().len(), 12);
        assert_eq!(p.seccomp, SeccompPolicy::Default);
        assert!(p.masked_paths.iter().any(|m| m == "/proc/keys"));
        assert!(p.readonly_paths.iter().any(|m| m == "/proc/sys"));
        assert!(!p.privileged && !p.no_new_privileges && p.proc_debug);
    }

    #[test]
    fn cap_add_and_drop() {
        let c = opts(&["net_raw", "CAP_SYS_ADMIN"], &["chown"], &[])
            .parse()
            .unwrap();
        assert_eq!(c.cap_add, vec!["CAP_NET_RAW", "CAP_SYS_ADMIN"]);
        let names = caps(&c, &[]);
        assert!(names.contains(&"CAP_NET_RAW".to_string()));
        assert!(names.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(!names.contains(&"CAP_CHOWN".to_string()));
        assert!(caps(&opts(&[], &["ALL"], &[]).parse().unwrap(), &[]).is_empty());
        assert_eq!(
            caps(&opts(&["kill"], &["all"], &[]).parse().unwrap(), &[]),
            vec!["CAP_KILL"]
        );
        assert_eq!(
            caps(&opts(&["ALL"], &["SYS_ADMIN"], &[]).parse().unwrap(), &[]).len(),
            40
        );
        let e = opts(&["CAP_NOPE"], &[], &[])
            .parse()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid capability 'CAP_NOPE': unknown capability"),
            "{e}"
        );
        let e = opts(&["ALL"], &["all"], &[])
            .parse()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid capability 'ALL': it is both added (--cap-add) and dropped (--cap-drop)"
        );
        let e = opts(&[""], &[], &[]).parse().unwrap_err().to_string();
        assert!(e.starts_with("invalid capability '': an empty name"), "{e}");
        let e = opts(&["KILL"], &["kill"], &[])
            .parse()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid capability 'CAP_KILL': it is both added (--cap-add) and dropped (--cap-drop)"
        );
    }

    #[test]
    fn jail_parameters_change_the_profile() {
        let c = SecurityConfig::default();
        assert!(caps(&c, &["allow.raw_sockets"]).contains(&"CAP_NET_RAW".to_string()));
        assert!(caps(&c, &["allow.mount"]).contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(
            !caps(&c, &["allow.reserved_ports=0"]).contains(&"CAP_NET_BIND_SERVICE".to_string())
        );
        assert!(caps(&c, &["allow.suser=0"]).is_empty());
        let conf = c
            .confinement(
                &[
                    "allow.unprivileged_proc_debug=0".into(),
                    "exec.stop=x".into(),
                ],
                false,
            )
            .unwrap();
        assert!(!conf.profile.proc_debug);
        assert_eq!(conf.freebsd_only, vec!["exec.stop=x"]);
        // An explicit --cap-drop wins over a jail parameter.
        let c = opts(&[], &["NET_RAW"], &[]).parse().unwrap();
        assert!(!caps(&c, &["allow.raw_sockets"]).contains(&"CAP_NET_RAW".to_string()));
    }

    #[test]
    fn security_options() {
        let c = opts(&[], &[], &["no-new-privileges", "seccomp=unconfined"])
            .parse()
            .unwrap();
        assert!(c.no_new_privileges);
        assert_eq!(c.seccomp.as_deref(), Some("unconfined"));
        let c = opts(&[], &[], &["no-new-privileges:false"])
            .parse()
            .unwrap();
        assert!(!c.no_new_privileges);
        let e = opts(&[], &[], &["seccomp=/nonexistent.json"])
            .parse()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid security option 'seccomp=/nonexistent.json': cannot read seccomp profile '/nonexistent.json': "),
            "{e}"
        );
        let e = opts(&[], &[], &["seccomp={\"defaultAction\": 3}"])
            .parse()
            .unwrap_err()
            .to_string();
        assert!(e.contains("the profile: invalid type"), "{e}");
        let e = opts(&[], &[], &["apparmor=docker-default"])
            .parse()
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not use AppArmor"), "{e}");
        assert!(opts(&[], &[], &["wings=on"]).parse().is_err());
        let c = opts(&[], &[], &["systempaths=unconfined"]).parse().unwrap();
        let p = c.confinement(&[], false).unwrap().profile;
        assert!(p.masked_paths.is_empty() && p.readonly_paths.is_empty());
    }

    #[test]
    fn privileged_and_fly_are_unconfined() {
        let c = SecurityOptions {
            privileged: true,
            ..Default::default()
        }
        .parse()
        .unwrap();
        let p = c.confinement(&[], false).unwrap().profile;
        assert!(p.privileged && p.capabilities == CapSet::all());
        assert_eq!(p.seccomp, SeccompPolicy::Unconfined);
        assert!(p.masked_paths.is_empty());
        let p = SecurityConfig::default()
            .confinement(&[], true)
            .unwrap()
            .profile;
        assert_eq!(p.seccomp, SeccompPolicy::Unconfined);
        // What is taken away explicitly is taken away, even in fly mode.
        let c = opts(
            &[],
            &["ALL"],
            &["seccomp={\"defaultAction\": \"SCMP_ACT_ALLOW\"}"],
        )
        .parse()
        .unwrap();
        let p = c.confinement(&[], true).unwrap().profile;
        assert_eq!(p.capabilities, CapSet::empty());
        assert!(matches!(p.seccomp, SeccompPolicy::Custom(_)));
        let c = opts(&[], &["NET_RAW"], &[]).parse().unwrap();
        let p = c.confinement(&[], true).unwrap().profile;
        assert!(!p.capabilities.has_named("NET_RAW") && p.capabilities.has_named("SYS_ADMIN"));
    }
}
