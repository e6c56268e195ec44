//! A model of a FreeBSD host, as a command runner: it keeps the state the
//! back end's commands change (ZFS datasets and their mounts, jails and
//! the processes in them, cloned interfaces, pf, sysctls, rctl rules,
//! kernel modules) and answers each command as the real tool would, so
//! scenario tests can assert end states, not command strings.
//!
//! The rules come from freebsd-src (file:line of the versions read, see
//! docs/freebsd.md "How the back end is verified"):
//! - jail(8) `-c` without `persist`, `command`, `exec.start` or
//!   `exec.poststart` fails: "new jail must persist or attach"
//!   (usr.sbin/jail/jail.c:632-634).
//! - Hooks in order prestart → create → created → vnet.interface → start →
//!   command → poststart (jail.c:86-107); exec.start/command/exec.stop run
//!   in the jail as `exec.jail_user` (root by default), the others on the
//!   host (command.c:617-621); with `exec.clean` they chdir to the user's
//!   home and PATH is /bin:/usr/bin (command.c:696-724).
//! - A failing `command` makes jail(8) exit 1 whatever its status and
//!   remove the jail (command.c:185-193, jail.c:368-369, 499); on success
//!   the temporary persist is cleared (jail.c:711-728).
//! - A jail without `persist` lives while processes remain; `jail -m
//!   nopersist` with none left removes it (kern_jail.c prison_deref).
//! - `jail -r` of a command-line jail runs no exec.stop (state.c:367-371):
//!   SIGTERM to its processes, then jail_remove (command.c:828-869); moved
//!   interfaces return when the vnet is freed (net/if.c vnet_if_return).
//! - `jail -r`/`-m` of a missing jail: `jail: "X" not found`, exit 1
//!   (state.c:372-374, jail.c:447-451).
//! - jexec exec's (no fork), chdir("/"), `-l` chdir(home) or fail, `-U`
//!   by name in the jail's passwd only (jexec.c:95-146); missing jail:
//!   `jexec: jail "X" not found`.
//! - chroot(8) takes numeric ids (chroot.c:97-147).
//! - `pfctl -e` twice: "pf already enabled", exit 1; `-a A -f` loads the
//!   anchor only; anchors count only when the main ruleset names them
//!   (pfctl.c, pf.conf(5) ANCHORS).
//! - Destroying one end of an epair destroys both (if_epair.c).
//! - A jail named `a.b` is made in jail `a`, which must exist and have
//!   room (`children.max`, default 0: "prison limit exceeded",
//!   kern_jail.c kern_jail_set); removing a jail removes its children.
//! - `host`, `ip4`, `ip6`, `vnet`, `sysvmsg`, `sysvsem`, `sysvshm` take
//!   `new`, `inherit` or (not host/vnet) `disable` (kern_jail.c jailsys).
//! - `ifconfig IF vnet J` moves a host interface into vnet jail J.
//! - `mount -t T [-o O] SRC DIR` and `mount_nullfs` need DIR to exist;
//!   `devfs -m DIR rule apply …` needs a devfs at DIR, and its rules go
//!   with that mount.
//! - `kleene-oci init --jid N …` (the OCI container's process) attaches to
//!   jail N, needs its working directory and program in the jail, writes
//!   `init.ready` (or `init.error`) in its state directory and waits for
//!   `start` on `exec.fifo` there; it runs no startContainer hooks here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kleene::platform::cmd::{Output, Runner, System};

mod jail;
mod net;
mod zfs;

