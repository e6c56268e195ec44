//! Podman runs containers through kleene-oci (`podman --runtime`), with
//! its storage in a private directory and a root filesystem of our own
//! (`--rootfs`): output, exit codes, `-d`, `exec`, `stop`, `-it`, `--rm`.

mod common;

use std::process::Command;

use common::oci::{self, OCI};

struct Podman {
    dir: tempfile::TempDir,
    /// Podman wants its run root's path under 50 characters: in /tmp.
    run: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        Podman {
            dir: oci::scratch("kleene-podman-"),
            run: tempfile::Builder::new()
                .prefix("kp-")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    fn args(&self) -> Vec<String> {
        let d = self.dir.path().display();
        vec![
            format!("--root={d}/store"),
            format!("--runroot={}", self.run.path().display()),
            format!("--tmpdir={d}/tmp"),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=file".into(),
            format!("--runtime={OCI}"),
        ]
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.args(self.args()).args(args);
        c
    }

    /// `run` flags every container gets: no network (no netavark or CNI
    /// needed), limits below the current ones (raising them needs
    /// CAP_SYS_RESOURCE, which some CI sandboxes withhold).
    fn run_args(&self) -> Vec<String> {
        vec![
            "--network=none".into(),
            "--ulimit=nofile=1024:1024".into(),
            "--ulimit=nproc=1024:1024".into(),
            // A flag: the image argument that follows is a root filesystem.
            "--rootfs".into(),
            format!("{}/rootfs", self.dir.path().display()),
        ]
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = oci::run(&mut self.cmd(&["rm", "-af", "-t", "0"]), 60);
        oci::kill_all_under(self.dir.path());
        oci::kill_all_under(self.run.path());
    }
}

#[test]
fn podman_runs_execs_and_stops_through_kleene_oci() {
    if !common::can_run() || !oci::have("podman", "podman") {
        return;
    }
    let p = Podman::new();
    common::make_busybox_rootfs(&p.dir.path().join("rootfs"));
    let ra = p.run_args();
    let ra: Vec<&str> = ra.iter().map(String::as_str).collect();

    let mut args = vec!["run", "--rm"];
    args.extend(&ra);
    args.extend(["sh", "-c", "echo hello from podman; exit 4"]);
    let o = oci::run(&mut p.cmd(&args), 120);
    assert_eq!(o.status.code(), Some(4), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello from podman\n");

    let mut args = vec!["run", "-d", "--name", "p1"];
    args.extend(&ra);
    args.extend(["sleep", "100"]);
    let o = oci::run(&mut p.cmd(&args), 120);
    assert!(o.status.success(), "{}", oci::text(&o));
    let o = oci::run(
        &mut p.cmd(&["exec", "p1", "sh", "-c", "echo exec ok; exit 5"]),
        60,
    );
    assert_eq!(o.status.code(), Some(5), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "exec ok\n");
    let o = oci::run(&mut p.cmd(&["stop", "-t", "1", "p1"]), 60);
    assert!(o.status.success(), "{}", oci::text(&o));
    let o = oci::run(
        &mut p.cmd(&["inspect", "-f", "{{.State.Status}}", "p1"]),
        60,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "exited");
    let o = oci::run(&mut p.cmd(&["rm", "p1"]), 60);
    assert!(o.status.success(), "{}", oci::text(&o));

    // -it: a terminal, through the console socket.
    let line = format!(
        "podman {} run --rm -it {} sh",
        p.args().join(" "),
        ra.join(" ")
    );
    let o = oci::in_tty(&line, "tty; exit 3\\n", 120);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("/dev/pts/0"),
        "{}",
        oci::text(&o)
    );
    let o = oci::run(&mut p.cmd(&["ps", "-aq"]), 60);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "",
        "--rm left a container"
    );
}

#[test]
fn podman_loads_and_runs_what_klee_saves_and_klee_loads_what_podman_saves() {
    if !common::can_run() || !oci::have("podman", "podman") {
        return;
    }
    let p = Podman::new();
    let root = common::Root::new();
    root.busybox_image("bb:1");
    let saved = p.dir.path().join("klee.tar");
    root.ok(&["save", "bb:1", "-o", saved.to_str().unwrap()]);
    let o = oci::run(&mut p.cmd(&["load", "-i", saved.to_str().unwrap()]), 120);
    assert!(o.status.success(), "{}", oci::text(&o));
    let o = oci::run(
        &mut p.cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        60,
    );
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listed.lines().any(|l| l.ends_with("/bb:1")), "{listed}");
    // Podman runs the loaded image (through kleene-oci, as everywhere here).
    let o = oci::run(
        &mut p.cmd(&[
            "run",
            "--rm",
            "--network=none",
            "--ulimit=nofile=1024:1024",
            "--ulimit=nproc=1024:1024",
            "localhost/bb:1",
            "echo",
            "loaded by podman",
        ]),
        120,
    );
    assert!(o.status.success(), "{}", oci::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "loaded by podman\n");
    // And back: podman's own docker-archive into a fresh klee root.
    let back = p.dir.path().join("podman.tar");
    let o = oci::run(
        &mut p.cmd(&["save", "-o", back.to_str().unwrap(), "localhost/bb:1"]),
        120,
    );
    assert!(o.status.success(), "{}", oci::text(&o));
    let fresh = common::Root::new();
    let out = fresh.ok(&["load", "-i", back.to_str().unwrap()]);
    assert!(out.contains("bb:1"), "{out}");
    assert_eq!(
        fresh.ok(&["run", "--rm", "localhost/bb:1", "echo", "and back"]),
        "and back\n"
    );
}
