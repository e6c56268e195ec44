//! The FreeBSD back end, golden-tested on any OS: the engine drives it
//! through a recording command runner, and the exact, ordered command lines
//! (zfs, jail, jexec, mount_nullfs, umount) are compared with what kleened
//! runs (`reference/kleened.md` §4).

use std::path::Path;
use std::sync::Mutex;

use kleene::dockerfile::plan::{build, BuildRequest};
use kleene::engine::build::BuildLog;
use kleene::engine::image_create::{CreateOptions, Source};
use kleene::engine::lifecycle::Attach;
use kleene::engine::{ContainerConfig, Engine, MountConfig};
use kleene::platform::cmd::{normalise_ids, Output, Recorder};
use kleene::platform::freebsd::FreeBsd;
use kleene::platform::{ExecSpec, Platform, Stdio};

// The recorder is process-wide (the platform is 'static): one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    rec: &'static Recorder,
    fb: &'static FreeBsd,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("zroot/kleene");
    std::fs::create_dir_all(&root).unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let rec: &'static Recorder = Box::leak(Box::new(Recorder::new()));
    // Every dataset is "mounted" on the scratch directory, so files really
    // get copied where the engine puts them; the root dataset is mounted
    // at the root.
    let ds = root.to_string_lossy().trim_start_matches('/').to_string();
    rec.respond(
        &format!("/sbin/zfs list -H -o mountpoint {ds}$"),
        Output::ok(&format!("{}\n", root.display())),
    );
    rec.respond(
        "/sbin/zfs list -H -o mountpoint",
        Output::ok(&format!("{}\n", mnt.display())),
    );
    host_responses(rec);
    let fb: &'static FreeBsd = Box::leak(Box::new(FreeBsd::with_runner(rec)));
    Setup {
        _dir: dir,
        root,
        rec,
        fb,
    }
}

impl Setup {
    /// From here on every dataset exists (`zfs list` finds it).
    fn datasets_exist(&self) {
        let mnt = self.root.parent().unwrap().parent().unwrap().join("mnt");
        self.rec.clear_responses();
        self.rec.respond(
            "/sbin/zfs list -H -o mountpoint",
            Output::ok(&format!("{}\n", mnt.display())),
        );
        host_responses(self.rec);
    }

    /// `netstat` reports the default route on em0 (the NAT interface).
    fn default_route_via_em0(&self) {
        self.rec.respond(
            "/usr/bin/netstat --libxo json -rn",
            Output::ok(r#"{"statistics":{"route-information":{"route-table":{"rt-family":[{"address-family":"Internet","rt-entry":[{"destination":"default","interface-name":"em0"}]}]}}}}"#),
        );
    }

    /// The recorded lines with IDs, the root dataset and the scratch
    /// mountpoint replaced by stable names.
    fn lines(&self) -> Vec<String> {
        let ds = self
            .root
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string();
        let mnt = self
            .root
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("mnt")
            .display()
            .to_string();
        let lines: Vec<String> = self
            .rec
            .calls()
            .iter()
            .map(|l| l.replace(&mnt, "/MNT").replace(&ds, "zroot/kleene"))
            .collect();
        self.rec.clear();
        normalise_ids(&lines)
    }
}

/// What every host answers: a jail is gone once its command has exited
/// (no daemons left), and the host's pf.conf names kleene's anchors.
fn host_responses(rec: &Recorder) {
    rec.respond(
        "/usr/sbin/jls --libxo=json -j",
        Output::fail(1, "not found"),
    );
    rec.respond(
        "/sbin/pfctl -s nat",
        Output::ok("nat-anchor \"kleene\" all\nrdr-anchor \"kleene\" all\n"),
    );
    rec.respond(
        "/sbin/pfctl -s rules",
        Output::ok("anchor \"kleene\" all\n"),
    );
    // The kernel's jail parameters (a node such as allow.mount. ends in a dot).
    let params: String = [
        "name",
        "path",
        "persist",
        "host.hostname",
        "ip4.addr",
        "ip6.addr",
        "vnet",
        "enforce_statfs",
        "devfs_ruleset",
        "securelevel",
        "allow.raw_sockets",
        "allow.mount.",
        "allow.mount.devfs",
        "allow.chflags",
        "allow.mlock",
        "allow.quotas",
        "allow.socket_af",
        "allow.sysvipc",
        "allow.set_hostname",
        "allow.reserved_ports",
        "allow.read_msgbuf",
        "allow.unprivileged_proc_debug",
        "allow.suser",
        "allow.settime",
        "allow.adjtime",
        "allow.nfsd",
        "allow.extattr",
        "allow.routing",
    ]
    .iter()
    .map(|p| format!("security.jail.param.{p}\n"))
    .collect();
    rec.respond("/sbin/sysctl -N security.jail.param", Output::ok(&params));
}

fn assert_lines(got: Vec<String>, want: &[&str]) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "\ngot:\n{}\n", got.join("\n"));
}

struct Quiet;
impl BuildLog for Quiet {
    fn line(&mut self, _: &str) {}
    fn quiet(&self) -> bool {
        true
    }
}

fn base_image(s: &Setup, e: &mut Engine) -> String {
    let src = s.root.parent().unwrap().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(
        src.join("etc/passwd"),
        "root:*:0:0::/root:/bin/sh\nwww:*:80:80::/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    let opts = CreateOptions {
        tag: "base".into(),
        dns: false,
        localtime: false,
        update: false,
    };
    e.image_create(&Source::Dir(src), &opts, &mut ())
        .unwrap()
        .id
}

