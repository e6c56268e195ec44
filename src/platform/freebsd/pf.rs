//! The pf ruleset kleene owns: a pure function from networks and published
//! ports to the three generated sections of the pf.conf template (macros,
//! translation, filtering), as kleened's `Network.build_pf_config/1`
//! (`reference/kleened.md` §4.4) — with its known bugs fixed:
//!
//! - `$kleenet_host_gw_if` is only referenced when the host gateway is known
//!   (kleened referenced it anyway and pf rejected the whole file);
//! - the IPv6 host-gateway blocks use the host gateway (kleened read a config
//!   key that was never set, so they were never emitted);
//! - the cross-network pass rule of a published port keeps its protocol
//!   (kleened always wrote `proto tcp`, which broke UDP).

pub use crate::platform::spec::{
    Firewall as Input, FirewallNetwork as Network, FirewallPort as Port,
};

/// The template of what kleene loads into its anchor (`pfctl -a kleene`):
/// user rules may go around the markers; kleene fills the three sections.
pub const TEMPLATE: &str = "\
# kleene's pf anchor: rules between the KLEENED markers are generated.
### KLEENED MACROS START
<%= kleene_macros %>
### KLEENED MACROS END

### KLEENED TRANSLATION START
<%= kleene_translation %>
### KLEENED TRANSLATION END

### KLEENED FILTERING START
<%= kleene_filtering %>
### KLEENED FILTERING END
";

fn p(n: &Network) -> String {
    format!("kleenet_{}", n.id)
}

pub fn macros(input: &Input) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(gw) = &input.host_gateway {
        out.push(format!("kleenet_host_gw_if=\"{gw}\""));
    }
    // kleened's separators, kept: ", " after lo0, "," between networks.
    let ifs: Vec<&str> = input
        .networks
        .iter()
        .map(|n| n.interface.as_str())
        .collect();
    if ifs.is_empty() {
        out.push("kleenet_network_interfaces=\"{lo0}\"".into());
    } else {
        out.push(format!(
            "kleenet_network_interfaces=\"{{lo0, {}}}\"",
            ifs.join(",")
        ));
    }
    for n in &input.networks {
        let p = p(n);
        for (name, value) in [
            ("interface", &n.interface),
            ("subnet", &n.subnet),
            ("subnet6", &n.subnet6),
            ("nat_if", &n.nat_if),
        ] {
            if !value.is_empty() {
                out.push(format!("{p}_{name}=\"{value}\""));
            }
        }
        let mut all = vec![n.interface.clone(), "lo0".into()];
        all.extend(n.epairs.iter().cloned());
        out.push(format!("{p}_all_interfaces=\"{{{}}}\"", all.join(", ")));
    }
    out
}

pub fn translation(input: &Input) -> Vec<String> {
    let mut out = Vec::new();
    for n in input
        .networks
        .iter()
        .filter(|n| !n.nat_if.is_empty() && !n.internal)
    {
        let p = p(n);
        out.push(format!(
            "nat on ${p}_nat_if from (${p}_interface:network) to any -> (${p}_nat_if)"
        ));
    }
    for port in &input.ports {
        let ifs = interfaces(input, port);
        if !port.ip4.is_empty() {
            for i in &ifs {
                out.push(format!(
                    "rdr on {i} inet proto {} from any to ({i}) port {} -> {} port {}",
                    port.protocol, port.host_port, port.ip4, port.container_port
                ));
            }
        }
        if !port.ip6.is_empty() {
            for i in &ifs {
                out.push(format!(
                    "rdr on {i} inet6 proto {} from any to ({i}) port {} -> {} port {}",
                    port.protocol, port.host_port, port.ip6, port.container_port
                ));
            }
        }
    }
    out
}

/// Where a port is published: its interfaces, else the host gateway's (as
/// kleened; none known, nowhere). Bound addresses (Docker's `IP:…`) are
/// not expressed in pf yet: such a port goes on the host gateway too.
fn interfaces(input: &Input, port: &Port) -> Vec<String> {
    if port.interfaces.is_empty() {
        input.host_gateway.iter().cloned().collect()
    } else {
        port.interfaces.clone()
    }
}

/// The container port as the filter sees it: `N:*` resolved against the
/// host port (a single port gives `N`, a range `A:B` gives `N:(N+B-A)`).
pub fn filter_port(host_port: &str, container_port: &str) -> String {
    let Some(base) = container_port.strip_suffix(":*") else {
        return container_port.to_string();
    };
    match (base.parse::<u32>(), host_port.split_once(':')) {
        (Ok(n), Some((a, b))) => match (a.parse::<u32>(), b.parse::<u32>()) {
            (Ok(a), Ok(b)) if b >= a => format!("{n}:{}", n + b - a),
            _ => base.to_string(),
        },
        _ => base.to_string(),
    }
}

