//! Networks (kleened's model: `loopback`, `bridge` or `custom`; IPv4 and
//! IPv6 subnets; `<auto>` gateways; NAT, icc, internal): create, look up,
//! remove. Containers join them through endpoints (`endpoint.rs`); the
//! platform makes the links and loads the firewall (`firewall.rs`).

use std::net::IpAddr;

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::id::{self, Match};
use super::ipnet::Subnet;
use super::store::{is_unique_violation, store_err};
use super::{time, Engine};
use crate::platform::{failpoint, NetworkSpec};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// `loopback`, `bridge` or `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    pub interface: String,
    #[serde(default)]
    pub subnet: String,
    #[serde(default)]
    pub subnet6: String,
    /// As given: "", an address, or `<auto>`.
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub gateway6: String,
    /// The NAT interface (resolved), or "" for none.
    #[serde(default)]
    pub nat: String,
    pub icc: bool,
    pub internal: bool,
    pub created: String,
}

/// What `network create` takes.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub name: String,
    pub kind: String,
    /// "" picks the first unused `kleeneN`.
    pub interface: String,
    pub subnet: String,
    pub subnet6: String,
    pub gateway: String,
    pub gateway6: String,
    /// `None`: through the host's default-route interface; `Some("")`: no NAT.
    pub nat: Option<String>,
    pub icc: bool,
    pub internal: bool,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            name: String::new(),
            kind: "loopback".into(),
            interface: String::new(),
            subnet: String::new(),
            subnet6: String::new(),
            gateway: String::new(),
            gateway6: String::new(),
            nat: None,
            icc: true,
            internal: false,
        }
    }
}

fn parse_subnet(field: &'static str, s: &str, v6: bool) -> Result<Option<Subnet>> {
    if s.is_empty() {
        return Ok(None);
    }
    let net: Subnet = s.parse().map_err(|e: String| Error::invalid(field, s, e))?;
    if net.is_v6() != v6 {
        return Err(Error::invalid(field, s, "wrong IP protocol"));
    }
    Ok(Some(net))
}

fn check_gateway(field: &'static str, g: &str, subnet: Option<&Subnet>, v6: bool) -> Result<()> {
    if g.is_empty() || g == "<auto>" {
        return Ok(());
    }
    let ip: IpAddr = g
        .parse()
        .map_err(|_| Error::invalid(field, g, "not an IP address"))?;
    if ip.is_ipv6() != v6 {
        return Err(Error::invalid(field, g, "wrong IP protocol"));
    }
    if let Some(s) = subnet {
        if !s.is_host(ip) {
            return Err(Error::invalid(
                field,
                g,
                format!("not a host address of {s}"),
            ));
        }
    }
    Ok(())
}

/// The gateway address to put on the interface (`<auto>`: the first host).
fn gateway_address(g: &str, subnet: Option<&Subnet>) -> String {
    match (g, subnet) {
        ("<auto>", Some(s)) => format!("{}/{}", s.first_host(), s.prefix),
        ("", _) | ("<auto>", None) => String::new(),
        (ip, Some(s)) => format!("{ip}/{}", s.prefix),
        (ip, None) => ip.to_string(),
    }
}

impl Network {
    pub fn spec(&self) -> NetworkSpec {
        let s4 = self.subnet.parse::<Subnet>().ok();
        let s6 = self.subnet6.parse::<Subnet>().ok();
        NetworkSpec {
            kind: self.kind.clone(),
            interface: self.interface.clone(),
            gateway: if self.kind == "bridge" {
                gateway_address(&self.gateway, s4.as_ref())
            } else {
                String::new()
            },
            gateway6: if self.kind == "bridge" {
                gateway_address(&self.gateway6, s6.as_ref())
            } else {
                String::new()
            },
        }
    }
}

impl Engine {
    pub fn networks(&self) -> Result<Vec<Network>> {
        self.store
            .objects("network", "SELECT id, data FROM networks ORDER BY name")
    }

    /// Look a network up by ID, exact name or unique ID prefix.
    pub fn network(&self, ident: &str) -> Result<Network> {
        if ident.is_empty() {
            return Err(Error::EmptyIdent { kind: "network" });
        }
        let cands: Vec<(String, String)> = self
            .networks()?
            .into_iter()
            .map(|n| (n.id, n.name))
            .collect();
        match id::resolve(ident, &cands) {
            Match::One(id) => {
                let id = id.to_string();
                self.networks()?
                    .into_iter()
                    .find(|n| n.id == id)
                    .ok_or(Error::NotFound {
                        kind: "network",
                        ident: ident.into(),
                    })
            }
            Match::None => Err(Error::NotFound {
                kind: "network",
                ident: ident.into(),
            }),
            Match::Ambiguous(candidates) => Err(Error::Ambiguous {
                kind: "network",
                ident: ident.into(),
                candidates,
            }),
        }
    }