#[test]
fn root_image_container_volume_lifecycle() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    // A new root: nothing exists yet.
    s.rec.respond(
        "/sbin/zfs list -H -o name",
        Output::fail(1, "dataset does not exist"),
    );
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/kleene",
            "/sbin/kldstat -q -m zfs",
            "/sbin/zfs create -p -o mountpoint=/zroot/kleene zroot/kleene",
            "/sbin/zfs list -H -o mountpoint zroot/kleene",
            "/sbin/zfs list -H -o name zroot/kleene/image",
            "/sbin/zfs create zroot/kleene/image",
            "/sbin/zfs list -H -o name zroot/kleene/container",
            "/sbin/zfs create zroot/kleene/container",
            "/sbin/zfs list -H -o name zroot/kleene/volumes",
            "/sbin/zfs create zroot/kleene/volumes",
        ],
    );

    // Base image (from a directory): dataset, fill, @image snapshot.
    base_image(&s, &mut e);
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs create zroot/kleene/image/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<1>",
            "/sbin/zfs snapshot zroot/kleene/image/<1>@image",
        ],
    );

    // A container with a new volume: volume dataset, then a clone of @image.
    let cfg = ContainerConfig {
        image: "base".into(),
        name: Some("web".into()),
        cmd: vec!["/bin/sh".into(), "-c".into(), "echo hi".into()],
        env: vec!["A=1".into()],
        user: "www".into(),
        mounts: vec![
            MountConfig::parse("data:/data").unwrap(),
            MountConfig::parse("/etc:/hostetc:ro").unwrap(),
        ],
        jail_param: vec!["allow.raw_sockets".into(), "exec.noclean".into()],
        ..Default::default()
    };
    let c = e.container_create(&cfg).unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/sysctl -N security.jail.param",
            "/sbin/zfs create zroot/kleene/volumes/data",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/volumes/data",
            "/sbin/zfs clone zroot/kleene/image/<1>@image zroot/kleene/container/<2>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<2>",
        ],
    );

    // Start (attached): the datasets are there (checked: an interrupted
    // create would have left them unmade); stale mounts looked for, nullfs
    // mounts, then a persistent jail -c (exec.noclean is kleene's to carry
    // out: the environment is always the container's), the command as a
    // jexec child as www (resolved in the jail; its home /nonexistent is
    // not entered), nopersist once it exited, jls until the jail is gone,
    // then cleanup.
    s.datasets_exist();
    let code = e
        .container_start(
            "web",
            Attach::Attached {
                tty: false,
                stdin: false,
            },
        )
        .unwrap();
    assert_eq!(code, Some(0));
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/kleene/container/<1>",
            "/sbin/zfs list -H -o name zroot/kleene/volumes/data",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/mount -p",
            "/sbin/mount_nullfs /zroot/kleene/volumes/data /MNT/data",
            "/sbin/mount_nullfs -o ro /etc /MNT/hostetc",
            "/usr/sbin/jail -c path=/MNT name=<1> ip4=disable ip6=disable persist host.hostname=<1> mount.devfs allow.raw_sockets",
            "/usr/sbin/jexec -U www <1> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent USER=www LOGNAME=www SHELL=/usr/sbin/nologin HOSTNAME=<1> A=1 /bin/sh -c echo hi",
            "/usr/sbin/jail -m name=<1> nopersist",
            "/usr/sbin/jls --libxo=json -j <1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/umount /MNT/hostetc",
            "/sbin/umount /MNT/data",
            "/sbin/umount /MNT/dev",
        ],
    );
    assert_eq!(e.container("web").unwrap().id, c.id);

    // exec and stop, as jexec.
    let spec = ExecSpec {
        profile: Default::default(),
        container: c.id.clone(),
        cmd: vec!["id".into()],
        env: vec!["B=2".into()],
        user: "www".into(),
        workdir: "/srv".into(),
        tty: false,
        exact: None,
    };
    // jls tells the jail's root (where its /etc/passwd is) and hostname.
    let mnt = s.root.parent().unwrap().parent().unwrap().join("mnt");
    s.rec.respond(
        "/usr/sbin/jls -j",
        Output::ok(&format!("{} web\n", mnt.display())),
    );
    let started =
        s.fb.exec(0, &spec, &Stdio::Inherit { stdin: false })
            .unwrap();
    s.fb.wait(started.pid).unwrap();
    // SIGTERM: kleened's exec.stop, run by kleene in the jail as root.
    s.fb.stop_container(&c.id, 0, libc::SIGTERM, &[]).unwrap();
    assert_lines(
        s.lines(),
        &[
            "/usr/sbin/jls -j <1> path host.hostname",
            "/usr/sbin/jexec -U www <1> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent USER=www LOGNAME=www SHELL=/usr/sbin/nologin HOSTNAME=web B=2 /bin/sh -c cd -- \"$0\" || exit 126; exec \"$@\" /srv id",
            "/usr/sbin/jexec <1> /bin/sh /etc/rc.shutdown",
            "/bin/pkill -TERM -j <1>",
        ],
    );

    // Removal: rules a dead supervisor may have left, then the datasets,
    // each after an existence check (they exist now).
    s.rec.clear_responses();
    host_responses(s.rec);
    s.rec
        .respond("/sbin/zfs list -H -o mountpoint", Output::ok("/MNT\n"));
    e.container_remove("web", false).unwrap();
    e.volume_remove("data").unwrap();
    e.image_remove("base").unwrap();
    assert_lines(
        s.lines(),
        &[
            "/usr/bin/rctl -r jail:<1>",
            "/sbin/zfs list -H -o name zroot/kleene/container/<1>",
            "/sbin/zfs destroy -r -f zroot/kleene/container/<1>",
            "/sbin/zfs list -H -o name zroot/kleene/volumes/data",
            "/sbin/zfs destroy -f zroot/kleene/volumes/data",
            "/sbin/zfs destroy -n -R -p zroot/kleene/image/<2>",
            "/sbin/zfs list -H -o name zroot/kleene/image/<2>",
            "/sbin/zfs destroy -r -f zroot/kleene/image/<2>",
        ],
    );
}

