//! Networking on Linux, with real traffic. Every test builds its own lab of
//! two network namespaces, so the machine's own network is never touched:
//!
//! ```text
//!   outside (192.0.2.2, 2001:db8::2) ──veth── host (192.0.2.1, 2001:db8::1)
//! ```
//!
//! `klee` runs in "host" (bridges, veths and kleene's nftables table appear
//! there); "outside" stands for the rest of the world: NAT, published ports
//! and egress are checked from it.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Root};

static LABS: AtomicUsize = AtomicUsize::new(0);

struct Lab {
    root: Root,
    host: String,
    out: String,
}

fn sh(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

fn must(args: &[&str]) {
    let o = sh(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

fn have(bin: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(bin).exists())
}

/// A lab, or `None` (with the reason printed) where the test cannot run.
fn lab() -> Option<Lab> {
    if !common::can_run() {
        return None;
    }
    if !have("ip") || !have("nft") {
        eprintln!("skipping: needs ip and nft (apt-get install iproute2 nftables)");
        return None;
    }
    let n = LABS.fetch_add(1, Ordering::SeqCst);
    let tag = format!("kt{}x{n}", std::process::id());
    let (host, out) = (format!("{tag}h"), format!("{tag}o"));
    must(&["ip", "netns", "add", &host]);
    must(&["ip", "netns", "add", &out]);
    let mut root = Root::new();
    root.netns = Some(host.clone());
    let lab = Lab { root, host, out };
    let (h, o) = (lab.host.as_str(), lab.out.as_str());
    for cmd in [
        vec!["ip", "-n", h, "link", "set", "lo", "up"],
        vec!["ip", "-n", o, "link", "set", "lo", "up"],
        vec![
            "ip", "link", "add", "up0", "netns", h, "type", "veth", "peer", "name", "up0", "netns",
            o,
        ],
        vec!["ip", "-n", h, "addr", "add", "192.0.2.1/24", "dev", "up0"],
        vec!["ip", "-n", o, "addr", "add", "192.0.2.2/24", "dev", "up0"],
        vec![
            "ip",
            "-n",
            h,
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "up0",
            "nodad",
        ],
        vec![
            "ip",
            "-n",
            o,
            "addr",
            "add",
            "2001:db8::2/64",
            "dev",
            "up0",
            "nodad",
        ],
        vec!["ip", "-n", h, "link", "set", "up0", "up"],
        vec!["ip", "-n", o, "link", "set", "up0", "up"],
        vec!["ip", "-n", h, "route", "add", "default", "via", "192.0.2.2"],
        vec![
            "ip",
            "-n",
            h,
            "-6",
            "route",
            "add",
            "default",
            "via",
            "2001:db8::2",
        ],
    ] {
        must(&cmd);
    }
    lab.root.busybox_image("bb");
    Some(lab)
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Containers first: their monitors live in the host namespace.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(
            &self
                .root
                .run(&["container", "ls", "-a", "--format", "json"])
                .stdout,
        ) {
            for c in v.as_array().into_iter().flatten() {
                let _ = self.root.run(&["rm", "-f", c["id"].as_str().unwrap_or("")]);
            }
        }
        for ns in [&self.host, &self.out] {
            let pids = sh(&["ip", "netns", "pids", ns]);
            for p in stdout(&pids).split_whitespace() {
                let _ = sh(&["kill", "-9", p]);
            }
        }
        let _ = sh(&["ip", "netns", "del", &self.host]);
        let _ = sh(&["ip", "netns", "del", &self.out]);
    }
}

impl Lab {
    fn klee(&self, args: &[&str]) -> String {
        self.root.ok(args)
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", ns];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// A detached container answering `hello NAME` on tcp `port`.
    fn serve(&self, name: &str, net: &[&str], port: &str) {
        let reply = format!("echo hello {name}");
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(net);
        args.extend_from_slice(&["bb", "nc", "-ll", "-p", port, "-e", "sh", "-c", &reply]);
        self.klee(&args);
    }

    /// Does a new container with `net` options get `hello NAME` from
    /// `ip:port`?
    fn container_reaches(&self, net: &[&str], ip: &str, port: &str, name: &str) -> bool {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(net);
        args.extend_from_slice(&["bb", "nc", "-w", "1", ip, port]);
        stdout(&self.root.run(&args)).contains(&format!("hello {name}"))
    }

    fn outside_reaches(&self, ip: &str, port: &str, name: &str) -> bool {
        let o = self.in_ns(&self.out, &["busybox", "nc", "-w", "1", ip, port]);
        stdout(&o).contains(&format!("hello {name}"))
    }

    fn host_reaches(&self, ip: &str, port: &str, name: &str) -> bool {
        let o = self.in_ns(&self.host, &["busybox", "nc", "-w", "1", ip, port]);
        stdout(&o).contains(&format!("hello {name}"))
    }

    /// The names of the host's links.
    fn links(&self) -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&self.in_ns(&self.host, &["ip", "-j", "link"]).stdout).unwrap();
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["ifname"].as_str())
            .collect();
        names.join(" ")
    }

    /// What the host's network looks like: links, addresses, the whole
    /// nftables ruleset and the forwarding settings.
    fn snapshot(&self) -> String {
        let mut s = String::new();
        for args in [
            vec!["ip", "-j", "link"],
            vec!["ip", "-j", "addr"],
            vec!["ip", "-j", "route"],
            vec!["nft", "-j", "list", "ruleset"],
            vec!["cat", "/proc/sys/net/ipv4/ip_forward"],
            vec!["cat", "/proc/sys/net/ipv6/conf/all/forwarding"],
        ] {
            s.push_str(&stdout(&self.in_ns(&self.host, &args)));
            s.push('\n');
        }
        s
    }
}