    /// Create a network: validate, make its link, store it, reload the firewall.
    /// A host route `subnet` overlaps (`ADDR/PREFIX dev IF`), the default
    /// route aside: a subnet to pass over when picking a free one.
    pub fn subnet_routed(&self, subnet: &str) -> Result<Option<String>> {
        let s: super::ipnet::Subnet = subnet
            .parse()
            .map_err(|e: String| Error::invalid("subnet", subnet, e))?;
        Ok(self
            .platform
            .host_routes()
            .into_iter()
            .find(|(r, _)| {
                r.parse::<super::ipnet::Subnet>()
                    .is_ok_and(|r| r.overlaps(&s))
            })
            .map(|(r, dev)| format!("{r} dev {dev}")))
    }

    pub fn network_create(&mut self, cfg: &NetworkConfig) -> Result<Network> {
        id::check_name("network name", &cfg.name)?;
        if !matches!(cfg.kind.as_str(), "loopback" | "bridge" | "custom") {
            return Err(Error::invalid(
                "network type",
                cfg.kind.as_str(),
                "expected loopback, bridge or custom",
            ));
        }
        let existing = self.networks()?;
        if existing.iter().any(|n| n.name == cfg.name) {
            return Err(Error::Conflict("network name is already taken".into()));
        }
        let s4 = parse_subnet("subnet", &cfg.subnet, false)?;
        let s6 = parse_subnet("subnet6", &cfg.subnet6, true)?;
        check_gateway("gateway", &cfg.gateway, s4.as_ref(), false)?;
        check_gateway("gateway6", &cfg.gateway6, s6.as_ref(), true)?;
        for n in &existing {
            for (mine, theirs) in [
                (s4, n.subnet.parse::<Subnet>().ok()),
                (s6, n.subnet6.parse::<Subnet>().ok()),
            ] {
                if let (Some(a), Some(b)) = (mine, theirs) {
                    if a.overlaps(&b) {
                        return Err(Error::Conflict(format!(
                            "subnet {a} overlaps {b} of network '{}'",
                            n.name
                        )));
                    }
                }
            }
        }
        let interface = if cfg.interface.is_empty() {
            if cfg.kind == "custom" {
                return Err(Error::invalid(
                    "network",
                    cfg.name.as_str(),
                    "a custom network needs --interface",
                ));
            }
            let used: Vec<&str> = existing.iter().map(|n| n.interface.as_str()).collect();
            (0..)
                .map(|n| format!("kleene{n}"))
                .find(|i| !used.contains(&i.as_str()) && !self.platform.interface_exists(i))
                .expect("an unused interface name exists")
        } else {
            if cfg.interface.len() > 15 {
                return Err(Error::invalid(
                    "interface",
                    cfg.interface.as_str(),
                    "at most 15 characters",
                ));
            }
            if let Some(n) = existing.iter().find(|n| n.interface == cfg.interface) {
                return Err(Error::Conflict(format!(
                    "interface '{}' is already used by network '{}'",
                    cfg.interface, n.name
                )));
            }
            match cfg.kind.as_str() {
                "custom" if !self.platform.interface_exists(&cfg.interface) => {
                    return Err(Error::invalid(
                        "interface",
                        cfg.interface.as_str(),
                        "no such interface on the host",
                    ))
                }
                // Never take over (and destroy) an interface someone uses (kleened did).
                "loopback" | "bridge" if self.platform.interface_exists(&cfg.interface) => {
                    return Err(Error::Conflict(format!(
                        "interface '{}' already exists on the host",
                        cfg.interface
                    )))
                }
                _ => {}
            }
            cfg.interface.clone()
        };
        let nat = match &cfg.nat {
            None => self.platform.host_gateway().unwrap_or_default(),
            Some(n) => n.clone(),
        };
        let net = Network {
            id: id::new_id(),
            name: cfg.name.clone(),
            kind: cfg.kind.clone(),
            interface,
            subnet: s4.map(|s| s.to_string()).unwrap_or_default(),
            subnet6: s6.map(|s| s.to_string()).unwrap_or_default(),
            gateway: cfg.gateway.clone(),
            gateway6: cfg.gateway6.clone(),
            nat,
            icc: cfg.icc,
            internal: cfg.internal,
            created: time::now(),
        };
        // The row first, then the link: a crash in between leaves a row
        // whose link is missing, which `system check --repair` makes.
        let mut net = net;
        let _lock = self.lock_object("network", &net.id)?;
        self.insert_network(&net)?;
        let made = self.make_link(&mut net, cfg, &existing);
        let loaded = made.and_then(|_| self.reload_firewall());
        if let Err(e) = loaded {
            // Nothing of the network stays: no link, no row, no rules.
            if net.kind != "custom" {
                let _ = self.platform.destroy_network(&net.spec(), &[]);
            }
            let _ = self.delete_network_row(&net.id);
            let _ = self.reload_firewall();
            return Err(e);
        }
        Ok(net)
    }