#[test]
fn build_with_run_copy_and_a_failure() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    s.rec.clear();
    let ctx = s.root.parent().unwrap().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f.txt"), "f").unwrap();
    let req = |df: &str| BuildRequest {
        context: ctx.clone(),
        dockerfile: df.to_string(),
        dockerfile_name: "Dockerfile".into(),
        tag: "built".into(),
        ..Default::default()
    };
    build(
        &mut e,
        &req("FROM base\nRUN echo hi > /f\nCOPY f.txt /f.txt\n"),
        &mut Quiet,
    )
    .unwrap();
    let got = s.lines();
    assert_lines(
        got.clone(),
        &[
            "/sbin/zfs clone zroot/kleene/image/<1>@image zroot/kleene/container/<2>-<owner>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<2>-<owner>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<2>-<owner>",
            "/sbin/mount -p",
            "/usr/sbin/jail -c path=/MNT name=<2>-<owner> ip4=disable ip6=disable persist host.hostname=<2> mount.devfs",
            "/usr/sbin/jexec <2>-<owner> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh HOSTNAME=<2> /bin/sh -c echo hi > /f",
            "/usr/sbin/jls --libxo=json -j <2>-<owner>",
            "/usr/sbin/jls --libxo=json -j <2>-<owner>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<2>-<owner>",
            "/sbin/umount /MNT/dev",
            "/sbin/zfs rename -f zroot/kleene/container/<2>-<owner> zroot/kleene/image/<3>",
            "/sbin/zfs snapshot zroot/kleene/image/<3>@image",
            "/sbin/zfs list -H -o name zroot/kleene/container/<2>-<owner>",
            "/sbin/zfs destroy -r -f zroot/kleene/container/<2>-<owner>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<3>",
            "/sbin/zfs clone zroot/kleene/image/<3>@image zroot/kleene/image/<4>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<4>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<3>",
            "/sbin/zfs snapshot zroot/kleene/image/<4>@image",
        ],
    );
    let img = e.image("built").unwrap();
    assert_eq!(img.layers.len(), 3);
    assert_eq!(img.snapshots.len(), 2);

    // A failing RUN: the step's container and the layers this build made go.
    s.rec.spawn_exit(3);
    let err = build(
        &mut e,
        &req("FROM base\nCOPY f.txt /g.txt\nRUN exit 3\n"),
        &mut Quiet,
    )
    .unwrap_err();
    assert!(err.message.contains("non-zero code: 3"), "{}", err.message);
    let got = s.lines();
    let destroys: Vec<&String> = got.iter().filter(|l| l.contains("destroy")).collect();
    assert_eq!(destroys.len(), 2, "{got:#?}");
    assert!(
        destroys[0].starts_with("/sbin/zfs destroy -r -f zroot/kleene/container/"),
        "{got:#?}"
    );
    assert!(
        destroys[1].starts_with("/sbin/zfs destroy -r -f zroot/kleene/image/"),
        "{got:#?}"
    );
    s.rec.spawn_exit(0);
    let _ = Path::new("/");
}

#[test]
fn base_images_from_datasets_and_downloads() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    s.rec.clear();
    let opts = CreateOptions {
        tag: "b".into(),
        dns: false,
        localtime: false,
        update: false,
    };

    // zfs-copy: snapshot the source, send | receive, @image, drop the source snapshot.
    e.image_create(&Source::ZfsCopy("zroot/mybase".into()), &opts, &mut ())
        .unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/mybase",
            "/sbin/zfs snapshot zroot/mybase@<1>",
            "/bin/sh -c /sbin/zfs send -v zroot/mybase@<1> | /sbin/zfs receive zroot/kleene/image/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<1>",
            "/sbin/zfs snapshot zroot/kleene/image/<1>@image",
            "/sbin/zfs destroy -f zroot/mybase@<1>",
        ],
    );

    // zfs-clone keeps the source snapshot (the clone depends on it), and --update.
    let upd = CreateOptions {
        update: true,
        ..opts.clone()
    };
    e.image_create(&Source::ZfsClone("zroot/mybase".into()), &upd, &mut ())
        .unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/mybase",
            "/sbin/zfs snapshot zroot/mybase@<1>",
            "/sbin/zfs clone zroot/mybase@<1> zroot/kleene/image/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<1>",
            "/usr/sbin/freebsd-update -b /MNT --not-running-from-cron fetch install",
            "/sbin/zfs snapshot zroot/kleene/image/<1>@image",
        ],
    );

    // A dataset path is refused before anything runs.
    let err = e
        .image_create(&Source::ZfsCopy("/zroot/mybase".into()), &opts, &mut ())
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid dataset '/zroot/mybase'"),
        "{err}"
    );
    assert!(s.lines().is_empty());

    // fetch-auto: the URL from uname -m and -p (arm64/aarch64), base.txz
    // and the release's MANIFEST to check it against; the downloads are
    // recorded, not made, so the check fails and the layer goes.
    s.rec
        .respond("/usr/bin/uname -r", Output::ok("14.1-RELEASE-p3\n"));
    s.rec.respond("/usr/bin/uname -m", Output::ok("arm64\n"));
    s.rec.respond("/usr/bin/uname -p", Output::ok("aarch64\n"));
    let err = e
        .image_create(&Source::FetchAuto, &opts, &mut ())
        .unwrap_err();
    assert!(err.to_string().contains("MANIFEST"), "{err}");
    let root = s.root.display().to_string();
    let got: Vec<String> = s
        .lines()
        .into_iter()
        .map(|l| l.replace(&root, "ROOT"))
        .collect();
    assert_lines(
        got,
        &[
            "/sbin/zfs create zroot/kleene/image/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/image/<1>",
            "/usr/bin/uname -r",
            "/usr/bin/uname -m",
            "/usr/bin/uname -p",
            "/usr/bin/fetch -o /zroot/kleene/tmp/<owner>.base-<1>.txz https://download.freebsd.org/releases/arm64/aarch64/14.1-RELEASE/base.txz",
            "/usr/bin/fetch -o /zroot/kleene/tmp/<owner>.base-<1>.MANIFEST https://download.freebsd.org/releases/arm64/aarch64/14.1-RELEASE/MANIFEST",
            "/sbin/zfs list -H -o name zroot/kleene/image/<1>",
            "/sbin/zfs destroy -r -f zroot/kleene/image/<1>",
        ],
    );
    assert_eq!(
        e.images().unwrap().len(),
        2,
        "a failed create leaves no image row"
    );
}

