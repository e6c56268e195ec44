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
    let p = Podman {
        dir: oci::scratch("kleene-podman-"),
        run: tempfile::Builder::new()
            .prefix("kp-")
            .tempdir_in("/tmp")
            .unwrap(),
    };
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
