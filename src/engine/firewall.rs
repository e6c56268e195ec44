//! The firewall's input, generated from the store after every change that
//! affects it (networks, endpoints, published ports) and handed to the
//! platform (pf on FreeBSD, one nftables table on Linux).

use super::endpoint::Endpoint;
use super::error::Result;
use super::Engine;
use crate::platform::{Firewall, FirewallNetwork};

impl Engine {
    /// The firewall's input: networks with their vnet links, and every
    /// published port at its container's first IPv4/IPv6 address (where it
    /// is published is the platform's to say: every local address on Linux,
    /// the host gateway's interface on FreeBSD, unless the port names one).
    pub fn firewall(&self) -> Result<Firewall> {
        let endpoints = self.endpoints()?;
        let host_gateway = self.platform.host_gateway();
        let mut ports = Vec::new();
        for c in self.container_configs()? {
            if c.public_ports.is_empty() {
                continue;
            }
            let mine: Vec<&Endpoint> = endpoints
                .iter()
                .filter(|e| e.container_id == c.id)
                .collect();
            let ip4 = mine
                .iter()
                .map(|e| e.ip_address.clone())
                .find(|a| !a.is_empty())
                .unwrap_or_default();
            let ip6 = mine
                .iter()
                .map(|e| e.ip_address6.clone())
                .find(|a| !a.is_empty())
                .unwrap_or_default();
            if ip4.is_empty() && ip6.is_empty() {
                continue;
            }
            for p in &c.public_ports {
                ports.push(crate::platform::FirewallPort {
                    interfaces: p.interfaces.clone(),
                    addresses: p.addresses.clone(),
                    host_port: p.host_port.clone(),
                    container_port: p.container_port.clone(),
                    protocol: p.protocol.clone(),
                    ip4: ip4.clone(),
                    ip6: ip6.clone(),
                });
            }
        }
        Ok(Firewall {
            host_gateway,
            ports,
            networks: self
                .networks()?
                .into_iter()
                .map(|n| FirewallNetwork {
                    epairs: endpoints
                        .iter()
                        .filter(|e| e.network_id == n.id)
                        .filter_map(|e| e.epair.as_ref().map(|p| format!("{p}a")))
                        .collect(),
                    id: n.id,
                    interface: n.interface,
                    subnet: n.subnet,
                    subnet6: n.subnet6,
                    nat_if: n.nat,
                    icc: n.icc,
                    internal: n.internal,
                })
                .collect(),
        })
    }

    /// Regenerate and load the firewall (after every change that affects it).
    pub fn reload_firewall(&mut self) -> Result<()> {
        let fw = self.firewall()?;
        self.platform
            .apply_firewall(&self.root, &fw)
            .map_err(Into::into)
    }
}
