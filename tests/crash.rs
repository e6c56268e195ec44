//! Crash safety: `klee` killed (SIGKILL, as kill -9) at every failpoint and
//! at random instants; `system check` finds what it left, `--repair` fixes
//! it, a second check is clean and the next operation works.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{can_run, Root};

/// Run klee with `fp` armed to crash; says whether it was killed there.
fn crash(r: &Root, fp: &str, args: &[&str]) -> bool {
    // Not piped: a container that outlives klee would hold a pipe open.
    let status = r
        .cmd(args)
        .env("KLEENE_FAILPOINT", format!("{fp}:crash"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    status.signal() == Some(libc::SIGKILL)
}

fn check(r: &Root, repair: bool) -> Output {
    let mut args = vec!["system", "check"];
    if repair {
        args.push("--repair");
    }
    r.run(&args)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `system check` finds each of `expect` (nothing when empty), `--repair`
/// fixes everything, a second check is clean, and nothing is left on the
/// OS side that no row accounts for.
fn repaired(r: &Root, what: &str, expect: &[&str]) {
    let found = check(r, false);
    let text = out(&found);
    if expect.is_empty() {
        assert_eq!(found.status.code(), Some(0), "{what}: check found\n{text}");
    } else {
        assert_eq!(
            found.status.code(),
            Some(1),
            "{what}: check found nothing\n{text}"
        );
        for e in expect {
            assert!(
                text.contains(e),
                "{what}: check should report '{e}':\n{text}"
            );
        }
        let fixed = check(r, true);
        assert_eq!(
            fixed.status.code(),
            Some(0),
            "{what}: repair failed\n{}{}",
            out(&fixed),
            String::from_utf8_lossy(&fixed.stderr)
        );
    }
    let again = check(r, false);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{what}: second check not clean\n{}",
        out(&again)
    );
    assert!(
        r.mounts().is_empty(),
        "{what}: mounts left: {:?}",
        r.mounts()
    );
    assert!(
        r.entries("tmp").is_empty(),
        "{what}: tmp: {:?}",
        r.entries("tmp")
    );
    let rows = r.container_ids();
    assert_eq!(
        r.entries("containers"),
        rows,
        "{what}: container directories"
    );
    let running: Vec<String> = r
        .json(&["container", "ls", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let groups: Vec<String> = r
        .cgroups()
        .iter()
        .map(|g| g.rsplit('/').next().unwrap().to_string())
        .filter(|g| !running.contains(g))
        .collect();
    assert!(groups.is_empty(), "{what}: cgroups left: {groups:?}");
}

fn wait_gone(r: &Root, name: &str) {
    for _ in 0..300 {
        let o = r.run(&["container", "inspect", name]);
        if !o.status.success() || r.status(name)["state"] != "running" {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name} still running");
}

#[test]
fn a_crash_at_any_failpoint_is_found_and_repaired() {
    if !can_run() {
        return;
    }
    let mut r = Root::new();
    r.private_cgroups();
    r.busybox_image("bb");
    let rootfs = r.path().join("rootfs-bb");
    let rootfs = rootfs.to_str().unwrap();
    let layers = r.entries("layers");

    // create: the row is made first, its filesystem after.
    assert!(crash(
        &r,
        "container.create.fs",
        &["create", "--name", "c1", "bb", "true"]
    ));
    repaired(&r, "create.fs", &["its filesystem is missing", "tmp/"]);
    r.ok(&["start", "c1"]);
    r.ok(&["rm", "c1"]);
    assert!(crash(
        &r,
        "container.create.row",
        &["create", "--name", "c2", "bb", "true"]
    ));
    repaired(&r, "create.row", &[]);
    r.ok(&["create", "--name", "c2", "bb", "true"]);
    r.ok(&["rm", "c2"]);

    // start, in the parent: the claim of a dead process.
    assert!(crash(
        &r,
        "container.start.cgroup",
        &["run", "--rm", "bb", "true"]
    ));
    repaired(&r, "start.cgroup --rm", &["its start was interrupted"]);
    assert!(
        r.container_ids().is_empty(),
        "the --rm container is removed"
    );
    assert!(crash(
        &r,
        "container.start.cgroup",
        &["run", "--name", "c3", "bb", "true"]
    ));
    repaired(&r, "start.cgroup", &["its start was interrupted"]);
    assert_eq!(r.status("c3")["state"], "created");
    r.ok(&["start", "c3"]);
    r.ok(&["rm", "c3"]);
    // start, in the container's process: it dies before its command runs.
    for fp in [
        "container.start.overlay",
        "container.start.pivot",
        "container.start.devices",
        "container.start.mounts",
        "container.start.confine",
        "container.start.exec",
        "container.start.network",
    ] {
        let o = r
            .cmd(&["run", "--rm", "bb", "true"])
            .env("KLEENE_FAILPOINT", format!("{fp}:crash"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // Refused (125), or seen as the container's own death (137).
        assert!(
            matches!(o.status.code(), Some(125 | 137)),
            "{fp}: {:?}",
            o.status
        );
        repaired(&r, fp, &[]);
    }
    // The caller of a detached start dies: its monitor carries on.
    assert!(crash(
        &r,
        "container.start.detached",
        &["run", "-d", "--name", "d1", "bb", "sleep", "0.3"]
    ));
    wait_gone(&r, "d1");
    repaired(&r, "start.detached", &[]);
    assert_eq!(r.status("d1")["code"], 0, "the monitor recorded the exit");
    r.ok(&["rm", "d1"]);

    // The supervisor dies while the container runs: nobody records its end.
    assert!(crash(
        &r,
        "container.supervise",
        &["run", "--rm", "--name", "s1", "bb", "sleep", "1"]
    ));
    // While it runs: reported, for the user to restart (nothing to repair).
    let found = check(&r, false);
    assert_eq!(found.status.code(), Some(1));
    assert!(
        out(&found).contains("runs, but its supervisor (process"),
        "{}",
        out(&found)
    );
    wait_gone(&r, "s1");
    repaired(&r, "supervise --rm", &["nobody supervises it"]);
    assert!(
        r.container_ids().is_empty(),
        "the --rm container is removed"
    );
    assert!(crash(
        &r,
        "container.supervise",
        &["run", "--name", "s2", "bb", "sleep", "0.3"]
    ));
    wait_gone(&r, "s2");
    repaired(&r, "supervise", &["nobody supervises it"]);
    assert_eq!(r.status("s2")["state"], "exited");
    r.ok(&["rm", "s2"]);
    // The monitor of a detached container dies.
    r.cmd(&["run", "-d", "--rm", "--name", "m1", "bb", "sleep", "0.3"])
        .env("KLEENE_FAILPOINT", "container.monitor:crash")
        .status()
        .unwrap();
    wait_gone(&r, "m1");
    repaired(&r, "monitor --rm", &["nobody supervises it"]);
    assert!(r.container_ids().is_empty());

    // run --rm without networks: the row goes first, then the (empty)
    // directory; a crash in between leaves the directory for check.
    assert!(crash(
        &r,
        "container.remove.fs",
        &["run", "--rm", "--name", "e1", "bb", "true"]
    ));
    assert!(r.container_ids().is_empty());
    repaired(
        &r,
        "remove.fs of run --rm",
        &["a container directory no row refers to"],
    );

    // rm: marked removing, then the files, then the row.
    for fp in ["container.remove.fs", "container.remove.row"] {
        r.ok(&["create", "--name", "r1", "bb", "true"]);
        assert!(crash(&r, fp, &["rm", "r1"]));
        assert_eq!(r.status("r1")["state"], "removing", "{fp}");
        repaired(&r, fp, &["its removal was interrupted"]);
        assert!(r.container_ids().is_empty(), "{fp}");
    }
    // ... start says why it cannot, and the next rm finishes it.
    r.ok(&["create", "--name", "r2", "bb", "true"]);
    assert!(crash(&r, "container.remove.row", &["rm", "r2"]));
    let e = r.fails(&["start", "r2"], 1);
    assert!(
        e.contains("is being removed") && e.contains("klee rm"),
        "{e}"
    );
    r.ok(&["rm", "r2"]);
    repaired(&r, "rm finishes", &[]);

    // images: a lease and staging of a dead creator; layers of a removal.
    for fp in ["image.create.fill", "image.create.commit"] {
        assert!(crash(
            &r,
            fp,
            &["image", "create", "-t", "x", "dir", rootfs]
        ));
        repaired(&r, fp, &["lease", "scratch"]);
        assert_eq!(r.entries("layers"), layers, "{fp}");
    }
    r.ok(&["image", "create", "-t", "y", "dir", rootfs]);
    assert!(crash(&r, "image.remove.layers", &["image", "rm", "y"]));
    repaired(&r, "image.remove.layers", &["layer "]);
    assert_eq!(r.entries("layers"), layers);

    // volumes: made whole before the crash point; a removal is finished.
    assert!(crash(&r, "volume.create", &["volume", "create", "v1"]));
    repaired(&r, "volume.create", &[]);
    assert!(crash(&r, "volume.remove.row", &["volume", "rm", "v1"]));
    repaired(&r, "volume.remove.row", &["its removal was interrupted"]);
    assert!(!r.ok(&["volume", "ls"]).contains("v1"));

    // builds: a step's container and the layers a dead builder leased.
    let ctx = r.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a"), "a").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nRUN echo hi > /f\nCOPY a /a\nRUN echo there > /g\n",
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    assert!(crash(&r, "build.run.commit", &["build", "-t", "b", ctx]));
    repaired(&r, "build.run.commit", &["a build step's container"]);
    assert!(crash(
        &r,
        "build.commit",
        &["build", "--no-cache", "-t", "b", ctx]
    ));
    repaired(&r, "build.commit", &["lease"]);
    r.ok(&["build", "-t", "b", ctx]);
    assert_eq!(
        r.ok(&["run", "--rm", "b", "cat", "/f", "/a", "/g"]),
        "hi\nathere\n"
    );
}

/// A private network namespace, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Option<Netns> {
        let name = format!("kleene-crash-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: cannot create a network namespace (ip netns add)");
            return None;
        }
        Some(Netns(name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_crash_in_a_network_operation_is_found_and_repaired() {
    if !can_run() {
        return;
    }
    if !std::path::Path::new("/usr/sbin/nft").exists() {
        eprintln!("skipping: needs nft (apt-get install nftables)");
        return;
    }
    let Some(ns) = Netns::new() else { return };
    let mut r = Root::new();
    r.netns = Some(ns.0.clone());
    let create = [
        "network",
        "create",
        "--type",
        "bridge",
        "--subnet",
        "10.77.0.0/24",
        "n1",
    ];
    assert!(crash(&r, "network.create.link", &create));
    repaired(
        &r,
        "network.create.link",
        &["its interface kleene0 is missing", "firewall"],
    );
    assert!(r.ok(&["network", "ls"]).contains("n1"));
    r.ok(&["network", "rm", "n1"]);
    assert!(crash(&r, "network.firewall", &create));
    repaired(&r, "network.firewall", &["firewall"]);
    assert!(crash(&r, "network.remove.row", &["network", "rm", "n1"]));
    repaired(
        &r,
        "network.remove.row",
        &["its interface kleene0 is missing"],
    );
    r.ok(&["network", "rm", "n1"]);
    repaired(&r, "network rm", &[]);
    // The bridge is gone from the namespace.
    let links = Command::new("ip")
        .args(["netns", "exec", &ns.0, "ip", "-br", "link"])
        .output()
        .unwrap();
    assert!(!out(&links).contains("kleene0"), "{}", out(&links));
}

/// kill -9 at random instants of every kind of operation, then one repair:
/// nothing is left that no row accounts for, and everything still works.
#[test]
fn kill_9_at_random_instants_then_one_repair_leaves_nothing() {
    if !can_run() {
        return;
    }
    let mut r = Root::new();
    r.private_cgroups();
    r.busybox_image("bb");
    let rootfs = r.path().join("rootfs-bb").to_str().unwrap().to_string();
    let ctx = r.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a"), "a").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nRUN for i in $(seq 200); do echo $i > /f$i; done\nCOPY a /a\n",
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap().to_string();
    r.ok(&["create", "--name", "keep", "-m", "kv:/data", "bb", "true"]);
    let tries: Vec<Vec<String>> = {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut t = Vec::new();
        for i in 0..6 {
            let n = format!("v{i}");
            let rm = format!("rm{i}");
            t.push(s(&["run", "--rm", "bb", "sleep", "0.05"]));
            t.push(s(&["run", "-d", "--rm", "bb", "sleep", "0.05"]));
            t.push(s(&["run", "-d", "--name", &format!("d{i}"), "bb", "true"]));
            t.push(s(&["create", "--name", &rm, "bb", "true"]));
            t.push(s(&["rm", "-f", &rm]));
            t.push(s(&["volume", "create", &n]));
            t.push(s(&["volume", "rm", &n]));
            t.push(s(&["build", "--no-cache", "-t", "k", &ctx]));
            t.push(s(&["image", "create", "-t", "i", "dir", &rootfs]));
            t.push(s(&["image", "rm", "i"]));
        }
        t
    };
    let mut seed = std::process::id() as u64;
    let mut killed = 0;
    for args in &tries {
        // A cheap xorshift: 1 to 40 ms.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(1 + seed % 40);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = r
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            let _ = child.kill();
            killed += 1;
        }
        let _ = child.wait();
    }
    eprintln!("{killed} of {} operations killed mid-way", tries.len());
    // Let what still runs (detached, unsupervised) end.
    std::thread::sleep(Duration::from_millis(500));
    let fixed = check(&r, true);
    assert_eq!(fixed.status.code(), Some(0), "{}", out(&fixed));
    repaired(&r, "after kill -9", &[]);
    // The next operations work, on the same names.
    r.ok(&["start", "keep"]);
    r.ok(&["run", "--rm", "-m", "kv:/data", "bb", "true"]);
    r.ok(&["build", "-t", "k", &ctx]);
    r.ok(&["volume", "create", "v0"]);
    r.ok(&["volume", "rm", "v0"]);
    r.ok(&["container", "prune", "-f"]);
}

#[test]
fn stray_entries_and_failed_output_get_plain_answers() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    // A file where a layer directory belongs.
    std::fs::write(r.path().join("layers/stray"), "x").unwrap();
    repaired(&r, "stray file", &["layer stray"]);
    assert!(!r.path().join("layers/stray").exists());
    // Standard output that fails: an error at exit, not a panic.
    for args in [&["ps", "-a"][..], &["image", "ls"]] {
        let o = r
            .cmd(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("error: writing standard output: No space left on device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
