//! Published ports: `-p [INTERFACE:]HOST[:CONTAINER][/udp]`, stored in
//! kleened's form (`host_port` `N` or `A:B`, `container_port` `N` or `N:*`).

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishedPort {
    /// Interfaces it is published on (klee's `IF:HOST:CONTAINER`). With
    /// neither interfaces nor addresses: every local address (Linux), the
    /// host gateway's interface (FreeBSD's pf, as kleened).
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Local addresses it is published on (Docker's `IP:HOST:CONTAINER`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    pub host_port: String,
    pub container_port: String,
    #[serde(default = "tcp")]
    pub protocol: String,
}

fn tcp() -> String {
    "tcp".into()
}

fn port(spec: &str, p: &str) -> Result<u16> {
    p.parse::<u16>().map_err(|_| {
        Error::invalid(
            "published port",
            spec,
            format!("'{p}': invalid port value (should be in the range 0 - 65535)"),
        )
    })
}

impl PublishedPort {
    /// Parse `[INTERFACE:|IP:]HOST[:CONTAINER][/tcp|/udp]`; HOST may be a
    /// range `A-B`, and then CONTAINER is where the range starts inside.
    /// A first part that is an address (`127.0.0.1`, `[::1]`) binds the port
    /// to it, as Docker; anything else names an interface.
    pub fn parse(spec: &str) -> Result<PublishedPort> {
        let bad = |why: &str| Error::invalid("published port", spec, why);
        let (body, protocol) = match spec.rsplit_once('/') {
            Some((b, p @ ("tcp" | "udp"))) => (b, p.to_string()),
            Some((_, p)) => return Err(bad(&format!("protocol '{p}' is not tcp or udp"))),
            None => (spec, "tcp".to_string()),
        };
        // [IPv6]:rest
        let (addr6, body) = match body.strip_prefix('[') {
            Some(rest) => {
                let (a, rest) = rest
                    .split_once("]:")
                    .ok_or_else(|| bad("expected [IPv6]:HOST[:CONTAINER]"))?;
                let a: std::net::Ipv6Addr = a
                    .parse()
                    .map_err(|_| bad(&format!("'{a}' is not an IPv6 address")))?;
                (Some(a.to_string()), rest)
            }
            None => (None, body),
        };
        let parts: Vec<&str> = body.split(':').collect();
        let (mut interfaces, host, container) = match (parts.as_slice(), &addr6) {
            ([h], _) => (vec![], *h, None),
            ([h, c], Some(_)) => (vec![], *h, Some(*c)),
            ([a, b], None)
                if a.chars().next().is_some_and(|c| c.is_ascii_digit()) && !a.contains('.') =>
            {
                (vec![], *a, Some(*b))
            }
            ([i, h], None) => (vec![i.to_string()], *h, None),
            ([i, h, c], None) => (vec![i.to_string()], *h, Some(*c)),
            _ => return Err(bad("expected [INTERFACE:|IP:]HOST[:CONTAINER][/udp]")),
        };
        let mut addresses: Vec<String> = addr6.into_iter().collect();
        if let Some(first) = interfaces.first() {
            if let Ok(ip) = first.parse::<std::net::Ipv4Addr>() {
                addresses.push(ip.to_string());
                interfaces.clear();
            } else if first.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return Err(bad(&format!("'{first}' is not an IPv4 address")));
            }
        }
        if interfaces.iter().any(|i| i.is_empty()) {
            return Err(bad("the interface is empty"));
        }
        let (host_port, range) = match host.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(spec, a)?, port(spec, b)?);
                if b < a {
                    return Err(bad("the host port range goes backwards"));
                }
                (format!("{a}:{b}"), true)
            }
            None => (port(spec, host)?.to_string(), false),
        };
        // Docker's container range `A-B`: as long as the host range; it
        // starts where the mapping starts.
        let container = match container.map(|c| c.split_once('-')) {
            Some(Some((a, b))) => {
                let (a, b) = (port(spec, a)?, port(spec, b)?);
                let (h1, h2) = host_port
                    .split_once(':')
                    .map(|(x, y)| (x.parse::<u16>().unwrap_or(0), y.parse::<u16>().unwrap_or(0)))
                    .unwrap_or((0, 0));
                if !range || b < a || b - a != h2 - h1 {
                    return Err(bad(
                        "a container port range must be as long as the host port range",
                    ));
                }
                Some(a.to_string())
            }
            _ => container.map(str::to_string),
        };
        let container = container.as_deref();
        let container_port = match (container, range) {
            (None, false) => host_port.clone(),
            (None, true) => format!("{}:*", host_port.split(':').next().unwrap_or_default()),
            (Some(c), false) => port(spec, c)?.to_string(),
            (Some(c), true) => format!("{}:*", port(spec, c)?),
        };
        // Host port 0 alone asks for a free port, picked at create
        // (`pick_free`); in a range or inside the container it means nothing.
        if (range && host_port.split(':').any(|p| p == "0"))
            || container_port.trim_end_matches(":*") == "0"
            || (host_port == "0" && container.is_none())
        {
            return Err(bad(
                "port 0 can only be a host port, as 0:CONTAINER (a free host port is picked)",
            ));
        }
        Ok(PublishedPort {
            interfaces,
            addresses,
            host_port,
            container_port,
            protocol,
        })
    }

    /// Does it ask for a free host port (`0:CONTAINER`)?
    pub fn wants_free_port(&self) -> bool {
        self.host_port == "0"
    }

    /// The first of its host ports that a program on the host holds
    /// (bound at one of its addresses, or anywhere when it has none).
    pub fn held_on_host(&self) -> Option<u16> {
        let addrs: Vec<Option<std::net::IpAddr>> = if self.addresses.is_empty() {
            vec![None]
        } else {
            self.addresses.iter().map(|a| a.parse().ok()).collect()
        };
        let (a, b) = self.host_range();
        (a..=b).find(|&p| {
            addrs
                .iter()
                .any(|&ad| !host_port_free(ad, p, &self.protocol))
        })
    }

    /// The host ports it takes, first and last.
    pub fn host_range(&self) -> (u16, u16) {
        let n = |s: &str| s.parse::<u16>().unwrap_or(0);
        match self.host_port.split_once(':') {
            Some((a, b)) => (n(a), n(b)),
            None => (n(&self.host_port), n(&self.host_port)),
        }
    }

    /// Would both take the same host port? Same protocol, overlapping
    /// ranges, and places that meet: "everywhere" meets everything; two
    /// interface lists or two address lists meet when they share one.
    pub fn conflicts_with(&self, other: &PublishedPort) -> bool {
        let ((a1, b1), (a2, b2)) = (self.host_range(), other.host_range());
        if self.protocol != other.protocol || b1 < a2 || b2 < a1 {
            return false;
        }
        let everywhere = |p: &PublishedPort| p.interfaces.is_empty() && p.addresses.is_empty();
        if everywhere(self) || everywhere(other) {
            return true;
        }
        self.interfaces.iter().any(|i| other.interfaces.contains(i))
            || self.addresses.iter().any(|a| other.addresses.contains(a))
            // An interface and an address: they may be the same place.
            || (!self.interfaces.is_empty() && !other.addresses.is_empty())
            || (!self.addresses.is_empty() && !other.interfaces.is_empty())
    }

    /// Each host port with the container port it goes to.
    pub fn mappings(&self) -> Vec<(u16, u16)> {
        let (a, b) = self.host_range();
        let c: u16 = self
            .container_port
            .trim_end_matches(":*")
            .parse()
            .unwrap_or(0);
        (a..=b).map(|h| (h, c.saturating_add(h - a))).collect()
    }

    /// Where it is published, as written before the port: its interfaces,
    /// then its addresses (IPv6 in brackets); empty for every local address.
    pub fn places(&self) -> Vec<String> {
        let mut out = self.interfaces.clone();
        out.extend(self.addresses.iter().map(|a| {
            if a.contains(':') {
                format!("[{a}]")
            } else {
                a.clone()
            }
        }));
        out
    }

    /// The host and container ports: `8080` and `80`, or ranges
    /// `8000-8001` and `80-81`.
    pub fn spans(&self) -> (String, String) {
        let m = self.mappings();
        let (first, last) = (m[0], m[m.len() - 1]);
        if m.len() == 1 {
            (first.0.to_string(), first.1.to_string())
        } else {
            (
                format!("{}-{}", first.0, last.0),
                format!("{}-{}", first.1, last.1),
            )
        }
    }

    /// `[IF:|IP:]HOST:CONTAINER/PROTO`, as the user wrote it.
    pub fn describe(&self) -> String {
        let place = self
            .places()
            .first()
            .map(|p| format!("{p}:"))
            .unwrap_or_default();
        let (host, inside) = self.spans();
        format!("{place}{host}:{inside}/{}", self.protocol)
    }
}

