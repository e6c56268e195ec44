//! The FreeBSD back end against a model of a FreeBSD host
//! (`freebsd_host`): scenarios assert end states — jails, their
//! processes and users, mounts, datasets, interfaces, pf, sysctls — that
//! golden command lines cannot show.

mod freebsd_host;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use freebsd_host::{Host, Program};
use kleene::engine::image_create::{CreateOptions, Source};
use kleene::engine::lifecycle::Attach;
use kleene::engine::network::NetworkConfig;
use kleene::engine::{ContainerConfig, Engine};
use kleene::platform::freebsd::FreeBsd;

// One scenario at a time: KLEENE_DATASET is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: &'static Host,
    fb: &'static FreeBsd,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (host, fb) = Host::leak(dir.path());
    std::env::set_var("KLEENE_DATASET", "zroot/kleene");
    World {
        root: dir.path().join("kleene"),
        _dir: dir,
        host,
        fb,
    }
}

const ATTACHED: Attach = Attach::Attached {
    tty: false,
    stdin: false,
};

impl World {
    fn engine(&self) -> Engine {
        Engine::open_on(&self.root, self.fb).unwrap()
    }

    /// A FreeBSD-like base image: root, www (home /nonexistent), bob.
    fn base(&self, e: &mut Engine) {
        let src = self.root.parent().unwrap().join("src");
        for d in ["etc", "root", "home/bob", "srv", "bin"] {
            std::fs::create_dir_all(src.join(d)).unwrap();
        }
        std::fs::write(
            src.join("etc/passwd"),
            "root:*:0:0:Charlie &:/root:/bin/sh\n\
             www:*:80:80:World Wide Web Owner:/nonexistent:/usr/sbin/nologin\n\
             bob:*:1001:1001:Bob:/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            src.join("etc/group"),
            "wheel:*:0:root\nwww:*:80:\nbob:*:1001:\n",
        )
        .unwrap();
        let opts = CreateOptions {
            tag: "base".into(),
            dns: false,
            localtime: false,
            update: false,
        };
        e.image_create(&Source::Dir(src), &opts, &mut ()).unwrap();
    }