/// Retry `f` for a few seconds (servers take a moment to listen).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn vnet_containers_on_a_bridge_reach_each_other_and_not_other_networks() {
    let Some(lab) = lab() else { return };
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.1.0.0/24",
        "--subnet6",
        "fd01::/64",
        "--gw",
        "<auto>",
        "--gw6",
        "<auto>",
        "front",
    ]);
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.2.0.0/24",
        "--gw",
        "<auto>",
        "back",
    ]);
    lab.serve(
        "web",
        &[
            "-l",
            "vnet",
            "-n",
            "front",
            "--ip",
            "10.1.0.10",
            "--ip6",
            "fd01::10",
        ],
        "80",
    );
    let front = ["-l", "vnet", "-n", "front"];
    assert!(eventually(|| lab.container_reaches(
        &front,
        "10.1.0.10",
        "80",
        "web"
    )));
    assert!(
        eventually(|| lab.container_reaches(&front, "fd01::10", "80", "web")),
        "IPv6 on the same network"
    );
    // The host reaches its containers.
    assert!(lab.host_reaches("10.1.0.10", "80", "web"));
    // Another network does not.
    let back = ["-l", "vnet", "-n", "back"];
    assert!(!lab.container_reaches(&back, "10.1.0.10", "80", "web"));
    // Nor does the outside without a published port.
    lab.in_ns(
        &lab.out,
        &["ip", "route", "add", "10.1.0.0/24", "via", "192.0.2.1"],
    );
    assert!(!lab.outside_reaches("10.1.0.10", "80", "web"));

    // The container's view: its address, the default route, its name.
    let o = lab.klee(&[
        "run",
        "--rm",
        "--name",
        "viewer",
        "-l",
        "vnet",
        "-n",
        "front",
        "--ip",
        "10.1.0.20",
        "bb",
        "sh",
        "-c",
        "ip route; cat /etc/hosts /etc/resolv.conf",
    ]);
    assert!(o.contains("default via 10.1.0.1 dev eth0"), "{o}");
    assert!(o.contains("10.1.0.20\t") && o.contains(" viewer\n"), "{o}");
    assert!(o.contains("generated by kleene"), "{o}");
    let o = lab.klee(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "-l",
        "vnet",
        "-n",
        "front",
        "bb",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(o.contains("nameserver 192.0.2.53\n"), "{o}");
    let e = lab
        .root
        .fails(&["create", "--dns", "dns.example", "bb", "true"], 1);
    assert!(
        e.contains("invalid dns server 'dns.example': not an IP address"),
        "{e}"
    );
}

