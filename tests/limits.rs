//! Each container in its own cgroup, with memory, CPU and process limits
//! that the kernel enforces, on this host's cgroup layout (v1 hybrid here)
//! and on a real cgroup v2 hierarchy mounted in a private mount namespace;
//! `--init`; limits of build steps; bad limits.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::probe;
use common::{can_run, stderr, stdout, Root};

/// The directories of container `id`'s group in every mounted hierarchy.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = PathBuf::from("/sys/fs/cgroup");
    let direct = base.join("kleene").join(id);
    if direct.is_dir() {
        out.push(direct);
    }
    if let Ok(rd) = std::fs::read_dir(&base) {
        for e in rd.flatten() {
            let d = e.path().join("kleene").join(id);
            if d.is_dir() {
                out.push(d);
            }
        }
    }
    out
}

/// A file of the container's group in the hierarchy that has it.
fn cgroup_file(id: &str, name: &str) -> String {
    for d in cgroup_dirs(id) {
        if let Ok(s) = std::fs::read_to_string(d.join(name)) {
            return s.trim().to_string();
        }
    }
    panic!("no {name} for {id}");
}

fn pid_of(r: &Root, id: &str) -> i64 {
    r.status(id)["pid"].as_i64().unwrap()
}

#[test]
fn a_container_has_its_own_cgroup_until_it_is_gone() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let id = r
        .ok(&["run", "-d", "bb", "sleep", "100"])
        .trim()
        .to_string();
    let dirs = cgroup_dirs(&id);
    assert!(!dirs.is_empty(), "no cgroup for {id}");
    // Seen from the host: the init is in it, in every hierarchy.
    let pid = pid_of(r, &id);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    // Every hierarchy with a controller it uses (on a v2 host, the one
    // line "0::"; on a hybrid one, not the v2 tree, which holds none).
    let v2_host = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut seen = 0;
    for line in cg.lines().filter(|l| {
        let ctrls = l.split(':').nth(1).unwrap_or("");
        ctrls
            .split(',')
            .any(|c| ["memory", "pids", "cpu"].contains(&c))
            || (v2_host && l.starts_with("0::"))
    }) {
        assert!(line.ends_with(&format!("/kleene/{id}")), "{line}");
        seen += 1;
    }
    assert!(seen >= 1, "{cg}");
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|p| p == pid.to_string()),
            "{d:?}: {procs}"
        );
    }
    // Stopped: gone (the detached monitor removed it); the row stays.
    r.ok(&["stop", "-t", "0", &id]);
    for d in &dirs {
        assert!(!d.exists(), "{d:?} left after stop");
    }
    // Killed under a dead supervisor: rm removes what nobody else did.
    let id2 = r
        .ok(&["run", "-d", "bb", "sleep", "100"])
        .trim()
        .to_string();
    let pid2 = pid_of(r, &id2);
    let ppid = std::fs::read_to_string(format!("/proc/{pid2}/stat"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    Command::new("kill").args(["-9", &ppid]).status().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let dirs2 = cgroup_dirs(&id2);
    assert!(!dirs2.is_empty());
    r.ok(&["rm", "-f", &id2]);
    for d in &dirs2 {
        assert!(!d.exists(), "{d:?} left after rm");
    }
    r.ok(&["rm", &id]);
}

#[test]
fn memory_limit_ends_in_the_oom_killer() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let m = probe::mount();
    let o = r.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        &m,
        "--memory",
        "64m",
        "host",
        "python3",
        "/probes/confine.py",
        "hog",
    ]);
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    let st = r.status("hog");
    assert_eq!(st["code"], 137);
    assert_eq!(st["oom_killed"], true, "{st}");
    let i = r.json(&["container", "inspect", "hog"]);
    assert_eq!(i["limits"]["memory"], 64 << 20);
    r.ok(&["rm", "hog"]);
    // Not every 137 is the OOM killer.
    r.ok(&["run", "-d", "--name", "killed", "bb", "sleep", "100"]);
    r.ok(&["stop", "-t", "0", "killed"]);
    assert_eq!(r.status("killed")["code"], 137);
    assert_eq!(r.status("killed")["oom_killed"], false);
    r.ok(&["rm", "killed"]);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &["--pids-limit", "20"], &["forks"]);
    assert_eq!(v["fork_error"], "EAGAIN", "{v:?}");
    let n: u32 = v["forks"].parse().unwrap();
    assert!((10..20).contains(&n), "{n} forks under a limit of 20");
    // Without a limit the same loop makes all 200.
    let v = probe::run(r, &[], &["forks"]);
    assert_eq!(v["forks"], "200", "{v:?}");
}

#[test]
fn cpus_limit_is_near_half_a_core() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &["--cpus", "0.5"], &["spin:2"]);
    let share: f64 = v["cpu_share"].parse().unwrap();
    assert!(
        (0.35..0.65).contains(&share),
        "cpu share {share} under --cpus 0.5"
    );
    let v = probe::run(r, &[], &["spin:1"]);
    let share: f64 = v["cpu_share"].parse().unwrap();
    assert!(share > 0.8, "cpu share {share} without a limit");
}