#[test]
fn networks_links_addresses_and_pf() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    s.default_route_via_em0();
    // Interfaces do not exist until created, except em0 (custom networks).
    s.rec.respond("/sbin/ifconfig em0$", Output::ok(""));
    for i in ["kleene0", "kleene1", "kleene2", "nosuch"] {
        s.rec.respond(
            &format!("/sbin/ifconfig {i}$"),
            Output::fail(1, "does not exist"),
        );
    }
    s.rec.clear();
    use kleene::engine::network::NetworkConfig;

    // A bridge with an <auto> gateway: created, gateway aliased, pf reloaded.
    let cfg = NetworkConfig {
        name: "web".into(),
        kind: "bridge".into(),
        subnet: "10.13.37.0/30".into(),
        gateway: "<auto>".into(),
        ..Default::default()
    };
    e.network_create(&cfg).unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/ifconfig kleene0",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/ifconfig bridge create name kleene0",
            "/sbin/ifconfig kleene0 inet 10.13.37.1/30 alias",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf",
        ],
    );
    let conf = std::fs::read_to_string(s.root.join("pf.conf")).unwrap();
    assert!(
        conf.contains("kleenet_host_gw_if=\"em0\"") && conf.contains("nat on $kleenet_"),
        "{conf}"
    );

    // Loopback and custom networks; errors as kleened's, and for overlaps.
    e.network_create(&NetworkConfig {
        name: "lo".into(),
        subnet: "10.20.0.0/24".into(),
        ..Default::default()
    })
    .unwrap();
    e.network_create(&NetworkConfig {
        name: "ext".into(),
        kind: "custom".into(),
        interface: "em0".into(),
        ..Default::default()
    })
    .unwrap();
    let got = s.lines();
    assert!(
        got.contains(&"/sbin/ifconfig lo create name kleene1".to_string()),
        "{got:#?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("create name em0")),
        "custom interfaces are never created"
    );
    let err = |c: NetworkConfig| e.network_create(&c).unwrap_err().to_string();
    let mut e2 = Engine::open_on(&s.root, s.fb).unwrap();
    let mut err2 = |c: NetworkConfig| e2.network_create(&c).unwrap_err().to_string();
    assert_eq!(
        err2(NetworkConfig {
            name: "web".into(),
            ..Default::default()
        }),
        "network name is already taken"
    );
    assert!(err2(NetworkConfig {
        name: "x1".into(),
        subnet: "10.13.37.0/24".into(),
        ..Default::default()
    })
    .contains("overlaps"));
    assert!(err2(NetworkConfig {
        name: "x2".into(),
        kind: "custom".into(),
        interface: "nosuch".into(),
        ..Default::default()
    })
    .contains("no such interface"));
    assert!(err2(NetworkConfig {
        name: "x3".into(),
        subnet6: "10.0.0.0/8".into(),
        ..Default::default()
    })
    .contains("wrong IP protocol"));
    // An interface that already exists is never taken over (kleened destroyed
    // and recreated it, breaking whoever used it).
    s.rec.respond("/sbin/ifconfig busy0$", Output::ok(""));
    s.rec.clear();
    let busy = err2(NetworkConfig {
        name: "x4".into(),
        interface: "busy0".into(),
        ..Default::default()
    });
    assert!(
        busy.contains("interface 'busy0' already exists on the host"),
        "{busy}"
    );
    assert!(!s.lines().iter().any(|l| l.contains("destroy")));
    let _ = &err;
    drop(e2);

    // Containers: the driver/type matrix, and address allocation in a /30.
    let mk = |e: &mut Engine, name: &str, driver: &str| {
        let cfg = ContainerConfig {
            image: "base".into(),
            name: Some(name.into()),
            network_driver: driver.into(),
            ..Default::default()
        };
        e.container_create(&cfg).unwrap().id
    };
    mk(&mut e, "a1", "ipnet");
    mk(&mut e, "a2", "ipnet");
    mk(&mut e, "a3", "ipnet");
    mk(&mut e, "v1", "vnet");
    mk(&mut e, "h1", "host");
    mk(&mut e, "d1", "disabled");
    assert_eq!(
        e.network_connect("web", "a1", "<auto>", "")
            .unwrap()
            .ip_address,
        "10.13.37.2"
    );
    let full = e
        .network_connect("web", "a2", "<auto>", "")
        .unwrap_err()
        .to_string();
    assert_eq!(full, "no more inet IP's left in the network");
    let outside = e
        .network_connect("lo", "a2", "10.99.0.5", "")
        .unwrap_err()
        .to_string();
    assert!(
        outside.contains("not a host address of the network's subnet 10.20.0.0/24"),
        "{outside}"
    );
    assert_eq!(
        e.network_connect("lo", "a2", "10.20.0.5", "")
            .unwrap()
            .ip_address,
        "10.20.0.5"
    );
    assert!(e
        .network_connect("lo", "a3", "10.20.0.5", "")
        .unwrap_err()
        .to_string()
        .contains("already in use"));
    assert_eq!(
        e.network_connect("lo", "a2", "<auto>", "")
            .unwrap_err()
            .to_string(),
        "container already connected to the network"
    );
    assert_eq!(
        e.network_connect("lo", "v1", "<auto>", "")
            .unwrap_err()
            .to_string(),
        "containers using the 'vnet' network-driver can't connect to loopback networks"
    );
    assert_eq!(
        e.network_connect("web", "h1", "<auto>", "")
            .unwrap_err()
            .to_string(),
        "containers with the 'host' network-driver cannot connect to networks."
    );
    assert_eq!(
        e.network_connect("web", "d1", "<auto>", "")
            .unwrap_err()
            .to_string(),
        "containers with the 'disabled' network-driver cannot connect to networks."
    );
    assert!(
        e.network_connect("web", "v1", "<auto>", "").is_err(),
        "the /30 is full"
    );

    // Disconnect reloads pf (kleened did not); removing a network
    // disconnects its containers and destroys its interface, then its row
    // goes and pf forgets it.
    s.rec.clear();
    e.network_disconnect("web", "a1").unwrap();
    assert!(s
        .lines()
        .iter()
        .any(|l| l.starts_with("/sbin/pfctl -a kleene -f")));
    e.network_connect("web", "a1", "<auto>", "").unwrap();
    s.rec.clear();
    e.network_remove("web").unwrap();
    let got = s.lines();
    // pf is checked (loaded, enabled, the host's pf.conf evaluating the
    // anchor) before the anchor is loaded.
    assert_eq!(
        got[got.len() - 11..],
        [
            "/sbin/ifconfig kleene0 destroy",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            // (This recorder says forwarding is off each time.)
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf"
        ],
        "{got:#?}"
    );
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("/sbin/pfctl -a kleene -f"))
            .count(),
        2,
        "{got:#?}"
    );
    // A container's endpoints go with it.
    e.container_remove("a2", false).unwrap();
    assert!(e.endpoints().unwrap().is_empty());
    assert_eq!(e.network_prune().unwrap().len(), 2);
}