#[test]
fn icc_off_isolates_containers_of_a_network() {
    let Some(lab) = lab() else { return };
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.3.0.0/24",
        "--gw",
        "<auto>",
        "--icc=false",
        "lonely",
    ]);
    lab.serve(
        "aa",
        &["-l", "vnet", "-n", "lonely", "--ip", "10.3.0.10"],
        "80",
    );
    // The host (the gateway) still reaches it: only container to container
    // traffic is cut.
    assert!(eventually(|| lab.host_reaches("10.3.0.10", "80", "aa")));
    assert!(!lab.container_reaches(&["-l", "vnet", "-n", "lonely"], "10.3.0.10", "80", "aa"));
    // ipnet containers on it are isolated by the firewall.
    assert!(!lab.container_reaches(&["-l", "ipnet", "-n", "lonely"], "10.3.0.10", "80", "aa"));
}

#[test]
fn internal_networks_have_no_egress_and_nat_rewrites_the_source() {
    let Some(lab) = lab() else { return };
    // A server outside that answers with the address it sees.
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.out,
            "busybox",
            "nc",
            "-ll",
            "-p",
            "9000",
            "-e",
            "sh",
            "-c",
            "echo hello from $(printenv NCIP 2>/dev/null)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.4.0.0/24",
        "--subnet6",
        "fd04::/64",
        "--gw",
        "<auto>",
        "--gw6",
        "<auto>",
        "world",
    ]);
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.5.0.0/24",
        "--gw",
        "<auto>",
        "--internal",
        "sealed",
    ]);
    let world = ["-l", "vnet", "-n", "world"];
    assert!(eventually(|| lab.container_reaches(
        &world,
        "192.0.2.2",
        "9000",
        "from"
    )));
    assert!(
        eventually(|| lab.container_reaches(&world, "2001:db8::2", "9000", "from")),
        "IPv6 egress"
    );
    assert!(!lab.container_reaches(&["-l", "vnet", "-n", "sealed"], "192.0.2.2", "9000", "from"));
    assert!(!lab.container_reaches(
        &["-l", "ipnet", "-n", "sealed"],
        "192.0.2.2",
        "9000",
        "from"
    ));
    let _ = server.kill();
    let _ = server.wait();

    // The outside sees the host's address, not the container's: capture
    // the peer address of a connection in the outside namespace.
    let script = "import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('::',9001))\ns.listen(5)\nwhile True:\n c,a=s.accept()\n c.sendall(('hello from '+a[0]+'\\n').encode())\n c.close()\n";
    let mut seer = Command::new("ip")
        .args(["netns", "exec", &lab.out, "python3", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = |target: &str| -> String {
        let mut args = world.to_vec();
        args.splice(0..0, ["run", "--rm"]);
        args.extend_from_slice(&["bb", "nc", "-w", "1", target, "9001"]);
        stdout(&lab.root.run(&args))
    };
    let mut v4 = String::new();
    assert!(eventually(|| {
        v4 = seen("192.0.2.2");
        v4.contains("hello from")
    }));
    assert!(v4.contains("192.0.2.1"), "NAT: the outside saw {v4:?}");
    assert!(!v4.contains("10.4.0."), "{v4:?}");
    let mut v6 = String::new();
    assert!(eventually(|| {
        v6 = seen("2001:db8::2");
        v6.contains("hello from")
    }));
    assert!(v6.contains("2001:db8::1"), "NAT66: the outside saw {v6:?}");
    let _ = seer.kill();
    let _ = seer.wait();
}

#[test]
fn published_ports_ranges_and_udp_reach_containers() {
    let Some(lab) = lab() else { return };
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.6.0.0/24",
        "--subnet6",
        "fd06::/64",
        "--gw",
        "<auto>",
        "--gw6",
        "<auto>",
        "pub",
    ]);
    lab.serve(
        "single",
        &["-l", "vnet", "-n", "pub", "-p", "8080:80"],
        "80",
    );
    // From the outside (the host gateway's interface), IPv4 and IPv6.
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "8080",
        "single"
    )));
    assert!(eventually(|| lab.outside_reaches(
        "2001:db8::1",
        "8080",
        "single"
    )));
    // From the host itself, through localhost and through its address.
    assert!(lab.host_reaches("127.0.0.1", "8080", "single"));
    assert!(lab.host_reaches("192.0.2.1", "8080", "single"));
    // From another container, at the host's address.
    assert!(lab.container_reaches(&["-l", "vnet", "-n", "pub"], "192.0.2.1", "8080", "single"));

    // A range: host ports 9000-9001 go to container ports 7000-7001.
    lab.klee(&[
        "run",
        "-d",
        "--name",
        "ranged",
        "-l",
        "ipnet",
        "-n",
        "pub",
        "-p",
        "9000-9001:7000",
        "bb",
        "sh",
        "-c",
        "nc -ll -p 7000 -e echo hello r0 & nc -ll -p 7001 -e echo hello r1",
    ]);
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "9000",
        "r0"
    )));
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "9001",
        "r1"
    )));

    // UDP: an echo server on udp 5353 published on 53.
    let echo = "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\ns.bind(('::',5353))\nwhile True:\n d,a=s.recvfrom(100)\n s.sendto(b'echo '+d,a)\n";
    lab.klee(&["image", "create", "--no-dns", "-t", "hostimg", "host"]);
    lab.klee(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-l",
        "vnet",
        "-n",
        "pub",
        "-p",
        "53:5353/udp",
        "hostimg",
        "python3",
        "-c",
        echo,
    ]);
    let client = "import socket,sys\ns=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(0.5)\nfor i in range(10):\n s.sendto(b'ping',(sys.argv[1],53))\n try:\n  print(s.recv(100).decode()); break\n except OSError: pass\n";
    let udp = |ip: &str| stdout(&lab.in_ns(&lab.out, &["python3", "-c", client, ip]));
    assert!(
        eventually(|| udp("192.0.2.1").contains("echo ping")),
        "udp over IPv4"
    );
    assert!(
        eventually(|| udp("2001:db8::1").contains("echo ping")),
        "udp over IPv6"
    );
    // Not published over TCP.
    assert!(!lab.outside_reaches("192.0.2.1", "53", "x"));
}

