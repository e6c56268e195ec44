//! `klee` end to end, as root: real namespaces, overlayfs, SQLite.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{can_run, stderr, stdout, Root};

#[test]
fn run_prints_output_and_returns_exit_codes() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    assert_eq!(r.ok(&["run", "--rm", "bb", "echo", "hello"]), "hello\n");
    r.fails(&["run", "--rm", "bb", "sh", "-c", "exit 3"], 3);
    // Could not start: 125 with the reason and the offending value.
    let e = r.fails(&["run", "--rm", "bb", "no-such-program"], 125);
    assert!(e.contains("'no-such-program' not found"), "{e}");
    let e = r.fails(&["run", "--rm", "nosuchimage", "true"], 125);
    assert!(e.contains("no such image 'nosuchimage'"), "{e}");
    // --rm and failed runs leave nothing behind.
    assert!(r.container_ids().is_empty());
    assert!(
        r.entries("containers").is_empty(),
        "{:?}",
        r.entries("containers")
    );
}

#[test]
fn killed_container_exits_137() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let mut child = r
        .cmd(&["run", "--name", "victim", "bb", "sleep", "30"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let o = r.run(&["isc", "victim"]);
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let s = &s["status"];
        if s["state"] == "running" && s["pid"].as_i64().unwrap_or(0) > 0 {
            break s["pid"].as_i64().unwrap() as i32;
        }
        assert!(Instant::now() < deadline, "never started: {s}");
        std::thread::sleep(Duration::from_millis(10));
    };
    // SAFETY: killing the container's init from the host.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    let s = r.status("victim");
    assert_eq!(s["state"], "exited");
    assert_eq!(s["code"], 137);
    assert!(r.ok(&["lsc", "-a"]).contains("exited (137)"));
}

#[test]
fn isolation_environment_user_and_hostname() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let id = r.ok(&["create", "--name", "iso", "-e", "A=1", "-e", "B=2", "bb", "sh", "-c",
        "hostname; echo pid=$$; id -u; pwd; echo A=$A B=$B; cat /proc/self/mountinfo | wc -l; ls /dev"]);
    let id = id.trim();
    let out = stdout(&r.run(&["start", "iso"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], id, "hostname is the container id");
    assert_eq!(lines[1], "pid=1", "own pid namespace");
    assert_eq!(lines[2], "0");
    assert_eq!(
        lines[3], "/root",
        "login-like: starts in the home directory"
    );
    assert_eq!(lines[4], "A=1 B=2");
    let devs: Vec<&str> = lines[6..].to_vec();
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
    ] {
        assert!(devs.contains(&d), "/dev/{d} missing in {devs:?}");
    }
    // A clean login environment: nothing from ours leaks in.
    let env = r.ok(&[
        "run",
        "--rm",
        "-u",
        "user",
        "-e",
        "PATH=/bin:/usr/bin",
        "bb",
        "env",
    ]);
    let mut keys: Vec<&str> = env.lines().map(|l| l.split('=').next().unwrap()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["HOME", "HOSTNAME", "LOGNAME", "PATH", "SHELL", "USER"],
        "{env}"
    );
    assert!(
        env.contains("PATH=/bin:/usr/bin\n")
            && env.contains("HOME=/home/user\n")
            && env.contains("USER=user\n")
    );
    assert_eq!(
        r.ok(&["run", "--rm", "-u", "user", "bb", "id"]).trim(),
        "uid=1000(user) gid=1000(user) groups=50(staff),1000(user)"
    );
    assert_eq!(
        r.ok(&["run", "--rm", "-u", "nobody", "bb", "id", "-u"])
            .trim(),
        "65534"
    );
    let e = r.fails(&["run", "--rm", "-u", "ghost", "bb", "id"], 125);
    assert!(e.contains("no such user 'ghost'"), "{e}");
    // The network namespace has only loopback.
    let ifs = r.ok(&["run", "--rm", "bb", "ls", "/sys/class/net"]);
    assert_eq!(ifs.trim(), "lo");
    // Fly mode shares the host's pid namespace and hostname.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(r.ok(&["run", "--rm", "--fly", "bb", "hostname"]), host);
}