#[test]
fn vnet_and_ipnet_containers_start_with_their_links() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    s.rec
        .respond("/sbin/ifconfig kleene0$", Output::fail(1, "does not exist"));
    s.rec
        .respond("/sbin/ifconfig kleene1$", Output::fail(1, "does not exist"));
    s.rec
        .respond("/sbin/ifconfig epair create", Output::ok("epair7a\n"));
    use kleene::engine::network::NetworkConfig;
    let bridge = NetworkConfig {
        name: "br".into(),
        kind: "bridge".into(),
        subnet: "10.5.0.0/24".into(),
        gateway: "<auto>".into(),
        nat: Some(String::new()),
        ..Default::default()
    };
    e.network_create(&bridge).unwrap();
    e.network_create(&NetworkConfig {
        name: "lo".into(),
        subnet: "10.6.0.0/24".into(),
        nat: Some(String::new()),
        ..Default::default()
    })
    .unwrap();
    let mk = |e: &mut Engine, name: &str, driver: &str| {
        let cfg = ContainerConfig {
            image: "base".into(),
            name: Some(name.into()),
            network_driver: driver.into(),
            cmd: vec!["true".into()],
            ..Default::default()
        };
        e.container_create(&cfg).unwrap();
    };
    mk(&mut e, "vv", "vnet");
    mk(&mut e, "ii", "ipnet");
    e.network_connect("br", "vv", "<auto>", "").unwrap();
    e.network_connect("lo", "ii", "<auto>", "").unwrap();
    s.rec.clear();

    e.container_start(
        "vv",
        Attach::Attached {
            tty: false,
            stdin: false,
        },
    )
    .unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/kleene/container/<1>",
            "/sbin/ifconfig epair create",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/mount -p",
            "/sbin/ifconfig kleene0 addm epair7a",
            "/sbin/ifconfig epair7a up",
            "/usr/sbin/jail -c path=/MNT name=<1> vnet vnet.interface=epair7b persist host.hostname=<1> mount.devfs",
            "/usr/sbin/jexec <1> /sbin/ifconfig lo0 inet 127.0.0.1/8 up",
            "/usr/sbin/jexec <1> /sbin/ifconfig epair7b inet 10.5.0.2/24 up",
            "/usr/sbin/jexec <1> /sbin/route add -inet default 10.5.0.1",
            "/usr/sbin/jexec <1> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh HOSTNAME=<1> true",
            "/usr/sbin/jail -m name=<1> nopersist",
            "/usr/sbin/jls --libxo=json -j <1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/umount /MNT/dev",
            "/sbin/ifconfig kleene0 deletem epair7a",
            "/sbin/ifconfig epair7a destroy",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf",
        ],
    );
    // While it ran, pf knew its link; afterwards the endpoint forgets it.
    assert!(e.endpoints().unwrap().iter().all(|ep| ep.epair.is_none()));

    e.container_start(
        "ii",
        Attach::Attached {
            tty: false,
            stdin: false,
        },
    )
    .unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/kleene/container/<1>",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/mount -p",
            "/sbin/ifconfig kleene1 inet 10.6.0.1/32 alias",
            "/usr/sbin/jail -c path=/MNT name=<1> ip4.addr=10.6.0.1 persist host.hostname=<1> mount.devfs",
            "/usr/sbin/jexec <1> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh HOSTNAME=<1> true",
            "/usr/sbin/jail -m name=<1> nopersist",
            "/usr/sbin/jls --libxo=json -j <1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/umount /MNT/dev",
            "/sbin/ifconfig kleene1 inet 10.6.0.1 -alias",
            "/usr/bin/netstat --libxo json -rn",
            "/sbin/kldstat -q -m pf",
            "/sbin/pfctl -e",
            "/sbin/pfctl -s nat",
            "/sbin/pfctl -s rules",
            "/sbin/sysctl -n net.inet.ip.forwarding",
            "/sbin/sysctl -n net.inet6.ip6.forwarding",
            "/sbin/sysctl net.inet.ip.forwarding=1",
            "/sbin/sysctl net.inet6.ip6.forwarding=1",
            "/sbin/pfctl -a kleene -f /zroot/kleene/pf.conf",
        ],
    );
}