#[test]
fn ipnet_containers_join_and_leave_networks_while_running() {
    let Some(lab) = lab() else { return };
    lab.klee(&[
        "network",
        "create",
        "-t",
        "loopback",
        "--subnet",
        "10.7.0.0/24",
        "--subnet6",
        "fd07::/64",
        "local",
    ]);
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.8.0.0/24",
        "--gw",
        "<auto>",
        "bridged",
    ]);
    lab.serve(
        "svc",
        &[
            "-l", "ipnet", "-n", "local", "--ip", "10.7.0.5", "--ip6", "fd07::5",
        ],
        "80",
    );
    assert!(eventually(|| lab.host_reaches("10.7.0.5", "80", "svc")));
    assert!(eventually(|| lab.host_reaches("fd07::5", "80", "svc")));
    // Other ipnet containers of the network reach it through the host.
    assert!(lab.container_reaches(&["-l", "ipnet", "-n", "local"], "10.7.0.5", "80", "svc"));
    // Connected to a second network while it runs: reachable there too,
    // from a vnet container on the bridge.
    lab.klee(&["network", "connect", "--ip", "10.8.0.5", "bridged", "svc"]);
    assert!(eventually(|| lab.container_reaches(
        &["-l", "vnet", "-n", "bridged"],
        "10.8.0.5",
        "80",
        "svc"
    )));
    lab.klee(&["network", "disconnect", "bridged", "svc"]);
    assert!(!lab.host_reaches("10.8.0.5", "80", "svc"));
    assert!(lab.host_reaches("10.7.0.5", "80", "svc"));
}