/// What a command does when run in a jail.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub exit: i32,
    /// Processes it leaves running in the jail (daemons); `rc:NAME` is an
    /// rc.d service that `/etc/rc.shutdown` stops, others only die by
    /// signal (libexec/rc/rc.shutdown runs `faststop` of `shutdown`
    /// services only).
    pub daemons: Vec<String>,
    /// How long it runs.
    pub millis: u64,
    /// It needs a controlling terminal (exits 99 without one).
    pub tty: bool,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub mountpoint: PathBuf,
    pub snapshots: BTreeSet<String>,
    pub origin: Option<String>,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub kind: String,
    pub from: String,
    pub on: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct Jail {
    pub jid: u32,
    pub path: PathBuf,
    pub persist: bool,
    pub vnet: bool,
    pub params: BTreeMap<String, String>,
    pub daemons: Vec<String>,
    /// Real processes standing for commands run in it (pid, uid).
    pub procs: Vec<(i32, u32)>,
}

#[derive(Debug, Clone, Default)]
pub struct Iface {
    pub members: Vec<String>,
    pub addrs: Vec<String>,
    pub up: bool,
    /// In a vnet jail (by name).
    pub jail: Option<String>,
    pub cloned: bool,
    pub routes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Pf {
    pub enabled: bool,
    pub main_nat: String,
    pub main_rules: String,
    pub anchor: Option<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub datasets: BTreeMap<String, Dataset>,
    pub mounts: Vec<Mount>,
    pub jails: BTreeMap<String, Jail>,
    pub next_jid: u32,
    pub ifaces: BTreeMap<String, Iface>,
    pub next_epair: u32,
    pub pf: Pf,
    pub sysctl: BTreeMap<String, String>,
    pub rctl: Vec<String>,
    pub modules: BTreeSet<String>,
    pub programs: Vec<(String, Program)>,
    /// Commands that ran in jails: (jail, uid, command line).
    pub ran: Vec<(String, u32, String)>,
    /// Command lines the model does not know.
    pub unknown: Vec<String>,
    /// The host's own pf.conf (what a reboot loads) and pf_enable.
    pub boot_pf: (String, String, bool),
    /// What `fetch` finds at a URL.
    pub web: BTreeMap<String, Vec<u8>>,
    /// `uname -r`, `-m`, `-p`.
    pub uname: (String, String, String),
    /// devfs rules applied to a mount: (its directory, the rule).
    pub devfs_rules: Vec<(PathBuf, String)>,
}

/// Kernel jail parameters (`sysctl -N security.jail.param`), and jail(8)'s
/// own (config.c:64-124). Written out here, not taken from the back end:
/// the model must not inherit the back end's mistakes.
const KERNEL_PARAMS: &[&str] = &[
    "jid",
    "name",
    "path",
    "persist",
    "host",
    "host.hostname",
    "host.domainname",
    "host.hostuuid",
    "host.hostid",
    "ip4",
    "ip4.addr",
    "ip4.saddrsel",
    "ip6",
    "ip6.addr",
    "ip6.saddrsel",
    "vnet",
    "securelevel",
    "devfs_ruleset",
    "enforce_statfs",
    "children.max",
    "osrelease",
    "osreldate",
    "cpuset.id",
    "parent",
    "dying",
    "allow.set_hostname",
    "allow.sysvipc",
    "allow.raw_sockets",
    "allow.chflags",
    "allow.mount",
    "allow.mount.devfs",
    "allow.mount.nullfs",
    "allow.mount.tmpfs",
    "allow.mount.procfs",
    "allow.mount.zfs",
    "allow.mount.fdescfs",
    "allow.quotas",
    "allow.socket_af",
    "allow.mlock",
    "allow.reserved_ports",
    "allow.read_msgbuf",
    "allow.unprivileged_proc_debug",
    "allow.suser",
    "allow.nfsd",
    "allow.extattr",
    "allow.adjtime",
    "allow.settime",
    "allow.routing",
    "allow.unprivileged_parent_tampering",
    "sysvmsg",
    "sysvsem",
    "sysvshm",
];
const JAIL8_PARAMS: &[&str] = &[
    "allow.dying",
    "command",
    "depend",
    "exec.clean",
    "exec.consolelog",
    "exec.fib",
    "exec.jail_user",
    "exec.system_jail_user",
    "exec.system_user",
    "exec.timeout",
    "exec.prepare",
    "exec.prestart",
    "exec.created",
    "exec.start",
    "exec.poststart",
    "exec.prestop",
    "exec.stop",
    "exec.poststop",
    "exec.release",
    "interface",
    "ip_hostname",
    "mount",
    "mount.devfs",
    "mount.fdescfs",
    "mount.procfs",
    "mount.fstab",
    "stop.timeout",
    "vnet.interface",
    "zfs.dataset",
];

/// `allow.noraw_sockets` → `allow.raw_sockets`, `nopersist` → `persist`.
fn base_name(k: &str) -> String {
    match k.rsplit_once('.') {
        Some((head, last)) => match last.strip_prefix("no") {
            Some(rest) if !rest.is_empty() => format!("{head}.{rest}"),
            _ => k.to_string(),
        },
        None => k
            .strip_prefix("no")
            .filter(|r| !r.is_empty())
            .unwrap_or(k)
            .to_string(),
    }
}

fn known_param(k: &str) -> bool {
    let b = base_name(k);
    [k, b.as_str()]
        .iter()
        .any(|n| KERNEL_PARAMS.contains(n) || JAIL8_PARAMS.contains(n))
}

fn ok(s: &str) -> Output {
    Output::ok(s)
}
fn fail(code: i32, msg: &str) -> Output {
    Output::fail(code, msg)
}

pub struct Host {
    calls: Mutex<Vec<String>>,
    pub state: Mutex<State>,
    /// Where dataset mountpoints live on this (Linux) machine.
    dir: PathBuf,
}

impl Host {
    /// A host with pool `zroot`, zfs and pf loaded, pf enabled with the
    /// host's own rules naming kleene's anchor, racct on, em0 and lo0.
    pub fn new(dir: &Path) -> Host {
        let mut st = State::default();
        st.modules.extend(["zfs".into(), "pf".into()]);
        st.datasets.insert(
            "zroot".into(),
            Dataset {
                mountpoint: dir.join("zroot"),
                snapshots: BTreeSet::new(),
                origin: None,
                readonly: false,
            },
        );
        std::fs::create_dir_all(dir.join("zroot")).unwrap();
        for i in ["em0", "lo0"] {
            st.ifaces.insert(
                i.into(),
                Iface {
                    up: true,
                    ..Default::default()
                },
            );
        }
        for (k, v) in [
            ("net.inet.ip.forwarding", "0"),
            ("net.inet6.ip6.forwarding", "0"),
            ("kern.racct.enable", "1"),
        ] {
            st.sysctl.insert(k.into(), v.into());
        }
        st.boot_pf = (
            "nat-anchor \"kleene\" all\nrdr-anchor \"kleene\" all\n".into(),
            "block drop in on em0 proto tcp from any to any port = 23\nanchor \"kleene\" all\n"
                .into(),
            true,
        );
        st.pf.enabled = true;
        st.pf.main_nat = st.boot_pf.0.clone();
        st.pf.main_rules = st.boot_pf.1.clone();
        st.next_jid = 1;
        st.uname = ("14.1-RELEASE-p5".into(), "amd64".into(), "amd64".into());
        Host {
            calls: Mutex::new(Vec::new()),
            state: Mutex::new(st),
            dir: dir.to_path_buf(),
        }
    }

