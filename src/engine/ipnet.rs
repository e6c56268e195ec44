//! IPv4/IPv6 subnets and address allocation for networks, in Rust (no
//! netstat parsing): lowest free host address, never the network or
//! broadcast address, explicit addresses checked against the subnet.

use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn from_bits(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(v.into())
    } else {
        IpAddr::V4((v as u32).into())
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Subnet, String> {
        let bad = || format!("could not parse cidr block: \"{s}\"");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let (v, width) = bits(addr);
        if prefix > width {
            return Err(bad());
        }
        let mask = if prefix == 0 {
            0
        } else {
            (!0u128 << (width - prefix)) & (if width == 32 { 0xffff_ffff } else { !0 })
        };
        Ok(Subnet {
            addr: from_bits(v & mask, width == 128),
            prefix,
        })
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Subnet {
    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }

    fn range(&self) -> (u128, u128) {
        let (v, width) = bits(self.addr);
        let size = if width - self.prefix >= 128 {
            u128::MAX
        } else {
            (1u128 << (width - self.prefix)) - 1
        };
        (v, v + size)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv6() != self.is_v6() {
            return false;
        }
        let (lo, hi) = self.range();
        let (v, _) = bits(ip);
        lo <= v && v <= hi
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.is_v6() == other.is_v6() && (self.contains(other.addr) || other.contains(self.addr))
    }

    /// The usable host range: without the network address, and (IPv4)
    /// without the broadcast address; /31 and /32 (/127, /128) use all.
    fn hosts(&self) -> (u128, u128) {
        let (lo, hi) = self.range();
        if hi - lo < 2 {
            (lo, hi)
        } else if self.is_v6() {
            (lo + 1, hi)
        } else {
            (lo + 1, hi - 1)
        }
    }

    /// The first host address (the `<auto>` gateway).
    pub fn first_host(&self) -> IpAddr {
        from_bits(self.hosts().0, self.is_v6())
    }

    /// The lowest host address not in `taken`.
    pub fn allocate(&self, taken: &[IpAddr]) -> Option<IpAddr> {
        let (lo, hi) = self.hosts();
        let mut used: Vec<u128> = taken
            .iter()
            .filter(|t| self.contains(**t))
            .map(|t| bits(*t).0)
            .collect();
        used.sort_unstable();
        let mut candidate = lo;
        for u in used {
            if u == candidate {
                candidate += 1;
            } else if u > candidate {
                break;
            }
        }
        (candidate <= hi).then(|| from_bits(candidate, self.is_v6()))
    }

    /// Is `ip` a host address of this subnet (not network, not broadcast)?
    pub fn is_host(&self, ip: IpAddr) -> bool {
        let (lo, hi) = self.hosts();
        let (v, _) = bits(ip);
        self.contains(ip) && lo <= v && v <= hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_normalise() {
        let s: Subnet = "10.13.37.5/24".parse().unwrap();
        assert_eq!(s.to_string(), "10.13.37.0/24");
        assert_eq!(
            "fd00::1/64".parse::<Subnet>().unwrap().to_string(),
            "fd00::/64"
        );
        assert_eq!(
            "172.18.0.0-16".parse::<Subnet>().unwrap_err(),
            "could not parse cidr block: \"172.18.0.0-16\""
        );
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
    }

    #[test]
    fn allocation_skips_network_and_broadcast() {
        let s: Subnet = "10.0.0.0/30".parse().unwrap();
        assert_eq!(s.first_host(), ip("10.0.0.1"));
        assert_eq!(s.allocate(&[]), Some(ip("10.0.0.1")));
        assert_eq!(s.allocate(&[ip("10.0.0.1")]), Some(ip("10.0.0.2")));
        // A /30 has two hosts: kleened also handed out the broadcast address.
        assert_eq!(s.allocate(&[ip("10.0.0.1"), ip("10.0.0.2")]), None);
        assert!(
            !s.is_host(ip("10.0.0.3")) && !s.is_host(ip("10.0.0.0")) && s.is_host(ip("10.0.0.2"))
        );
        let v6: Subnet = "fd00::/126".parse().unwrap();
        assert_eq!(v6.allocate(&[ip("fd00::1")]), Some(ip("fd00::2")));
        // Gaps are filled from the bottom.
        let s: Subnet = "192.168.1.0/24".parse().unwrap();
        assert_eq!(
            s.allocate(&[ip("192.168.1.2"), ip("192.168.1.1"), ip("192.168.1.4")]),
            Some(ip("192.168.1.3"))
        );
    }

    #[test]
    fn containment_and_overlap() {
        let a: Subnet = "10.0.0.0/16".parse().unwrap();
        let b: Subnet = "10.0.5.0/24".parse().unwrap();
        let c: Subnet = "10.1.0.0/24".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a) && !a.overlaps(&c));
        assert!(a.contains(ip("10.0.200.1")) && !a.contains(ip("fd00::1")));
    }
}
