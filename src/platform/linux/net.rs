//! Kleene's networks on Linux (see docs/networking.md):
//!
//! - a `bridge` network is a Linux bridge holding the gateway addresses;
//!   a `loopback` network is a bridge without addresses or members (a
//!   name and nothing on the wire: its containers, ipnet only, are reached
//!   through the host's routes; a bridge rather than a dummy interface
//!   because kernels without `CONFIG_DUMMY` are common); a `custom`
//!   network is an interface that already exists;
//! - a `vnet` container gets a veth pair per network: the host end is a
//!   port of the bridge (isolated from the other ports when `icc` is off),
//!   the other end is `ethN` in the container with its addresses and the
//!   default routes through the gateways;
//! - an `ipnet` container (FreeBSD: a jail restricted to some of the host's
//!   addresses) gets one veth pair, `eth0`, carrying all its addresses as
//!   host routes (/32, /128): the host routes each address to it, answers
//!   ARP for everything else (proxy ARP) and is the IPv6 gateway at
//!   `fe80::1`. Addresses come and go while it runs (connect/disconnect);
//! - `host` shares the host's namespace; `disabled` has only `lo`.
//!
//! The container ends are made in the forked child between clone and exec,
//! with a netlink socket the parent opened in the host's namespace: a failure
//! is reported like any other start failure, and everything made for the
//! container disappears with its network namespace when it exits (a veth
//! dies with either end), so nothing is left to clean up.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::netlink::{self, Route, Socket, DEVCONF_PROXY_ARP, DEVCONF_ROUTE_LOCALNET};
use super::nft;
use crate::platform::{Attachment, Error, Firewall, NetworkSpec, Result, RunSpec};

/// The IPv6 gateway of ipnet containers: on every host end, link-local.
const IPNET_GW6: &str = "fe80::1";

fn nl(e: netlink::Error) -> Error {
    Error::Failed(e.to_string())
}

/// The host end of a vnet container's link to one network.
pub fn vnet_link(endpoint: &str) -> String {
    format!("kv{}", &endpoint[..endpoint.len().min(12)])
}

/// The host end of an ipnet container's link.
pub fn ipnet_link(container: &str) -> String {
    format!("ki{}", &container[..container.len().min(12)])
}

/// Does the container need a link to the host made at start?
pub fn needs_links(spec: &RunSpec) -> bool {
    !spec.fly
        && matches!(spec.network_driver.as_str(), "vnet" | "ipnet")
        && !spec.attachments.is_empty()
}

pub fn interface_exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: a valid C string.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

/// The interface of the IPv4 default route.
pub fn host_gateway() -> Option<String> {
    let s = Socket::open().ok()?;
    s.default_route_oif().ok()?.and_then(netlink::index_name)
}

/// The IPv4 routes of the main table but the default, from
/// /proc/net/route (addresses and masks in hex, in memory order).
pub fn host_routes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_routes(&text)
}

fn parse_routes(text: &str) -> Vec<(String, String)> {
    // The kernel prints each address as the u32 its bytes make in memory:
    // those bytes, in this machine's order, are the address's.
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dest, mask) = (hex(f.get(1)?)?, hex(f.get(7)?)?);
            let prefix = mask.count_ones();
            let a = std::net::Ipv4Addr::from(dest.to_ne_bytes());
            (prefix > 0).then(|| (format!("{a}/{prefix}"), f[0].to_string()))
        })
        .collect()
}

#[cfg(test)]
mod route_tests {
    #[test]
    #[cfg(target_endian = "little")]
    fn proc_net_route() {
        let text =
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            ki1\t0100590A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";
        assert_eq!(
            super::parse_routes(text),
            [
                ("192.0.2.0/24".to_string(), "eth0".to_string()),
                ("10.89.0.1/32".to_string(), "ki1".to_string())
            ]
        );
    }
}

/// `ADDR/PREFIX` as the engine gives gateways.
fn cidr(s: &str) -> Result<(IpAddr, u8)> {
    let bad = || Error::Failed(format!("invalid address '{s}'"));
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, p.parse().map_err(|_| bad())?))
}