pub fn filtering(input: &Input) -> Vec<String> {
    let mut out = Vec::new();
    let gw = input.host_gateway.is_some();
    for n in &input.networks {
        let p = p(n);
        if !n.subnet.is_empty() {
            out.push(format!("block in log from any to ${p}_subnet"));
        }
        if !n.subnet6.is_empty() {
            out.push(format!("block in log from any to ${p}_subnet6"));
        }
        for (subnet, v6) in [(&n.subnet, false), (&n.subnet6, true)] {
            if subnet.is_empty() {
                continue;
            }
            let s = if v6 {
                format!("${p}_subnet6")
            } else {
                format!("${p}_subnet")
            };
            let icc = format!("pass quick on ${p}_all_interfaces from {s} to {s}");
            let deny = format!("block out quick log on $kleenet_network_interfaces from {s}");
            let via_gw = format!("block out quick log on $kleenet_host_gw_if from {s}");
            let via_nat = format!("block out quick log on ${p}_nat_if from {s}");
            let nat = !n.nat_if.is_empty();
            let rules: Vec<Option<String>> = match (n.internal, n.icc) {
                (false, true) => vec![Some(icc)],
                (false, false) => vec![],
                (true, icc_on) => {
                    let mut r = Vec::new();
                    if icc_on {
                        r.push(Some(icc));
                    }
                    r.push(Some(deny));
                    // Egress through the gateway: IPv4 leaves by the NAT
                    // interface when there is one; IPv6 (never NATed) by the
                    // host gateway. Only referenced when it is known.
                    let egress = match (v6, nat, icc_on) {
                        (false, true, _) => Some(via_nat),
                        (false, false, true) | (true, true, _) | (true, false, true) => {
                            gw.then_some(via_gw)
                        }
                        _ => None,
                    };
                    r.push(egress);
                    r
                }
            };
            out.extend(rules.into_iter().flatten());
        }
    }
    for port in &input.ports {
        let cport = filter_port(&port.host_port, &port.container_port);
        for (ip, family) in [(&port.ip4, "inet"), (&port.ip6, "inet6")] {
            if ip.is_empty() {
                continue;
            }
            for i in &interfaces(input, port) {
                out.push(format!(
                    "pass quick on {i} {family} proto {} from any to {ip} port {cport}",
                    port.protocol
                ));
            }
            out.push(format!(
                "pass quick on $kleenet_network_interfaces {family} proto {} from any to {ip} port {cport}",
                port.protocol
            ));
        }
    }
    out
}

/// The whole pf.conf: `template` with its three placeholders filled.
pub fn render(template: &str, input: &Input) -> String {
    template
        .replace("<%= kleene_macros %>", &macros(input).join("\n"))
        .replace("<%= kleene_translation %>", &translation(input).join("\n"))
        .replace("<%= kleene_filtering %>", &filtering(input).join("\n"))
}

#[cfg(test)]
mod tests {
    //! kleened's `test/pf_config_test.exs`, case by case, plus one test per
    //! fixed bug.
    use super::*;

    fn net() -> Network {
        Network {
            id: "netid".into(),
            interface: "kleene0".into(),
            subnet: "10.13.37.0/24".into(),
            subnet6: String::new(),
            nat_if: String::new(),
            icc: true,
            internal: false,
            epairs: vec![],
        }
    }

    fn port() -> Port {
        Port {
            interfaces: vec!["em0".into()],
            addresses: vec![],
            host_port: "8080".into(),
            container_port: "80".into(),
            protocol: "tcp".into(),
            ip4: "10.13.37.2".into(),
            ip6: String::new(),
        }
    }

    fn input(networks: Vec<Network>, ports: Vec<Port>) -> Input {
        Input {
            host_gateway: Some("em0".into()),
            networks,
            ports,
        }
    }

    fn conf(i: &Input) -> String {
        render(TEMPLATE, i)
    }

    fn section(s: &str, name: &str) -> String {
        let start = format!("### KLEENED {name} START\n");
        let end = format!("### KLEENED {name} END");
        let a = s.find(&start).unwrap() + start.len();
        let b = s.find(&end).unwrap();
        s[a..b].to_string()
    }

    // describe "macros"
    #[test]
    fn c01_host_gateway_macro() {
        let mut i = input(vec![net()], vec![]);
        i.host_gateway = Some("vtnet0".into());
        assert!(conf(&i).contains("kleenet_host_gw_if=\"vtnet0\""));
    }

    #[test]
    fn c02_no_gateway_macro_when_unknown() {
        let mut i = input(vec![net()], vec![]);
        i.host_gateway = None;
        assert!(!conf(&i).contains("kleenet_host_gw_if"));
    }

