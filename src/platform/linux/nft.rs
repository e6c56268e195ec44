//! The nftables ruleset kleene owns: one table, `inet kleene`, generated as
//! a pure function of the networks and published ports (the same input the
//! FreeBSD back end turns into pf rules), and loaded with `nft -f -` as one
//! transaction: the table is declared, deleted and declared again with its
//! chains in the same batch, so the kernel swaps old rules for new at once
//! and never touches another table. No networks and no ports: the table is
//! deleted, and the host's ruleset is as it was.
//!
//! The policy, kleened's (`reference/kleened.md` §4.4) in nftables terms:
//! - replies (`ct state established,related`) and published ports (`ct
//!   status dnat`) pass;
//! - inside a network, containers reach each other when `icc` is on;
//! - nothing else enters a network's subnets (other networks, the outside);
//! - an `internal` network's traffic never leaves its subnets;
//! - NAT (masquerade) through the network's NAT interface, IPv4 and IPv6;
//! - published ports: DNAT on the given interfaces (default: the host
//!   gateway's), from containers to any host address, and from the host
//!   itself (`localhost` included, with masquerade so replies come back).

use std::fmt::Write;

use crate::platform::spec::{Firewall, FirewallNetwork, FirewallPort};

pub const TABLE: &str = "kleene";

/// The container port range a host range maps onto: `(first, last)` host
/// ports and the first container port.
fn ports(p: &FirewallPort) -> Option<(u16, u16, u16)> {
    let (a, b) = match p.host_port.split_once(':') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let a = p.host_port.parse().ok()?;
            (a, a)
        }
    };
    let c = p
        .container_port
        .strip_suffix(":*")
        .unwrap_or(&p.container_port)
        .parse()
        .ok()?;
    Some((a, b, c))
}

/// `dport` match and DNAT target of one published port, for one family.
fn dnat(p: &FirewallPort, v6: bool) -> Option<String> {
    let ip = if v6 { &p.ip6 } else { &p.ip4 };
    if ip.is_empty() {
        return None;
    }
    let (a, b, c) = ports(p)?;
    let proto = &p.protocol;
    let (family, nfproto) = if v6 { ("ip6", "ipv6") } else { ("ip", "ipv4") };
    let addr = if v6 { format!("[{ip}]") } else { ip.clone() };
    Some(if a == b {
        format!("meta nfproto {nfproto} {proto} dport {a} dnat {family} to {addr}:{c}")
    } else {
        // One rule for the whole range: host port A+i goes to C+i.
        let map: Vec<String> = (a..=b)
            .map(|h| format!("{h} : {}", c as u32 + (h - a) as u32))
            .collect();
        format!(
            "meta nfproto {nfproto} {proto} dport {a}-{b} dnat {family} to {ip} : {proto} dport map {{ {} }}",
            map.join(", ")
        )
    })
}

fn subnets(n: &FirewallNetwork) -> impl Iterator<Item = (&'static str, &str)> {
    [("ip", n.subnet.as_str()), ("ip6", n.subnet6.as_str())]
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
}

fn forward(fw: &Firewall) -> Vec<String> {
    let mut out = vec![
        "ct state established,related accept".to_string(),
        "ct status dnat accept".to_string(),
    ];
    for n in &fw.networks {
        let verdict = if n.icc { "accept" } else { "drop" };
        for (f, s) in subnets(n) {
            out.push(format!("{f} saddr {s} {f} daddr {s} {verdict}"));
        }
    }
    for n in &fw.networks {
        for (f, s) in subnets(n) {
            out.push(format!("{f} daddr {s} drop"));
        }
    }
    for n in fw.networks.iter().filter(|n| n.internal) {
        for (f, s) in subnets(n) {
            out.push(format!("{f} saddr {s} drop"));
        }
    }
    out
}

