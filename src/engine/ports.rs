//! Published ports: `-p [INTERFACE:]HOST[:CONTAINER][/udp]`, stored in
//! kleened's form (`host_port` `N` or `A:B`, `container_port` `N` or `N:*`).

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishedPort {
    /// Empty: the host gateway's interface.
    #[serde(default)]
    pub interfaces: Vec<String>,
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
    /// Parse `[INTERFACE:]HOST[:CONTAINER][/tcp|/udp]`; HOST may be a range
    /// `A-B`, and then CONTAINER is where the range starts inside.
    pub fn parse(spec: &str) -> Result<PublishedPort> {
        let bad = |why: &str| Error::invalid("published port", spec, why);
        let (body, protocol) = match spec.rsplit_once('/') {
            Some((b, p @ ("tcp" | "udp"))) => (b, p.to_string()),
            Some((_, p)) => return Err(bad(&format!("protocol '{p}' is not tcp or udp"))),
            None => (spec, "tcp".to_string()),
        };
        let parts: Vec<&str> = body.split(':').collect();
        let (interfaces, host, container) = match parts.as_slice() {
            [h] => (vec![], *h, None),
            [a, b] if a.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                (vec![], *a, Some(*b))
            }
            [i, h] => (vec![i.to_string()], *h, None),
            [i, h, c] => (vec![i.to_string()], *h, Some(*c)),
            _ => return Err(bad("expected [INTERFACE:]HOST[:CONTAINER][/udp]")),
        };
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
        let container_port = match (container, range) {
            (None, false) => host_port.clone(),
            (None, true) => format!("{}:*", host_port.split(':').next().unwrap_or_default()),
            (Some(c), false) => port(spec, c)?.to_string(),
            (Some(c), true) => format!("{}:*", port(spec, c)?),
        };
        Ok(PublishedPort {
            interfaces,
            host_port,
            container_port,
            protocol,
        })
    }
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
    }

    #[test]
    fn errors() {
        for bad in ["70000", "a:b:c:d", "80/sctp", "9-1:80", "em0:x", ":80"] {
            assert!(PublishedPort::parse(bad).is_err(), "{bad}");
        }
        assert!(PublishedPort::parse("70000")
            .unwrap_err()
            .to_string()
            .contains("should be in the range 0 - 65535"));
    }
}