    #[test]
    fn c03_interfaces_collected_into_one_macro() {
        let mut n2 = net();
        n2.id = "net2".into();
        n2.interface = "kleene1".into();
        assert!(conf(&input(vec![net(), n2], vec![]))
            .contains("kleenet_network_interfaces=\"{lo0, kleene0,kleene1}\""));
    }

    #[test]
    fn c04_macro_defined_with_no_networks() {
        assert!(conf(&input(vec![], vec![])).contains("kleenet_network_interfaces=\"{lo0}\""));
    }

    // describe "published ports"
    #[test]
    fn c05_rdr_rule() {
        assert!(conf(&input(vec![net()], vec![port()])).contains(
            "rdr on em0 inet proto tcp from any to (em0) port 8080 -> 10.13.37.2 port 80"
        ));
    }

    #[test]
    fn c06_pass_rule() {
        assert!(conf(&input(vec![net()], vec![port()]))
            .contains("pass quick on em0 inet proto tcp from any to 10.13.37.2 port 80"));
    }

    #[test]
    fn c07_two_interfaces() {
        let mut p = port();
        p.interfaces = vec!["em0".into(), "em1".into()];
        let c = conf(&input(vec![net()], vec![p]));
        assert!(c.contains("rdr on em0 inet proto tcp") && c.contains("rdr on em1 inet proto tcp"));
    }

    #[test]
    fn c08_udp() {
        let mut p = port();
        p.protocol = "udp".into();
        assert!(conf(&input(vec![net()], vec![p])).contains("rdr on em0 inet proto udp"));
    }

    #[test]
    fn c09_ipv6_only_port() {
        let mut p = port();
        p.ip4 = String::new();
        p.ip6 = "fd00::2".into();
        let c = conf(&input(vec![net()], vec![p]));
        assert!(c.contains("inet6 proto tcp") && c.contains("fd00::2"));
        assert!(!c.contains(" inet proto tcp"));
    }

    #[test]
    fn c10_two_containers() {
        let mut p2 = port();
        p2.host_port = "9090".into();
        p2.ip4 = "10.13.37.3".into();
        let c = conf(&input(vec![net()], vec![port(), p2]));
        assert!(c.contains("port 8080 -> 10.13.37.2") && c.contains("port 9090 -> 10.13.37.3"));
    }

    #[test]
    fn c11_no_containers() {
        assert_eq!(
            section(&conf(&input(vec![net()], vec![])), "TRANSLATION").trim(),
            ""
        );
    }

    // describe "container port ranges"
    #[test]
    fn c12_host_range_with_star() {
        let mut p = port();
        p.host_port = "8080:8090".into();
        p.container_port = "80:*".into();
        assert!(conf(&input(vec![net()], vec![p])).contains("port 80:90"));
    }

    #[test]
    fn c13_star_kept_in_rdr_resolved_in_filter() {
        let mut p = port();
        p.container_port = "80:*".into();
        let c = conf(&input(vec![net()], vec![p]));
        assert!(section(&c, "TRANSLATION").contains("-> 10.13.37.2 port 80:*"));
        let f = section(&c, "FILTERING");
        assert!(f.contains("to 10.13.37.2 port 80\n") && !f.contains("80:*"));
    }

    // describe "network isolation" (nat em0, host_gw em0)
    fn iso(internal: bool, icc: bool) -> String {
        let mut n = net();
        n.nat_if = "em0".into();
        n.internal = internal;
        n.icc = icc;
        conf(&input(vec![n], vec![]))
    }

    const ICC: &str = "pass quick on $kleenet_netid_all_interfaces from $kleenet_netid_subnet to $kleenet_netid_subnet";
    const DENY: &str =
        "block out quick log on $kleenet_network_interfaces from $kleenet_netid_subnet";
    const VIA_NAT: &str = "block out quick log on $kleenet_netid_nat_if from $kleenet_netid_subnet";

    #[test]
    fn c14_block_in_always() {
        for internal in [false, true] {
            for icc in [false, true] {
                assert!(
                    iso(internal, icc).contains("block in log from any to $kleenet_netid_subnet"),
                    "{internal} {icc}"
                );
            }
        }
    }

    #[test]
    fn c15_icc_true() {
        assert!(iso(false, true).contains(ICC));
    }

    #[test]
    fn c16_icc_false() {
        assert!(!iso(false, false).contains(ICC));
    }

    #[test]
    fn c17_internal_true() {
        let c = iso(true, true);
        assert!(c.contains(DENY) && c.contains(VIA_NAT));
    }

    #[test]
    fn c18_internal_false() {
        let c = iso(false, true);
        assert!(!c.contains(DENY) && !c.contains(VIA_NAT));
    }

    #[test]
    fn c19_flags_independent() {
        let a = iso(true, false);
        assert!(a.contains(DENY) && !a.contains(ICC));
        let b = iso(true, true);
        assert!(b.contains(DENY) && b.contains(ICC));
    }

