//! A small synchronous rtnetlink client: the handful of link, address,
//! route and neighbour requests kleene makes, encoded by hand.
//!
//! Why not the `rtnetlink` crate: it is async (tokio), and the container
//! side of a link is configured in the forked child between clone and exec,
//! where a runtime has no place. The wire format is stable kernel ABI, and
//! every request here is acknowledged (`NLM_F_ACK`), so a failure comes back
//! as the kernel's errno, with the request it answered.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTM_SETNEIGHTBL: u16 = 67;
const NDTA_NAME: u16 = 1;
const NDTA_PARMS: u16 = 6;
const NDTPA_IFINDEX: u16 = 1;
const NDTPA_PROXY_DELAY: u16 = 13;

const NLA_F_NESTED: u16 = 1 << 15;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_PROTINFO: u16 = 12;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_BRPORT_ISOLATED: u16 = 33;
const IFLA_INET_CONF: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTNH_F_ONLINK: u32 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 1;

/// IPv4 per-interface settings (`enum IPV4_DEVCONF_*` in linux/ip.h).
pub const DEVCONF_PROXY_ARP: u16 = 3;
pub const DEVCONF_ROUTE_LOCALNET: u16 = 26;

/// A failed request: what was asked, and the kernel's answer.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct Error {
    pub what: String,
    pub source: std::io::Error,
}

impl Error {
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn fail(what: impl Into<String>, source: std::io::Error) -> Error {
    Error {
        what: what.into(),
        source,
    }
}

/// A netlink message under construction: header, fixed part, attributes.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    fn new(ty: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel's
        buf.extend_from_slice(fixed);
        buf.resize(align(buf.len()), 0);
        Msg { buf, nests: vec![] }
    }

    fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    fn str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(ty, &d)
    }

    fn u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    fn begin(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.attr(ty | NLA_F_NESTED, &[])
    }

    /// Raw bytes inside the current nest (a nested fixed header).
    fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    fn end(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("balanced nests");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = family;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn family(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    }
}

fn octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A route to add or remove.
#[derive(Debug, Clone)]
pub struct Route {
    /// Destination and prefix length; `None` is the default route.
    pub dst: Option<(IpAddr, u8)>,
    pub via: Option<IpAddr>,
    pub src: Option<IpAddr>,
    pub oif: i32,
    /// Which family a default route is for.
    pub v6: bool,
}

impl Route {
    fn rtmsg(&self) -> [u8; 12] {
        let v6 = self.dst.map(|(a, _)| a.is_ipv6()).unwrap_or(self.v6);
        let mut m = [0u8; 12];
        m[0] = if v6 {
            libc::AF_INET6 as u8
        } else {
            libc::AF_INET as u8
        };
        m[1] = self.dst.map(|(_, p)| p).unwrap_or(0);
        m[4] = RT_TABLE_MAIN;
        m[5] = RTPROT_STATIC;
        m[6] = if self.via.is_some() {
            RT_SCOPE_UNIVERSE
        } else {
            RT_SCOPE_LINK
        };
        m[7] = RTN_UNICAST;
        if self.via.is_some() {
            // The gateway is on the link whatever the addresses say (an
            // IPv6 link-local gateway, before any neighbour is known).
            m[8..12].copy_from_slice(&RTNH_F_ONLINK.to_ne_bytes());
        }
        m
    }
}