    fn insert_network(&mut self, net: &Network) -> Result<()> {
        let data = serde_json::to_string(net).expect("network serialises");
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute(
                "INSERT INTO networks (id, name, created, data) VALUES (?1, ?2, ?3, ?4)",
                params![net.id, net.name, net.created, data],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict("network name is already taken".into())
                } else {
                    store_err(&path, e)
                }
            })
            .map(drop)
        })
    }

    fn delete_network_row(&mut self, id: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute("DELETE FROM networks WHERE id = ?1", [id])
                .map_err(|e| store_err(&path, e))
                .map(drop)
        })
    }

    /// Make the network's link (none for a custom network). Another process
    /// may take the name we picked between our look and our create: then
    /// the next free name (recorded in the row), a few times.
    fn make_link(
        &mut self,
        net: &mut Network,
        cfg: &NetworkConfig,
        existing: &[Network],
    ) -> Result<()> {
        if net.kind == "custom" {
            return Ok(());
        }
        let mut tries = 0;
        while let Err(e) = self.platform.create_network(&net.spec()) {
            tries += 1;
            let raced = cfg.interface.is_empty() && self.platform.interface_exists(&net.interface);
            if !raced || tries == 5 {
                return Err(e.into());
            }
            net.interface = (0..)
                .map(|n| format!("kleene{n}"))
                .find(|i| {
                    !existing.iter().any(|n| &n.interface == i)
                        && !self.platform.interface_exists(i)
                })
                .expect("an unused interface name exists");
            let data = serde_json::to_string(&*net).expect("network serialises");
            let path = self.store.path().to_path_buf();
            self.store.write(|tx| {
                tx.execute(
                    "UPDATE networks SET data = ?2 WHERE id = ?1",
                    params![net.id, data],
                )
                .map_err(|e| store_err(&path, e))
                .map(drop)
            })?;
        }
        Ok(())
    }

    /// Remove a network: disconnect its containers, drop its link and row.
    pub fn network_remove(&mut self, ident: &str) -> Result<Network> {
        let net = self.network(ident)?;
        for ep in self
            .endpoints()?
            .into_iter()
            .filter(|e| e.network_id == net.id)
        {
            self.network_disconnect(&net.id, &ep.container_id)?;
        }
        // The link first, the row last: a crash in between leaves a row
        // without its link, which `system check --repair` makes again (and
        // `network rm` then removes).
        let _lock = self.lock_object("network", &net.id)?;
        if net.kind != "custom" {
            self.platform.destroy_network(&net.spec(), &[])?;
        }
        failpoint::check("network.remove.row")?;
        self.delete_network_row(&net.id)?;
        self.reload_firewall()?;
        Ok(net)
    }

    /// Remove every network without endpoints.
    pub fn network_prune(&mut self) -> Result<Vec<String>> {
        let used: Vec<String> = self
            .endpoints()?
            .into_iter()
            .map(|e| e.network_id)
            .collect();
        let mut removed = Vec::new();
        for n in self.networks()? {
            if !used.contains(&n.id) {
                self.network_remove(&n.id)?;
                removed.push(n.id);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways() {
        let s: Subnet = "10.1.0.0/24".parse().unwrap();
        assert_eq!(gateway_address("<auto>", Some(&s)), "10.1.0.1/24");
        assert_eq!(gateway_address("10.1.0.9", Some(&s)), "10.1.0.9/24");
        assert_eq!(gateway_address("", Some(&s)), "");
        assert!(check_gateway("gateway", "fd00::1", Some(&s), false)
            .unwrap_err()
            .to_string()
            .contains("wrong IP protocol"));
        assert!(check_gateway("gateway", "10.2.0.1", Some(&s), false)
            .unwrap_err()
            .to_string()
            .contains("not a host address"));
        assert_eq!(
            parse_subnet("subnet6", "10.0.0.0/8", true)
                .unwrap_err()
                .to_string(),
            "invalid subnet6 '10.0.0.0/8': wrong IP protocol"
        );
        assert_eq!(
            parse_subnet("subnet", "172.18.0.0-16", false)
                .unwrap_err()
                .to_string(),
            "invalid subnet '172.18.0.0-16': could not parse cidr block: \"172.18.0.0-16\""
        );
    }
}
