//! Endpoints: a container's place in a network (its addresses there, and
//! its vnet link while it runs). Connecting allocates addresses and checks
//! kleened's driver/type matrix; a running container's links follow.

use std::net::IpAddr;

use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::id;
use super::ipnet::Subnet;
use super::network::Network;
use super::store::{is_unique_violation, store_err};
use super::Engine;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub network_id: String,
    pub container_id: String,
    /// The vnet link's base name while the container runs.
    #[serde(default)]
    pub epair: Option<String>,
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub ip_address6: String,
}

/// A network a container joins when it is created (`klee create/run -n`):
/// its endpoint is written with the container's row, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub network: String,
    /// "" (none), `<auto>` or an address.
    pub ip: String,
    pub ip6: String,
}

/// kleened's driver/type matrix: may a container with `driver` (running
/// or not) join `net`?
pub(crate) fn check_driver(net: &Network, driver: &str, running: bool) -> Result<()> {
    match (driver, net.kind.as_str()) {
        ("disabled", _) => Err(Error::State(
            "containers with the 'disabled' network-driver cannot connect to networks.".into(),
        )),
        ("host", _) => Err(Error::State(
            "containers with the 'host' network-driver cannot connect to networks.".into(),
        )),
        ("vnet", "loopback" | "custom") => Err(Error::State(format!(
            "containers using the 'vnet' network-driver can't connect to {} networks",
            net.kind
        ))),
        ("vnet", _) if running => Err(Error::State(
            "cannot connect a running vnet container to a network".into(),
        )),
        ("ipnet" | "vnet", _) => Ok(()),
        (other, _) => Err(Error::invalid(
            "network driver",
            other,
            "expected ipnet, vnet, host or disabled",
        )),
    }
}

/// Allocate the addresses and write the endpoint of container `cid` in
/// `net`, inside the write transaction `tx`: two connects at once can
/// never take the same address.
pub(crate) fn add_endpoint_tx(
    tx: &Transaction,
    net: &Network,
    cid: &str,
    ip: &str,
    ip6: &str,
) -> Result<Endpoint> {
    let path = std::path::Path::new("metadata.sqlite");
    let endpoints: Vec<Endpoint> = {
        let mut st = tx
            .prepare("SELECT id, data FROM endpoints WHERE network_id = ?1")
            .map_err(|e| store_err(path, e))?;
        let rows: Vec<(String, String)> = st
            .query_map([&net.id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(|e| store_err(path, e))?;
        rows.iter()
            .map(|(id, d)| super::error::decode("endpoint", id, d))
            .collect::<Result<_>>()?
    };
    if endpoints.iter().any(|e| e.container_id == cid) {
        return Err(Error::Conflict(
            "container already connected to the network".into(),
        ));
    }
    let taken = |v6: bool| -> Vec<IpAddr> {
        let mut t: Vec<IpAddr> = endpoints
            .iter()
            .filter_map(|e| {
                if v6 {
                    e.ip_address6.parse().ok()
                } else {
                    e.ip_address.parse().ok()
                }
            })
            .collect();
        // The bridge's own gateway address is taken too.
        let gw = if v6 { &net.gateway6 } else { &net.gateway };
        let subnet = if v6 { &net.subnet6 } else { &net.subnet };
        if net.kind == "bridge" {
            if let Ok(s) = subnet.parse::<Subnet>() {
                match gw.as_str() {
                    "<auto>" => t.push(s.first_host()),
                    g => t.extend(g.parse::<IpAddr>().ok()),
                }
            }
        }
        t
    };
    let pick = |want: &str, subnet: &str, v6: bool| -> Result<String> {
        let family = if v6 { "IPv6" } else { "IPv4" };
        match (want, subnet.parse::<Subnet>().ok()) {
            ("", _) => Ok(String::new()),
            ("<auto>", None) => Ok(String::new()),
            (_, None) => Err(Error::State(format!(
                "cannot set ip address because there is no {family} subnet defined for this network"
            ))),
            ("<auto>", Some(s)) => s
                .allocate(&taken(v6))
                .map(|a| a.to_string())
                .ok_or_else(|| {
                    Error::State(format!(
                        "no more {} IP's left in the network",
                        if v6 { "inet6" } else { "inet" }
                    ))
                }),
            (addr, Some(s)) => {
                let a: IpAddr = addr
                    .parse()
                    .map_err(|_| Error::invalid("address", addr, "not an IP address"))?;
                if !s.is_host(a) {
                    return Err(Error::invalid(
                        "address",
                        addr,
                        format!("not a host address of the network's subnet {s}"),
                    ));
                }
                if taken(v6).contains(&a) {
                    return Err(Error::Conflict(format!(
                        "address {addr} is already in use in network '{}'",
                        net.name
                    )));
                }
                Ok(a.to_string())
            }
        }
    };
    let ep = Endpoint {
        id: id::new_id(),
        network_id: net.id.clone(),
        container_id: cid.to_string(),
        epair: None,
        ip_address: pick(ip, &net.subnet, false)?,
        ip_address6: pick(ip6, &net.subnet6, true)?,
    };
    let data = serde_json::to_string(&ep).expect("endpoint serialises");
    tx.execute(
        "INSERT INTO endpoints (id, network_id, container_id, data) VALUES (?1, ?2, ?3, ?4)",
        params![ep.id, ep.network_id, ep.container_id, data],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::Conflict("container already connected to the network".into())
        } else {
            store_err(path, e)
        }
    })?;
    Ok(ep)
}