#[test]
fn published_ports_reach_pf_and_running_jails_are_relinked() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    s.default_route_via_em0();
    s.rec
        .respond("/sbin/ifconfig kleene0$", Output::fail(1, "does not exist"));
    use kleene::engine::network::NetworkConfig;
    use kleene::engine::ports::PublishedPort;
    e.network_create(&NetworkConfig {
        name: "pub".into(),
        subnet: "10.7.0.0/24".into(),
        ..Default::default()
    })
    .unwrap();
    // Ports need a driver with addresses.
    let mut cfg = ContainerConfig {
        image: "base".into(),
        name: Some("srv".into()),
        public_ports: vec![
            PublishedPort::parse("8080:80").unwrap(),
            PublishedPort::parse("em1:5353-5354:53/udp").unwrap(),
        ],
        ..Default::default()
    };
    let err = e.container_create(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("cannot publish ports of a container using the 'disabled' network driver"),
        "{err}"
    );
    cfg.network_driver = "ipnet".into();
    e.container_create(&cfg).unwrap();
    e.network_connect("pub", "srv", "<auto>", "").unwrap();
    let conf = std::fs::read_to_string(s.root.join("pf.conf")).unwrap();
    for want in [
        "rdr on em0 inet proto tcp from any to (em0) port 8080 -> 10.7.0.1 port 80",
        "rdr on em1 inet proto udp from any to (em1) port 5353:5354 -> 10.7.0.1 port 53:*",
        "pass quick on em1 inet proto udp from any to 10.7.0.1 port 53:54",
        "pass quick on $kleenet_network_interfaces inet proto udp from any to 10.7.0.1 port 53:54",
    ] {
        assert!(conf.contains(want), "missing {want:?} in\n{conf}");
    }
    // Removing the container takes its rules away (kleened left stale rdr).
    e.container_remove("srv", false).unwrap();
    let conf = std::fs::read_to_string(s.root.join("pf.conf")).unwrap();
    assert!(!conf.contains("rdr on"), "{conf}");

    // A running ipnet jail gains and loses addresses in place.
    s.rec.clear();
    let att = |ep: &str, ip: &str, ip6: &str| kleene::platform::Attachment {
        endpoint: ep.into(),
        interface: "kleene0".into(),
        ip: ip.into(),
        ip6: ip6.into(),
        ..Default::default()
    };
    let one = vec![att("e1", "10.7.0.2", "")];
    let two = vec![att("e1", "10.7.0.2", ""), att("e2", "10.7.0.3", "fd07::3")];
    s.fb.relink("abcdef012345", 0, "ipnet", &one, &two).unwrap();
    s.fb.relink("abcdef012345", 0, "ipnet", &two, &one).unwrap();
    s.fb.update_params("abcdef012345", &["allow.raw_sockets".to_string()])
        .unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/ifconfig kleene0 inet 10.7.0.3/32 alias",
            "/sbin/ifconfig kleene0 inet6 fd07::3/128 alias",
            "/usr/sbin/jail -m name=<1> ip4.addr=10.7.0.2,10.7.0.3 ip6.addr=fd07::3",
            "/sbin/ifconfig kleene0 inet 10.7.0.3 -alias",
            "/sbin/ifconfig kleene0 inet6 fd07::3 -alias",
            "/usr/sbin/jail -m name=<1> ip4.addr=10.7.0.2 ip6.addr=",
            "/usr/sbin/jail -m name=<1> allow.raw_sockets",
        ],
    );
}

#[test]
fn a_dataset_that_cannot_be_mounted_is_destroyed_again() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    s.lines();
    // Container datasets report no mountpoint; everything else mounts.
    s.rec.clear_responses();
    host_responses(s.rec);
    s.rec.respond(
        &format!(
            "/sbin/zfs list -H -o mountpoint {}/container/",
            s.root.to_string_lossy().trim_start_matches('/')
        ),
        Output::ok("none\n"),
    );
    s.rec
        .respond("/sbin/zfs list -H -o mountpoint", Output::ok("/MNT\n"));
    let cfg = ContainerConfig {
        image: "base".into(),
        name: Some("unmountable".into()),
        ..Default::default()
    };
    let err = e.container_create(&cfg).unwrap_err().to_string();
    assert!(err.contains("has no mountpoint"), "{err}");
    let lines = s.lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("/sbin/zfs clone "))
            .count(),
        1,
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("/sbin/zfs destroy -r -f zroot/kleene/container/<2>"),
        "{lines:?}"
    );
    assert!(e.containers(true).unwrap().is_empty());
}

