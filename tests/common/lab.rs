//! A network lab for integration tests: two network namespaces, so the
//! machine's own network is never touched:
//!
//! ```text
//!   outside (192.0.2.2, 2001:db8::2) ──veth── host (192.0.2.1, 2001:db8::1)
//! ```
//!
//! `klee` runs in "host" (bridges, veths and kleene's nftables table appear
//! there); "outside" stands for the rest of the world.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{stderr, stdout, Root};

static LABS: AtomicUsize = AtomicUsize::new(0);

pub struct Lab {
    pub root: Root,
    pub host: String,
    pub out: String,
}

pub fn sh(args: &[&str]) -> Output {
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
pub fn lab() -> Option<Lab> {
    if !super::can_run() {
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
    // No duplicate address detection on the lab's links: addresses are
    // usable at once and never "tentative" in a snapshot.
    for ns in [&host, &out] {
        must(&[
            "ip", "netns", "exec", ns, "sh", "-c",
            "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad; echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad",
        ]);
    }
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
    pub fn klee(&self, args: &[&str]) -> String {
        self.root.ok(args)
    }

    /// `klee` with a command line of space-separated words; must succeed.
    pub fn k(&self, cmdline: &str) -> String {
        self.root
            .ok(&cmdline.split_whitespace().collect::<Vec<_>>())
    }

    /// `klee` with a command line of words; must fail with `code`.
    pub fn fails(&self, cmdline: &str, code: i32) -> String {
        self.root
            .fails(&cmdline.split_whitespace().collect::<Vec<_>>(), code)
    }

    pub fn in_ns(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", ns];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// A detached container answering `hello NAME` on tcp `port`.
    pub fn serve(&self, name: &str, net: &str, port: &str) {
        let reply = format!("echo hello {name}");
        let mut args = vec!["run", "-d", "--name", name];
        args.extend(net.split_whitespace());
        args.extend_from_slice(&["bb", "nc", "-ll", "-p", port, "-e", "sh", "-c", &reply]);
        self.klee(&args);
    }

    /// Does a new container with `net` options get `hello NAME` from
    /// `ip:port`?
    pub fn container_reaches(&self, net: &[&str], ip: &str, port: &str, name: &str) -> bool {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(net);
        args.extend_from_slice(&["bb", "timeout", "3", "nc", "-w", "1", ip, port]);
        stdout(&self.root.run(&args)).contains(&format!("hello {name}"))
    }

    pub fn outside_reaches(&self, ip: &str, port: &str, name: &str) -> bool {
        let o = self.in_ns(
            &self.out,
            &[
                "busybox", "timeout", "3", "busybox", "nc", "-w", "1", ip, port,
            ],
        );
        stdout(&o).contains(&format!("hello {name}"))
    }

    pub fn host_reaches(&self, ip: &str, port: &str, name: &str) -> bool {
        let o = self.in_ns(
            &self.host,
            &[
                "busybox", "timeout", "3", "busybox", "nc", "-w", "1", ip, port,
            ],
        );
        stdout(&o).contains(&format!("hello {name}"))
    }

    /// The names of the host's links.
    pub fn links(&self) -> String {
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
    pub fn snapshot(&self) -> String {
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

/// Retry `f` for a few seconds (servers take a moment to listen; a fresh
/// bridge sometimes loses its first IPv6 exchange).
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
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