    #[test]
    fn c20_nat_network() {
        assert!(section(&iso(false, true), "TRANSLATION").contains("nat on $kleenet_netid_nat_if from ($kleenet_netid_interface:network) to any -> ($kleenet_netid_nat_if)"));
    }

    // describe "rendering"
    #[test]
    fn c21_markers() {
        let c = conf(&input(vec![], vec![]));
        for m in ["MACROS", "TRANSLATION", "FILTERING"] {
            assert!(c.contains(&format!("### KLEENED {m} START")), "{m}");
        }
    }

    #[test]
    fn c22_determinism() {
        let i = input(vec![net()], vec![port()]);
        assert_eq!(conf(&i), conf(&i));
    }

    // One test per fixed kleened bug.
    #[test]
    fn fixed_no_undefined_host_gw_macro() {
        // kleened: an internal, non-NAT IPv4 network referenced
        // $kleenet_host_gw_if even with no host gateway, and pf rejected it.
        let mut n = net();
        n.internal = true;
        let i = Input {
            host_gateway: None,
            networks: vec![n],
            ports: vec![],
        };
        assert!(!conf(&i).contains("$kleenet_host_gw_if"));
        // With a known gateway the egress block is there.
        let mut n = net();
        n.internal = true;
        assert!(conf(&input(vec![n], vec![]))
            .contains("block out quick log on $kleenet_host_gw_if from $kleenet_netid_subnet"));
    }

    #[test]
    fn fixed_ipv6_host_gateway_blocks_emitted() {
        // kleened read a never-set key, so these were never emitted.
        let mut n = net();
        n.subnet6 = "fd13::/64".into();
        n.internal = true;
        n.nat_if = "em0".into();
        let c = conf(&input(vec![n], vec![]));
        assert!(
            c.contains("block out quick log on $kleenet_host_gw_if from $kleenet_netid_subnet6")
        );
        assert!(c.contains(
            "block out quick log on $kleenet_network_interfaces from $kleenet_netid_subnet6"
        ));
    }

    #[test]
    fn fixed_cross_network_pass_rule_keeps_udp() {
        // kleened always wrote proto tcp here.
        let mut p = port();
        p.protocol = "udp".into();
        let c = conf(&input(vec![net()], vec![p]));
        assert!(c.contains("pass quick on $kleenet_network_interfaces inet proto udp from any to 10.13.37.2 port 80"));
        assert!(!c.contains("proto tcp"));
    }

    #[test]
    fn all_interfaces_lists_epairs() {
        let mut n = net();
        n.epairs = vec!["epair0a".into(), "epair3a".into()];
        assert!(conf(&input(vec![n], vec![]))
            .contains("kleenet_netid_all_interfaces=\"{kleene0, lo0, epair0a, epair3a}\""));
    }

    #[test]
    fn full_output_golden() {
        let mut n = net();
        n.subnet6 = "fd13::/64".into();
        n.nat_if = "em0".into();
        let mut p = port();
        p.ip6 = "fd13::2".into();
        assert_eq!(
            conf(&input(vec![n], vec![p])),
            "\
# kleene's pf anchor: rules between the KLEENED markers are generated.
### KLEENED MACROS START
kleenet_host_gw_if=\"em0\"
kleenet_network_interfaces=\"{lo0, kleene0}\"
kleenet_netid_interface=\"kleene0\"
kleenet_netid_subnet=\"10.13.37.0/24\"
kleenet_netid_subnet6=\"fd13::/64\"
kleenet_netid_nat_if=\"em0\"
kleenet_netid_all_interfaces=\"{kleene0, lo0}\"
### KLEENED MACROS END

### KLEENED TRANSLATION START
nat on $kleenet_netid_nat_if from ($kleenet_netid_interface:network) to any -> ($kleenet_netid_nat_if)
rdr on em0 inet proto tcp from any to (em0) port 8080 -> 10.13.37.2 port 80
rdr on em0 inet6 proto tcp from any to (em0) port 8080 -> fd13::2 port 80
### KLEENED TRANSLATION END

### KLEENED FILTERING START
block in log from any to $kleenet_netid_subnet
block in log from any to $kleenet_netid_subnet6
pass quick on $kleenet_netid_all_interfaces from $kleenet_netid_subnet to $kleenet_netid_subnet
pass quick on $kleenet_netid_all_interfaces from $kleenet_netid_subnet6 to $kleenet_netid_subnet6
pass quick on em0 inet proto tcp from any to 10.13.37.2 port 80
pass quick on $kleenet_network_interfaces inet proto tcp from any to 10.13.37.2 port 80
pass quick on em0 inet6 proto tcp from any to fd13::2 port 80
pass quick on $kleenet_network_interfaces inet6 proto tcp from any to fd13::2 port 80
### KLEENED FILTERING END
"
        );
    }
}