#[test]
fn host_and_disabled_drivers() {
    let Some(lab) = lab() else { return };
    let o = lab.klee(&["run", "--rm", "-l", "host", "bb", "ip", "-o", "addr"]);
    assert!(
        o.contains("192.0.2.1/24"),
        "host driver sees the host's addresses: {o}"
    );
    let o = lab.klee(&[
        "run",
        "--rm",
        "-l",
        "disabled",
        "bb",
        "sh",
        "-c",
        "ip -o link; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok",
    ]);
    assert!(
        o.contains("lo-ok") && !o.contains("eth0") && !o.contains("up0"),
        "{o}"
    );
    let e = lab
        .root
        .fails(&["run", "-l", "host", "-p", "8080:80", "bb", "true"], 1);
    assert!(
        e.contains("cannot publish ports of a container using the 'host' network driver"),
        "{e}"
    );
}

#[test]
fn auto_addresses_exhaust_a_slash_30_and_bad_addresses_are_refused() {
    let Some(lab) = lab() else { return };
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.9.0.0/30",
        "--gw",
        "<auto>",
        "tiny",
    ]);
    // A /30 has two hosts; the gateway takes one.
    lab.klee(&[
        "create", "--name", "first", "-l", "vnet", "-n", "tiny", "bb", "true",
    ]);
    let e = lab.root.fails(
        &[
            "create", "--name", "second", "-l", "vnet", "-n", "tiny", "bb", "true",
        ],
        1,
    );
    assert!(e.contains("no more inet IP's left in the network"), "{e}");
    assert!(
        !lab.klee(&["container", "ls", "-a"]).contains("second"),
        "the failed container is not kept"
    );
    let e = lab.root.fails(
        &[
            "network",
            "create",
            "-t",
            "bridge",
            "--subnet",
            "10.9.0.0/24",
            "overlap",
        ],
        1,
    );
    assert!(e.contains("overlaps 10.9.0.0/30"), "{e}");
    let e = lab.root.fails(
        &[
            "network",
            "create",
            "-t",
            "bridge",
            "--subnet",
            "10.10.0.0/24",
            "tiny",
        ],
        1,
    );
    assert!(e.contains("network name is already taken"), "{e}");
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.11.0.0/24",
        "wide",
    ]);
    let e = lab.root.fails(
        &["network", "connect", "--ip", "10.12.0.1", "wide", "first"],
        1,
    );
    assert!(
        e.contains("10.12.0.1") && e.contains("not a host address"),
        "{e}"
    );
    lab.klee(&["network", "connect", "--ip", "10.11.0.7", "wide", "first"]);
    lab.klee(&["create", "--name", "third", "-l", "vnet", "bb", "true"]);
    let e = lab.root.fails(
        &["network", "connect", "--ip", "10.11.0.7", "wide", "third"],
        1,
    );
    assert!(e.contains("address 10.11.0.7 is already in use"), "{e}");
}

#[test]
fn removing_everything_leaves_the_host_as_it_was() {
    let Some(lab) = lab() else { return };
    let before = lab.snapshot();
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.12.0.0/24",
        "--subnet6",
        "fd12::/64",
        "--gw",
        "<auto>",
        "--gw6",
        "<auto>",
        "--icc=false",
        "n1",
    ]);
    lab.klee(&[
        "network",
        "create",
        "-t",
        "loopback",
        "--subnet",
        "10.13.0.0/24",
        "n2",
    ]);
    lab.serve("vv", &["-l", "vnet", "-n", "n1", "-p", "8080:80"], "80");
    lab.serve("ii", &["-l", "ipnet", "-n", "n2", "-p", "8081:80"], "80");
    lab.klee(&["network", "connect", "n1", "ii"]);
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "8080",
        "vv"
    )));
    assert!(lab.outside_reaches("192.0.2.1", "8081", "ii"));
    assert_ne!(lab.snapshot(), before);
    lab.klee(&["rm", "-f", "vv", "ii"]);
    lab.klee(&["network", "rm", "n1", "n2"]);
    // A veth goes when the kernel has torn its namespace down: wait for it.
    let mut after = String::new();
    assert!(
        eventually(|| {
            after = lab.snapshot();
            after == before
        }),
        "host changed:\nbefore: {before}\nafter: {after}"
    );
    assert!(!lab.root.path().join("sysctl.saved").exists());
}