pub fn create_network(net: &NetworkSpec) -> Result<()> {
    let kind = match net.kind.as_str() {
        "bridge" | "loopback" => "bridge",
        other => {
            return Err(Error::Failed(format!(
                "cannot create an interface for a '{other}' network"
            )))
        }
    };
    let s = Socket::open().map_err(nl)?;
    s.add_link(&net.interface, kind).map_err(nl)?;
    let configure = || -> netlink::Result<()> {
        let idx = s.index(&net.interface)?;
        for g in [&net.gateway, &net.gateway6] {
            if !g.is_empty() {
                let (ip, prefix) = cidr(g).map_err(|e| netlink::Error {
                    what: e.to_string(),
                    source: std::io::Error::from_raw_os_error(libc::EINVAL),
                })?;
                s.add_addr(idx, &ip, prefix)?;
            }
        }
        if net.kind == "bridge" {
            // Answer ARP for ipnet containers on the bridge's subnet, and
            // let DNAT from the host's localhost leave through it.
            s.set_devconf(idx, &[(DEVCONF_PROXY_ARP, 1), (DEVCONF_ROUTE_LOCALNET, 1)])?;
            s.set_proxy_delay_zero(idx)?;
        }
        Ok(())
    };
    if let Err(e) = configure() {
        let _ = s.del_link(&net.interface);
        return Err(nl(e));
    }
    Ok(())
}

pub fn destroy_network(net: &NetworkSpec) -> Result<()> {
    if !matches!(net.kind.as_str(), "bridge" | "loopback") {
        return Ok(());
    }
    // Gone already (a removal that was interrupted) is not an error.
    match Socket::open().and_then(|s| s.del_link(&net.interface)) {
        Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
        other => other.map_err(nl),
    }
}

/// The socket the child makes the host ends with; opened before clone.
pub fn host_socket(spec: &RunSpec) -> Result<Option<Socket>> {
    if !needs_links(spec) {
        return Ok(None);
    }
    Socket::open().map(Some).map_err(nl)
}

/// The MAC address of a container's link, derived from its address (as
/// Docker does): an address reused by a new container keeps its MAC, so
/// neighbour caches that still hold it (the host's, other containers')
/// stay right instead of sending to a vanished link for seconds.
pub fn mac_for(ip: &str, ip6: &str) -> Option<[u8; 6]> {
    let tail: [u8; 4] = match (ip.parse::<IpAddr>(), ip6.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), _) => a.octets(),
        (_, Ok(IpAddr::V6(a))) => a.octets()[12..].try_into().ok()?,
        _ => return None,
    };
    // Locally administered, unicast; 0x6b is "k".
    Some([0x02, 0x6b, tail[0], tail[1], tail[2], tail[3]])
}

