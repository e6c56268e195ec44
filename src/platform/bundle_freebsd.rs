//! The `freebsd` section of an OCI `config.json` (runtime-spec 1.3,
//! config-freebsd.md): the jail's parameters and extra devfs devices, as
//! plain data. The FreeBSD back end turns it into jail(8) parameters; it
//! is parsed and checked on every OS so a bad section is refused the same
//! way everywhere.

use serde::Deserialize;

/// `disable` / `new` / `inherit` (the spec's SharingMode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    Disable,
    New,
    Inherit,
}

impl Sharing {
    pub fn name(self) -> &'static str {
        match self {
            Sharing::Disable => "disable",
            Sharing::New => "new",
            Sharing::Inherit => "inherit",
        }
    }
}

/// `freebsd.devices[]`: a device under `/dev` to unhide, with its mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailDevice {
    /// Relative to `/dev` (`pf`, `bpf0`).
    pub path: String,
    pub mode: Option<u32>,
}

/// `freebsd.jail.allow`: the jail's `allow.*` permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JailAllow {
    pub set_hostname: Option<bool>,
    pub raw_sockets: Option<bool>,
    pub chflags: Option<bool>,
    /// Filesystem types the jail may mount (`tmpfs`, `nullfs`).
    pub mount: Option<Vec<String>>,
    pub quotas: Option<bool>,
    pub socket_af: Option<bool>,
    pub mlock: Option<bool>,
    pub reserved_ports: Option<bool>,
    pub suser: Option<bool>,
}

/// `freebsd.jail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JailSection {
    /// The jail this one is made in (its name becomes `parent.id`).
    pub parent: Option<String>,
    pub host: Option<Sharing>,
    pub ip4: Option<Sharing>,
    pub ip4_addr: Option<Vec<String>>,
    pub ip6: Option<Sharing>,
    pub ip6_addr: Option<Vec<String>>,
    pub vnet: Option<Sharing>,
    /// The host interface the jail's addresses are aliased on.
    pub interface: Option<String>,
    /// Interfaces moved into a new vnet for the jail's lifetime.
    pub vnet_interfaces: Option<Vec<String>>,
    pub sysvmsg: Option<Sharing>,
    pub sysvsem: Option<Sharing>,
    pub sysvshm: Option<Sharing>,
    pub enforce_statfs: Option<u8>,
    pub allow: Option<JailAllow>,
}

/// `freebsd` as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeBsdSection {
    #[serde(default)]
    pub devices: Vec<JailDevice>,
    #[serde(default)]
    pub jail: JailSection,
}