    /// A host for `dir` and the FreeBSD back end on it, both for the
    /// rest of the test process (the back end wants `'static`).
    pub fn leak(dir: &Path) -> (&'static Host, &'static kleene::platform::freebsd::FreeBsd) {
        let host: &'static Host = Box::leak(Box::new(Host::new(dir)));
        let fb = Box::leak(Box::new(kleene::platform::freebsd::FreeBsd::with_runner(
            host,
        )));
        (host, fb)
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Run a command line (words split at spaces) on the host, as an
    /// admin would before a scenario; it must succeed.
    #[allow(dead_code)] // not every scenario file sets the host up so
    pub fn run_line(&self, line: &str) {
        let argv: Vec<String> = line.split(' ').map(str::to_string).collect();
        let out = self.answer(&argv, false).0;
        assert_eq!(out.status, 0, "{line}: {}", out.stderr);
    }

    pub fn program(&self, prefix: &str, p: Program) {
        self.state.lock().unwrap().programs.push((prefix.into(), p));
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state.lock().unwrap();
        st.reap();
        f(&mut st)
    }

    /// A reboot: processes, jails, non-ZFS mounts, cloned interfaces,
    /// rctl rules and runtime sysctls are gone; pf comes back with the
    /// host's own pf.conf and empty anchors.
    pub fn reboot(&self) {
        let mut st = self.state.lock().unwrap();
        for j in st.jails.values() {
            for (pid, _) in &j.procs {
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
        }
        st.jails.clear();
        st.mounts.retain(|m| m.kind == "zfs");
        st.ifaces.retain(|_, i| !i.cloned);
        for i in st.ifaces.values_mut() {
            i.jail = None;
            i.members.clear();
        }
        st.rctl.clear();
        st.sysctl
            .insert("net.inet.ip.forwarding".into(), "0".into());
        st.sysctl
            .insert("net.inet6.ip6.forwarding".into(), "0".into());
        let (nat, rules, enable) = st.boot_pf.clone();
        st.pf = Pf {
            enabled: enable,
            main_nat: nat,
            main_rules: rules,
            anchor: None,
        };
    }

    fn answer(&self, argv: &[String], spawn: bool) -> (Output, Option<Spawn>) {
        let mut st = self.state.lock().unwrap();
        st.reap();
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        let r = match a.first().copied().unwrap_or("") {
            "/sbin/zfs" => (st.zfs(&a[1..], &self.dir), None),
            "/usr/sbin/jail" => (st.jail(&a[1..]), None),
            "/usr/sbin/jexec" => st.jexec(&a[1..], spawn),
            "/usr/sbin/jls" => (st.jls(&a[1..]), None),
            "/sbin/ifconfig" => (st.ifconfig(&a[1..], None), None),
            "/sbin/pfctl" => (st.pfctl(&a[1..]), None),
            "/sbin/sysctl" => (st.sysctl(&a[1..]), None),
            "/sbin/kldstat" => (
                match a.last() {
                    Some(m) if st.modules.contains(*m) => ok(""),
                    _ => fail(1, ""),
                },
                None,
            ),
            "/usr/bin/rctl" => (st.rctl(&a[1..]), None),
            "/sbin/mount_nullfs" => (st.mount_nullfs(&a[1..]), None),
            "/sbin/umount" => (st.umount(&a[1..]), None),
            "/sbin/mount" if a.get(1) == Some(&"-p") => (ok(&st.mount_p()), None),
            "/sbin/mount" if a.get(1) == Some(&"-t") => (st.mount_t(&a[2..]), None),
            "/sbin/devfs" => (st.devfs(&a[1..]), None),
            _ if a.get(1) == Some(&"init") && a.get(2) == Some(&"--jid") => st.oci_init(&a[2..]),
            "/bin/pkill" => (st.pkill(&a[1..]), None),
            // The default route via em0, as `netstat --libxo json -rn` says it.
            "/usr/bin/netstat" => (
                ok(
                    r#"{"statistics":{"route-information":{"route-table":{"rt-family":[{"address-family":"Internet","rt-entry":[{"destination":"default","gateway":"192.168.1.1","interface-name":"em0"}]},{"address-family":"Internet6","rt-entry":[]}]}}}}"#,
                ),
                None,
            ),
            "/usr/bin/uname" => (
                ok(&format!(
                    "{}\n",
                    match a.get(1).copied() {
                        Some("-r") => &st.uname.0,
                        Some("-m") => &st.uname.1,
                        _ => &st.uname.2,
                    }
                )),
                None,
            ),
            // fetch -o DEST URL
            "/usr/bin/fetch" if a.len() == 4 && a[1] == "-o" => (
                match st.web.get(a[3]) {
                    Some(body) => {
                        std::fs::write(a[2], body).unwrap();
                        ok("")
                    }
                    None => fail(1, &format!("fetch: {}: Not Found", a[3])),
                },
                None,
            ),
            _ => {
                st.unknown.push(argv.join(" "));
                (
                    fail(127, &format!("model: not modelled: {}", argv.join(" "))),
                    None,
                )
            }
        };
        r
    }
}

/// A process to start for a spawned command.
struct Spawn {
    jail: String,
    uid: u32,
    program: Program,
    /// Shell run before the program's stand-in (the OCI start gate).
    prelude: String,
}

impl Runner for Host {
    fn run(&self, argv: &[String]) -> std::io::Result<Output> {
        self.calls.lock().unwrap().push(argv.join(" "));
        Ok(self.answer(argv, false).0)
    }

    fn spawn(&self, argv: &[String], stdio: [Option<i32>; 3]) -> std::io::Result<i32> {
        self.calls.lock().unwrap().push(argv.join(" "));
        let (out, spawn) = self.answer(argv, true);
        let (code, secs) = match &spawn {
            Some(s) => (s.program.exit, s.program.millis as f64 / 1000.0),
            None => (if out.status == 0 { 0 } else { out.status }, 0.0),
        };
        // The process stands for the command, on the streams it was
        // given; with a terminal it says whether that is its controlling
        // one (exit 99 if not).
        let prelude = spawn.as_ref().map(|s| s.prelude.as_str()).unwrap_or("");
        let script = if spawn.as_ref().is_some_and(|s| s.program.tty) {
            format!("{prelude}[ \"$(ps -o tty= -p $$)\" = \"$(tty | sed s,/dev/,,)\" ] || exit 99; sleep {secs}; exit {code}")
        } else if code == 0 {
            // One process for the pid: a kill of it leaves no sleep behind.
            format!("{prelude}exec sleep {secs}")
        } else {
            format!("{prelude}sleep {secs}; exit {code}")
        };
        let pid = System.spawn(&["/bin/sh".into(), "-c".into(), script], stdio)?;
        if let Some(s) = spawn {
            let mut st = self.state.lock().unwrap();
            if let Some(j) = st.jails.get_mut(&s.jail) {
                j.procs.push((pid, s.uid));
                j.daemons.extend(s.program.daemons.iter().cloned());
            }
        }
        Ok(pid)
    }
}

/// A process still running: a zombie has left its jail already (the
/// kernel releases the prison in exit1, before the zombie stage).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
impl State {
    /// Jails without persist and without processes are removed (kernel).
    pub(super) fn reap(&mut self) {
        let dead: Vec<String> = self
            .jails
            .iter_mut()
            .filter_map(|(n, j)| {
                j.procs.retain(|(p, _)| alive(*p));
                (!j.persist && j.procs.is_empty() && j.daemons.is_empty()).then(|| n.clone())
            })
            .collect();
        for n in dead {
            self.remove_jail(&n);
        }
    }

    pub(super) fn remove_jail(&mut self, name: &str) {
        let children: Vec<String> = self
            .jails
            .keys()
            .filter(|k| k.starts_with(&format!("{name}.")))
            .cloned()
            .collect();
        for c in children {
            self.remove_jail(&c);
        }
        if let Some(j) = self.jails.remove(name) {
            for (p, _) in j.procs {
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        for i in self.ifaces.values_mut() {
            if i.jail.as_deref() == Some(name) {
                i.jail = None;
                i.addrs.clear();
                i.routes.clear();
            }
        }
    }

    pub(super) fn program_for(&self, cmd: &str) -> Program {
        self.programs
            .iter()
            .rev()
            .find(|(p, _)| cmd.starts_with(p.as_str()))
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    let _ = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status();
}