fn prerouting(fw: &Firewall) -> Vec<String> {
    let mut out = Vec::new();
    let mut all: [Vec<&str>; 2] = [vec![], vec![]];
    for n in &fw.networks {
        if !n.subnet.is_empty() {
            all[0].push(&n.subnet);
        }
        if !n.subnet6.is_empty() {
            all[1].push(&n.subnet6);
        }
    }
    for p in &fw.ports {
        for (v6, family) in [(false, "ip"), (true, "ip6")] {
            let Some(rule) = dnat(p, v6) else { continue };
            for i in &p.interfaces {
                out.push(format!("iifname \"{i}\" {rule}"));
            }
            for a in bound(p, v6) {
                out.push(format!("{family} daddr {a} {rule}"));
            }
            // Neither: every local address, whatever the interface (as
            // Docker; no default route needed). Bound to addresses: those
            // alone, from anywhere (a 127.0.0.1 port stays the host's).
            if p.interfaces.is_empty() && p.addresses.is_empty() {
                out.push(format!("fib daddr type local {rule}"));
                continue;
            }
            if !p.addresses.is_empty() {
                continue;
            }
            // Containers reach a published port at any host address.
            let from = &all[v6 as usize];
            if !from.is_empty() {
                out.push(format!(
                    "{family} saddr {{ {} }} fib daddr type local {rule}",
                    from.join(", ")
                ));
            }
        }
    }
    out
}

/// The addresses of one family a port is bound to.
fn bound(p: &FirewallPort, v6: bool) -> impl Iterator<Item = &String> {
    p.addresses.iter().filter(move |a| a.contains(':') == v6)
}

fn output(fw: &Firewall) -> Vec<String> {
    let mut out = Vec::new();
    for p in &fw.ports {
        for (v6, family) in [(false, "ip"), (true, "ip6")] {
            let Some(rule) = dnat(p, v6) else { continue };
            if p.addresses.is_empty() {
                out.push(format!("fib daddr type local {rule}"));
            }
            for a in bound(p, v6) {
                out.push(format!("{family} daddr {a} {rule}"));
            }
        }
    }
    out
}

fn postrouting(fw: &Firewall) -> Vec<String> {
    let mut out = Vec::new();
    for n in fw
        .networks
        .iter()
        .filter(|n| !n.nat_if.is_empty() && !n.internal)
    {
        for (f, s) in subnets(n) {
            out.push(format!("{f} saddr {s} oifname \"{}\" masquerade", n.nat_if));
        }
    }
    if !fw.ports.is_empty() {
        // From the host's `localhost`, or from a container to a published
        // port of its own network: the container must answer through us.
        out.push("ct status dnat ip saddr 127.0.0.0/8 masquerade".to_string());
        for n in &fw.networks {
            for (f, s) in subnets(n) {
                out.push(format!(
                    "ct status dnat {f} saddr {s} {f} daddr {s} masquerade"
                ));
            }
        }
    }
    out
}