impl FreeBsdSection {
    /// Parse `freebsd` (a JSON value of config.json) and check what the
    /// schema cannot: every message names the field and its value.
    pub fn parse(v: &serde_json::Value) -> Result<FreeBsdSection, String> {
        let s: FreeBsdSection =
            serde_json::from_value(v.clone()).map_err(|e| format!("freebsd: {e}"))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), String> {
        let j = &self.jail;
        for (field, mode) in [("host", j.host), ("vnet", j.vnet)] {
            if mode == Some(Sharing::Disable) {
                return Err(format!(
                    "freebsd.jail.{field}: \"disable\" is not a value it takes (new or inherit)"
                ));
            }
        }
        if let Some(n) = j.enforce_statfs.filter(|n| *n > 2) {
            return Err(format!("freebsd.jail.enforceStatfs: {n} is not 0, 1 or 2"));
        }
        let vnet = j.vnet == Some(Sharing::New);
        for (field, addrs, mode, parse) in [
            ("ip4", &j.ip4_addr, j.ip4, is_ipv4 as fn(&str) -> bool),
            ("ip6", &j.ip6_addr, j.ip6, is_ipv6),
        ] {
            let Some(addrs) = addrs else { continue };
            if let Some(bad) = addrs.iter().find(|a| !parse(a)) {
                return Err(format!(
                    "freebsd.jail.{field}Addr: '{bad}' is not a numeric {} address",
                    if field == "ip4" { "IPv4" } else { "IPv6" }
                ));
            }
            if vnet && !addrs.is_empty() {
                return Err(format!(
                    "freebsd.jail.{field}Addr: a jail with vnet \"new\" sets its own addresses inside; leave {field}Addr unset"
                ));
            }
            if mode == Some(Sharing::Disable) && !addrs.is_empty() {
                return Err(format!(
                    "freebsd.jail.{field}Addr: addresses given but {field} is \"disable\""
                ));
            }
        }
        if !vnet && j.vnet_interfaces.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(
                "freebsd.jail.vnetInterfaces: interfaces move into a jail's own vnet; set vnet to \"new\""
                    .into(),
            );
        }
        for name in j.interface.iter().chain(j.vnet_interfaces.iter().flatten()) {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            {
                return Err(format!("freebsd.jail: '{name}' is not an interface name"));
            }
        }
        if let Some(p) = &j.parent {
            if p.is_empty() || p.contains('/') || p.chars().any(char::is_whitespace) {
                return Err(format!("freebsd.jail.parent: '{p}' is not a jail name"));
            }
        }
        for fs in j.allow.iter().flat_map(|a| a.mount.iter().flatten()) {
            if fs.is_empty() || !fs.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "freebsd.jail.allow.mount: '{fs}' is not a filesystem type"
                ));
            }
        }
        for d in &self.devices {
            let p = d.path.trim_start_matches('/');
            if p.is_empty() || p.split('/').any(|c| c == ".." || c.is_empty()) {
                return Err(format!(
                    "freebsd.devices: '{}' is not a path under /dev",
                    d.path
                ));
            }
            if let Some(m) = d.mode.filter(|m| *m > 0o7777) {
                return Err(format!(
                    "freebsd.devices: mode {m} of '{}' is not a file mode (at most 4095, octal 7777)",
                    d.path
                ));
            }
        }
        Ok(())
    }

    /// The jail's name: the container's ID, under its parent's.
    pub fn jail_name(&self, id: &str) -> String {
        match &self.jail.parent {
            Some(p) => format!("{p}.{id}"),
            None => id.to_string(),
        }
    }

    /// jail(8) parameters for `jail -c` beyond name, path and persist
    /// (the spec's mapping table). Booleans given as false are written
    /// out (`allow.noraw_sockets`): an explicit false beats a parent's
    /// or the kernel's default.
    pub fn jail_params(&self, hostname: &str, domainname: &str) -> Vec<String> {
        let j = &self.jail;
        let mut out = Vec::new();
        // A hostname implies a UTS of its own (as ocijail).
        let host = j
            .host
            .or((!hostname.is_empty() || !domainname.is_empty()).then_some(Sharing::New));
        if let Some(h) = host {
            out.push(format!("host={}", h.name()));
        }
        if host == Some(Sharing::New) {
            if !hostname.is_empty() {
                out.push(format!("host.hostname={hostname}"));
            }
            if !domainname.is_empty() {
                out.push(format!("host.domainname={domainname}"));
            }
        }
        match j.vnet {
            Some(Sharing::New) => out.push("vnet=new".into()),
            Some(m) => out.push(format!("vnet={}", m.name())),
            None => {}
        }
        for (name, mode, addrs) in [("ip4", j.ip4, &j.ip4_addr), ("ip6", j.ip6, &j.ip6_addr)] {
            let addrs: &[String] = addrs.as_deref().unwrap_or(&[]);
            match (mode, addrs.is_empty()) {
                (Some(m), _) => out.push(format!("{name}={}", m.name())),
                // Addresses alone restrict the jail to them (jail(8)'s
                // ip4=new is implied by ip4.addr).
                (None, false) => out.push(format!("{name}=new")),
                (None, true) => {}
            }
            if !addrs.is_empty() {
                out.push(format!("{name}.addr={}", addrs.join(",")));
            }
        }
        if let Some(i) = &j.interface {
            out.push(format!("interface={i}"));
        }
        for (name, mode) in [
            ("sysvmsg", j.sysvmsg),
            ("sysvsem", j.sysvsem),
            ("sysvshm", j.sysvshm),
        ] {
            if let Some(m) = mode {
                out.push(format!("{name}={}", m.name()));
            }
        }
        if let Some(n) = j.enforce_statfs {
            out.push(format!("enforce_statfs={n}"));
        }
        if let Some(a) = &j.allow {
            for (name, v) in [
                ("set_hostname", a.set_hostname),
                ("raw_sockets", a.raw_sockets),
                ("chflags", a.chflags),
                ("quotas", a.quotas),
                ("socket_af", a.socket_af),
                ("mlock", a.mlock),
                ("reserved_ports", a.reserved_ports),
                ("suser", a.suser),
            ] {
                match v {
                    Some(true) => out.push(format!("allow.{name}")),
                    Some(false) => out.push(format!("allow.no{name}")),
                    None => {}
                }
            }
            if let Some(types) = a.mount.as_ref().filter(|t| !t.is_empty()) {
                out.push("allow.mount".into());
                out.extend(types.iter().map(|t| format!("allow.mount.{t}")));
            }
        }
        out
    }
}

fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

fn is_ipv6(s: &str) -> bool {
    s.parse::<std::net::Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<FreeBsdSection, String> {
        FreeBsdSection::parse(&v)
    }

    #[test]
    fn the_specs_example_maps_to_jail_parameters() {
        let s = parse(json!({
            "devices": [{"path": "pf", "mode": 448}],
            "jail": {"host": "new", "vnet": "new", "enforceStatfs": 1,
                     "allow": {"rawSockets": true, "chflags": true, "mount": ["tmpfs"]}}
        }))
        .unwrap();
        assert_eq!(s.devices[0].mode, Some(0o700));
        assert_eq!(
            s.jail_params("slartibartfast", "").join(" "),
            "host=new host.hostname=slartibartfast vnet=new enforce_statfs=1 \
             allow.raw_sockets allow.chflags allow.mount allow.mount.tmpfs"
        );
        assert_eq!(s.jail_name("c1"), "c1");
    }

    #[test]
    fn addresses_sharing_modes_and_explicit_falses() {
        let s = parse(json!({"jail": {
            "parent": "pod1", "ip4Addr": ["10.0.0.5", "10.0.0.6"], "ip6": "disable",
            "interface": "lo1", "sysvshm": "inherit", "host": "inherit",
            "allow": {"suser": false, "setHostname": true}
        }}))
        .unwrap();
        assert_eq!(
            s.jail_params("ignored", "").join(" "),
            "host=inherit ip4=new ip4.addr=10.0.0.5,10.0.0.6 ip6=disable interface=lo1 \
             sysvshm=inherit allow.set_hostname allow.nosuser"
        );
        assert_eq!(s.jail_name("c1"), "pod1.c1");
        assert_eq!(
            parse(json!({})).unwrap().jail_params("", ""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bad_sections_are_refused_with_the_field_and_value() {
        let err = |v| parse(v).unwrap_err();
        assert!(err(json!({"jail": {"vnet": "disable"}})).contains("freebsd.jail.vnet"));
        assert!(err(json!({"jail": {"ip4": "sometimes"}})).contains("sometimes"));
        assert!(err(json!({"jail": {"rawSockets": true}})).contains("rawSockets"));
        assert!(err(json!({"jail": {"enforceStatfs": 3}})).contains("3 is not 0, 1 or 2"));
        assert!(err(json!({"jail": {"ip4Addr": ["10.0.0.300"]}})).contains("'10.0.0.300'"));
        assert!(
            err(json!({"jail": {"vnet": "new", "ip4Addr": ["10.0.0.3"]}})).contains("vnet \"new\"")
        );
        assert!(err(json!({"jail": {"vnetInterfaces": ["epair0b"]}})).contains("set vnet"));
        assert!(err(json!({"devices": [{"path": "../mem"}]})).contains("'../mem'"));
        assert!(err(json!({"devices": [{"path": "pf", "mode": 70000}]})).contains("70000"));
        assert!(err(json!({"jail": {"allow": {"mount": ["tmp fs"]}}})).contains("'tmp fs'"));
    }
}