    fn create(
        &self,
        e: &mut Engine,
        name: &str,
        cmd: &[&str],
        f: impl FnOnce(&mut ContainerConfig),
    ) -> String {
        let mut cfg = ContainerConfig {
            image: "base".into(),
            name: Some(name.into()),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        f(&mut cfg);
        e.container_create(&cfg).unwrap().id
    }

    /// Start `name` attached on a thread of its own (it returns when the
    /// container is gone).
    fn start_attached(&self, name: &str) -> std::thread::JoinHandle<Option<i32>> {
        let (root, fb, name) = (self.root.clone(), self.fb, name.to_string());
        std::thread::spawn(move || {
            let mut e = Engine::open_on(&root, fb).unwrap();
            e.container_start(&name, ATTACHED).unwrap()
        })
    }

    /// Nothing of container `id` is left on the host: no jail, no mount
    /// in it, no epair, no rctl rule.
    fn nothing_left_of(&self, id: &str) {
        self.host.with(|s| {
            assert!(!s.jails.contains_key(id), "jail {id} left");
            let dir = self.root.join("container").join(id);
            let m: Vec<_> = s
                .mounts
                .iter()
                .filter(|m| m.kind != "zfs" && m.on.starts_with(&dir))
                .collect();
            assert!(m.is_empty(), "mounts left: {m:?}");
            assert!(
                !s.ifaces.keys().any(|i| i.starts_with("epair")),
                "epairs left: {:?}",
                s.ifaces.keys()
            );
            assert!(
                !s.rctl.iter().any(|r| r.contains(id)),
                "rctl left: {:?}",
                s.rctl
            );
        });
    }

    fn assert_modelled(&self) {
        self.host.with(|s| {
            assert!(
                s.unknown.is_empty(),
                "commands the model does not know: {:?}",
                s.unknown
            )
        });
    }
}

/// Run a command on the model host as its admin would.
fn host_run(h: &Host, argv: &[&str]) -> bool {
    use kleene::platform::cmd::Runner;
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    h.run(&argv).unwrap().status == 0
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_thin_vm_runs_while_its_daemons_do_and_stops_with_rc_shutdown() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    // An rc.d service, and a loop rc.local started (rc.shutdown does not
    // know it: only a signal ends it).
    w.host.program(
        "/bin/sh /etc/rc",
        Program {
            daemons: vec!["rc:sshd".into(), "loop".into()],
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "vm", &["/bin/sh", "/etc/rc"], |c| {
        c.mounts = vec![kleene::engine::MountConfig::parse("data:/data").unwrap()];
    });
    let t = w.start_attached("vm");
    // /etc/rc has exited; its daemons keep the jail, and the container runs.
    wait_until("rc done", || {
        w.host.with(|s| {
            s.jails
                .get(&id)
                .is_some_and(|j| !j.persist && j.procs.is_empty())
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(e.container("vm").unwrap().status.is_running());
    w.host.with(|s| {
        let j = &s.jails[&id];
        assert_eq!(j.daemons, ["rc:sshd", "loop"]);
        let dir = w.root.join("container").join(&id);
        assert!(s
            .mounts
            .iter()
            .any(|m| m.kind == "devfs" && m.on == dir.join("dev")));
        assert!(s
            .mounts
            .iter()
            .any(|m| m.kind == "nullfs" && m.on == dir.join("data")));
    });
    // rm refuses a running container: the dataset under the jail stays.
    assert!(e.container_remove("vm", false).is_err());
    // stop: exec.stop (/bin/sh /etc/rc.shutdown) in the jail, as root.
    e.container_stop("vm", Duration::from_secs(5)).unwrap();
    assert_eq!(t.join().unwrap(), Some(0));
    w.host.with(|s| {
        assert!(
            s.ran
                .iter()
                .any(|(j, uid, c)| j == &id && *uid == 0 && c == "/bin/sh /etc/rc.shutdown"),
            "{:?}",
            s.ran
        );
    });
    w.nothing_left_of(&id);
    let c = e.container("vm").unwrap();
    assert!(!c.status.is_running());
    e.container_remove("vm", false).unwrap();
    w.host.with(|s| {
        assert!(!s
            .datasets
            .contains_key(&format!("zroot/kleene/container/{id}")))
    });

    // rm -f of a thin VM whose daemons run: the jail is killed by name
    // (its command's pid is long gone), `jail -r` finding it gone is fine.
    let id = w.create(&mut e, "vm2", &["/bin/sh", "/etc/rc"], |_| {});
    let t = w.start_attached("vm2");
    wait_until("rc done", || {
        w.host.with(|s| {
            s.jails
                .get(&id)
                .is_some_and(|j| !j.persist && j.procs.is_empty())
        })
    });
    e.container_remove("vm2", true).unwrap();
    assert_eq!(t.join().unwrap(), Some(0));
    w.nothing_left_of(&id);
    assert!(e.container("vm2").is_err());
    w.assert_modelled();
}

#[test]
fn exit_codes_reach_klee_and_nothing_is_left() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    w.host.program(
        "/usr/bin/false3",
        Program {
            exit: 3,
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "f3", &["/usr/bin/false3"], |_| {});
    assert_eq!(e.container_start("f3", ATTACHED).unwrap(), Some(3));
    assert!(matches!(
        e.container("f3").unwrap().status,
        kleene::engine::Status::Exited { code: Some(3), .. }
    ));
    w.nothing_left_of(&id);
    // jail(8) itself would have said 1 (command.c:185-193).
    assert!(!w.host.calls().iter().any(|c| c.contains("command=")));
    w.assert_modelled();
}

#[test]
fn users_by_name_uid_and_ids_without_a_home() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    for (name, user, uid) in [
        ("ww", "www", 80),
        ("nn", "80", 80),
        ("uu", "4242", 4242),
        ("gg", "1001:80", 1001),
    ] {
        let id = w.create(&mut e, name, &["/usr/bin/id"], |c| c.user = user.into());
        assert_eq!(
            e.container_start(name, ATTACHED).unwrap(),
            Some(0),
            "{user}"
        );
        w.host.with(|s| {
            assert!(
                s.ran
                    .iter()
                    .any(|(j, u, c)| j == &id && *u == uid && c == "/usr/bin/id"),
                "{user}: {:?}",
                s.ran
            );
        });
        w.nothing_left_of(&id);
    }
    // A working directory that exists, one that does not (126 as Docker).
    w.create(&mut e, "wd", &["/usr/bin/id"], |c| {
        c.workdir = "/srv".into()
    });
    assert_eq!(e.container_start("wd", ATTACHED).unwrap(), Some(0));
    w.create(&mut e, "wd2", &["/usr/bin/id"], |c| {
        c.workdir = "/nowhere".into()
    });
    assert_eq!(e.container_start("wd2", ATTACHED).unwrap(), Some(126));
    w.assert_modelled();
}

#[test]
fn vnet_with_a_non_root_user_configures_its_interface_as_root() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    e.network_create(&NetworkConfig {
        name: "br".into(),
        kind: "bridge".into(),
        subnet: "10.5.0.0/24".into(),
        gateway: "<auto>".into(),
        nat: Some(String::new()),
        ..Default::default()
    })
    .unwrap();
    let id = w.create(&mut e, "vv", &["/usr/bin/id"], |c| {
        c.user = "www".into();
        c.network_driver = "vnet".into();
    });
    e.network_connect("br", "vv", "<auto>", "").unwrap();
    w.host.program(
        "/usr/bin/id",
        Program {
            millis: 400,
            ..Default::default()
        },
    );
    let t = w.start_attached("vv");
    wait_until("running", || {
        w.host
            .with(|s| s.jails.get(&id).is_some_and(|j| !j.procs.is_empty()))
    });
    w.host.with(|s| {
        let (name, f) = s
            .ifaces
            .iter()
            .find(|(_, f)| f.jail.as_deref() == Some(id.as_str()))
            .expect("an interface in the jail");
        assert!(name.ends_with('b'));
        assert_eq!(f.addrs, ["10.5.0.2"]);
        assert_eq!(f.routes, ["add -inet default 10.5.0.1"]);
        assert_eq!(
            s.jails[&id].params["lo0"], "inet 127.0.0.1/8 up",
            "loopback up"
        );
        let bridge = s
            .ifaces
            .values()
            .find(|i| i.members.iter().any(|m| m.starts_with("epair")))
            .expect("bridged");
        assert!(bridge.up || !bridge.members.is_empty());
        assert!(s
            .ran
            .iter()
            .any(|(j, u, c)| j == &id && *u == 80 && c == "/usr/bin/id"));
    });
    assert_eq!(t.join().unwrap(), Some(0));
    w.nothing_left_of(&id);
    w.assert_modelled();
}

fn bridge(e: &mut Engine, name: &str, subnet: &str) {
    e.network_create(&NetworkConfig {
        name: name.into(),
        kind: "bridge".into(),
        subnet: subnet.into(),
        gateway: "<auto>".into(),
        nat: Some(String::new()),
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn pf_rules_go_to_an_anchor_and_forwarding_is_restored() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    let host_rules = w.host.with(|s| s.pf.main_rules.clone());
    bridge(&mut e, "br", "10.5.0.0/24");
    w.host.with(|s| {
        assert!(s.pf.enabled);
        assert_eq!(s.pf.main_rules, host_rules, "the host's own rules are kept");
        assert!(s
            .pf
            .anchor
            .as_deref()
            .is_some_and(|a| a.contains("KLEENED")));
        assert_eq!(s.sysctl["net.inet.ip.forwarding"], "1");
        assert_eq!(s.sysctl["net.inet6.ip6.forwarding"], "1");
    });
    e.network_remove("br").unwrap();
    w.host.with(|s| {
        assert_eq!(s.sysctl["net.inet.ip.forwarding"], "0", "restored");
        assert_eq!(s.sysctl["net.inet6.ip6.forwarding"], "0");
        assert!(!s.ifaces.contains_key("kleene0"));
    });
    // A host whose pf.conf does not evaluate the anchor: told what to add.
    w.host.with(|s| s.pf.main_rules = "pass all\n".into());
    let err = e
        .network_create(&NetworkConfig {
            name: "b2".into(),
            kind: "bridge".into(),
            subnet: "10.6.0.0/24".into(),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing: anchor") && err.contains("anchor \"kleene\""),
        "{err}"
    );
    // No pf at all: said so.
    w.host.with(|s| {
        s.modules.remove("pf");
    });
    let err = e
        .network_create(&NetworkConfig {
            name: "b3".into(),
            kind: "bridge".into(),
            subnet: "10.7.0.0/24".into(),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("pf is not loaded"), "{err}");
    w.assert_modelled();
}

#[test]
fn after_a_reboot_start_up_repair_brings_networks_back_and_starts_work() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    bridge(&mut e, "br", "10.5.0.0/24");
    w.host.program(
        "/bin/sh /etc/rc",
        Program {
            daemons: vec!["nginx".into()],
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "web", &["/bin/sh", "/etc/rc"], |c| {
        c.network_driver = "vnet".into()
    });
    e.network_connect("br", "web", "<auto>", "").unwrap();
    let t = w.start_attached("web");
    wait_until("lingering", || {
        w.host.with(|s| {
            s.jails
                .get(&id)
                .is_some_and(|j| !j.persist && j.procs.is_empty())
        })
    });
    w.host.reboot();
    // (The supervisor here outlives the "reboot": it sees the jail gone
    // and cleans up; the reboot proper comes after.)
    assert_eq!(t.join().unwrap(), Some(0));
    w.host.reboot();
    w.host.with(|s| {
        assert!(!s.ifaces.contains_key("kleene0"));
        assert!(s.pf.anchor.is_none());
        assert_eq!(s.sysctl["net.inet.ip.forwarding"], "0");
    });
    // kleened's start-up: check --repair (reconcile), then starts.
    let mut e = w.engine();
    let fixed = e.system_check_repair().unwrap();
    let what: Vec<String> = fixed
        .iter()
        .map(|(f, err)| format!("{} {}: {} {err:?}", f.kind, f.subject, f.problem))
        .collect();
    assert!(fixed.iter().all(|(_, err)| err.is_none()), "{what:#?}");
    w.host.with(|s| {
        assert!(
            s.ifaces.contains_key("kleene0"),
            "bridge made again: {what:#?}"
        );
        assert!(s.pf.anchor.is_some(), "anchor loaded again: {what:#?}");
        assert_eq!(s.sysctl["net.inet.ip.forwarding"], "1");
    });
    assert!(e.system_check().unwrap().is_empty());
    w.host.program("/bin/sh /etc/rc", Program::default());
    assert_eq!(e.container_start("web", ATTACHED).unwrap(), Some(0));
    w.nothing_left_of(&id);
    w.assert_modelled();
}

#[test]
fn a_root_needs_a_pool_and_zfs() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    std::env::set_var("KLEENE_DATASET", "var/lib/kleene");
    let err = Engine::open_on(&w.root, w.fb).err().unwrap().to_string();
    assert!(
        err.contains("no ZFS pool 'var'") && err.contains("zroot/kleene"),
        "{err}"
    );
    std::env::set_var("KLEENE_DATASET", "zroot/kleene");
    w.host.with(|s| {
        s.modules.remove("zfs");
    });
    let err = Engine::open_on(&w.root, w.fb).err().unwrap().to_string();
    assert!(err.contains("ZFS is not loaded"), "{err}");
    w.host.with(|s| {
        s.modules.insert("zfs".into());
    });
    let e = w.engine();
    drop(e);
    w.host.with(|s| {
        let d = &s.datasets["zroot/kleene"];
        assert_eq!(d.mountpoint, w.root, "mounted at the root");
        assert!(s.datasets.contains_key("zroot/kleene/container"));
    });
}

#[test]
fn jail_parameters_are_checked_and_a_refused_update_changes_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    let cfg = ContainerConfig {
        image: "base".into(),
        name: Some("jp".into()),
        cmd: vec!["/usr/bin/id".into()],
        jail_param: vec!["allow.raw_sockets".into(), "allow.bogus=1".into()],
        ..Default::default()
    };
    let err = e.container_create(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("unknown jail parameter 'allow.bogus'"),
        "{err}"
    );
    assert!(e.containers(true).unwrap().is_empty());
    // Known: kernel ones (also negated), jail(8)'s own.
    w.create(&mut e, "jp", &["/usr/bin/id"], |c| {
        c.jail_param = vec![
            "allow.noraw_sockets".into(),
            "exec.stop=/bin/true".into(),
            "mount.devfs".into(),
        ];
    });
    let u = kleene::engine::update::ContainerUpdate {
        jail_param: vec!["allow.bogus".into()],
        ..Default::default()
    };
    assert!(e.container_update("jp", &u).is_err());
    assert_eq!(
        e.container("jp").unwrap().jail_param[0],
        "allow.noraw_sockets"
    );
    assert_eq!(e.container_start("jp", ATTACHED).unwrap(), Some(0));
    w.assert_modelled();
}

#[test]
fn a_running_vnet_container_leaves_a_network_and_stale_mounts_are_cleared() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    bridge(&mut e, "br", "10.5.0.0/24");
    w.host.program(
        "/usr/bin/sleepy",
        Program {
            millis: 600,
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "vv", &["/usr/bin/sleepy"], |c| {
        c.network_driver = "vnet".into();
        c.mounts = vec![kleene::engine::MountConfig::parse("data:/data").unwrap()];
    });
    e.network_connect("br", "vv", "<auto>", "").unwrap();
    // A mount a killed earlier run left in the container.
    let stale = w.root.join("container").join(&id).join("data");
    std::fs::create_dir_all(&stale).unwrap();
    w.host.with(|s| {
        s.mounts.push(freebsd_host::Mount {
            kind: "nullfs".into(),
            from: "/old".into(),
            on: stale.clone(),
        })
    });
    let t = w.start_attached("vv");
    wait_until("running", || {
        w.host
            .with(|s| s.jails.get(&id).is_some_and(|j| !j.procs.is_empty()))
    });
    w.host.with(|s| {
        let on: Vec<_> = s.mounts.iter().filter(|m| m.on == stale).collect();
        assert_eq!(on.len(), 1, "the stale mount went first: {on:?}");
        assert_ne!(on[0].from, "/old");
    });
    e.network_disconnect("br", "vv").unwrap();
    w.host.with(|s| {
        assert!(
            !s.ifaces.keys().any(|i| i.starts_with("epair")),
            "{:?}",
            s.ifaces.keys()
        );
        assert!(s.ifaces["kleene0"].members.is_empty());
    });
    // Joining while running is refused.
    let err = e
        .network_connect("br", "vv", "<auto>", "")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot connect a running vnet container"),
        "{err}"
    );
    assert_eq!(t.join().unwrap(), Some(0));
    w.nothing_left_of(&id);
    w.assert_modelled();
}

#[test]
fn starts_leave_no_file_descriptor_behind() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    w.create(&mut e, "fd", &["/usr/bin/id"], |_| {});
    e.container_start("fd", ATTACHED).unwrap();
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let before = fds();
    for _ in 0..20 {
        e.container_start("fd", ATTACHED).unwrap();
    }
    assert!(
        fds() <= before + 2,
        "{before} fds before, {} after 20 starts",
        fds()
    );
}

#[test]
fn a_downloaded_base_is_checked_against_the_release_manifest() {
    use kleene::engine::manifest::sha256_file;
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    // A base.txz (xz tar) of /etc/passwd, served with its MANIFEST.
    let src = w.root.parent().unwrap().join("basesrc");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/passwd"), "root:*:0:0::/root:/bin/sh\n").unwrap();
    let txz = w.root.parent().unwrap().join("base.txz");
    let ok = std::process::Command::new("tar")
        .arg("-cJf")
        .arg(&txz)
        .arg("-C")
        .arg(&src)
        .arg("etc")
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = sha256_file(&txz).unwrap();
    let dir = "https://download.freebsd.org/releases/arm/armv7/14.1-RELEASE";
    w.host.with(|s| {
        s.uname = ("14.1-RELEASE-p5".into(), "arm".into(), "armv7".into());
        s.web
            .insert(format!("{dir}/base.txz"), std::fs::read(&txz).unwrap());
        s.web.insert(
            format!("{dir}/MANIFEST"),
            format!("base.txz\t{sum}\t2\tbase\t\"Base system\"\ton\n").into_bytes(),
        );
    });
    let opts = CreateOptions {
        tag: "fb".into(),
        dns: false,
        localtime: false,
        update: false,
    };
    let img = e.image_create(&Source::FetchAuto, &opts, &mut ()).unwrap();
    w.host.with(|s| {
        let d = &s.datasets[&format!("zroot/kleene/image/{}", img.id)];
        assert!(d.mountpoint.join("etc/passwd").is_file());
        assert!(d.snapshots.contains("image"));
    });
    // A tampered download: refused, both sums named, no layer left.
    w.host.with(|s| {
        s.web.get_mut(&format!("{dir}/base.txz")).unwrap().push(0);
    });
    let err = e
        .image_create(&Source::FetchAuto, &opts, &mut ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("the release's MANIFEST says {sum}")),
        "{err}"
    );
    let layers = w.host.with(|s| {
        s.datasets
            .keys()
            .filter(|d| d.starts_with("zroot/kleene/image/"))
            .count()
    });
    assert_eq!(layers, 1, "only the first image's layer");
    assert!(
        std::fs::read_dir(w.root.join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "no scratch left"
    );
    w.assert_modelled();
}

#[test]
fn an_image_whose_layer_has_outside_clones_is_not_removed() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    let img = e.image("base").unwrap();
    let layer = format!("zroot/kleene/image/{}", img.id);
    // Someone clones kleene's layer for their own use.
    let cloned = host_run(
        w.host,
        &[
            "/sbin/zfs",
            "clone",
            &format!("{layer}@image"),
            "zroot/mine",
        ],
    );
    assert!(cloned, "the model made the clone");
    let err = e.image_remove("base").unwrap_err().to_string();
    assert!(
        err.contains("zroot/mine") && err.contains("clones kleene does not manage"),
        "{err}"
    );
    assert!(e.image("base").is_ok(), "the image stays");
    w.host.with(|s| assert!(s.datasets.contains_key(&layer)));
    assert!(host_run(
        w.host,
        &["/sbin/zfs", "destroy", "-f", "zroot/mine"]
    ));
    e.image_remove("base").unwrap();
    w.host.with(|s| assert!(!s.datasets.contains_key(&layer)));
    w.assert_modelled();
}

#[test]
fn a_terminal_for_jails_through_a_pty_and_jexec() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    w.host.program(
        "/bin/sh",
        Program {
            tty: true,
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "tt", &["/bin/sh"], |_| {});
    let code = e
        .container_start(
            "tt",
            Attach::Attached {
                tty: true,
                stdin: false,
            },
        )
        .unwrap();
    assert_eq!(
        code,
        Some(0),
        "the command had the pty as its controlling terminal"
    );
    let line = w
        .host
        .calls()
        .into_iter()
        .find(|c| c.contains("/usr/bin/env -i"))
        .unwrap();
    assert!(line.contains(" TERM="), "a terminal type: {line}");
    w.nothing_left_of(&id);
    w.assert_modelled();
}

#[test]
fn a_running_jail_takes_new_kernel_parameters_only() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    w.base(&mut e);
    w.host.program(
        "/usr/bin/sleepy",
        Program {
            millis: 500,
            ..Default::default()
        },
    );
    let id = w.create(&mut e, "up", &["/usr/bin/sleepy"], |_| {});
    let t = w.start_attached("up");
    wait_until("running", || {
        w.host
            .with(|s| s.jails.get(&id).is_some_and(|j| !j.procs.is_empty()))
    });
    let u = kleene::engine::update::ContainerUpdate {
        jail_param: vec![
            "allow.raw_sockets".into(),
            "exec.stop=/bin/true".into(),
            "mount.devfs".into(),
        ],
        ..Default::default()
    };
    e.container_update("up", &u).unwrap();
    w.host
        .with(|s| assert!(s.jails[&id].params.contains_key("allow.raw_sockets")));
    assert_eq!(e.container("up").unwrap().jail_param.len(), 3);
    assert_eq!(t.join().unwrap(), Some(0));
    w.assert_modelled();
}

#[test]
fn mount_destinations_resolve_inside_the_jail() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = world();
    let mut e = w.engine();
    // An image whose /data is a symlink to /etc, and one to ../../..
    let src = w.root.parent().unwrap().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/passwd"), "root:*:0:0::/root:/bin/sh\n").unwrap();
    std::os::unix::fs::symlink("/etc", src.join("data")).unwrap();
    std::os::unix::fs::symlink("../../..", src.join("up")).unwrap();
    let opts = CreateOptions {
        tag: "base".into(),
        dns: false,
        localtime: false,
        update: false,
    };
    e.image_create(&Source::Dir(src), &opts, &mut ()).unwrap();
    let id = w.create(&mut e, "sy", &["/usr/bin/id"], |c| {
        c.mounts = vec![
            kleene::engine::MountConfig::parse("v1:/data").unwrap(),
            kleene::engine::MountConfig::parse("v2:/up/tmp/x").unwrap(),
        ];
    });
    w.host.program(
        "/usr/bin/id",
        Program {
            millis: 300,
            ..Default::default()
        },
    );
    let t = w.start_attached("sy");
    wait_until("running", || {
        w.host
            .with(|s| s.jails.get(&id).is_some_and(|j| !j.procs.is_empty()))
    });
    let dir = w.root.join("container").join(&id);
    w.host.with(|s| {
        let on: Vec<_> = s
            .mounts
            .iter()
            .filter(|m| m.kind == "nullfs")
            .map(|m| m.on.clone())
            .collect();
        assert_eq!(
            on,
            [dir.join("etc"), dir.join("tmp/x")],
            "inside the jail's root"
        );
    });
    assert!(
        !std::path::Path::new("/tmp/x").exists(),
        "nothing made on the host"
    );
    assert_eq!(t.join().unwrap(), Some(0));
    w.nothing_left_of(&id);
    w.assert_modelled();
}