/// Confinement on FreeBSD: the profile becomes jail permissions, limits
/// become rctl rules added by the jail's name before `jail -c` and removed
/// after it, a read-only root is the dataset's `readonly` property; limits
/// on a kernel without resource accounting are refused at create.
#[test]
fn confinement_becomes_jail_parameters_and_rctl_rules() {
    use kleene::engine::limits::LimitOptions;
    use kleene::engine::security::SecurityOptions;
    use kleene::platform::Limits;
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    base_image(&s, &mut e);
    let attached = Attach::Attached {
        tty: false,
        stdin: false,
    };

    // RACCT off: refused with the loader tunable named; nothing made.
    s.rec
        .respond("/sbin/sysctl -n kern.racct.enable", Output::ok("0\n"));
    s.rec.clear();
    let limited = |name: &str| ContainerConfig {
        image: "base".into(),
        name: Some(name.into()),
        cmd: vec!["/bin/sh".into()],
        limits: LimitOptions {
            memory: Some("64m".into()),
            cpus: Some("0.5".into()),
            pids: Some("100".into()),
        },
        security: SecurityOptions {
            read_only: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = e.container_create(&limited("lim")).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot enforce --memory: resource accounting is off; add kern.racct.enable=1 to /boot/loader.conf and reboot"
    );
    assert_lines(s.lines(), &["/sbin/sysctl -n kern.racct.enable"]);
    assert!(e.containers(true).unwrap().is_empty());

    // RACCT on: rules before the jail, removed after; readonly around it.
    s.rec.clear_responses();
    host_responses(s.rec);
    s.rec
        .respond("/sbin/sysctl -n kern.racct.enable", Output::ok("1\n"));
    s.rec.respond(
        "/sbin/zfs list -H -o mountpoint",
        Output::ok(&format!(
            "{}\n",
            s.root
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("mnt")
                .display()
        )),
    );
    e.container_create(&limited("lim")).unwrap();
    s.rec.clear();
    assert_eq!(e.container_start("lim", attached).unwrap(), Some(0));
    assert_lines(
        s.lines(),
        &[
            "/sbin/zfs list -H -o name zroot/kleene/container/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/mount -p",
            "/sbin/zfs set readonly=on zroot/kleene/container/<1>",
            "/usr/bin/rctl -a jail:<1>:memoryuse:deny=67108864 jail:<1>:pcpu:deny=50 jail:<1>:maxproc:deny=100",
            "/usr/sbin/jail -c path=/MNT name=<1> ip4=disable ip6=disable persist host.hostname=<1> mount.devfs",
            "/usr/sbin/jexec <1> /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/sh HOSTNAME=<1> /bin/sh",
            "/usr/sbin/jail -m name=<1> nopersist",
            "/usr/sbin/jls --libxo=json -j <1>",
            "/usr/bin/rctl -r jail:<1>",
            "/sbin/zfs set readonly=off zroot/kleene/container/<1>",
            "/sbin/zfs list -H -o mountpoint zroot/kleene/container/<1>",
            "/sbin/umount /MNT/dev",
        ],
    );

    // A running jail's limits change in place: replaced, or removed.
    let id = e.container("lim").unwrap().id;
    let old = Limits {
        memory: Some(64 << 20),
        cpus: Some(0.5),
        pids: Some(100),
    };
    let new = Limits {
        memory: Some(128 << 20),
        cpus: Some(0.5),
        pids: None,
    };
    s.fb.update_limits(&id, &old, &new).unwrap();
    assert_lines(
        s.lines(),
        &[
            "/sbin/sysctl -n kern.racct.enable",
            "/usr/bin/rctl -a jail:<1>:memoryuse:deny=134217728",
            "/usr/bin/rctl -r jail:<1>:maxproc",
        ],
    );

    // Capabilities and --privileged are the jail's own permissions.
    let start = |e: &mut Engine, name: &str, security: SecurityOptions, jail: &[&str]| {
        e.container_create(&ContainerConfig {
            image: "base".into(),
            name: Some(name.into()),
            cmd: vec!["/bin/sh".into()],
            security,
            jail_param: jail.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap();
        s.rec.clear();
        e.container_start(name, attached).unwrap();
        s.lines()
            .into_iter()
            .find(|l| l.starts_with("/usr/sbin/jail -c"))
            .unwrap()
    };
    let caps = start(
        &mut e,
        "caps",
        SecurityOptions {
            cap_add: vec!["NET_RAW".into(), "SYS_ADMIN".into()],
            ..Default::default()
        },
        &["allow.nomount"],
    );
    assert!(
        caps.ends_with("mount.devfs allow.raw_sockets enforce_statfs=1 allow.nomount"),
        "{caps}"
    );
    let none = start(
        &mut e,
        "none",
        SecurityOptions {
            cap_drop: vec!["ALL".into()],
            ..Default::default()
        },
        &[],
    );
    assert!(
        none.ends_with("mount.devfs allow.noreserved_ports allow.nosuser"),
        "{none}"
    );
    let all = start(
        &mut e,
        "priv",
        SecurityOptions {
            privileged: true,
            ..Default::default()
        },
        &[],
    );
    assert!(
        all.contains("allow.raw_sockets allow.chflags allow.mount allow.quotas allow.socket_af")
            && all.ends_with("enforce_statfs=1 devfs_ruleset=0"),
        "{all}"
    );
}

/// `system check` on FreeBSD: the OS side read from `zfs list`, `jls`,
/// `rctl`, `ifconfig -l` and `mount -p` (recorded outputs), compared with
/// the store; what a crash left is found, and `--repair` runs the commands
/// that remove it (never touching a volume's data: an orphan volume
/// dataset is adopted).
#[test]
fn system_check_finds_and_repairs_what_a_crash_left() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let s = setup();
    let mut e = Engine::open_on(&s.root, s.fb).unwrap();
    let layer = base_image(&s, &mut e);
    let web = e
        .container_create(&ContainerConfig {
            image: "base".into(),
            name: Some("web".into()),
            cmd: vec!["/bin/sh".into()],
            ..Default::default()
        })
        .unwrap();
    e.volume_create("data").unwrap();
    let root = s.root.display().to_string();
    let ds = kleene::platform::freebsd::dataset(&s.root);
    let orphan_layer = "deadbeef0001";
    let orphan_ctr = "0123456789ab";
    // A build step's container of a process that is gone.
    let build_ctr = "aaaaaaaaaaaa-999999999-1";
    s.rec.clear_responses();
    host_responses(s.rec);
    let mnt = s.root.parent().unwrap().parent().unwrap().join("mnt");
    s.rec.respond(
        "/sbin/zfs list -H -o mountpoint",
        Output::ok(&format!("{}\n", mnt.display())),
    );
    // No jail runs: `web` is stopped.
    s.rec.respond(
        "/usr/sbin/jls --libxo=json -j",
        Output::fail(1, "jail not found"),
    );
    s.rec.respond(
        &format!("/sbin/zfs list -H -o name -d 1 {ds}/image"),
        Output::ok(&format!(
            "{ds}/image\n{ds}/image/{layer}\n{ds}/image/{orphan_layer}\n"
        )),
    );
    s.rec.respond(
        &format!("/sbin/zfs list -H -o name -d 1 {ds}/container"),
        Output::ok(&format!(
            "{ds}/container\n{ds}/container/{}\n{ds}/container/{orphan_ctr}\n{ds}/container/{build_ctr}\n",
            web.id
        )),
    );
    s.rec.respond(
        &format!("/sbin/zfs list -H -o name -d 1 {ds}/volumes"),
        Output::ok(&format!(
            "{ds}/volumes\n{ds}/volumes/data\n{ds}/volumes/lost\n"
        )),
    );
    // The stopped container's rules, and another root's jail's.
    s.rec.respond(
        "/usr/bin/rctl",
        Output::ok(&format!(
            "jail:{}:memoryuse:deny=67108864\njail:ffffffffffff:maxproc:deny=10\n",
            web.id
        )),
    );
    // A jail left running in the orphan container, and one of another tool.
    s.rec.respond(
        "/usr/sbin/jls name path",
        Output::ok(&format!(
            "{orphan_ctr} {root}/container/{orphan_ctr}\nweb1 /usr/jails/web1\n"
        )),
    );
    s.rec.respond("/sbin/ifconfig -l", Output::ok("lo0 em0\n"));
    // The stopped container's devfs, left mounted.
    s.rec.respond(
        "/sbin/mount -p",
        Output::ok(&format!(
            "zroot/kleene/container/{0} {root}/container/{0} zfs rw 0 0\ndevfs {root}/container/{0}/dev devfs rw 0 0\n",
            web.id
        )),
    );
    s.rec.clear();
    let found = e.system_check().unwrap();
    let got: Vec<String> = found
        .iter()
        .map(|f| format!("{} {}: {}", f.kind, f.subject, f.problem))
        .collect();
    let text = normalise_ids(&got)
        .into_iter()
        .map(|l| l.replace(&root, "ROOT"))
        .collect::<Vec<_>>();
    assert_eq!(
        text,
        [
            "jail <1>: a running jail of kleene's that no container refers to",
            "mount ROOT/container/<2>/dev: a mount the host sees inside kleene's directories",
            "container <1>: a container directory no row refers to",
            "container <3>-999999999-1: a build step's container, and its builder (process 999999999) is gone",
            "cgroup <2>: the cgroup of a container that is not running",
            "layer <4>: no image, container, build or cache entry refers to it",
            "volume lost: a volume directory no row refers to",
        ],
        "{text:#?}"
    );
    s.rec.clear();
    for f in &found {
        e.system_repair(f).unwrap();
    }
    let lines: Vec<String> = s
        .lines()
        .into_iter()
        .filter(|l| !l.contains(" list ") && !l.starts_with("/usr/sbin/jls --libxo"))
        .map(|l| l.replace(&root, "ROOT"))
        .collect();
    assert_lines(
        lines,
        &[
            // The jail first: its dataset goes after it.
            "/usr/sbin/jail -r <1>",
            "/sbin/umount -f /zroot/kleene/container/<2>/dev",
            "/usr/bin/rctl -r jail:<1>",
            "/sbin/zfs destroy -r -f zroot/kleene/container/<1>",
            "/usr/bin/rctl -r jail:<3>-999999999-1",
            "/sbin/zfs destroy -r -f zroot/kleene/container/<3>-999999999-1",
            "/usr/bin/rctl -r jail:<2>",
            "/sbin/zfs destroy -r -f zroot/kleene/image/<4>",
        ],
    );
    // The orphan volume was adopted: its data stays, it has a row again.
    assert!(e.volume("lost").is_ok());
}