/// Create a veth pair; a leftover host end (its container's namespace is
/// still being torn down by the kernel) is removed first.
fn add_veth(
    host: &Socket,
    name: &str,
    master: Option<i32>,
    peer: &str,
    mac: Option<[u8; 6]>,
    ns: i32,
) -> netlink::Result<()> {
    match host.add_veth(name, master, peer, mac, ns) {
        Err(e) if e.errno() == Some(libc::EEXIST) => {
            host.del_link(name)?;
            host.add_veth(name, master, peer, mac, ns)
        }
        r => r,
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// In the container's child, before exec: `lo` up, and the links to its
/// networks. `host` was opened in the host's namespace.
pub fn setup_child(
    spec: &RunSpec,
    host: Option<&Socket>,
    lo_down: bool,
) -> std::result::Result<(), String> {
    if !lo_down && host.is_none() {
        return Ok(());
    }
    let local = Socket::open().map_err(|e| e.to_string())?;
    if lo_down {
        // `lo` is always the first link of a new namespace.
        local.set_up(1).map_err(|e| e.to_string())?;
    }
    let Some(host) = host else { return Ok(()) };
    // Our IPv6 addresses are unique by allocation: no duplicate detection
    // (it would leave them unusable for a second or more).
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
    let ns = super::sys::open("/proc/self/ns/net", libc::O_RDONLY | libc::O_CLOEXEC)?;
    // SAFETY: a fresh fd we own.
    let ns = unsafe { OwnedFd::from_raw_fd(ns) };
    let r = match spec.network_driver.as_str() {
        "vnet" => vnet(spec, host, &local, ns.as_raw_fd()),
        _ => ipnet(
            &spec.id,
            host,
            &local,
            ns.as_raw_fd(),
            &[],
            &spec.attachments,
        ),
    };
    r.map_err(|e| e.to_string())
}

fn vnet(spec: &RunSpec, host: &Socket, local: &Socket, ns: i32) -> netlink::Result<()> {
    let (mut gw4, mut gw6) = (false, false);
    for (i, a) in spec.attachments.iter().enumerate() {
        let name = vnet_link(&a.endpoint);
        let peer = format!("eth{i}");
        let master = host.index(&a.interface)?;
        add_veth(host, &name, Some(master), &peer, mac_for(&a.ip, &a.ip6), ns)?;
        if a.isolated {
            host.set_port_isolated(host.index(&name)?)?;
        }
        let idx = local.index(&peer)?;
        local.set_up(idx)?;
        for (addr, prefix) in [(ip(&a.ip), a.prefix), (ip(&a.ip6), a.prefix6)] {
            if let Some(addr) = addr {
                local.add_addr(idx, &addr, prefix)?;
            }
        }
        // The first network with a gateway gives the default route.
        for (gw, done, v6) in [(&a.gateway, &mut gw4, false), (&a.gateway6, &mut gw6, true)] {
            let mine = if v6 { &a.ip6 } else { &a.ip };
            if let (Some(gw), false, false) = (ip(gw), *done, mine.is_empty()) {
                local.add_route(&Route {
                    dst: None,
                    via: Some(gw),
                    src: None,
                    oif: idx,
                    v6,
                })?;
                *done = true;
            }
        }
    }
    Ok(())
}

fn host_route(addr: IpAddr, oif: i32) -> Route {
    let prefix = if addr.is_ipv4() { 32 } else { 128 };
    Route {
        dst: Some((addr, prefix)),
        via: None,
        src: None,
        oif,
        v6: addr.is_ipv6(),
    }
}

fn addresses(list: &[Attachment]) -> Vec<IpAddr> {
    list.iter()
        .flat_map(|a| [ip(&a.ip), ip(&a.ip6)])
        .flatten()
        .collect()
}

/// Bring an ipnet container's link from `before` to `after`: make it if
/// needed, then add and remove addresses (in the container) and their host
/// routes (on the host).
fn ipnet(
    id: &str,
    host: &Socket,
    local: &Socket,
    ns: i32,
    before: &[Attachment],
    after: &[Attachment],
) -> netlink::Result<()> {
    let name = ipnet_link(id);
    let hidx = match host.link_index(&name)? {
        Some(i) if !before.is_empty() => i,
        _ => {
            let first = after.first().map(|a| mac_for(&a.ip, &a.ip6));
            add_veth(host, &name, None, "eth0", first.flatten(), ns)?;
            let i = host.index(&name)?;
            host.set_devconf(i, &[(DEVCONF_PROXY_ARP, 1), (DEVCONF_ROUTE_LOCALNET, 1)])?;
            host.set_proxy_delay_zero(i)?;
            i
        }
    };
    let idx = local.index("eth0")?;
    local.set_up(idx)?;
    let (old, new) = (addresses(before), addresses(after));
    for a in old.iter().filter(|a| !new.contains(a)) {
        host.del_route(&host_route(*a, hidx))?;
        local.del_addr(idx, a, if a.is_ipv4() { 32 } else { 128 })?;
    }
    for a in new.iter().filter(|a| !old.contains(a)) {
        local.add_addr(idx, a, if a.is_ipv4() { 32 } else { 128 })?;
        host.add_route(&host_route(*a, hidx))?;
    }
    // Default routes: everything goes to the host (add replaces, so this is
    // idempotent).
    if new.iter().any(|a| a.is_ipv4()) {
        local.add_route(&Route {
            dst: None,
            via: None,
            src: None,
            oif: idx,
            v6: false,
        })?;
    }
    if new.iter().any(|a| a.is_ipv6()) {
        let gw: IpAddr = IPNET_GW6.parse().expect("valid address");
        host.add_addr(hidx, &gw, 64)?;
        local.add_route(&Route {
            dst: None,
            via: Some(gw),
            src: None,
            oif: idx,
            v6: true,
        })?;
    }
    Ok(())
}

/// A running ipnet container's networks changed.
pub fn relink(
    id: &str,
    pid: i32,
    driver: &str,
    before: &[Attachment],
    after: &[Attachment],
) -> Result<()> {
    if driver == "vnet" {
        // A vnet container leaving a network loses that link (connecting a
        // running one is refused by the engine).
        let host = Socket::open().map_err(nl)?;
        for a in before
            .iter()
            .filter(|a| !after.iter().any(|b| b.endpoint == a.endpoint))
        {
            host.del_link(&vnet_link(&a.endpoint)).map_err(nl)?;
        }
        return Ok(());
    }
    if driver != "ipnet" || pid <= 0 {
        return Ok(());
    }
    let path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
    let host = Socket::open().map_err(nl)?;
    let local = Socket::open_in(ns.as_raw_fd()).map_err(nl)?;
    ipnet(id, &host, &local, ns.as_raw_fd(), before, after).map_err(nl)
}

/// `/etc/hosts` of a container: localhost, and its own name at each of
/// its addresses.
/// The first line of every `/etc/hosts` kleene writes: how it knows the
/// file is its own to rewrite.
const HOSTS_MARK: &str =
    "# kleene: this container's names and its network peers, kept up to date\n";

/// Rewrite, in place (it is a bind mount), the `/etc/hosts` of a running
/// container, seen through its init's root; only a file that starts with
/// our mark (a user's own `/etc/hosts` mount stays as it is).
pub fn refresh_hosts(spec: &RunSpec, pid: i32) -> Result<()> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let path = format!("/proc/{pid}/root/etc/hosts");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| Error::io("cannot open", &path, e))?;
    let mut head = vec![0u8; HOSTS_MARK.len()];
    let ours = f.read_exact(&mut head).is_ok() && head == HOSTS_MARK.as_bytes();
    if !ours {
        return Ok(());
    }
    let text = hosts_file(spec);
    let mut old = head;
    if f.read_to_end(&mut old).is_ok() && old == text.as_bytes() {
        return Ok(());
    }
    // Written over from the start in one write, then cut to length: a
    // process reading the file meanwhile (a resolver at start-up) sees the
    // old or the new names, never an empty file, as truncating first
    // would show it.
    f.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| f.write_all(text.as_bytes()))
        .and_then(|_| f.set_len(text.len() as u64))
        .map_err(|e| Error::io("cannot write", &path, e))
}