#[test]
fn a_failed_network_create_leaves_nothing() {
    let Some(lab) = lab() else { return };
    let before = lab.snapshot();
    for fp in ["network.create.link", "network.firewall"] {
        let o = lab
            .root
            .cmd(&[
                "network",
                "create",
                "-t",
                "bridge",
                "--subnet",
                "10.14.0.0/24",
                "--gw",
                "<auto>",
                "doomed",
            ])
            .env("KLEENE_FAILPOINT", fp)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{fp}");
        assert!(stderr(&o).contains(fp), "{fp}: {}", stderr(&o));
        assert_eq!(lab.snapshot(), before, "{fp}");
        assert!(!lab.klee(&["network", "ls"]).contains("doomed"), "{fp}");
    }
    // A start that fails while making its links leaves no link behind.
    lab.klee(&[
        "network",
        "create",
        "-t",
        "bridge",
        "--subnet",
        "10.14.0.0/24",
        "--gw",
        "<auto>",
        "ok",
    ]);
    let with_net = lab.links();
    let o = lab
        .root
        .cmd(&[
            "run", "--name", "nolink", "-l", "vnet", "-n", "ok", "bb", "true",
        ])
        .env("KLEENE_FAILPOINT", "container.start.exec")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let mut now = String::new();
    assert!(
        eventually(|| {
            now = lab.links();
            now == with_net
        }),
        "{now}"
    );
}

#[test]
fn custom_networks_use_an_existing_interface() {
    let Some(lab) = lab() else { return };
    // The lab's uplink stands for the LAN: containers get addresses of
    // their own, routed by the host, NATed out, published on the uplink.
    lab.klee(&[
        "network",
        "create",
        "-t",
        "custom",
        "-i",
        "up0",
        "--subnet",
        "198.51.100.0/24",
        "lan",
    ]);
    let e = lab
        .root
        .fails(&["create", "-l", "vnet", "-n", "lan", "bb", "true"], 1);
    assert!(e.contains("can't connect to custom networks"), "{e}");
    lab.serve(
        "lansvc",
        &[
            "-l",
            "ipnet",
            "-n",
            "lan",
            "--ip",
            "198.51.100.5",
            "-p",
            "8082:80",
        ],
        "80",
    );
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "8082",
        "lansvc"
    )));
    assert!(lab.host_reaches("198.51.100.5", "80", "lansvc"));
    lab.klee(&["rm", "-f", "lansvc"]);
    lab.klee(&["network", "rm", "lan"]);
    assert!(
        lab.links().contains("up0"),
        "the custom network's interface is not kleene's to remove"
    );
}

#[test]
fn the_dsl_network_module_works_for_real() {
    let Some(lab) = lab() else { return };
    let script = lab.root.path().join("net.rhai");
    std::fs::write(
        &script,
        r#"
let net = network::create("dslnet", #{type: "bridge", subnet: "10.30.0.0/24", gateway: "<auto>"});
print(net.interface);
let srv = container::run("bb", ["nc", "-ll", "-p", "80", "-e", "echo", "hello dsl"], #{driver: "vnet", network: "dslnet", name: "dslsrv", detach: true});
print(srv.ip);
let out = "";
for i in 0..50 {
    let c = container::run("bb", ["nc", "-w", "1", srv.ip, "80"], #{driver: "vnet", network: "dslnet", detach: true});
    c.wait();
    out = c.logs();
    c.remove();
    if out.contains("hello dsl") { break; }
}
out.trim();
print(out);
try { network::create("other", #{type: "bridge", subnet: "10.30.0.0/16"}); } catch (e) { print(`${e.kind}: ${e.message}`); }
srv.remove(true);
print(network::remove("dslnet") == net.id);
"#,
    )
    .unwrap();
    let o = lab.klee(&["script", script.to_str().unwrap()]);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], "kleene0", "{o}");
    assert_eq!(lines[1], "10.30.0.2", "{o}");
    assert_eq!(lines[2], "hello dsl", "{o}");
    assert!(
        lines[3].starts_with("conflict: subnet 10.30.0.0/16 overlaps"),
        "{o}"
    );
    assert_eq!(lines[4], "true", "{o}");
    assert!(!lab.links().contains("kleene0"), "{o}");
}