impl Engine {
    /// All endpoints, in the order they were made (a vnet container's
    /// links are `eth0`, `eth1`, … in the order it joined its networks).
    pub fn endpoints(&self) -> Result<Vec<Endpoint>> {
        self.store
            .objects("endpoint", "SELECT id, data FROM endpoints ORDER BY rowid")
    }

    /// Connect a container to a network; `ip`/`ip6` are "" (none), `<auto>`
    /// or an address that must be a free host address of the subnet.
    pub fn network_connect(
        &mut self,
        network: &str,
        container: &str,
        ip: &str,
        ip6: &str,
    ) -> Result<Endpoint> {
        let net = self.network(network)?;
        let c = self.container(container)?;
        check_driver(&net, &c.network_driver, c.status.is_running())?;
        let before = if c.status.is_running() {
            self.attachments(&c.id)?
        } else {
            vec![]
        };
        let ep = self
            .store
            .write(|tx| add_endpoint_tx(tx, &net, &c.id, ip, ip6))?;
        if c.status.is_running() {
            let after = self.attachments(&c.id)?;
            if let Err(e) = self.platform.relink(
                &c.id,
                c.status.pid().unwrap_or(0),
                &c.network_driver,
                &before,
                &after,
            ) {
                let path = self.store.path().to_path_buf();
                let _ = self.store.write(|tx| {
                    tx.execute("DELETE FROM endpoints WHERE id = ?1", [&ep.id])
                        .map_err(|e| store_err(&path, e))
                        .map(drop)
                });
                return Err(e.into());
            }
        }
        self.reload_firewall()?;
        // It and its new peers learn each other's names.
        let mut concerned = self.hosts_concerned(&c.id);
        concerned.push(c.id.clone());
        self.refresh_hosts(&concerned);
        Ok(ep)
    }

    pub fn network_disconnect(&mut self, network: &str, container: &str) -> Result<()> {
        let net = self.network(network)?;
        let c = self.container(container)?;
        // Read before its endpoint goes: the peers it leaves forget it.
        let mut concerned = self.hosts_concerned(&c.id);
        concerned.push(c.id.clone());
        let before = if c.status.is_running() {
            self.attachments(&c.id)?
        } else {
            vec![]
        };
        let path = self.store.path().to_path_buf();
        let n = self.store.write(|tx| {
            tx.execute(
                "DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2",
                params![net.id, c.id],
            )
            .map_err(|e| store_err(&path, e))
        })?;
        if n == 0 {
            return Err(Error::NotFound {
                kind: "endpoint",
                ident: format!("{} in network {}", c.name, net.name),
            });
        }
        if c.status.is_running() {
            let after = self.attachments(&c.id)?;
            self.platform.relink(
                &c.id,
                c.status.pid().unwrap_or(0),
                &c.network_driver,
                &before,
                &after,
            )?;
        }
        // pf forgets the container's addresses now (kleened did not reload here).
        let r = self.reload_firewall();
        self.refresh_hosts(&concerned);
        r
    }

    /// The container's attachments, for the platform to start it with.
    pub(crate) fn attachments(
        &self,
        container_id: &str,
    ) -> Result<Vec<crate::platform::Attachment>> {
        let eps: Vec<Endpoint> = self
            .endpoints()?
            .into_iter()
            .filter(|e| e.container_id == container_id)
            .collect();
        if eps.is_empty() {
            return Ok(vec![]);
        }
        let nets = self.networks()?;
        Ok(eps
            .into_iter()
            .filter_map(|e| {
                let n = nets.iter().find(|n| n.id == e.network_id)?;
                let s4 = n.subnet.parse::<Subnet>().ok();
                let s6 = n.subnet6.parse::<Subnet>().ok();
                let gw = |g: &str, s: Option<&Subnet>| match (g, s) {
                    ("<auto>", Some(s)) => s.first_host().to_string(),
                    ("<auto>", None) => String::new(),
                    (g, _) => g.to_string(),
                };
                Some(crate::platform::Attachment {
                    endpoint: e.id,
                    interface: n.interface.clone(),
                    ip: e.ip_address,
                    ip6: e.ip_address6,
                    prefix: s4.map(|s| s.prefix).unwrap_or(32),
                    prefix6: s6.map(|s| s.prefix).unwrap_or(128),
                    gateway: if s4.is_some() {
                        gw(&n.gateway, s4.as_ref())
                    } else {
                        String::new()
                    },
                    gateway6: if s6.is_some() {
                        gw(&n.gateway6, s6.as_ref())
                    } else {
                        String::new()
                    },
                    epair: e.epair,
                    isolated: !n.icc,
                })
            })
            .collect())
    }

    /// Record (or, with `None`, forget) the vnet links of a start.
    pub(crate) fn save_links(
        &mut self,
        attachments: &[crate::platform::Attachment],
        clear: bool,
    ) -> Result<()> {
        let path = self.store.path().to_path_buf();
        let eps = self.endpoints()?;
        self.store.write(|tx| {
            for a in attachments {
                if let Some(mut ep) = eps.iter().find(|e| e.id == a.endpoint).cloned() {
                    ep.epair = if clear { None } else { a.epair.clone() };
                    let data = serde_json::to_string(&ep).expect("endpoint serialises");
                    tx.execute(
                        "UPDATE endpoints SET data = ?2 WHERE id = ?1",
                        params![ep.id, data],
                    )
                    .map_err(|e| store_err(&path, e))?;
                }
            }
            Ok(())
        })
    }

    /// The endpoint rows of a container are removed with it.
    pub(crate) fn forget_endpoints(
        tx: &rusqlite::Transaction,
        container_id: &str,
    ) -> rusqlite::Result<usize> {
        tx.execute(
            "DELETE FROM endpoints WHERE container_id = ?1",
            [container_id],
        )
    }
}
