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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kleene::platform::cmd::{Output, Runner, System};

/// What a command does when run in a jail.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub exit: i32,
    /// Processes it leaves running in the jail (daemons).
    pub daemons: Vec<String>,
    /// How long it runs.
    pub millis: u64,
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
}

/// Kernel jail parameters (`sysctl -N security.jail.param`), and jail(8)'s
/// own (config.c:64-124).
const KERNEL_PARAMS: &[&str] = &[
    "jid",
    "name",
    "path",
    "persist",
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
        Host {
            calls: Mutex::new(Vec::new()),
            state: Mutex::new(st),
            dir: dir.to_path_buf(),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
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
            "/bin/pkill" => (st.pkill(&a[1..]), None),
            "/usr/bin/netstat" => (ok("{}"), None),
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
}

impl Runner for Host {
    fn run(&self, argv: &[String]) -> std::io::Result<Output> {
        self.calls.lock().unwrap().push(argv.join(" "));
        Ok(self.answer(argv, false).0)
    }

    fn spawn(&self, argv: &[String], _stdio: [Option<i32>; 3]) -> std::io::Result<i32> {
        self.calls.lock().unwrap().push(argv.join(" "));
        let (out, spawn) = self.answer(argv, true);
        let (code, secs) = match &spawn {
            Some(s) => (s.program.exit, s.program.millis as f64 / 1000.0),
            None => (if out.status == 0 { 0 } else { out.status }, 0.0),
        };
        let pid = System.spawn(
            &[
                "/bin/sh".into(),
                "-c".into(),
                format!("sleep {secs}; exit {code}"),
            ],
            [None, None, None],
        )?;
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

fn alive(pid: i32) -> bool {
    // Zombies count until reaped: the engine reaps before it asks.
    unsafe { libc::kill(pid, 0) == 0 }
}

impl State {
    /// Jails without persist and without processes are removed (kernel).
    fn reap(&mut self) {
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

    fn remove_jail(&mut self, name: &str) {
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

    fn program_for(&self, cmd: &str) -> Program {
        self.programs
            .iter()
            .rev()
            .find(|(p, _)| cmd.starts_with(p.as_str()))
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }

    // ---- zfs ----
    fn zfs(&mut self, a: &[&str], dir: &Path) -> Output {
        match a {
            ["list", "-H", "-o", "name", ds] => match self.datasets.get(*ds) {
                Some(_) => ok(&format!("{ds}\n")),
                None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
            },
            ["list", "-H", "-o", "mountpoint", ds] => match self.datasets.get(*ds) {
                Some(d) => ok(&format!("{}\n", d.mountpoint.display())),
                None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
            },
            ["list", "-H", "-o", "name", "-d", "1", ds] => {
                if !self.datasets.contains_key(*ds) {
                    return fail(1, &format!("cannot open '{ds}': dataset does not exist"));
                }
                let mut out = format!("{ds}\n");
                for n in self.datasets.keys() {
                    if let Some(rest) = n.strip_prefix(&format!("{ds}/")) {
                        if !rest.contains('/') {
                            out.push_str(&format!("{n}\n"));
                        }
                    }
                }
                ok(&out)
            }
            ["create", rest @ ..] => {
                let (mut parents, mut mp, mut i) = (false, None, 0);
                while i < rest.len() {
                    match rest[i] {
                        "-p" => parents = true,
                        "-o" => {
                            mp = rest[i + 1].strip_prefix("mountpoint=").map(PathBuf::from);
                            i += 1;
                        }
                        _ => break,
                    }
                    i += 1;
                }
                let ds = rest[i];
                self.create_ds(ds, parents, mp, None, dir)
            }
            ["clone", snap, ds] => {
                let Some((origin, s)) = snap.split_once('@') else {
                    return fail(1, "invalid snapshot");
                };
                if !self
                    .datasets
                    .get(origin)
                    .is_some_and(|d| d.snapshots.contains(s))
                {
                    return fail(1, &format!("cannot open '{snap}': dataset does not exist"));
                }
                let from = self.datasets[origin].mountpoint.clone();
                let r = self.create_ds(ds, false, None, Some(snap.to_string()), dir);
                if r.status == 0 {
                    copy_dir(&from, &self.datasets[*ds].mountpoint.clone());
                }
                r
            }
            ["snapshot", snap] => {
                let (ds, s) = snap.split_once('@').unwrap();
                match self.datasets.get_mut(ds) {
                    Some(d) => {
                        if d.snapshots.insert(s.into()) {
                            ok("")
                        } else {
                            fail(
                                1,
                                &format!("cannot create snapshot '{snap}': dataset already exists"),
                            )
                        }
                    }
                    None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
                }
            }
            ["set", prop, ds] => match (prop.split_once('='), self.datasets.get_mut(*ds)) {
                (Some(("readonly", v)), Some(d)) => {
                    d.readonly = v == "on";
                    ok("")
                }
                _ => fail(1, &format!("cannot set '{prop}' on '{ds}'")),
            },
            ["rename", "-f", from, to] => {
                if !self.datasets.contains_key(*from) {
                    return fail(1, &format!("cannot open '{from}': dataset does not exist"));
                }
                let names: Vec<String> = self
                    .datasets
                    .keys()
                    .filter(|n| *n == from || n.starts_with(&format!("{from}/")))
                    .cloned()
                    .collect();
                for n in names {
                    let mut d = self.datasets.remove(&n).unwrap();
                    let new = n.replacen(from, to, 1);
                    let mp = self.default_mountpoint(&new, dir);
                    let _ = std::fs::create_dir_all(mp.parent().unwrap());
                    let _ = std::fs::rename(&d.mountpoint, &mp);
                    d.mountpoint = mp;
                    self.datasets.insert(new, d);
                }
                ok("")
            }
            ["destroy", flags @ .., ds] => {
                let recursive = flags.contains(&"-r");
                let Some(d) = self.datasets.get(*ds).cloned() else {
                    return fail(1, &format!("cannot open '{ds}': dataset does not exist"));
                };
                if self
                    .datasets
                    .keys()
                    .any(|n| n.starts_with(&format!("{ds}/")))
                {
                    return fail(
                        1,
                        &format!("cannot destroy '{ds}': filesystem has children"),
                    );
                }
                let dependents: Vec<String> = self
                    .datasets
                    .iter()
                    .filter(|(_, o)| {
                        o.origin
                            .as_deref()
                            .is_some_and(|o| o.split('@').next() == Some(*ds))
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                if !dependents.is_empty() {
                    return fail(1, &format!("cannot destroy '{ds}': filesystem has dependent clones\nuse '-R' to destroy the following datasets:\n{}", dependents.join("\n")));
                }
                if !d.snapshots.is_empty() && !recursive {
                    return fail(
                        1,
                        &format!("cannot destroy '{ds}': filesystem has children"),
                    );
                }
                // A jail or a mount inside it keeps it busy.
                let busy = self
                    .mounts
                    .iter()
                    .any(|m| m.kind != "zfs" && m.on.starts_with(&d.mountpoint))
                    || self
                        .jails
                        .values()
                        .any(|j| j.path.starts_with(&d.mountpoint));
                if busy {
                    return fail(
                        1,
                        &format!(
                            "cannot unmount '{}': pool or dataset is busy",
                            d.mountpoint.display()
                        ),
                    );
                }
                self.datasets.remove(*ds);
                self.mounts.retain(|m| !(m.kind == "zfs" && m.from == *ds));
                let _ = std::fs::remove_dir_all(&d.mountpoint);
                ok("")
            }
            _ => {
                self.unknown.push(format!("zfs {}", a.join(" ")));
                fail(127, "model: zfs subcommand not modelled")
            }
        }
    }

    fn default_mountpoint(&self, ds: &str, dir: &Path) -> PathBuf {
        match ds.rsplit_once('/') {
            Some((parent, last)) => match self.datasets.get(parent) {
                Some(p) => p.mountpoint.join(last),
                None => dir.join(ds),
            },
            None => dir.join(ds),
        }
    }

    fn create_ds(
        &mut self,
        ds: &str,
        parents: bool,
        mp: Option<PathBuf>,
        origin: Option<String>,
        dir: &Path,
    ) -> Output {
        if self.datasets.contains_key(ds) {
            return fail(1, &format!("cannot create '{ds}': dataset already exists"));
        }
        let pool = ds.split('/').next().unwrap();
        if !self.datasets.contains_key(pool) {
            return fail(1, &format!("cannot create '{ds}': no such pool '{pool}'"));
        }
        let parent = ds.rsplit_once('/').map(|(p, _)| p).unwrap_or(pool);
        if !self.datasets.contains_key(parent) {
            if !parents {
                return fail(1, &format!("cannot create '{ds}': parent does not exist"));
            }
            let r = self.create_ds(parent, true, None, None, dir);
            if r.status != 0 {
                return r;
            }
        }
        let mountpoint = mp.unwrap_or_else(|| self.default_mountpoint(ds, dir));
        std::fs::create_dir_all(&mountpoint).unwrap();
        self.mounts.push(Mount {
            kind: "zfs".into(),
            from: ds.into(),
            on: mountpoint.clone(),
        });
        self.datasets.insert(
            ds.into(),
            Dataset {
                mountpoint,
                snapshots: BTreeSet::new(),
                origin,
                readonly: false,
            },
        );
        ok("")
    }

    // ---- mounts ----
    fn mount_nullfs(&mut self, a: &[&str]) -> Output {
        let a: Vec<&str> = a
            .iter()
            .copied()
            .filter(|x| *x != "-o" && *x != "ro")
            .collect();
        let [from, on] = a[..] else {
            return fail(64, "usage: mount_nullfs [-o options] target mount-point");
        };
        if !Path::new(on).exists() {
            return fail(1, &format!("mount_nullfs: {on}: No such file or directory"));
        }
        self.mounts.push(Mount {
            kind: "nullfs".into(),
            from: from.into(),
            on: on.into(),
        });
        ok("")
    }

    fn umount(&mut self, a: &[&str]) -> Output {
        let Some(path) = a.last() else {
            return fail(64, "usage: umount");
        };
        let p = PathBuf::from(path);
        let Some(i) = self.mounts.iter().rposition(|m| m.on == p) else {
            return fail(
                1,
                &format!("umount: {path}: not a file system root directory"),
            );
        };
        if self
            .mounts
            .iter()
            .any(|m| m.on != p && m.on.starts_with(&p))
        {
            return fail(1, &format!("umount: unmount of {path} failed: Device busy"));
        }
        self.mounts.remove(i);
        ok("")
    }

    fn mount_p(&self) -> String {
        self.mounts
            .iter()
            .map(|m| format!("{}\t{}\t{}\trw\t0 0\n", m.from, m.on.display(), m.kind))
            .collect()
    }

    // ---- jails ----
    fn jail(&mut self, a: &[&str]) -> Output {
        match a {
            ["-c", params @ ..] => self.jail_create(params),
            ["-m", params @ ..] => {
                let Some(name) = params.iter().find_map(|p| p.strip_prefix("name=")) else {
                    return fail(1, "jail: no jail specified");
                };
                if !self.jails.contains_key(name) {
                    return fail(1, &format!("jail: \"{name}\" not found"));
                }
                for p in params.iter().filter(|p| !p.starts_with("name=")) {
                    let k = p.split('=').next().unwrap();
                    if !KERNEL_PARAMS.contains(&base_name(k).as_str())
                        && !KERNEL_PARAMS.contains(&k)
                    {
                        return fail(1, &format!("jail: unknown parameter: {k}"));
                    }
                }
                let j = self.jails.get_mut(name).unwrap();
                for p in params.iter().filter(|p| !p.starts_with("name=")) {
                    match *p {
                        "nopersist" => j.persist = false,
                        "persist" => j.persist = true,
                        p => {
                            let (k, v) = p.split_once('=').unwrap_or((p, ""));
                            j.params.insert(k.into(), v.into());
                        }
                    }
                }
                self.reap();
                ok("")
            }
            ["-r", name] => {
                if !self.jails.contains_key(*name) {
                    return fail(1, &format!("jail: \"{name}\" not found"));
                }
                // SIGTERM to its processes; the model's daemons obey.
                self.remove_jail(name);
                ok("")
            }
            _ => {
                self.unknown.push(format!("jail {}", a.join(" ")));
                fail(64, "usage: jail")
            }
        }
    }

    fn jail_create(&mut self, params: &[&str]) -> Output {
        let mut kv: BTreeMap<String, String> = BTreeMap::new();
        let mut hooks: Vec<(String, String)> = Vec::new();
        let mut command: Option<Vec<String>> = None;
        for (i, p) in params.iter().enumerate() {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if !known_param(k) {
                return fail(1, &format!("jail: unknown parameter: {k}"));
            }
            if k == "command" {
                let mut c = vec![v.to_string()];
                c.extend(params[i + 1..].iter().map(|s| s.to_string()));
                command = Some(c);
                break;
            }
            if k.starts_with("exec.") && !matches!(k, "exec.clean" | "exec.jail_user") {
                hooks.push((k.into(), v.into()));
            } else {
                kv.insert(k.into(), v.into());
            }
        }
        let (Some(name), Some(path)) = (kv.get("name").cloned(), kv.get("path").cloned()) else {
            return fail(1, "jail: create: missing name or path");
        };
        if self.jails.contains_key(&name) {
            return fail(1, &format!("jail: create: {name}: already exists"));
        }
        let persist = kv.contains_key("persist");
        let attaches = command.is_some()
            || hooks
                .iter()
                .any(|(k, _)| k == "exec.start" || k == "exec.poststart");
        if !persist && !attaches {
            return fail(1, "jail: new jail must persist or attach");
        }
        if !Path::new(&path).is_dir() {
            return fail(1, &format!("jail: {path}: No such file or directory"));
        }
        let hook = |k: &str| -> Vec<String> {
            hooks
                .iter()
                .filter(|(h, _)| h == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        for h in hook("exec.prestart") {
            let argv: Vec<&str> = h.split_whitespace().collect();
            let o = match argv.first() {
                Some(&"/sbin/ifconfig") | Some(&"ifconfig") => self.ifconfig(&argv[1..], None),
                _ => ok(""),
            };
            if o.status != 0 {
                return fail(1, &format!("jail: {name}: exec.prestart {h}: failed"));
            }
        }
        let jid = self.next_jid;
        self.next_jid += 1;
        let vnet = kv.contains_key("vnet");
        self.jails.insert(
            name.clone(),
            Jail {
                jid,
                path: PathBuf::from(&path),
                persist: true,
                vnet,
                params: kv.clone(),
                ..Default::default()
            },
        );
        if kv.contains_key("mount.devfs") {
            self.mounts.push(Mount {
                kind: "devfs".into(),
                from: "devfs".into(),
                on: Path::new(&path).join("dev"),
            });
        }
        if let Some(i) = kv.get("vnet.interface") {
            match self.ifaces.get_mut(i) {
                Some(f) if f.jail.is_none() => f.jail = Some(name.clone()),
                _ => {
                    self.remove_jail(&name);
                    return fail(
                        1,
                        &format!("jail: {name}: vnet.interface {i}: Device not configured"),
                    );
                }
            }
        }
        // exec.start and command run in the jail as exec.jail_user.
        let user = kv
            .get("exec.jail_user")
            .cloned()
            .unwrap_or_else(|| "root".into());
        let clean = kv.contains_key("exec.clean");
        let mut failed = None;
        let mut runs: Vec<Vec<String>> = hook("exec.start")
            .iter()
            .map(|h| h.split_whitespace().map(str::to_string).collect())
            .collect();
        runs.extend(command.clone());
        for argv in runs {
            let uid = match self.lookup(&name, &user) {
                Some((uid, home)) => {
                    if clean && !Path::new(&path).join(home.trim_start_matches('/')).is_dir() {
                        failed = Some(format!(
                            "jail: {name}: chdir {home}: No such file or directory"
                        ));
                        break;
                    }
                    uid
                }
                None => {
                    failed = Some(format!("jail: {name}: getpwnam {user}: no such user"));
                    break;
                }
            };
            let code = self.in_jail(&name, uid, &argv, clean);
            if code != 0 {
                failed = Some(format!("jail: {name}: {}: failed", argv.join(" ")));
                break;
            }
        }
        if let Some(msg) = failed {
            // jail(8) unwinds: the jail goes, its devfs with it; exit 1.
            self.remove_jail(&name);
            self.mounts
                .retain(|m| !(m.kind == "devfs" && m.on == Path::new(&path).join("dev")));
            return fail(1, &msg);
        }
        if let Some(j) = self.jails.get_mut(&name) {
            j.persist = persist;
        }
        self.reap();
        ok("")
    }

    /// (uid, home) of `user` in the jail's /etc/passwd.
    fn lookup(&self, jail: &str, user: &str) -> Option<(u32, String)> {
        let path = &self.jails.get(jail)?.path;
        let text = std::fs::read_to_string(path.join("etc/passwd")).unwrap_or_default();
        if user == "root" && text.is_empty() {
            return Some((0, "/root".into()));
        }
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7 && f[0] == user).then(|| (f[2].parse().unwrap_or(0), f[5].to_string()))
        })
    }

    /// A command run to completion in a jail (hooks, `jexec` run): the
    /// interface tools need root and full paths under exec.clean's PATH.
    fn in_jail(&mut self, jail: &str, uid: u32, argv: &[String], clean: bool) -> i32 {
        self.ran.push((jail.into(), uid, argv.join(" ")));
        let prog = argv.first().map(String::as_str).unwrap_or("");
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        match prog {
            "ifconfig" | "route" if clean => 127,
            "/sbin/ifconfig" | "ifconfig" => {
                if uid != 0 {
                    return 1;
                }
                self.ifconfig(&a[1..], Some(jail)).status
            }
            "/sbin/route" | "route" => {
                if uid != 0 {
                    return 1;
                }
                let iface = self
                    .ifaces
                    .iter_mut()
                    .find(|(_, i)| i.jail.as_deref() == Some(jail));
                match iface {
                    Some((_, i)) => {
                        i.routes.push(a[1..].join(" "));
                        0
                    }
                    None => 1,
                }
            }
            _ => {
                let line = argv.join(" ");
                if line.ends_with("/etc/rc.shutdown") {
                    if let Some(j) = self.jails.get_mut(jail) {
                        j.daemons.clear();
                        for (p, _) in &j.procs {
                            unsafe { libc::kill(*p, libc::SIGTERM) };
                        }
                    }
                    return 0;
                }
                let p = self.program_for(&line);
                if let Some(j) = self.jails.get_mut(jail) {
                    j.daemons.extend(p.daemons);
                }
                p.exit
            }
        }
    }

    fn jexec(&mut self, a: &[&str], spawn: bool) -> (Output, Option<Spawn>) {
        let (mut i, mut user, mut login) = (0, None, false);
        while i < a.len() {
            match a[i] {
                "-l" => login = true,
                "-U" | "-u" => {
                    user = Some(a[i + 1].to_string());
                    i += 1;
                }
                _ => break,
            }
            i += 1;
        }
        let Some(jail) = a.get(i).map(|s| s.to_string()) else {
            return (fail(64, "usage: jexec"), None);
        };
        if !self.jails.contains_key(&jail) {
            return (fail(1, &format!("jexec: jail \"{jail}\" not found")), None);
        }
        let mut uid = 0;
        if let Some(u) = &user {
            match self.lookup(&jail, u) {
                Some((id, home)) => {
                    uid = id;
                    let path = self.jails[&jail].path.clone();
                    if login && !path.join(home.trim_start_matches('/')).is_dir() {
                        return (
                            fail(
                                1,
                                &format!("jexec: chdir: {home}: No such file or directory"),
                            ),
                            None,
                        );
                    }
                }
                None => return (fail(1, &format!("jexec: {u}: no such user")), None),
            }
        }
        let mut cmd: Vec<String> = a[i + 1..].iter().map(|s| s.to_string()).collect();
        // chroot -u UID -g GID [-G G] / …: numeric ids (chroot.c:97-147).
        if cmd.first().map(String::as_str) == Some("/usr/sbin/chroot") {
            let mut j = 1;
            while j < cmd.len() && cmd[j].starts_with('-') {
                if cmd[j] == "-u" {
                    match cmd[j + 1].parse() {
                        Ok(n) => uid = n,
                        Err(_) => return (fail(1, "chroot: no such user"), None),
                    }
                }
                j += 2;
            }
            cmd = cmd[j + 1..].to_vec();
        }
        // env -i K=V… and the working-directory wrapper.
        if cmd.first().map(String::as_str) == Some("/usr/bin/env") {
            let mut j = 1;
            while j < cmd.len() && (cmd[j] == "-i" || cmd[j].contains('=')) {
                j += 1;
            }
            cmd = cmd[j..].to_vec();
        }
        if cmd.len() > 3 && cmd[0] == "/bin/sh" && cmd[1] == "-c" && cmd[2].starts_with("cd --") {
            let dir = &cmd[3];
            let path = self.jails[&jail].path.join(dir.trim_start_matches('/'));
            if !path.is_dir() {
                return (
                    fail(126, &format!("cd: {dir}: No such file or directory")),
                    None,
                );
            }
            cmd = cmd[4..].to_vec();
        }
        if !spawn {
            let code = self.in_jail(&jail, uid, &cmd, false);
            return (
                if code == 0 {
                    ok("")
                } else {
                    fail(code, "failed")
                },
                None,
            );
        }
        let line = cmd.join(" ");
        self.ran.push((jail.clone(), uid, line.clone()));
        let program = if line.ends_with("/etc/rc.shutdown") {
            self.in_jail(&jail, uid, &cmd, false);
            Program::default()
        } else {
            self.program_for(&line)
        };
        (ok(""), Some(Spawn { jail, uid, program }))
    }

    fn jls(&mut self, a: &[&str]) -> Output {
        match a {
            ["--libxo=json", "-j", name] | ["-j", name] => match self.jails.get(*name) {
                Some(j) => ok(&format!("{{\"jid\":{}}}\n", j.jid)),
                None => fail(1, &format!("jls: jail \"{name}\" not found")),
            },
            ["-j", name, params @ ..] => match self.jails.get(*name) {
                Some(j) => {
                    let vals: Vec<String> = params
                        .iter()
                        .map(|p| match *p {
                            "path" => j.path.display().to_string(),
                            "host.hostname" => {
                                j.params.get("host.hostname").cloned().unwrap_or_default()
                            }
                            p => j.params.get(p).cloned().unwrap_or_default(),
                        })
                        .collect();
                    ok(&format!("{}\n", vals.join(" ")))
                }
                None => fail(1, &format!("jls: jail \"{name}\" not found")),
            },
            ["name", "path"] => ok(&self
                .jails
                .iter()
                .map(|(n, j)| format!("{n} {}\n", j.path.display()))
                .collect::<String>()),
            _ => {
                self.unknown.push(format!("jls {}", a.join(" ")));
                fail(64, "usage: jls")
            }
        }
    }

    // ---- interfaces ----
    fn ifconfig(&mut self, a: &[&str], in_jail: Option<&str>) -> Output {
        let visible = |i: &Iface| i.jail.as_deref() == in_jail;
        match a {
            ["-l"] => ok(&(self
                .ifaces
                .iter()
                .filter(|(_, i)| visible(i))
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
                + "\n")),
            ["epair", "create"] => {
                let n = self.next_epair;
                self.next_epair += 1;
                for end in ["a", "b"] {
                    self.ifaces.insert(
                        format!("epair{n}{end}"),
                        Iface {
                            cloned: true,
                            ..Default::default()
                        },
                    );
                }
                ok(&format!("epair{n}a\n"))
            }
            [cloner, "create", "name", name] => {
                if self.ifaces.contains_key(*name) {
                    return fail(1, &format!("ifconfig: SIOCSIFNAME (set name): File exists"));
                }
                let _ = cloner;
                self.ifaces.insert(
                    name.to_string(),
                    Iface {
                        cloned: true,
                        ..Default::default()
                    },
                );
                ok("")
            }
            [name] => match self.ifaces.get(*name) {
                Some(i) if visible(i) => ok(&format!("{name}: flags=8843<UP>\n")),
                _ => fail(1, &format!("ifconfig: interface {name} does not exist")),
            },
            [name, rest @ ..] => {
                let Some(iface) = self.ifaces.get(*name).cloned() else {
                    return fail(1, &format!("ifconfig: interface {name} does not exist"));
                };
                if !visible(&iface) {
                    // Moving back from a jail is asked on the host.
                    if let (None, ["-vnet", j]) = (in_jail, rest) {
                        if iface.jail.as_deref() == Some(*j) {
                            let f = self.ifaces.get_mut(*name).unwrap();
                            f.jail = None;
                            f.addrs.clear();
                            return ok("");
                        }
                    }
                    return fail(1, &format!("ifconfig: interface {name} does not exist"));
                }
                match rest {
                    ["destroy"] => {
                        if let Some(base) = name
                            .strip_suffix('a')
                            .or(name.strip_suffix('b'))
                            .filter(|b| b.starts_with("epair"))
                        {
                            self.ifaces.remove(&format!("{base}a"));
                            self.ifaces.remove(&format!("{base}b"));
                        } else {
                            self.ifaces.remove(*name);
                        }
                        for i in self.ifaces.values_mut() {
                            i.members
                                .retain(|m| !m.starts_with(name.trim_end_matches(['a', 'b'])));
                        }
                        ok("")
                    }
                    ["addm", m] => {
                        if !self.ifaces.get(*m).is_some_and(|i| i.jail.is_none()) {
                            return fail(
                                1,
                                &format!("ifconfig: BRDGADD {m}: No such file or directory"),
                            );
                        }
                        self.ifaces
                            .get_mut(*name)
                            .unwrap()
                            .members
                            .push(m.to_string());
                        ok("")
                    }
                    ["deletem", m] => {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        match f.members.iter().position(|x| x == m) {
                            Some(p) => {
                                f.members.remove(p);
                                ok("")
                            }
                            None => fail(1, &format!("ifconfig: BRDGDEL {m}: Invalid argument")),
                        }
                    }
                    ["up"] => {
                        self.ifaces.get_mut(*name).unwrap().up = true;
                        ok("")
                    }
                    [fam, addr, "alias"] | [fam, addr, "up"]
                        if *fam == "inet" || *fam == "inet6" =>
                    {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        f.addrs.push(addr.split('/').next().unwrap().to_string());
                        f.up |= rest[2] == "up";
                        ok("")
                    }
                    [fam, addr, "-alias"] if *fam == "inet" || *fam == "inet6" => {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        match f.addrs.iter().position(|x| x == addr) {
                            Some(p) => {
                                f.addrs.remove(p);
                                ok("")
                            }
                            None => fail(
                                1,
                                "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address",
                            ),
                        }
                    }
                    _ => {
                        self.unknown.push(format!("ifconfig {}", a.join(" ")));
                        fail(1, "model: ifconfig form not modelled")
                    }
                }
            }
            [] => fail(64, "usage: ifconfig"),
        }
    }

    // ---- pf, sysctl, rctl, pkill ----
    fn pfctl(&mut self, a: &[&str]) -> Output {
        if !self.modules.contains("pf") {
            return fail(1, "pfctl: /dev/pf: No such file or directory");
        }
        match a {
            ["-e"] if self.pf.enabled => fail(1, "pfctl: pf already enabled"),
            ["-e"] => {
                self.pf.enabled = true;
                Output::fail(0, "pf enabled")
            }
            ["-s", "nat"] => ok(&self.pf.main_nat.clone()),
            ["-s", "rules"] => ok(&self.pf.main_rules.clone()),
            ["-a", "kleene", "-s", "rules"] => ok(&self
                .pf
                .anchor
                .as_deref()
                .unwrap_or("")
                .lines()
                .filter(|l| l.starts_with("pass") || l.starts_with("block"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()),
            ["-a", "kleene", "-f", file] => match std::fs::read_to_string(file) {
                Ok(t) => {
                    self.pf.anchor = Some(t);
                    ok("")
                }
                Err(e) => fail(1, &format!("pfctl: {file}: {e}")),
            },
            // The whole main ruleset replaced: the host's own rules go.
            ["-f", file] => match std::fs::read_to_string(file) {
                Ok(t) => {
                    self.pf.main_nat = t
                        .lines()
                        .filter(|l| l.starts_with("nat") || l.starts_with("rdr"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    self.pf.main_rules = t
                        .lines()
                        .filter(|l| {
                            l.starts_with("pass")
                                || l.starts_with("block")
                                || l.starts_with("anchor")
                        })
                        .map(|l| format!("{l}\n"))
                        .collect();
                    ok("")
                }
                Err(e) => fail(1, &format!("pfctl: {file}: {e}")),
            },
            _ => {
                self.unknown.push(format!("pfctl {}", a.join(" ")));
                fail(1, "model: pfctl form not modelled")
            }
        }
    }

    fn sysctl(&mut self, a: &[&str]) -> Output {
        match a {
            ["-n", key] => match self.sysctl.get(*key) {
                Some(v) => ok(&format!("{v}\n")),
                None => fail(1, &format!("sysctl: unknown oid '{key}'")),
            },
            ["-N", "security.jail.param"] => ok(&KERNEL_PARAMS
                .iter()
                .map(|p| format!("security.jail.param.{p}\n"))
                .collect::<String>()),
            [kv] if kv.contains('=') => {
                let (k, v) = kv.split_once('=').unwrap();
                match self.sysctl.get_mut(k) {
                    Some(old) => {
                        let line = format!("{k}: {old} -> {v}\n");
                        *old = v.into();
                        ok(&line)
                    }
                    None => fail(1, &format!("sysctl: unknown oid '{k}'")),
                }
            }
            _ => {
                self.unknown.push(format!("sysctl {}", a.join(" ")));
                fail(1, "model: sysctl form not modelled")
            }
        }
    }

    fn rctl(&mut self, a: &[&str]) -> Output {
        match a {
            [] => ok(&self
                .rctl
                .iter()
                .map(|r| format!("{r}\n"))
                .collect::<String>()),
            ["-a", rule] => {
                if self.sysctl.get("kern.racct.enable").map(String::as_str) != Some("1") {
                    return fail(
                        1,
                        "rctl: failed to add rule: RACCT/RCTL present, but disabled",
                    );
                }
                let key: String = rule
                    .rsplit_once(':')
                    .map(|(k, _)| k.into())
                    .unwrap_or_default();
                self.rctl.retain(|r| !r.starts_with(&format!("{key}:")));
                self.rctl.push(rule.to_string());
                ok("")
            }
            ["-r", filter] => {
                self.rctl
                    .retain(|r| !(r == filter || r.starts_with(&format!("{filter}:"))));
                ok("")
            }
            _ => {
                self.unknown.push(format!("rctl {}", a.join(" ")));
                fail(1, "model: rctl form not modelled")
            }
        }
    }

    fn pkill(&mut self, a: &[&str]) -> Output {
        let Some(name) = a.last() else {
            return fail(2, "usage: pkill");
        };
        let Some(j) = self.jails.get_mut(*name) else {
            return fail(2, "pkill: Invalid jail ID or name");
        };
        let any = !j.daemons.is_empty() || !j.procs.is_empty();
        j.daemons.clear();
        for (p, _) in &j.procs {
            unsafe { libc::kill(*p, libc::SIGKILL) };
        }
        if any {
            ok("")
        } else {
            fail(1, "")
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status();
}