#[test]
fn update_changes_the_limits_of_a_running_container() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let id = r
        .ok(&["run", "-d", "--memory", "64m", "bb", "sleep", "100"])
        .trim()
        .to_string();
    let mem = |id: &str| {
        cgroup_file(id, "memory.limit_in_bytes")
            .parse::<u64>()
            .or_else(|_| cgroup_file(id, "memory.max").parse::<u64>())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(mem(&id), 64 << 20);
    r.ok(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "50",
        "--cpus",
        "1",
        &id,
    ]);
    assert_eq!(mem(&id), 128 << 20);
    assert_eq!(cgroup_file(&id, "pids.max"), "50");
    let i = r.json(&["container", "inspect", &id]);
    assert_eq!(i["limits"]["memory"], 128 << 20);
    assert_eq!(i["limits"]["pids"], 50);
    assert_eq!(i["limits"]["cpus"], 1.0);
    // Removing a limit.
    r.ok(&["update", "--memory", "0", "--pids-limit", "-1", &id]);
    assert!(mem(&id) > 1 << 40, "memory still limited");
    assert_eq!(cgroup_file(&id, "pids.max"), "max");
    // Below what it uses (shared memory cannot be reclaimed without swap):
    // refused with the reason, nothing changed.
    let busy = r
        .ok(&[
            "run",
            "-d",
            "--memory",
            "128m",
            "bb",
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/shm/f bs=1M count=40 2>/dev/null; sleep 100",
        ])
        .trim()
        .to_string();
    std::thread::sleep(Duration::from_millis(500));
    let e = r.fails(&["update", "--memory", "10m", &busy], 1);
    assert!(
        e.contains("cannot set --memory to 10m: the container uses more than that"),
        "{e}"
    );
    assert_eq!(mem(&busy), 128 << 20);
    r.ok(&["rm", "-f", &busy]);
    // A bad value changes nothing.
    let e = r.fails(&["update", "--memory", "12parsecs", &id], 1);
    assert!(e.contains("invalid memory limit '12parsecs'"), "{e}");
    assert!(r.json(&["container", "inspect", &id])["limits"]["memory"].is_null());
    r.ok(&["rm", "-f", &id]);
}

#[test]
fn init_forwards_sigterm_and_reaps() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    // A shell as PID 1 ignores SIGTERM: stop waits for its timeout.
    let plain = r
        .ok(&["run", "-d", "bb", "sleep", "100"])
        .trim()
        .to_string();
    let t = Instant::now();
    r.ok(&["stop", "-t", "2", &plain]);
    assert!(t.elapsed() >= Duration::from_secs(2));
    // With --init, SIGTERM reaches the command at once.
    let init = r
        .ok(&["run", "-d", "--init", "bb", "sleep", "100"])
        .trim()
        .to_string();
    let t = Instant::now();
    r.ok(&["stop", &init]);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "stop with --init took {took:?}"
    );
    assert_eq!(r.status(&init)["code"], 143);
    // Its init is PID 1, the command PID 2, zombies are reaped, and the
    // exit code comes through.
    let out = r.ok(&[
        "run",
        "--rm",
        "--init",
        "bb",
        "sh",
        "-c",
        "(sleep 0.1 &) ; sleep 0.3; echo pid=$$; ps -o pid,stat,comm | grep -c Z; true",
    ]);
    assert!(out.contains("pid=2"), "{out}");
    assert!(out.trim_end().ends_with('0'), "zombies left: {out}");
    r.fails(&["run", "--rm", "--init", "bb", "sh", "-c", "exit 7"], 7);
    // The init is a fork of klee: its command line (host paths, options,
    // -e values) is not what the container sees.
    let cmdline = r.ok(&[
        "run",
        "--rm",
        "--init",
        "-e",
        "SECRET=hunter2",
        "bb",
        "cat",
        "/proc/1/cmdline",
    ]);
    assert!(cmdline.starts_with("kleene-init"), "{cmdline:?}");
    assert!(
        !cmdline.contains("hunter2") && !cmdline.contains("run"),
        "{cmdline:?}"
    );
    r.ok(&["rm", &plain, &init]);
}

#[test]
fn bad_limits_are_clear_errors_and_leave_nothing() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    for (flag, value, want) in [
        (
            "--memory",
            "12parsecs",
            "invalid memory limit '12parsecs': unknown unit",
        ),
        ("--memory", "1k", "the minimum memory limit is 6m"),
        ("--cpus", "-1", "invalid cpus '-1': the range is 0.01 to"),
        ("--cpus", "lots", "invalid cpus 'lots'"),
        ("--pids-limit", "ten", "invalid pids limit 'ten'"),
    ] {
        let e = r.fails(&["run", "--rm", flag, value, "bb", "true"], 125);
        assert!(e.contains(want), "{flag} {value}: {e}");
        let e = r.fails(&["create", flag, value, "bb", "true"], 1);
        assert!(e.contains(want), "{flag} {value}: {e}");
    }
    assert!(r.container_ids().is_empty());
    assert!(r.entries("containers").is_empty());
}