/// The `nft -f` script that replaces kleene's table with the one `fw` asks
/// for (or just removes it).
pub fn script(fw: &Firewall) -> String {
    let mut s = format!("table inet {TABLE}\ndelete table inet {TABLE}\n");
    if fw.networks.is_empty() && fw.ports.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table inet {TABLE} {{");
    let chains: [(&str, &str, Vec<String>); 4] = [
        (
            "forward",
            "type filter hook forward priority filter; policy accept;",
            forward(fw),
        ),
        (
            "prerouting",
            "type nat hook prerouting priority dstnat; policy accept;",
            prerouting(fw),
        ),
        (
            "output",
            "type nat hook output priority -100; policy accept;",
            output(fw),
        ),
        (
            "postrouting",
            "type nat hook postrouting priority srcnat; policy accept;",
            postrouting(fw),
        ),
    ];
    for (name, hook, rules) in chains {
        let _ = writeln!(s, "\tchain {name} {{\n\t\t{hook}");
        for r in rules {
            let _ = writeln!(s, "\t\t{r}");
        }
        let _ = writeln!(s, "\t}}");
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str, subnet6: &str) -> FirewallNetwork {
        FirewallNetwork {
            id: "n1".into(),
            interface: "kleene0".into(),
            subnet: subnet.into(),
            subnet6: subnet6.into(),
            nat_if: "eth0".into(),
            icc: true,
            internal: false,
            epairs: vec![],
        }
    }

    fn port(host: &str, container: &str, proto: &str) -> FirewallPort {
        FirewallPort {
            interfaces: vec!["eth0".into()],
            addresses: vec![],
            host_port: host.into(),
            container_port: container.into(),
            protocol: proto.into(),
            ip4: "10.0.0.2".into(),
            ip6: "fd00::2".into(),
        }
    }

    #[test]
    fn ports_everywhere_or_bound_to_addresses() {
        let mut every = port("8080", "80", "tcp");
        every.interfaces.clear();
        let mut local = port("9090", "90", "tcp");
        local.interfaces.clear();
        local.addresses = vec!["127.0.0.1".into()];
        let s = script(&Firewall {
            host_gateway: None,
            networks: vec![net("10.0.0.0/24", "fd00::/64")],
            ports: vec![every, local],
        });
        for want in [
            // No default route needed: every local address.
            "fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 10.0.0.2:80",
            "fib daddr type local meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00::2]:80",
            // Bound to 127.0.0.1: that address alone, IPv4 alone.
            "ip daddr 127.0.0.1 meta nfproto ipv4 tcp dport 9090 dnat ip to 10.0.0.2:90",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(
            !s.contains("fib daddr type local meta nfproto ipv4 tcp dport 9090"),
            "{s}"
        );
        assert!(!s.contains("dport 9090 dnat ip6"), "{s}");
    }

    #[test]
    fn nothing_removes_the_table() {
        assert_eq!(
            script(&Firewall::default()),
            "table inet kleene\ndelete table inet kleene\n"
        );
    }

    #[test]
    fn one_network_with_nat() {
        let fw = Firewall {
            host_gateway: Some("eth0".into()),
            networks: vec![net("10.0.0.0/24", "fd00::/64")],
            ports: vec![],
        };
        let s = script(&fw);
        for want in [
            "ip saddr 10.0.0.0/24 ip daddr 10.0.0.0/24 accept",
            "ip6 saddr fd00::/64 ip6 daddr fd00::/64 accept",
            "ip daddr 10.0.0.0/24 drop",
            "ip saddr 10.0.0.0/24 oifname \"eth0\" masquerade",
            "ip6 saddr fd00::/64 oifname \"eth0\" masquerade",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(!s.contains("saddr 127.0.0.0/8"), "{s}");
    }

    #[test]
    fn icc_off_and_internal() {
        let mut n = net("10.0.0.0/24", "");
        n.icc = false;
        n.internal = true;
        let s = script(&Firewall {
            host_gateway: None,
            networks: vec![n],
            ports: vec![],
        });
        assert!(s.contains("ip saddr 10.0.0.0/24 ip daddr 10.0.0.0/24 drop"));
        assert!(s.contains("\t\tip saddr 10.0.0.0/24 drop\n"));
        // Internal networks are never NATed.
        assert!(!s.contains("masquerade"), "{s}");
        // The isolation comes after the replies and the published ports.
        let est = s.find("established").unwrap();
        assert!(est < s.find("ip saddr 10.0.0.0/24 ip daddr").unwrap());
    }

    #[test]
    fn published_ports() {
        let fw = Firewall {
            host_gateway: Some("eth0".into()),
            networks: vec![net("10.0.0.0/24", "fd00::/64")],
            ports: vec![
                port("8080", "80", "tcp"),
                port("9000:9002", "7000:*", "udp"),
            ],
        };
        let s = script(&fw);
        for want in [
            "iifname \"eth0\" meta nfproto ipv4 tcp dport 8080 dnat ip to 10.0.0.2:80",
            "iifname \"eth0\" meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00::2]:80",
            "iifname \"eth0\" meta nfproto ipv4 udp dport 9000-9002 dnat ip to 10.0.0.2 : udp dport map { 9000 : 7000, 9001 : 7001, 9002 : 7002 }",
            "ip saddr { 10.0.0.0/24 } fib daddr type local meta nfproto ipv4 tcp dport 8080",
            "fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 10.0.0.2:80",
            "ct status dnat ip saddr 127.0.0.0/8 masquerade",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
    }
}