#[test]
fn detached_exec_stop_restart_and_logs() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let id = r.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "-e",
        "X=c",
        "bb",
        "sh",
        "-c",
        "echo started; trap 'echo got-term; exit 0' TERM; while true; do sleep 0.05; done",
    ]);
    assert_eq!(id.trim().len(), 12);
    assert!(r.ok(&["lsc"]).contains("svc"));
    // exec joins the namespaces: same hostname, sees pid 1, env layered.
    let out = r.ok(&[
        "exec",
        "-e",
        "Y=e",
        "svc",
        "sh",
        "-c",
        "hostname; echo $X $Y; cat /proc/1/cmdline | head -c 2",
    ]);
    assert_eq!(out, format!("{}\nc e\nsh", id.trim()));
    r.fails(&["exec", "svc", "sh", "-c", "exit 7"], 7);
    let e = r.fails(&["exec", "svc", "nope"], 125);
    assert!(e.contains("'nope' not found"), "{e}");
    // stdin with -i.
    let mut c = r
        .cmd(&["exec", "-i", "svc", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    assert_eq!(stdout(&c.wait_with_output().unwrap()), "through stdin\n");
    // Without -t there is no terminal.
    r.fails(&["exec", "svc", "tty"], 1);
    // With -t: a real pty from the container's devpts (run under script(1) for a terminal).
    let klee = env!("CARGO_BIN_EXE_klee");
    let o = std::process::Command::new("script")
        .args(["-qec", &format!("{klee} exec -t svc tty"), "/dev/null"])
        .env("KLEENE_ROOT", r.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        stdout(&o).trim().starts_with("/dev/pts/"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );

    let t = Instant::now();
    r.ok(&["stop", "svc"]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "SIGTERM should end it at once"
    );
    let s = r.status("svc");
    assert_eq!(
        (s["state"].as_str(), s["code"].as_i64()),
        (Some("exited"), Some(0))
    );
    assert_eq!(r.ok(&["container", "logs", "svc"]), "started\ngot-term\n");
    let e = r.fails(&["stop", "svc"], 1);
    assert!(e.contains("is not running"), "{e}");
    r.fails(&["exec", "svc", "true"], 1);

    r.ok(&["restart", "svc"]);
    assert_eq!(r.status("svc")["state"], "running");
    let e = r.fails(&["start", "-d", "svc"], 1);
    assert!(e.contains("already running"), "{e}");
    // A process that ignores SIGTERM is killed after -t seconds.
    r.ok(&["run", "-d", "--name", "stubborn", "bb", "sleep", "60"]);
    let t = Instant::now();
    r.ok(&["stop", "-t", "1", "stubborn"]);
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert_eq!(r.status("stubborn")["code"], 137);

    let e = r.fails(&["rm", "svc"], 1);
    assert!(e.contains("cannot remove running container 'svc'"), "{e}");
    r.ok(&["rm", "-f", "svc"]);
    assert!(r
        .fails(&["isc", "svc"], 1)
        .contains("no such container 'svc'"));
    assert_eq!(r.container_ids().len(), 1);
    // Detached --rm: gone once it exits.
    r.ok(&["run", "-d", "--rm", "--name", "brief", "bb", "true"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.run(&["isc", "brief"]).status.success() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tty_run_gets_a_pty() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let klee = env!("CARGO_BIN_EXE_klee");
    let o = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{klee} run --rm -t bb sh -c 'tty; exit 5'"),
            "/dev/null",
        ])
        .env("KLEENE_ROOT", r.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(stdout(&o).contains("/dev/pts/0"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(5));
}

#[test]
fn mounts_and_volumes() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let host = r.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "from host\n").unwrap();
    let h = host.to_str().unwrap();
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "-m",
            &format!("{h}:/mnt/h:ro"),
            "bb",
            "cat",
            "/mnt/h/f"
        ]),
        "from host\n"
    );
    let o = r.run(&[
        "run",
        "--rm",
        "-m",
        &format!("{h}:/mnt/h:ro"),
        "bb",
        "sh",
        "-c",
        "echo x > /mnt/h/g",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    r.ok(&[
        "run",
        "--rm",
        "-m",
        &format!("{h}:/mnt/h"),
        "bb",
        "sh",
        "-c",
        "echo rw > /mnt/h/g",
    ]);
    assert_eq!(std::fs::read_to_string(host.join("g")).unwrap(), "rw\n");

    // A new volume over a non-empty image directory gets its content.
    assert_eq!(
        r.ok(&["run", "--rm", "-m", "vol:/data", "bb", "cat", "/data/seed"]),
        "seeded\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.path().join("volumes/vol/seed")).unwrap(),
        "seeded\n"
    );
    r.ok(&[
        "run",
        "--rm",
        "-m",
        "vol:/data",
        "bb",
        "sh",
        "-c",
        "echo more > /data/new",
    ]);
    // A non-empty volume is not pre-populated again, and keeps its data.
    r.ok(&["run", "--rm", "-m", "vol:/data", "bb", "rm", "/data/seed"]);
    assert_eq!(
        r.ok(&["run", "--rm", "-m", "vol:/data", "bb", "ls", "/data"]),
        "new\n"
    );
    assert!(r.ok(&["volume", "ls"]).contains("vol"));

    r.ok(&["create", "--name", "user1", "-m", "vol:/data", "bb"]);
    r.ok(&["create", "--name", "user2", "-m", "vol:/x", "bb"]);
    let e = r.fails(&["volume", "rm", "vol"], 1);
    assert!(
        e.contains("in use by containers: user1, user2")
            || e.contains("in use by containers: user2, user1"),
        "{e}"
    );
    let e = r.fails(&["run", "--rm", "-m", "a:b:c:d", "bb", "true"], 125);
    assert!(
        e.contains("invalid mount 'a:b:c:d': expected SOURCE:DEST[:ro|rw]"),
        "{e}"
    );
    let e = r.fails(&["run", "--rm", "-m", "/no/such/dir:/x", "bb", "true"], 125);
    assert!(e.contains("host path '/no/such/dir' does not exist"), "{e}");
    r.ok(&["rm", "user1", "user2"]);
    r.ok(&["volume", "create", "spare"]);
    // Without a terminal to ask on, prune refuses and removes nothing.
    let e = r.fails(&["volume", "prune"], 1);
    assert!(
        e.contains("refusing to remove all volumes no container uses without confirmation"),
        "{e}"
    );
    assert_eq!(r.entries("volumes").len(), 2);
    let pruned = r.ok(&["volume", "prune", "-f"]);
    assert!(
        pruned.contains("vol") && pruned.contains("spare"),
        "{pruned}"
    );
    assert!(r.entries("volumes").is_empty());
}

#[test]
fn names_prefixes_rename_update_prune() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let a = r
        .ok(&["create", "--name", "alpha", "bb", "true"])
        .trim()
        .to_string();
    let e = r.fails(&["create", "--name", "alpha", "bb"], 1);
    assert!(
        e.contains("container name 'alpha' is already in use"),
        "{e}"
    );
    let e = r.fails(&["create", "--name", "-bad", "bb"], 2);
    assert!(!e.is_empty());
    let e = r.fails(&["create", "--name", "b@d", "bb"], 1);
    assert!(e.contains("invalid container name 'b@d'"), "{e}");
    // Lookup by unique prefix and by name; an empty identifier matches nothing.
    assert_eq!(r.json(&["isc", &a[..5]])["id"], a.as_str());
    r.fails(&["isc", ""], 1);
    // Ambiguous prefixes list the candidates: make two IDs share a prefix by
    // trying until they do (16 possibilities for the first character).
    let mut ids = vec![a.clone()];
    let shared = loop {
        let id = r.ok(&["create", "bb", "true"]).trim().to_string();
        if let Some(other) = ids.iter().find(|x| x.as_bytes()[0] == id.as_bytes()[0]) {
            break (other.clone(), id);
        }
        ids.push(id);
    };
    let e = r.fails(&["isc", &shared.0[..1]], 1);
    assert!(
        e.contains("is ambiguous") && e.contains(&shared.0) && e.contains(&shared.1),
        "{e}"
    );

    r.ok(&["container", "rename", "alpha", "beta"]);
    assert_eq!(r.json(&["isc", "beta"])["id"], a.as_str());
    r.fails(&["isc", "alpha"], 1);
    // update changes only what is given.
    r.ok(&[
        "container",
        "update",
        "-e",
        "K=v",
        "--restart",
        "on-startup",
        "beta",
    ]);
    let c = r.json(&["isc", "beta"]);
    assert_eq!(c["restart_policy"], "on-startup");
    assert_eq!(c["env"], serde_json::json!(["K=v"]));
    assert_eq!(c["cmd"], serde_json::json!(["true"]));
    r.ok(&["container", "update", "-P", "beta"]);
    assert_eq!(r.json(&["isc", "beta"])["persist"], true);
    // prune keeps persistent containers.
    let pruned = r.ok(&["container", "prune", "-f"]);
    assert!(!pruned.contains(&a));
    assert_eq!(r.container_ids(), vec![a.clone()]);
    assert_eq!(r.entries("containers"), vec![a]);
}

