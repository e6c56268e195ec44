//! Docker runs containers through kleene-oci: a dockerd of our own (data
//! root, exec root and socket in a private directory, no bridge, no
//! iptables) with `--add-runtime kleene=<kleene-oci>`, and an image
//! imported offline from a busybox root filesystem.

mod common;

use std::process::Command;

use common::oci::{self, OCI};

struct Dockerd {
    daemon: oci::Daemon,
}

impl Dockerd {
    fn start() -> Dockerd {
        let daemon = oci::Daemon::start("kleene-dockerd-", "docker.sock", 60, |dir| {
            let d = dir.display();
            let mut c = Command::new("dockerd");
            c.args([
                &format!("--data-root={d}/data"),
                &format!("--exec-root={d}/exec"),
                &format!("--pidfile={d}/pid"),
                &format!("--host=unix://{d}/docker.sock"),
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                &format!("--add-runtime=kleene={OCI}"),
            ]);
            c
        });
        Dockerd { daemon }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.arg(format!(
            "--host=unix://{}/docker.sock",
            self.daemon.path().display()
        ))
        .args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = oci::run(&mut self.cmd(args), 120);
        assert!(o.status.success(), "docker {args:?}: {}", oci::text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Then the daemon and what it started go (`oci::Daemon`).
        let _ = oci::run(&mut self.cmd(&["rm", "-f", "d1"]), 60);
    }
}

#[test]
fn docker_runs_execs_and_stops_through_kleene_oci() {
    if !common::can_run() || !oci::have("dockerd", "docker.io") {
        return;
    }
    let d = Dockerd::start();
    let rootfs = d.daemon.path().join("rootfs");
    common::make_busybox_rootfs(&rootfs);
    let tar = d.daemon.path().join("rootfs.tar");
    std::fs::write(&tar, oci::rootfs_tar(&rootfs)).unwrap();
    d.ok(&["import", tar.to_str().unwrap(), "kleene-bb:latest"]);

    let o = oci::run(
        &mut d.cmd(&[
            "run",
            "--rm",
            "--runtime",
            "kleene",
            "--network",
            "none",
            "kleene-bb",
            "sh",
            "-c",
            "echo hello from docker; exit 8",
        ]),
        120,
    );
    assert_eq!(o.status.code(), Some(8), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello from docker\n");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "--runtime",
        "kleene",
        "--network",
        "none",
        "kleene-bb",
        "sleep",
        "100",
    ]);
    let o = oci::run(
        &mut d.cmd(&["exec", "d1", "sh", "-c", "echo exec ok; exit 9"]),
        60,
    );
    assert_eq!(o.status.code(), Some(9), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "exec ok\n");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", "d1"])
            .trim(),
        "kleene"
    );
    d.ok(&["stop", "-t", "1", "d1"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "d1"]).trim(),
        "exited"
    );
    d.ok(&["rm", "d1"]);

    // Image archives both ways: `klee save` → `docker load` → run, and
    // `docker save` → `klee load` → run.
    let root = common::Root::new();
    root.busybox_image("kbb:2");
    let saved = d.daemon.path().join("klee.tar");
    root.ok(&["save", "kbb:2", "-o", saved.to_str().unwrap()]);
    let out = d.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert!(out.contains("kbb:2"), "{out}");
    let o = oci::run(
        &mut d.cmd(&[
            "run",
            "--rm",
            "--runtime",
            "kleene",
            "--network",
            "none",
            "kbb:2",
            "echo",
            "loaded by docker",
        ]),
        120,
    );
    assert!(o.status.success(), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "loaded by docker\n");
    let back = d.daemon.path().join("docker.tar");
    d.ok(&["save", "-o", back.to_str().unwrap(), "kleene-bb:latest"]);
    let fresh = common::Root::new();
    let out = fresh.ok(&["load", "-i", back.to_str().unwrap()]);
    assert!(out.contains("kleene-bb:latest"), "{out}");
    assert_eq!(
        fresh.ok(&["run", "--rm", "kleene-bb", "echo", "and back"]),
        "and back\n"
    );
}
