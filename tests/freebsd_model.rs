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
    let host: &'static Host = Box::leak(Box::new(Host::new(dir.path())));
    let fb: &'static FreeBsd = Box::leak(Box::new(FreeBsd::with_runner(host)));
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
    w.host.program(
        "/bin/sh /etc/rc",
        Program {
            daemons: vec!["sshd".into(), "cron".into()],
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
        assert_eq!(j.daemons, ["sshd", "cron"]);
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