#[test]
fn build_steps_are_confined_and_limited() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM bb\nRUN grep -E 'CapEff|Seccomp:' /proc/self/status > /caps && cat /proc/self/cgroup > /cg\n",
    )
    .unwrap();
    r.ok(&["build", "-t", "confined", dir.path().to_str().unwrap()]);
    let caps = r.ok(&["run", "--rm", "confined", "cat", "/caps", "/cg"]);
    assert!(caps.contains("00000000a00405fb"), "{caps}");
    assert!(caps.contains("Seccomp:\t2"), "{caps}");
    assert!(
        caps.contains("/kleene/"),
        "RUN not in its own cgroup: {caps}"
    );

    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM bb\nRUN x=a; while :; do x=$x$x; done\n",
    )
    .unwrap();
    let o = r.run(&[
        "build",
        "--memory",
        "16m",
        "-t",
        "hog",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("the command was killed for using more than the build's memory limit (16m)"),
        "{e}"
    );
}

#[test]
fn limits_through_the_dsl() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("limits.rhai");
    std::fs::write(
        &script,
        r#"
let c = container::run("bb", ["sh", "-c", "x=a; while :; do x=$x$x; done"], #{memory: "16m"});
print(`oom ${c.oom_killed} code ${c.exit_code}`);
c.remove();
let d = container::run("bb", ["sleep", "30"], #{detach: true, pids_limit: 10, cap_drop: ["ALL"], init: true});
d.update(#{pids_limit: 20});
let caps = d.exec(["grep", "CapEff", "/proc/self/status"], #{});
print(caps.stdout);
d.remove(true);
try { container::create("bb", #{cpus: "-1"}); } catch (e) { print(e.kind); }
"#,
    )
    .unwrap();
    let out = r.ok(&["script", script.to_str().unwrap()]);
    assert!(out.contains("oom true code 137"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("invalid"), "{out}");
}

/// Where no cgroup filesystem is mounted (`ip netns exec` remounts /sys),
/// the container still gets its own group: klee mounts the hierarchies it
/// is in, in that mount namespace only.
#[test]
fn own_cgroup_without_a_mounted_cgroup_filesystem() {
    if !can_run() {
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("skipping: needs ip (iproute2)");
        return;
    }
    let r = probe::shared();
    let ns = format!("kcg{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    let run = |args: &[&str]| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_klee")])
            .args(args)
            .env("KLEENE_ROOT", r.path());
        c.output().unwrap()
    };
    let check = run(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "ls /sys/fs/cgroup | wc -l; cat /proc/self/cgroup",
    ]);
    let hog = run(&[
        "run",
        "--rm",
        "--memory",
        "16m",
        "bb",
        "sh",
        "-c",
        "x=a; while :; do x=$x$x; done",
    ]);
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    let out = stdout(&check);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(out.contains("/kleene/"), "not in its own cgroup:\n{out}");
    assert_eq!(hog.status.code(), Some(137), "{}", stderr(&hog));
    // The host's own mounts are untouched.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("cgroup_root"), "{mounts}");
}

/// cgroup v2: a real v2 hierarchy, mounted over /sys/fs/cgroup in a
/// private mount namespace (this kernel keeps memory, cpu and pids on v1,
/// so the v2 hierarchy has none of them: placement works, limits must be
/// refused with a clear error).
#[test]
fn cgroup_v2_hierarchy_in_a_private_mount_namespace() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let klee = env!("CARGO_BIN_EXE_klee");
    let script = format!(
        "mount -t cgroup2 none /sys/fs/cgroup || exit 90
         echo controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
         {klee} run --rm bb cat /proc/self/cgroup
         {klee} run --rm --memory 64m bb true; echo memory=$?
         echo left=$(ls /sys/fs/cgroup/kleene | tr '\\n' ' ')"
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("KLEENE_ROOT", r.path())
        .output()
        .unwrap();
    if o.status.code() == Some(90) {
        eprintln!("skipping: cannot mount cgroup2 in a private mount namespace");
        return;
    }
    let out = stdout(&o);
    let err = stderr(&o);
    let has = |c: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("controllers="))
            .is_some_and(|l| l.split_whitespace().any(|x| x == c))
    };
    // The container's only cgroup line is the v2 one, in kleene/.
    let line = out
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or_else(|| panic!("no v2 cgroup line: {out}\n{err}"));
    assert!(line.starts_with("0::/kleene/"), "{line}");
    if has("memory") {
        assert!(out.contains("memory=0"), "{out}\n{err}");
    } else {
        assert!(out.contains("memory=125"), "{out}\n{err}");
        assert!(
            err.contains("cannot enforce --memory: the cgroup v2 hierarchy at '/sys/fs/cgroup' has no memory controller"),
            "{err}"
        );
    }
    // Its group went with it. (Other tests' containers share this
    // hierarchy: only this one's group is looked for.)
    let id = line.trim_start_matches("0::/kleene/");
    let left = out.lines().find_map(|l| l.strip_prefix("left=")).unwrap();
    assert!(
        !left.split_whitespace().any(|g| g == id),
        "group {id} left in the v2 hierarchy: {left}"
    );
}