/// A `NETLINK_ROUTE` socket, in the network namespace it was opened in.
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// Open a socket in the calling thread's network namespace. It is
    /// close-on-exec: a container never inherits the host's.
    pub fn open() -> Result<Socket> {
        // SAFETY: plain socket(2); the fd is owned from here on.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(fail(
                "cannot open a netlink socket",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: a fresh fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Talk to the kernel (port 0): plain send/recv from here on.
        // SAFETY: a zeroed sockaddr_nl is the kernel's address.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: a valid address of the right size.
        let r = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(fail(
                "cannot connect a netlink socket",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(Socket { fd })
    }

    /// Open a socket inside the network namespace `ns` (an open
    /// `/proc/PID/ns/net`), from a short-lived thread so this process's own
    /// namespace never changes.
    pub fn open_in(ns: RawFd) -> Result<Socket> {
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on this thread only; it ends right after.
                if unsafe { libc::setns(ns, libc::CLONE_NEWNET) } < 0 {
                    return Err(fail(
                        "cannot enter the container's network namespace",
                        std::io::Error::last_os_error(),
                    ));
                }
                Socket::open()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(fail(
                    "cannot open a netlink socket",
                    std::io::Error::other("thread panicked"),
                ))
            })
        })
    }

    /// Send one request and read the kernel's replies: its data messages
    /// (for a GET) until the acknowledgement or an error.
    fn request(&self, what: &dyn Fn() -> String, msg: Msg) -> Result<Vec<Vec<u8>>> {
        let buf = msg.finish();
        // SAFETY: a valid buffer on our socket.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(fail(what(), std::io::Error::last_os_error()));
        }
        let mut data = Vec::new();
        let mut rbuf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: reading into our buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), rbuf.as_mut_ptr().cast(), rbuf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(fail(what(), e));
            }
            let mut off = 0usize;
            let n = n as usize;
            while off + 16 <= n {
                let len = u32::from_ne_bytes(rbuf[off..off + 4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(rbuf[off + 4..off + 6].try_into().unwrap());
                if len < 16 || off + len > n {
                    return Err(fail(what(), std::io::Error::other("truncated reply")));
                }
                match ty {
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(rbuf[off + 16..off + 20].try_into().unwrap());
                        if code == 0 {
                            return Ok(data);
                        }
                        return Err(fail(what(), std::io::Error::from_raw_os_error(-code)));
                    }
                    NLMSG_DONE => return Ok(data),
                    _ => data.push(rbuf[off + 16..off + len].to_vec()),
                }
                off += align(len);
            }
        }
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&self, name: &str) -> Result<Option<i32>> {
        let mut m = Msg::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0, 0));
        m.str(IFLA_IFNAME, name);
        match self.request(&|| format!("cannot look up link '{name}'"), m) {
            Ok(replies) => Ok(replies
                .first()
                .filter(|r| r.len() >= 8)
                .map(|r| i32::from_ne_bytes(r[4..8].try_into().unwrap()))),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of every link in the namespace.
    pub fn link_names(&self) -> Result<Vec<String>> {
        let m = Msg::new(RTM_GETLINK, libc::NLM_F_DUMP as u16, &ifinfomsg(0, 0, 0, 0));
        let replies = self.request(&|| "cannot list links".to_string(), m)?;
        let mut names = Vec::new();
        for r in replies {
            // ifinfomsg (16 bytes), then attributes.
            let mut off = 16;
            while off + 4 <= r.len() {
                let len = u16::from_ne_bytes(r[off..off + 2].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(r[off + 2..off + 4].try_into().unwrap());
                if len < 4 || off + len > r.len() {
                    break;
                }
                if ty == IFLA_IFNAME {
                    let v = &r[off + 4..off + len];
                    let v = v.split(|b| *b == 0).next().unwrap_or_default();
                    names.push(String::from_utf8_lossy(v).into_owned());
                    break;
                }
                off += align(len);
            }
        }
        Ok(names)
    }

    /// The index of `name`, which must exist.
    pub fn index(&self, name: &str) -> Result<i32> {
        self.link_index(name)?.ok_or_else(|| {
            fail(
                format!("cannot find link '{name}'"),
                std::io::Error::from_raw_os_error(libc::ENODEV),
            )
        })
    }

    /// Create a link of `kind` (`bridge`, `dummy`), up.
    pub fn add_link(&self, name: &str, kind: &str) -> Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &ifinfomsg(0, 0, IFF_UP, IFF_UP),
        );
        m.str(IFLA_IFNAME, name)
            .begin(IFLA_LINKINFO)
            .str(IFLA_INFO_KIND, kind)
            .end();
        self.request(&|| format!("cannot create {kind} '{name}'"), m)
            .map(drop)
    }

    /// Create a veth pair: `name` here, up (in `master` if given), `peer`
    /// (with `peer_mac` if given) in the network namespace `peer_ns`, down (a veth end cannot come up
    /// before its pair exists: bring it up from its namespace).
    pub fn add_veth(
        &self,
        name: &str,
        master: Option<i32>,
        peer: &str,
        peer_mac: Option<[u8; 6]>,
        peer_ns: RawFd,
    ) -> Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            &ifinfomsg(0, 0, IFF_UP, IFF_UP),
        );
        m.str(IFLA_IFNAME, name);
        if let Some(master) = master {
            m.u32(IFLA_MASTER, master as u32);
        }
        m.begin(IFLA_LINKINFO)
            .str(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER)
            .raw(&ifinfomsg(0, 0, 0, 0))
            .str(IFLA_IFNAME, peer);
        if let Some(mac) = peer_mac {
            m.attr(IFLA_ADDRESS, &mac);
        }
        m.u32(IFLA_NET_NS_FD, peer_ns as u32).end().end().end();
        self.request(&|| format!("cannot create veth pair '{name}'/'{peer}'"), m)
            .map(drop)
    }

    /// Remove a link; absent is not an error.
    pub fn del_link(&self, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_DELLINK, 0, &ifinfomsg(0, 0, 0, 0));
        m.str(IFLA_IFNAME, name);
        match self.request(&|| format!("cannot remove link '{name}'"), m) {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Bring link `index` up.
    pub fn set_up(&self, index: i32) -> Result<()> {
        let m = Msg::new(RTM_NEWLINK, 0, &ifinfomsg(0, index, IFF_UP, IFF_UP));
        self.request(&|| format!("cannot bring link {index} up"), m)
            .map(drop)
    }

    /// Set IPv4 per-interface settings (`DEVCONF_*`) of link `index`.
    pub fn set_devconf(&self, index: i32, settings: &[(u16, u32)]) -> Result<()> {
        let mut m = Msg::new(RTM_SETLINK, 0, &ifinfomsg(0, index, 0, 0));
        m.begin(IFLA_AF_SPEC)
            .begin(libc::AF_INET as u16)
            .begin(IFLA_INET_CONF);
        for (k, v) in settings {
            m.u32(*k, *v);
        }
        m.end().end().end();
        self.request(&|| format!("cannot set IPv4 settings of link {index}"), m)
            .map(drop)
    }

    /// Answer proxied ARP requests on link `index` at once (the kernel
    /// delays them by up to 0.8 s by default, which first connections feel).
    pub fn set_proxy_delay_zero(&self, index: i32) -> Result<()> {
        let mut m = Msg::new(RTM_SETNEIGHTBL, 0, &[libc::AF_INET as u8, 0, 0, 0]);
        m.str(NDTA_NAME, "arp_cache")
            .begin(NDTA_PARMS)
            .u32(NDTPA_IFINDEX, index as u32)
            .attr(NDTPA_PROXY_DELAY, &0u64.to_ne_bytes())
            .end();
        self.request(
            &|| format!("cannot set the ARP proxy delay of link {index}"),
            m,
        )
        .map(drop)
    }

    /// Isolate bridge port `index` from the other isolated ports (a
    /// network without inter-container connectivity).
    pub fn set_port_isolated(&self, index: i32) -> Result<()> {
        let mut m = Msg::new(
            RTM_SETLINK,
            0,
            &ifinfomsg(libc::AF_BRIDGE as u8, index, 0, 0),
        );
        m.begin(IFLA_PROTINFO)
            .attr(IFLA_BRPORT_ISOLATED, &[1])
            .end();
        self.request(&|| format!("cannot isolate bridge port {index}"), m)
            .map(drop)
    }

    fn addr_msg(ty: u16, flags: u16, index: i32, ip: &IpAddr, prefix: u8) -> Msg {
        let mut fixed = [0u8; 8];
        fixed[0] = family(ip);
        fixed[1] = prefix;
        fixed[3] = if ip.is_ipv6() && ip.to_string().starts_with("fe80:") {
            RT_SCOPE_LINK
        } else {
            RT_SCOPE_UNIVERSE
        };
        fixed[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut m = Msg::new(ty, flags, &fixed);
        let o = octets(ip);
        m.attr(IFA_LOCAL, &o).attr(IFA_ADDRESS, &o);
        m
    }

    /// Add `ip/prefix` to link `index` (IPv6 without duplicate address
    /// detection: the address is ours, and usable at once).
    pub fn add_addr(&self, index: i32, ip: &IpAddr, prefix: u8) -> Result<()> {
        let mut m = Self::addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, index, ip, prefix);
        if ip.is_ipv6() {
            m.u32(IFA_FLAGS, IFA_F_NODAD);
        }
        self.request(&|| format!("cannot add address {ip}/{prefix}"), m)
            .map(drop)
    }

    /// Remove `ip/prefix` from link `index`; absent is not an error.
    pub fn del_addr(&self, index: i32, ip: &IpAddr, prefix: u8) -> Result<()> {
        let m = Self::addr_msg(RTM_DELADDR, 0, index, ip, prefix);
        match self.request(&|| format!("cannot remove address {ip}/{prefix}"), m) {
            Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => Ok(()),
            r => r.map(drop),
        }
    }

    fn route_msg(ty: u16, flags: u16, r: &Route) -> Msg {
        let mut m = Msg::new(ty, flags, &r.rtmsg());
        m.u32(RTA_TABLE, RT_TABLE_MAIN as u32);
        if let Some((dst, _)) = &r.dst {
            m.attr(RTA_DST, &octets(dst));
        }
        if let Some(via) = &r.via {
            m.attr(RTA_GATEWAY, &octets(via));
        }
        if let Some(src) = &r.src {
            m.attr(RTA_PREFSRC, &octets(src));
        }
        m.u32(RTA_OIF, r.oif as u32);
        m
    }

    pub fn add_route(&self, r: &Route) -> Result<()> {
        let m = Self::route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r);
        self.request(&|| format!("cannot add route {}", describe(r)), m)
            .map(drop)
    }

    /// Remove a route; absent is not an error.
    pub fn del_route(&self, r: &Route) -> Result<()> {
        let m = Self::route_msg(RTM_DELROUTE, 0, r);
        match self.request(&|| format!("cannot remove route {}", describe(r)), m) {
            Err(e) if matches!(e.errno(), Some(libc::ESRCH | libc::ENODEV)) => Ok(()),
            r => r.map(drop),
        }
    }

    /// The output interface index of the IPv4 default route, if any.
    pub fn default_route_oif(&self) -> Result<Option<i32>> {
        let mut fixed = [0u8; 12];
        fixed[0] = libc::AF_INET as u8;
        let m = Msg::new(RTM_GETROUTE, libc::NLM_F_DUMP as u16, &fixed);
        let replies = self.request(&|| "cannot list routes".to_string(), m)?;
        for r in replies {
            // rtmsg: dst_len 0 in the main table, then attributes.
            if r.len() < 12 || r[1] != 0 || r[4] != RT_TABLE_MAIN || r[7] != RTN_UNICAST {
                continue;
            }
            let mut off = 12;
            while off + 4 <= r.len() {
                let len = u16::from_ne_bytes(r[off..off + 2].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(r[off + 2..off + 4].try_into().unwrap());
                if len < 4 || off + len > r.len() {
                    break;
                }
                if ty == RTA_OIF && len >= 8 {
                    return Ok(Some(i32::from_ne_bytes(
                        r[off + 4..off + 8].try_into().unwrap(),
                    )));
                }
                off += align(len);
            }
        }
        Ok(None)
    }
}

