//! `kleene-oci` on FreeBSD jails, against the model of a FreeBSD host
//! (`freebsd_host`): the whole front end (create, start, state, exec,
//! kill, delete) over the FreeBSD back end, asserting the host's end
//! states — the jail and its parameters, mounts, devfs rules, interfaces,
//! processes — and the command lines themselves (golden).

#[allow(dead_code)] // shared with freebsd_model, which uses all of it
mod freebsd_host;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use freebsd_host::{Host, Iface, Program};
use kleene::oci::state::{Record, Status};
use kleene::platform::freebsd::FreeBsd;
use serde_json::{json, Value};

struct World {
    dir: tempfile::TempDir,
    host: &'static Host,
    fb: &'static FreeBsd,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (host, fb) = Host::leak(dir.path());
    World { dir, host, fb }
}

impl World {
    fn state_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `kleene-oci --root <root> ARGS`.
    fn oci(&self, args: &[&str]) -> Result<i32, String> {
        let root = self.state_root();
        let mut v = vec!["kleene-oci", "--root", root.to_str().unwrap()];
        v.extend_from_slice(args);
        kleene::oci::run_on(&v, self.fb).map_err(|e| e.to_string())
    }

    /// A bundle `name` whose rootfs is a FreeBSD userland sketch, with
    /// `f` editing its config.json.
    fn bundle(&self, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.dir.path().join(name);
        let rootfs = b.join("rootfs");
        for d in ["bin", "etc", "dev", "srv", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::write(rootfs.join("bin/sh"), "").unwrap();
        let mut c = json!({
            "ociVersion": "1.3.0",
            "process": {
                "args": ["/bin/sh", "-c", "serve"],
                "env": ["PATH=/bin:/usr/bin"],
                "cwd": "/srv",
                "user": {"uid": 80, "gid": 80, "additionalGids": [5]}
            },
            "root": {"path": "rootfs"},
            "hostname": "web",
            "mounts": [
                {"destination": "/dev", "type": "devfs", "source": "devfs", "options": ["ruleset=4"]},
                {"destination": "/dev/fd", "type": "fdescfs", "source": "fdescfs"}
            ]
        });
        f(&mut c);
        std::fs::write(b.join("config.json"), c.to_string()).unwrap();
        b
    }

    fn record(&self, id: &str) -> Option<Record> {
        Record::load(&self.state_root(), id).ok()
    }

    fn status(&self, id: &str) -> Status {
        self.record(id).unwrap().status(self.fb)
    }

    /// Wait until `id`'s process has ended.
    fn until_stopped(&self, id: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        while self.status(id) != Status::Stopped {
            assert!(Instant::now() < until, "{id} did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Nothing of jail `name` with root `rootfs` is left on the host, and
    /// every command was one the model knows.
    fn nothing_left(&self, name: &str, rootfs: &Path) {
        self.host.with(|s| {
            assert!(!s.jails.contains_key(name), "jail {name} left");
            let m: Vec<_> = s
                .mounts
                .iter()
                .filter(|m| m.on.starts_with(rootfs))
                .collect();
            assert!(m.is_empty(), "mounts left: {m:?}");
            assert!(
                s.devfs_rules.is_empty(),
                "devfs rules left: {:?}",
                s.devfs_rules
            );
            assert!(
                s.ifaces.values().all(|i| i.jail.is_none()),
                "interfaces left in jails: {:?}",
                s.ifaces
            );
            assert!(s.unknown.is_empty(), "not modelled: {:?}", s.unknown);
        });
        assert!(
            !self.state_root().join(name).exists(),
            "state directory left"
        );
    }
}

/// The host's calls from `from` on, with this run's paths as names.
fn golden(w: &World, from: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap().display().to_string();
    let dir = w.dir.path().display().to_string();
    w.host.calls()[from..]
        .iter()
        .map(|c| c.replace(&exe, "<kleene-oci>").replace(&dir, "<dir>"))
        .collect()
}

#[test]
fn a_bundle_runs_as_a_jail_from_create_to_delete() {
    let w = world();
    w.host.with(|s| {
        s.ifaces.insert(
            "epair7b".into(),
            Iface {
                up: true,
                ..Default::default()
            },
        );
    });
    w.host.program(
        "/bin/sh -c serve",
        Program {
            millis: 60_000,
            ..Default::default()
        },
    );
    let data = w.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let b = w.bundle("web", |c| {
        c["root"]["readonly"] = json!(true);
        c["mounts"].as_array_mut().unwrap().extend([
            json!({"destination": "/data", "type": "nullfs", "source": data, "options": ["ro"]}),
            json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}),
        ]);
        c["freebsd"] = json!({
            "devices": [{"path": "pf", "mode": 448}],
            "jail": {"vnet": "new", "vnetInterfaces": ["epair7b"], "sysvshm": "new",
                     "enforceStatfs": 1, "allow": {"rawSockets": true, "mount": ["tmpfs"]}}
        });
    });
    let rootfs = b.join("rootfs");
    let n = w.host.calls().len();
    w.oci(&["create", "--bundle", b.to_str().unwrap(), "web"])
        .unwrap();
    assert_eq!(
        golden(&w, n),
        [
            "/sbin/mount_nullfs -o ro <dir>/web/rootfs <dir>/web/rootfs",
            "/sbin/mount -t devfs -o ruleset=4 devfs <dir>/web/rootfs/dev",
            "/sbin/mount -t fdescfs fdescfs <dir>/web/rootfs/dev/fd",
            "/sbin/mount_nullfs -o ro <dir>/data <dir>/web/rootfs/data",
            "/sbin/mount -t tmpfs -o mode=1777 tmpfs <dir>/web/rootfs/tmp",
            "/sbin/devfs -m <dir>/web/rootfs/dev rule apply path pf unhide mode 0700",
            "/usr/sbin/jail -c name=web path=<dir>/web/rootfs persist host=new host.hostname=web \
             vnet=new sysvshm=new enforce_statfs=1 allow.raw_sockets allow.mount allow.mount.tmpfs",
            "/sbin/ifconfig epair7b vnet web",
            "/usr/sbin/jls -j web jid",
            "<kleene-oci> init --jid 1 --state <dir>/run/web --uid 80 --gid 80 --groups 5 \
             --cwd /srv --env PATH=/bin:/usr/bin -- /bin/sh -c serve",
        ]
    );
    assert_eq!(w.status("web"), Status::Created);
    w.host.with(|s| {
        let j = &s.jails["web"];
        assert!(j.vnet && j.persist);
        assert_eq!(j.params["host.hostname"], "web");
        assert_eq!(j.params["enforce_statfs"], "1");
        assert!(j.params.contains_key("allow.raw_sockets"));
        assert_eq!(s.ifaces["epair7b"].jail.as_deref(), Some("web"));
        assert_eq!(
            s.ran.last().unwrap(),
            &("web".into(), 80, "/bin/sh -c serve".into())
        );
        let kinds: Vec<&str> = s
            .mounts
            .iter()
            .filter(|m| m.on.starts_with(&rootfs))
            .map(|m| m.kind.as_str())
            .collect();
        assert_eq!(kinds, ["nullfs", "devfs", "fdescfs", "nullfs", "tmpfs"]);
        assert_eq!(s.devfs_rules.len(), 1);
    });
    let pid = w.record("web").unwrap().pid;
    w.oci(&["start", "web"]).unwrap();
    assert_eq!(w.status("web"), Status::Running);
    // A second start is refused; the process is the same one.
    let e = w.oci(&["start", "web"]).unwrap_err();
    assert!(e.contains("already running"), "{e}");
    assert_eq!(w.record("web").unwrap().pid, pid);
    w.oci(&["kill", "web", "KILL"]).unwrap();
    w.until_stopped("web");
    let n = w.host.calls().len();
    w.oci(&["delete", "web"]).unwrap();
    // The jail (its rctl rules, then itself), then the mounts: deepest
    // and latest first, the read-only alias of the root last.
    assert_eq!(
        golden(&w, n),
        [
            "/usr/bin/rctl -r jail:web",
            "/usr/sbin/jls --libxo=json -j web",
            "/usr/sbin/jail -r web",
            "/sbin/mount -p",
            "/sbin/umount -f <dir>/web/rootfs/dev/fd",
            "/sbin/umount -f <dir>/web/rootfs/tmp",
            "/sbin/umount -f <dir>/web/rootfs/data",
            "/sbin/umount -f <dir>/web/rootfs/dev",
            "/sbin/umount -f <dir>/web/rootfs",
        ]
    );
    w.nothing_left("web", &rootfs);
}

#[test]
fn exec_runs_in_the_jail_with_the_exact_identity() {
    let w = world();
    w.host.program(
        "/bin/sh -c serve",
        Program {
            millis: 60_000,
            ..Default::default()
        },
    );
    let b = w.bundle("app", |_| {});
    w.oci(&["create", "--bundle", b.to_str().unwrap(), "app"])
        .unwrap();
    w.oci(&["start", "app"]).unwrap();
    let code = w
        .oci(&[
            "exec",
            "--user",
            "1001:1001",
            "--cwd",
            "/tmp",
            "app",
            "/bin/sh",
            "-c",
            "true",
        ])
        .unwrap();
    assert_eq!(code, 0);
    w.host.with(|s| {
        assert_eq!(
            s.ran.last().unwrap(),
            &("app".into(), 1001, "/bin/sh -c true".into())
        );
    });
    // A program the jail does not have: the exec fails, the container runs on.
    let code = w.oci(&["exec", "app", "/bin/nope"]).unwrap();
    assert_eq!(code, 1);
    assert_eq!(w.status("app"), Status::Running);
    // Jails have no freezer: refused, and nothing changes.
    let e = w.oci(&["pause", "app"]).unwrap_err();
    assert!(e.contains("freezing"), "{e}");
    assert_eq!(w.status("app"), Status::Running);
    // --all: every process of the jail.
    let n = w.host.calls().len();
    w.oci(&["kill", "--all", "app", "TERM"]).unwrap();
    assert_eq!(golden(&w, n), ["/bin/pkill -15 -j app"]);
    w.until_stopped("app");
    w.oci(&["delete", "app"]).unwrap();
    w.nothing_left("app", &b.join("rootfs"));
}

#[test]
fn a_child_jail_is_made_in_its_parent_with_room_made() {
    let w = world();
    let pod = w.dir.path().join("pod");
    std::fs::create_dir_all(&pod).unwrap();
    w.host.run_line(&format!(
        "/usr/sbin/jail -c name=pod path={} persist",
        pod.display()
    ));
    let b = w.bundle("c2", |c| {
        c["freebsd"] = json!({"jail": {"parent": "pod", "ip4": "inherit"}});
    });
    w.oci(&["create", "--bundle", b.to_str().unwrap(), "c2"])
        .unwrap();
    w.host.with(|s| {
        assert!(s.jails.contains_key("pod.c2"));
        assert_eq!(s.jails["pod"].params["children.max"], "1");
        assert_eq!(s.jails["pod.c2"].params["ip4"], "inherit");
    });
    assert_eq!(w.record("c2").unwrap().cgroup, "pod.c2");
    w.oci(&["delete", "--force", "c2"]).unwrap();
    w.host.with(|s| {
        assert!(!s.jails.contains_key("pod.c2"));
        assert!(s.jails.contains_key("pod"), "the parent stays");
    });
    // Without the parent, create fails and leaves nothing.
    let b = w.bundle("c3", |c| {
        c["freebsd"] = json!({"jail": {"parent": "nopod"}});
    });
    let e = w
        .oci(&["create", "--bundle", b.to_str().unwrap(), "c3"])
        .unwrap_err();
    assert!(e.contains("nopod"), "{e}");
    w.nothing_left("nopod.c3", &b.join("rootfs"));
}

#[test]
fn bad_bundles_and_failures_midway_leave_nothing() {
    let w = world();
    // Refused before anything is made, naming the field and value.
    for (edit, says) in [
        (json!({"jail": {"vnet": "disable"}}), "freebsd.jail.vnet"),
        (json!({"jail": {"ip4Addr": ["10.1.2.300"]}}), "'10.1.2.300'"),
        (json!({"jail": {"allowRaw": true}}), "allowRaw"),
        (json!({"devices": [{"path": "../../mem"}]}), "'../../mem'"),
    ] {
        let b = w.bundle("bad", |c| c["freebsd"] = edit.clone());
        let n = w.host.calls().len();
        let e = w
            .oci(&["create", "--bundle", b.to_str().unwrap(), "bad"])
            .unwrap_err();
        assert!(e.contains(says), "{e} should name {says}");
        assert_eq!(
            golden(&w, n),
            Vec::<String>::new(),
            "ran commands for a bad bundle"
        );
        w.nothing_left("bad", &b.join("rootfs"));
    }
    let b = w.bundle("linuxy", |c| {
        c["mounts"] = json!([{"destination": "/sys", "type": "sysfs", "source": "sysfs"}]);
    });
    let e = w
        .oci(&["create", "--bundle", b.to_str().unwrap(), "linuxy"])
        .unwrap_err();
    assert!(e.contains("mounts[0] (/sys): type 'sysfs'"), "{e}");
    // Failures once mounts and the jail exist: each undone.
    let b = w.bundle("noprog", |c| c["process"]["args"] = json!(["/bin/nope"]));
    let e = w
        .oci(&["create", "--bundle", b.to_str().unwrap(), "noprog"])
        .unwrap_err();
    assert!(e.contains("executable file '/bin/nope' not found"), "{e}");
    w.nothing_left("noprog", &b.join("rootfs"));
    let b = w.bundle("nocwd", |c| c["process"]["cwd"] = json!("/nowhere"));
    let e = w
        .oci(&["create", "--bundle", b.to_str().unwrap(), "nocwd"])
        .unwrap_err();
    assert!(e.contains("cwd ('/nowhere')"), "{e}");
    w.nothing_left("nocwd", &b.join("rootfs"));
    let b = w.bundle("noif", |c| {
        c["freebsd"] = json!({"jail": {"vnet": "new", "vnetInterfaces": ["epair9b"]}});
    });
    let e = w
        .oci(&["create", "--bundle", b.to_str().unwrap(), "noif"])
        .unwrap_err();
    assert!(e.contains("epair9b"), "{e}");
    w.nothing_left("noif", &b.join("rootfs"));
    // The same ID works once the failure is gone.
    let b = w.bundle("noif", |_| {});
    w.oci(&["create", "--bundle", b.to_str().unwrap(), "noif"])
        .unwrap();
    w.oci(&["delete", "noif"]).unwrap();
    w.nothing_left("noif", &b.join("rootfs"));
}

#[test]
fn a_create_killed_halfway_is_finished_by_delete() {
    let w = world();
    let b = w.bundle("k1", |_| {});
    let rootfs = b.join("rootfs");
    // What a create killed after `jail -c` leaves: its intent, mounts and
    // the jail, but no record.
    let dir = w.state_root().join("k1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("intent.json"),
        json!({"cgroup": "k1", "rootfs": rootfs}).to_string(),
    )
    .unwrap();
    let dev = rootfs.join("dev").display().to_string();
    w.host
        .run_line(&format!("/sbin/mount -t devfs devfs {dev}"));
    w.host.run_line(&format!(
        "/usr/sbin/jail -c name=k1 path={} persist",
        rootfs.display()
    ));
    w.oci(&["delete", "k1"]).unwrap();
    w.nothing_left("k1", &rootfs);
    // And a create of the same ID clears such leftovers first.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("intent.json"),
        json!({"cgroup": "k1", "rootfs": rootfs}).to_string(),
    )
    .unwrap();
    w.host.run_line(&format!(
        "/usr/sbin/jail -c name=k1 path={} persist",
        rootfs.display()
    ));
    w.oci(&["create", "--bundle", b.to_str().unwrap(), "k1"])
        .unwrap();
    w.oci(&["delete", "--force", "k1"]).unwrap();
    w.nothing_left("k1", &rootfs);
}
