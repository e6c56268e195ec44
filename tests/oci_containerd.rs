//! containerd runs containers through kleene-oci: its own containerd (a
//! private root, state and socket), an image imported offline, and `ctr`
//! with the runc shim pointed at kleene-oci (`--runc-binary`), as a
//! Kubernetes node would configure `BinaryName`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::oci::{self, OCI};

struct Containerd {
    daemon: oci::Daemon,
    /// A namespace of our own: the runc shim gives kleene-oci
    /// `--root /run/containerd/runc/<namespace>`.
    ns: String,
}

impl Containerd {
    fn start() -> Containerd {
        let daemon = oci::Daemon::start("kleene-ctd-", "containerd.sock", 30, |d| {
            std::fs::write(
                d.join("config.toml"),
                format!(
                    "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
                     disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                     [grpc]\n  address = \"{0}/containerd.sock\"\n",
                    d.display()
                ),
            )
            .unwrap();
            let mut c = Command::new("containerd");
            c.arg("--config").arg(d.join("config.toml"));
            c
        });
        Containerd {
            daemon,
            ns: format!("kleene-test-{}", std::process::id()),
        }
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.daemon.path().join("containerd.sock"))
            .args(["--namespace", &self.ns])
            .args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = oci::run(&mut self.ctr(args), 60);
        assert!(o.status.success(), "ctr {args:?}: {}", oci::text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn sock(&self) -> PathBuf {
        self.daemon.path().join("containerd.sock")
    }
}

const IMAGE: &str = "docker.io/library/kleene-bb:latest";

fn runtime<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "run",
        "--runtime",
        "io.containerd.runc.v2",
        "--runc-binary",
        OCI,
    ];
    v.extend_from_slice(args);
    v
}

#[test]
fn containerd_runs_execs_kills_and_deletes_through_kleene_oci() {
    if !common::can_run() || !oci::have("containerd", "containerd") {
        return;
    }
    let c = Containerd::start();
    let rootfs = c.daemon.path().join("rootfs");
    common::make_busybox_rootfs(&rootfs);
    let archive = c.daemon.path().join("image.tar");
    std::fs::write(&archive, oci::oci_archive(&rootfs, IMAGE)).unwrap();
    c.ok(&["images", "import", archive.to_str().unwrap()]);

    // Output arrives and the exit code flows back.
    let o = oci::run(
        &mut c.ctr(&runtime(&[
            "--rm",
            IMAGE,
            "t1",
            "sh",
            "-c",
            "echo hello from containerd; exit 6",
        ])),
        60,
    );
    assert_eq!(o.status.code(), Some(6), "{}", oci::text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello from containerd\n"
    );

    // A detached task: exec into it, kill it, delete it.
    c.ok(&runtime(&["-d", IMAGE, "t2", "sleep", "100"]));
    assert!(c.ok(&["task", "ls"]).contains("RUNNING"));
    let o = oci::run(
        &mut c.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            "t2",
            "sh",
            "-c",
            "echo exec ok; exit 7",
        ]),
        60,
    );
    assert_eq!(o.status.code(), Some(7), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "exec ok\n");
    c.ok(&["task", "kill", "-s", "KILL", "t2"]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !c.ok(&["task", "ls"]).contains("STOPPED") {
        assert!(std::time::Instant::now() < until, "t2 did not stop");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    c.ok(&["task", "delete", "t2"]);
    c.ok(&["container", "rm", "t2"]);

    // A terminal session.
    let line = format!(
        "ctr --address {} --namespace {} run -t --rm --runtime io.containerd.runc.v2 --runc-binary {OCI} {IMAGE} t3 sh",
        c.sock().display(),
        c.ns
    );
    let o = oci::in_tty(&line, "tty; exit 3\\n", 60);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("/dev/pts/0"), "{}", oci::text(&o));
    assert!(!c.ok(&["task", "ls"]).contains("t3"));
    // kleene-oci keeps its state under the shim's --root: nothing is left.
    let left = walk(&Path::new("/run/containerd/runc").join(&c.ns));
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir(Path::new("/run/containerd/runc").join(&c.ns));
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