fn describe(r: &Route) -> String {
    let dst = match r.dst {
        Some((a, p)) => format!("{a}/{p}"),
        None => "default".into(),
    };
    match r.via {
        Some(v) => format!("{dst} via {v}"),
        None => format!("{dst} on link {}", r.oif),
    }
}

/// The name of link `index` in the calling process's namespace.
pub fn index_name(index: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer is IF_NAMESIZE long, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index as u32, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_have_their_lengths_and_alignment() {
        let mut m = Msg::new(RTM_NEWLINK, 0, &ifinfomsg(0, 0, IFF_UP, IFF_UP));
        m.str(IFLA_IFNAME, "kv1")
            .begin(IFLA_LINKINFO)
            .str(IFLA_INFO_KIND, "veth")
            .end();
        let b = m.finish();
        assert_eq!(
            u32::from_ne_bytes(b[..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(b.len() % 4, 0);
        // header 16 + ifinfomsg 16, then IFLA_IFNAME "kv1\0" (8 bytes).
        assert_eq!(&b[32..34], &8u16.to_ne_bytes());
        assert_eq!(&b[36..40], b"kv1\0");
        // The nest: 4 bytes of header + "veth\0" attribute (4 + 5 → 12).
        assert_eq!(u16::from_ne_bytes(b[40..42].try_into().unwrap()), 16);
        assert_eq!(
            u16::from_ne_bytes(b[42..44].try_into().unwrap()),
            IFLA_LINKINFO | NLA_F_NESTED
        );
    }

    #[test]
    fn default_routes_are_onlink_through_a_gateway() {
        let r = Route {
            dst: None,
            via: Some("fe80::1".parse().unwrap()),
            src: None,
            oif: 2,
            v6: true,
        };
        let m = r.rtmsg();
        assert_eq!(m[0], libc::AF_INET6 as u8);
        assert_eq!(m[6], RT_SCOPE_UNIVERSE);
        assert_eq!(
            u32::from_ne_bytes(m[8..12].try_into().unwrap()),
            RTNH_F_ONLINK
        );
        assert_eq!(describe(&r), "default via fe80::1");
    }
}