/// Is `port` free on the host for `protocol`: can a socket bind it at
/// `addr` (every address when `None`)? Forwarding does not need the bind
/// (it is a NAT rule), but a port a host program holds must not be taken
/// from it without a word, nor handed out as a free one.
pub fn host_port_free(addr: Option<std::net::IpAddr>, port: u16, protocol: &str) -> bool {
    let addr = addr.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    match protocol {
        "udp" => std::net::UdpSocket::bind((addr, port)).is_ok(),
        _ => std::net::TcpListener::bind((addr, port)).is_ok(),
    }
}

/// Where free host ports are picked: the dynamic range of RFC 6335
/// (FreeBSD's default ephemeral range too), as Docker falls back to.
pub const FREE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// A host port for `p` (`0:CONTAINER`) in `FREE_PORTS` that no port in
/// `taken` holds and `usable` accepts (nothing on the host bound to it),
/// searching from `start` so that concurrent creates rarely race for one.
pub fn pick_free(
    p: &PublishedPort,
    taken: &[PublishedPort],
    start: u16,
    usable: impl Fn(u16, &str) -> bool,
) -> Option<u16> {
    let (lo, hi) = (*FREE_PORTS.start(), *FREE_PORTS.end());
    let span = u32::from(hi - lo) + 1;
    (0..span)
        .map(|i| lo + ((u32::from(start) + i) % span) as u16)
        .find(|&port| {
            let mut q = p.clone();
            q.host_port = port.to_string();
            !taken.iter().any(|t| t.conflicts_with(&q)) && usable(port, &p.protocol)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PublishedPort {
        PublishedPort::parse(s).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(
            p("8080:80"),
            PublishedPort {
                interfaces: vec![],
                addresses: vec![],
                host_port: "8080".into(),
                container_port: "80".into(),
                protocol: "tcp".into()
            }
        );
        assert_eq!(p("8080").container_port, "8080");
        let u = p("em0:53:5353/udp");
        assert_eq!(
            (
                u.interfaces,
                u.host_port,
                u.container_port,
                u.protocol.as_str()
            ),
            (vec!["em0".to_string()], "53".into(), "5353".into(), "udp")
        );
        assert_eq!(p("em1:443").interfaces, ["em1"]);
        let r = p("8080-8090:80");
        assert_eq!(
            (r.host_port.as_str(), r.container_port.as_str()),
            ("8080:8090", "80:*")
        );
        assert_eq!(p("7000-7002").container_port, "7000:*");
        // Docker's bind addresses.
        let l = p("127.0.0.1:8080:80");
        assert_eq!(
            (l.addresses, l.interfaces),
            (vec!["127.0.0.1".to_string()], vec![])
        );
        let l6 = p("[::1]:8080:80/udp");
        assert_eq!(
            (
                l6.addresses[0].as_str(),
                l6.host_port.as_str(),
                l6.protocol.as_str()
            ),
            ("::1", "8080", "udp")
        );
        assert_eq!(p("[::1]:8080").container_port, "8080");
    }

    #[test]
    fn conflicts() {
        let c = |a: &str, b: &str| p(a).conflicts_with(&p(b));
        assert!(c("8080:80", "8080:81"));
        assert!(!c("8080:80", "8081:80"));
        assert!(!c("8080:80", "8080:80/udp"));
        assert!(c("8000-8100:80", "8050:80"));
        assert!(c("127.0.0.1:8080:80", "8080:80"));
        assert!(!c("127.0.0.1:8080:80", "10.0.0.1:8080:80"));
        assert!(!c("em0:8080:80", "em1:8080:80"));
        assert!(c("em0:8080:80", "127.0.0.1:8080:80"));
        assert_eq!(p("127.0.0.1:8080:80").describe(), "127.0.0.1:8080:80/tcp");
        assert_eq!(p("8000-8002:70").describe(), "8000-8002:70-72/tcp");
        assert_eq!(p("8000-8001:70-71").mappings(), [(8000, 70), (8001, 71)]);
        assert!(PublishedPort::parse("8000-8001:70-75").is_err());
        assert!(p("0:80").wants_free_port());
        assert!(p("127.0.0.1:0:80/udp").wants_free_port());
        for bad in ["0", "0-5:80", "80:0"] {
            assert!(PublishedPort::parse(bad)
                .unwrap_err()
                .to_string()
                .contains("port 0"));
        }
    }

    #[test]
    fn ports_host_programs_hold() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(
            p(&format!("127.0.0.1:{port}:80")).held_on_host(),
            Some(port)
        );
        assert_eq!(p(&format!("{port}:80")).held_on_host(), Some(port));
        assert_eq!(p(&format!("127.0.0.2:{port}:80")).held_on_host(), None);
        assert_eq!(p(&format!("{port}:80/udp")).held_on_host(), None);
    }

    #[test]
    fn free_ports() {
        let taken = [p("49152:80"), p("127.0.0.1:49153:80"), p("49154:80/udp")];
        let want = p("0:80");
        // 49152 and 49153 are taken for TCP; 49154 only for UDP.
        assert_eq!(pick_free(&want, &taken, 0, |_, _| true), Some(49154));
        assert_eq!(
            pick_free(&p("10.0.0.1:0:80/udp"), &taken, 0, |_, _| true),
            Some(49152)
        );
        // What the host holds is skipped; the search wraps around.
        assert_eq!(
            pick_free(&want, &[], u16::MAX - 49152, |port, _| port != 65535),
            Some(49152)
        );
        assert_eq!(pick_free(&want, &[], 7, |_, _| false), None);
    }

    #[test]
    fn errors() {
        for bad in [
            "70000",
            "a:b:c:d",
            "80/sctp",
            "9-1:80",
            "em0:x",
            ":80",
            "1.2.3:80:80",
            "[::g]:80",
            "[::1]80",
        ] {
            assert!(PublishedPort::parse(bad).is_err(), "{bad}");
        }
        assert!(PublishedPort::parse("70000")
            .unwrap_err()
            .to_string()
            .contains("should be in the range 0 - 65535"));
    }
}