pub fn hosts_file(spec: &RunSpec) -> String {
    let mut s = String::from(HOSTS_MARK);
    s.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let names = if spec.name.is_empty() || spec.name == spec.hostname {
        spec.hostname.clone()
    } else {
        format!("{} {}", spec.hostname, spec.name)
    };
    for a in addresses(&spec.attachments) {
        s.push_str(&format!("{a}\t{names}\n"));
    }
    for h in &spec.extra_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            s.push_str(&format!(
                "{}\t{name}\n",
                ip.trim_matches(|c| c == '[' || c == ']')
            ));
        }
    }
    s
}

/// `/etc/resolv.conf` of a container: the host's, without nameservers on
/// the host's loopback (a container's `localhost` is its own); with `dns`
/// given, those nameservers replace the host's (its search domains and
/// options stay).
pub fn resolv_conf(host: &str, dns: &[String]) -> String {
    let mut out = String::from("# generated by kleene from the host's /etc/resolv.conf\n");
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            if !dns.is_empty() {
                continue;
            }
            let loopback = words
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|a| a.is_loopback());
            if loopback {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Where kleene keeps what it changed in the host's settings, to put them
/// back when its last network is gone.
fn saved_sysctls(root: &Path) -> std::path::PathBuf {
    root.join("sysctl.saved")
}

/// Forwarding on while networks exist (IPv6 only with an IPv6 network);
/// each setting's value before kleene is saved and restored afterwards.
fn forwarding(root: &Path, fw: &Firewall) -> Result<()> {
    let file = saved_sysctls(root);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let mut saved: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let v4 = !fw.networks.is_empty();
    let v6 = fw.networks.iter().any(|n| !n.subnet6.is_empty());
    // The file changes only when a setting does (this runs at every
    // firewall reload), and before the setting itself when one is taken
    // over, so a crash never loses the value to restore.
    let persist = |saved: &[(String, String)]| -> Result<()> {
        if saved.is_empty() {
            let _ = std::fs::remove_file(&file);
            return Ok(());
        }
        std::fs::write(&file, render_saved(saved)).map_err(|e| Error::io("cannot write", &file, e))
    };
    for (key, want) in [
        ("/proc/sys/net/ipv4/ip_forward", v4),
        ("/proc/sys/net/ipv6/conf/all/forwarding", v6),
    ] {
        let pos = saved.iter().position(|(k, _)| k == key);
        match (want, pos) {
            (true, None) => {
                let Ok(before) = std::fs::read_to_string(key) else {
                    continue; // no IPv6 here
                };
                saved.push((key.to_string(), before.trim().to_string()));
                persist(&saved)?;
                std::fs::write(key, "1")
                    .map_err(|e| Error::io("cannot enable forwarding in", key, e))?;
            }
            (false, Some(i)) => {
                let (_, before) = saved.remove(i);
                std::fs::write(key, &before).map_err(|e| Error::io("cannot restore", key, e))?;
                persist(&saved)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn render_saved(saved: &[(String, String)]) -> String {
    saved.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Load kleene's nftables table (skipped when it is what was loaded last:
/// starting and stopping containers does not change it), and set forwarding.
pub fn apply_firewall(root: &Path, fw: &Firewall) -> Result<()> {
    let script = nft::script(fw);
    let last = root.join("nftables.rules");
    let same = std::fs::read_to_string(&last).is_ok_and(|s| s == script);
    if !same {
        let empty = fw.networks.is_empty() && fw.ports.is_empty();
        match run_nft(&script) {
            Ok(()) => {}
            // Nothing to remove where nftables is not installed.
            Err(NftError::Missing(_)) if empty => {}
            Err(e) => return Err(Error::Failed(e.to_string())),
        }
        std::fs::write(&last, &script).map_err(|e| Error::io("cannot write", &last, e))?;
    }
    forwarding(root, fw)
}

/// Is kleene's table loaded as `fw` would generate it? (What was loaded
/// last is what `fw` generates, and the kernel still has the table.)
pub fn firewall_current(root: &Path, fw: &Firewall) -> bool {
    let script = nft::script(fw);
    let recorded = std::fs::read_to_string(root.join("nftables.rules")).ok();
    let empty = fw.networks.is_empty() && fw.ports.is_empty();
    match recorded {
        // Never loaded: right when there is nothing to load.
        None => empty,
        Some(s) if s != script => false,
        Some(_) if empty => true,
        Some(_) => run_nft_args(&["list", "table", "inet", nft::TABLE]),
    }
}

/// Remove an interface left behind (gone already is fine).
pub fn remove_link(name: &str) -> Result<()> {
    match Socket::open().and_then(|s| s.del_link(name)) {
        Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
        other => other.map_err(nl),
    }
}

fn nft_bin() -> &'static str {
    ["/usr/sbin/nft", "/sbin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("nft")
}

/// Does `nft ARGS` succeed?
fn run_nft_args(args: &[&str]) -> bool {
    std::process::Command::new(nft_bin())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[derive(Debug, thiserror::Error)]
enum NftError {
    #[error("cannot run nft (install the nftables package): {0}")]
    Missing(std::io::Error),
    #[error("nft rejected kleene's ruleset: {0}")]
    Rejected(String),
}

fn run_nft(script: &str) -> std::result::Result<(), NftError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(nft_bin())
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NftError::Missing)?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    let out = child.wait_with_output().map_err(NftError::Missing)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NftError::Rejected(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_fit_ifnamsiz() {
        assert_eq!(vnet_link("0123456789abcdef"), "kv0123456789ab");
        assert_eq!(ipnet_link("0123456789ab"), "ki0123456789ab");
        assert!(vnet_link("0123456789ab").len() <= 15);
    }

    #[test]
    fn macs_follow_addresses() {
        assert_eq!(mac_for("10.1.0.2", ""), Some([0x02, 0x6b, 10, 1, 0, 2]));
        assert_eq!(
            mac_for("", "fd00::a:b0c"),
            Some([0x02, 0x6b, 0, 0x0a, 0x0b, 0x0c])
        );
        assert_eq!(mac_for("", ""), None);
    }

    #[test]
    fn resolv_conf_drops_loopback_nameservers() {
        let host = "search example.org\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.1\noptions edns0\n";
        let r = resolv_conf(host, &[]);
        assert!(r.contains("search example.org\n"));
        assert!(r.contains("nameserver 10.0.0.1\n"));
        assert!(r.contains("options edns0\n"));
        assert!(!r.contains("127.0.0.53") && !r.contains("::1"));
        let r = resolv_conf(host, &["192.0.2.53".into()]);
        assert!(
            r.contains("nameserver 192.0.2.53\n") && !r.contains("10.0.0.1"),
            "{r}"
        );
        assert!(r.contains("search example.org\n"));
    }

    #[test]
    fn hosts_name_every_address() {
        let spec = RunSpec {
            id: "abc".into(),
            name: "web".into(),
            hostname: "abc".into(),
            layers: vec![],
            container_dir: "/x".into(),
            mounts: vec![],
            process: Default::default(),
            fly: false,
            jail_params: vec![],
            network_driver: "vnet".into(),
            attachments: vec![Attachment {
                ip: "10.0.0.2".into(),
                ip6: "fd00::2".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let h = hosts_file(&spec);
        assert!(h.contains("10.0.0.2\tabc web\n"), "{h}");
        assert!(h.contains("fd00::2\tabc web\n"), "{h}");
        // Our mark first (only such a file is rewritten later), then localhost.
        assert!(h.starts_with(HOSTS_MARK), "{h}");
        assert!(h[HOSTS_MARK.len()..].starts_with("127.0.0.1\tlocalhost\n"));
    }
}