#[test]
fn images_rm_prune_and_tag() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    let first = r.busybox_image("bb");
    let second = r.busybox_image("bb");
    // The second took the name: the first is untagged.
    let imgs = r.json(&["image", "ls", "--format", "json"]);
    let first_img = imgs
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == first.as_str())
        .unwrap()
        .clone();
    assert_eq!(first_img["name"], "");
    r.ok(&["image", "tag", &first, "old:1"]);
    assert_eq!(r.json(&["isi", "old:1"])["id"], first.as_str());
    r.ok(&["create", "--name", "user", "bb:latest", "true"]);
    let e = r.fails(&["rmi", "bb"], 1);
    assert!(
        e.contains("cannot remove image 'bb:latest'") && e.contains("used by containers: user"),
        "{e}"
    );
    let e = r.fails(&["rmi", "nope"], 1);
    assert!(e.contains("no such image 'nope'"), "{e}");
    // prune -a removes what nothing uses, and only that.
    let pruned = r.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(pruned.trim(), first);
    assert_eq!(r.entries("layers"), vec![second.clone()]);
    r.ok(&["rm", "user"]);
    r.ok(&["rmi", &second[..6]]);
    assert!(r.entries("layers").is_empty());
    assert_eq!(r.ok(&["lsi"]).lines().count(), 1, "only the header is left");
}
