//! The commands and spellings Docker users type: version, info, inspect,
//! rename, kill, wait, port, logs --tail/-f, ps -q/--filter/--format, and
//! -v, --env-file, --hostname, --add-host, --label, --network host|none.

mod common;

use common::{can_run, Root};

impl Root {
    /// The entry names of `klee cp SRC -` (which must succeed and be a
    /// well-formed archive).
    fn cp_out_names(&self, src: &str) -> Vec<String> {
        let tar = self.cmd(&["cp", src, "-"]).output().unwrap();
        assert!(tar.status.success());
        let mut a = tar::Archive::new(tar.stdout.as_slice());
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    /// `klee cp ARGS` with `data` on its standard input.
    fn cp_stdin(&self, args: &[&str], data: &[u8]) -> std::process::Output {
        let mut c = self.cmd(&[&["cp"][..], args].concat());
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), data).unwrap();
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }
}

#[test]
fn version_info_and_inspect_of_any_object() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    // version needs no root at all.
    let v = r.ok(&["version"]);
    assert!(v.starts_with("klee ") && v.contains("API version"), "{v}");
    let v: serde_json::Value =
        serde_json::from_str(&r.ok(&["version", "--format", "json"])).unwrap();
    assert_eq!(v["os"], std::env::consts::OS);
    let i = r.json(&["info", "--format", "json"]);
    assert_eq!(i["images"], 1);
    assert!(i["host"]["kernel"].as_str().unwrap().starts_with("Linux"));
    let text = r.ok(&["info"]);
    assert!(
        text.contains("Containers:  0 (0 running, 0 stopped)"),
        "{text}"
    );

    r.ok(&["volume", "create", "vol1"]);
    r.ok(&["create", "--name", "c1", "bb", "true"]);
    assert_eq!(r.json(&["inspect", "c1"])["name"], "c1");
    assert!(r.json(&["inspect", "bb"])["layers"].is_array());
    assert_eq!(r.json(&["inspect", "vol1"])["volume"]["name"], "vol1");
    assert!(r.json(&["inspect", "--type", "image", "bb"])["id"].is_string());
    let e = r.fails(&["inspect", "nosuch"], 1);
    assert!(
        e.contains("no such object (container, image, volume or network) 'nosuch'"),
        "{e}"
    );
    let e = r.fails(&["inspect", "--type", "volume", "c1"], 1);
    assert!(e.contains("no such volume 'c1'"), "{e}");
    r.ok(&["rename", "c1", "c2"]);
    assert_eq!(r.json(&["inspect", "c2"])["name"], "c2");
}

#[test]
fn kill_wait_logs_and_ps_options() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let id = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "sleeper",
            "--label",
            "tier=web",
            "bb",
            "sh",
            "-c",
            "echo one; echo two; echo three; trap 'exit 7' TERM; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    // ps: quiet, filters, templates.
    assert_eq!(r.ok(&["ps", "-q"]).trim(), id);
    assert_eq!(r.ok(&["ps", "-q", "--filter", "label=tier=web"]).trim(), id);
    assert_eq!(r.ok(&["ps", "-q", "--filter", "label=tier=db"]).trim(), "");
    assert_eq!(r.ok(&["ps", "-q", "--filter", "name=sleep"]).trim(), id);
    assert_eq!(
        r.ok(&["ps", "--format", "{{.Names}}|{{.State}}"]).trim(),
        "sleeper|running"
    );
    let t = r.ok(&["ps", "--format", "table {{.ID}}\\t{{.Names}}"]);
    assert!(t.starts_with("ID\tNAMES\n"), "{t}");
    let e = r.fails(&["ps", "--format", "{{.Nope}}"], 1);
    assert!(e.contains("no field 'Nope'"), "{e}");
    let e = r.fails(&["ps", "--filter", "status=up"], 1);
    assert!(e.contains("status is one of"), "{e}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = r.ok(&["logs", "--tail", "1", "sleeper"]);
        if logs == "three\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(logs, "three\n");
    // kill -s TERM: the trap exits 7; wait prints it.
    let e = r.fails(&["kill", "-s", "BOGUS", "sleeper"], 1);
    assert!(e.contains("invalid signal 'BOGUS'"), "{e}");
    assert_eq!(r.ok(&["kill", "-s", "TERM", "sleeper"]).trim(), id);
    assert_eq!(r.ok(&["wait", "sleeper"]).trim(), "7");
    assert_eq!(r.ok(&["ps", "-q", "--filter", "exited=7"]).trim(), id);
    assert_eq!(r.ok(&["ps", "-q", "--filter", "status=running"]).trim(), "");
    let e = r.fails(&["kill", "sleeper"], 1);
    assert!(e.contains("is not running"), "{e}");
    // logs -f ends when the container has stopped.
    assert_eq!(r.ok(&["logs", "-f", "sleeper"]), "one\ntwo\nthree\n");
    assert_eq!(r.ok(&["ps", "-n", "1", "-q"]).trim(), id);
}

#[test]
fn docker_spellings_of_create_options() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let envf = r.path().join("app.env");
    std::fs::write(&envf, "# settings\nA=1\n\nB=two words\nFROM_SHELL\n").unwrap();
    let out = r
        .cmd(&[
            "run",
            "--rm",
            "-v",
            "data:/data",
            "--env-file",
            envf.to_str().unwrap(),
            "--hostname",
            "web1",
            "--add-host",
            "db.local:10.9.8.7",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "echo $A/$B/$FROM_SHELL; hostname; grep db.local /etc/hosts; touch /data/x && echo ok",
        ])
        .env("FROM_SHELL", "shell")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1/two words/shell\nweb1\n10.9.8.7\tdb.local\nok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(r.ok(&["volume", "ls"]).contains("data"));
    let e = r.fails(&["run", "--add-host", "db", "bb", "true"], 125);
    assert!(
        e.contains("invalid --add-host 'db': expected NAME:IP"),
        "{e}"
    );
    let e = r.fails(&["run", "--add-host", "db:nope", "bb", "true"], 125);
    assert!(e.contains("IPv4 or IPv6"), "{e}");
    std::fs::write(&envf, "BAD KEY=1\n").unwrap();
    let e = r.fails(&["create", "--env-file", envf.to_str().unwrap(), "bb"], 1);
    assert!(e.contains("app.env:1"), "{e}");
    // --network host: the host driver; labels and addresses in inspect.
    r.ok(&[
        "create",
        "--name",
        "hh",
        "--network",
        "host",
        "--label",
        "a=b",
        "bb",
    ]);
    let i = r.json(&["inspect", "hh"]);
    assert_eq!(i["network_driver"], "host");
    assert_eq!(i["labels"]["a"], "b");
    assert!(i["networks"].as_array().unwrap().is_empty());
}

#[test]
fn the_scripts_refuse_a_too_old_cargo_and_say_how_to_get_one() {
    let fake = tempfile::tempdir().unwrap();
    let cargo = fake.path().join("cargo");
    std::fs::write(&cargo, "#!/bin/sh\necho 'cargo 1.65.0'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-rust");
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap()
    );
    let o = std::process::Command::new("bash")
        .arg(script)
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cargo 1.65.0") && err.contains("sh.rustup.rs"),
        "{err}"
    );
    // The real one passes.
    let o = std::process::Command::new("bash")
        .arg(script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_fresh_volume_takes_the_owner_and_mode_of_the_image_directory() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let ctx = r.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nRUN mkdir -p /data && echo seed > /data/seed && chown -R 1000:1000 /data && chmod 750 /data\nUSER 1000\n",
    )
    .unwrap();
    r.ok(&["build", "-t", "app", ctx.to_str().unwrap()]);
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "-v",
            "appdata:/data",
            "app",
            "sh",
            "-c",
            "touch /data/mine && stat -c '%u %a' /data && cat /data/seed"
        ]),
        "1000 750\nseed\n"
    );
    // Not a fresh volume any more: left as it is.
    r.ok(&[
        "run",
        "--rm",
        "-u",
        "0",
        "-v",
        "appdata:/data",
        "bb",
        "chmod",
        "700",
        "/data",
    ]);
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "-u",
            "0",
            "-v",
            "appdata:/data",
            "app",
            "stat",
            "-c",
            "%a",
            "/data"
        ]),
        "700\n"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_tree() {
    let klee = env!("CARGO_BIN_EXE_klee");
    let out = |args: &[&str]| {
        let o = std::process::Command::new(klee)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let bash = out(&["completions", "bash"]);
    assert!(
        bash.contains("_klee()") && bash.contains("--env-file"),
        "bash completion"
    );
    assert!(out(&["completions", "fish"]).contains("complete -c klee"));
    assert!(out(&["completions", "zsh"]).contains("#compdef klee"));
    let dir = tempfile::tempdir().unwrap();
    out(&["man", dir.path().to_str().unwrap()]);
    let run = std::fs::read_to_string(dir.path().join("klee-run.1")).unwrap();
    assert!(
        run.contains("klee\\-run") && run.contains("publish"),
        "{run}"
    );
    assert!(out(&["man"]).contains(".TH klee 1"));
    let o = std::process::Command::new(klee)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "clap refuses an unknown shell");
}

#[test]
fn top_and_stats_of_a_running_container() {
    if !can_run() {
        return;
    }
    let mut r = Root::new();
    r.private_cgroups();
    r.busybox_image("bb");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--memory",
        "64m",
        "bb",
        "sh",
        "-c",
        "while true; do :; done & sleep 30",
    ]);
    let mut top = String::new();
    for _ in 0..50 {
        top = r.ok(&["top", "busy"]);
        if top.contains("sleep 30") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        top.starts_with("PID") && top.contains("sleep 30") && top.contains("sh -c"),
        "{top}"
    );
    // Users by name, from the container's own /etc/passwd.
    assert!(top.contains(" root "), "{top}");
    let procs: serde_json::Value =
        serde_json::from_str(&r.ok(&["top", "busy", "--format", "json"])).unwrap();
    assert!(procs.as_array().unwrap().len() >= 2, "{procs}");
    let s: serde_json::Value =
        serde_json::from_str(&r.ok(&["stats", "--no-stream", "--format", "json", "busy"])).unwrap();
    let s = &s[0];
    assert_eq!(s["name"], "busy");
    assert_eq!(s["memory_limit"], 64 << 20);
    assert!(s["memory"].as_u64().unwrap() > 0, "{s}");
    assert!(s["pids"].as_u64().unwrap() >= 2, "{s}");
    // The busy loop shows (a CPU accounting controller is needed on v1).
    if let Some(cpu) = s["cpu_percent"].as_f64() {
        assert!(cpu > 20.0, "{s}");
    }
    let t = r.ok(&["stats", "--no-stream"]);
    assert!(t.contains("busy") && t.contains("/ 64.0MiB"), "{t}");
    r.ok(&["rm", "-f", "busy"]);
    let e = r.fails(&["top", "busy"], 1);
    assert!(e.contains("no such container"), "{e}");
}

#[test]
fn cp_both_directions_running_and_stopped_confined_to_the_container() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let host = tempfile::tempdir().unwrap();
    let h = |p: &str| host.path().join(p);
    let hs = |p: &str| h(p).to_string_lossy().into_owned();
    std::fs::create_dir_all(h("site/sub")).unwrap();
    std::fs::write(h("site/index.html"), "hello").unwrap();
    std::fs::write(h("site/sub/d"), "deep").unwrap();

    // A stopped container: its image layers, writable layer and volumes.
    r.ok(&[
        "create",
        "--name",
        "st",
        "-v",
        "vol1:/data",
        "bb",
        "sh",
        "-c",
        "cat /srv/index.html /www/sub/d /data/x",
    ]);
    r.ok(&["cp", &hs("site"), "st:/srv"]);
    r.ok(&["cp", &format!("{}/.", hs("site")), "st:/www"]);
    r.ok(&["cp", &hs("site/index.html"), "st:/data/x"]);
    // (/srv did not exist: the directory was copied as /srv.)
    assert_eq!(r.ok(&["start", "st"]), "hellodeephello");
    // Out of it: as a new name, into a directory, as a tar stream.
    r.ok(&["cp", "st:/srv", &hs("out")]);
    assert_eq!(std::fs::read_to_string(h("out/sub/d")).unwrap(), "deep");
    std::fs::create_dir(h("into")).unwrap();
    r.ok(&["cp", "st:www/sub/d", &hs("into")]);
    assert_eq!(std::fs::read_to_string(h("into/d")).unwrap(), "deep");
    assert_eq!(r.cp_out_names("st:/etc/passwd"), ["passwd"]);

    // A running container: its own mount namespace (a tmpfs only it sees).
    r.ok(&[
        "run",
        "-d",
        "--name",
        "up",
        "bb",
        "sh",
        "-c",
        "mkdir /mem && mount -t tmpfs t /mem 2>/dev/null; sleep 60",
    ]);
    r.ok(&["cp", &hs("site/index.html"), "up:/tmp/"]);
    r.ok(&["exec", "up", "sh", "-c", "echo inside > /tmp/made"]);
    r.ok(&["cp", "up:/tmp/made", &hs("made")]);
    assert_eq!(std::fs::read_to_string(h("made")).unwrap(), "inside\n");
    assert_eq!(r.ok(&["exec", "up", "cat", "/tmp/index.html"]), "hello");
    // A tar stream from stdin, into a directory that exists.
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(2);
    hd.set_mode(0o600);
    hd.set_uid(1234);
    hd.set_gid(1234);
    hd.set_mtime(0);
    b.append_data(&mut hd, "fromtar", &b"ok"[..]).unwrap();
    let data = b.into_inner().unwrap();
    for (flags, owner) in [(vec![], "0"), (vec!["-a"], "1234")] {
        let o = r.cp_stdin(&[&flags[..], &["-", "up:/tmp"]].concat(), &data);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = r.ok(&["exec", "up", "stat", "-c", "%u %a", "/tmp/fromtar"]);
        assert_eq!(o.trim(), format!("{owner} 600"));
    }

    // Confined: symlinks in the container resolve inside it.
    r.ok(&["exec", "up", "ln", "-s", "/", "/tmp/rootlink"]);
    r.ok(&["exec", "up", "ln", "-s", "/etc/passwd", "/tmp/pw"]);
    r.ok(&["cp", &hs("site/index.html"), "up:/tmp/rootlink/planted"]);
    assert!(!std::path::Path::new("/planted").exists());
    assert_eq!(r.ok(&["exec", "up", "cat", "/planted"]), "hello");
    r.ok(&["cp", "-L", "up:/tmp/pw", &hs("pw")]);
    assert_eq!(
        std::fs::read_to_string(h("pw")).unwrap(),
        r.ok(&["exec", "up", "cat", "/etc/passwd"])
    );
    r.ok(&["cp", "up:/tmp/pw", &hs("link")]);
    assert_eq!(
        std::fs::read_link(h("link")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    // An archive entry that climbs out is refused.
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_entry_type(tar::EntryType::Symlink);
    hd.set_size(0);
    hd.set_mode(0o777);
    hd.set_uid(0);
    hd.set_gid(0);
    hd.set_mtime(0);
    b.append_link(&mut hd, "esc", "/").unwrap();
    let mut hd = tar::Header::new_gnu();
    hd.set_size(1);
    hd.set_mode(0o644);
    hd.set_uid(0);
    hd.set_gid(0);
    hd.set_mtime(0);
    b.append_data(&mut hd, "esc/escaped", &b"x"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let o = r.cp_stdin(&["-", "up:/tmp"], &data);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("cannot copy into container 'up'"), "{e}");
    assert!(r
        .fails(&["exec", "up", "cat", "/escaped"], 1)
        .contains("No such file"));

    // Files whose size changes while they are read (/proc, a growing log):
    // exactly the header's size goes in, so the archive stays well-formed
    // (nothing the container writes can forge entries for the host).
    for _ in 0..3 {
        assert_eq!(r.cp_out_names("up:/proc/1/cmdline"), ["cmdline"]);
    }
    r.ok(&[
        "exec",
        "-d",
        "up",
        "sh",
        "-c",
        "while :; do echo aaaa >> /tmp/grow; done",
    ]);
    for _ in 0..3 {
        r.ok(&["cp", "up:/tmp/grow", &hs("grow")]);
        assert!(std::fs::read_to_string(h("grow"))
            .unwrap()
            .starts_with("aaaa\n"));
    }
    // A set-user-ID file loses the bit on the host unless -a keeps owners.
    r.ok(&[
        "exec",
        "up",
        "sh",
        "-c",
        "cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid",
    ]);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(h(p)).unwrap().permissions().mode() & 0o7777;
    r.ok(&["cp", "up:/tmp/suid", &hs("suid")]);
    assert_eq!(mode("suid"), 0o755);
    r.ok(&["cp", "-a", "up:/tmp/suid", &hs("suid-a")]);
    assert_eq!(mode("suid-a"), 0o4755);
    // A read-only root takes nothing, running or not.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "ro",
        "--read-only",
        "bb",
        "sleep",
        "60",
    ]);
    let e = r.fails(&["cp", &hs("site/index.html"), "ro:/tmp/"], 1);
    assert!(e.contains("its root filesystem is read-only"), "{e}");
    r.ok(&["rm", "-f", "ro"]);

    // Bad input: each says what and where; nothing is made on failure.
    let e = r.fails(&["cp", "up:/nope", &hs("x")], 1);
    assert!(
        e.contains("cannot copy from container 'up': '/nope': No such file"),
        "{e}"
    );
    assert!(!h("x").exists());
    let e = r.fails(&["cp", "up:/tmp/made", &hs("no/such/x")], 1);
    assert!(e.contains("does not exist"), "{e}");
    let e = r.fails(&["cp", &hs("site"), "up:/tmp/made"], 1);
    assert!(
        e.contains("cannot copy a directory onto file '/tmp/made'"),
        "{e}"
    );
    let e = r.fails(&["cp", &hs("nope"), "up:/tmp"], 1);
    assert!(e.contains("nope"), "{e}");
    let e = r.fails(&["cp", "up:/a", "st:/b"], 1);
    assert!(e.contains("one side must be the host"), "{e}");
    let e = r.fails(&["cp", "nosuch:/a", &hs("y")], 1);
    assert!(e.contains("no such container 'nosuch'"), "{e}");
    r.ok(&["rm", "-f", "up", "st"]);
}

#[test]
fn healthcheck_runs_and_shows_in_ps_inspect_and_the_dsl() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM bb\nHEALTHCHECK --interval=100ms --timeout=2s --retries=2 CMD test -f /tmp/ok\nCMD [\"sleep\", \"60\"]\n",
    )
    .unwrap();
    r.ok(&["build", "-q", "-t", "hc", ctx.path().to_str().unwrap()]);
    let until = |filter: &str, name: &str| {
        for _ in 0..200 {
            if r.ok(&[
                "ps",
                "-q",
                "--filter",
                filter,
                "--filter",
                &format!("name={name}"),
            ])
            .trim()
            .len()
                > 1
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{name} never {filter}: {}", r.ok(&["ps", "-a"]));
    };
    // The image's check: failing, then passing once the file is there.
    r.ok(&["run", "-d", "--name", "h1", "hc"]);
    until("health=unhealthy", "h1");
    r.ok(&["exec", "h1", "touch", "/tmp/ok"]);
    until("health=healthy", "h1");
    let ps = r.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("h1 running (healthy)"), "{ps}");
    let i = r.json(&["inspect", "h1"]);
    assert_eq!(i["healthcheck"]["test"][0], "CMD-SHELL");
    assert_eq!(i["health"]["status"], "healthy");
    let log = i["health"]["log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["exit_code"], 0);
    assert!(log.iter().any(|p| p["exit_code"] == 1), "{log:?}");
    // A check that outlives its timeout counts as a failure (-1).
    r.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-timeout",
        "100ms",
        "--health-interval",
        "50ms",
        "--health-retries",
        "1",
        "bb",
        "sleep",
        "60",
    ]);
    until("health=unhealthy", "slow");
    let i = r.json(&["inspect", "slow"]);
    let p = &i["health"]["log"][0];
    assert_eq!(p["exit_code"], -1);
    assert!(
        p["output"]
            .as_str()
            .unwrap()
            .contains("exceeded its timeout"),
        "{p}"
    );
    // --no-healthcheck, and bad options (125, nothing made).
    r.ok(&["run", "-d", "--name", "none", "--no-healthcheck", "hc"]);
    assert!(r.json(&["inspect", "none"])["healthcheck"].is_null());
    assert_eq!(
        r.ok(&[
            "ps",
            "-q",
            "--filter",
            "health=none",
            "--filter",
            "name=none"
        ])
        .trim()
        .len(),
        12
    );
    let e = r.fails(&["run", "--health-interval", "soon", "hc"], 125);
    assert!(
        e.contains("invalid health check option '--interval=soon'"),
        "{e}"
    );
    let e = r.fails(&["run", "--health-retries", "2", "bb", "true"], 125);
    assert!(e.contains("the image has no HEALTHCHECK"), "{e}");
    let e = r.fails(&["ps", "--filter", "health=fine"], 1);
    assert!(e.contains("health is one of"), "{e}");
    // The DSL: wait::healthy, c.health.
    let script = ctx.path().join("h.rhai");
    std::fs::write(
        &script,
        r#"
        import "wait" as wait;
        let c = container::run("bb", ["sleep", "60"], #{detach: true, health_cmd: "true", health_interval: "100ms"});
        wait::healthy(c, 20);
        print(c.health);
        let bad = container::run("bb", ["sleep", "60"], #{detach: true, health_cmd: "false", health_interval: "50ms", health_retries: 1});
        try { wait::healthy(bad, 20); } catch (e) { print(e.message); }
        c.remove(true); bad.remove(true);
        "#,
    )
    .unwrap();
    let out = r.ok(&["script", script.to_str().unwrap()]);
    assert!(out.starts_with("healthy\n"), "{out}");
    assert!(out.contains("is unhealthy"), "{out}");
    r.ok(&["rm", "-f", "h1", "slow", "none"]);
}

#[test]
fn logs_with_timestamps_since_and_until() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "talk",
        "bb",
        "sh",
        "-c",
        "echo a; sleep 1; printf 'b\\nc'",
    ]);
    assert_eq!(r.ok(&["wait", "talk"]).trim(), "0");
    // The raw log is unchanged.
    assert_eq!(r.ok(&["logs", "talk"]), "a\nb\nc");
    let t = r.ok(&["logs", "-t", "talk"]);
    let lines: Vec<(&str, &str)> = t.lines().map(|l| l.split_once(' ').unwrap()).collect();
    assert_eq!(
        lines.iter().map(|l| l.1).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    // RFC 3339 with nanoseconds; b was written about a second after a.
    let secs = |ts: &str| -> f64 {
        assert!(
            ts.len() == 30 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "{ts}"
        );
        let hms = &ts[11..29];
        let p: Vec<f64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let gap = secs(lines[1].0) - secs(lines[0].0);
    assert!((0.9..5.0).contains(&gap), "{t}");
    // --since/--until at b's time (as a timestamp), --tail after them.
    let at_b = lines[1].0;
    assert_eq!(r.ok(&["logs", "--since", at_b, "talk"]), "b\nc");
    assert_eq!(r.ok(&["logs", "--until", at_b, "talk"]), "a\n");
    assert_eq!(r.ok(&["logs", "--since", "1h", "-n", "1", "talk"]), "c");
    assert_eq!(r.ok(&["logs", "--since", "2000000000", "talk"]), "");
    assert_eq!(r.ok(&["logs", "-f", "-t", "talk"]), t);
    let e = r.fails(&["logs", "--since", "bogus", "talk"], 1);
    assert!(e.contains("invalid --since 'bogus'"), "{e}");
    // Restarted: new lines append, with their own times.
    r.ok(&["start", "-d", "talk"]);
    assert_eq!(r.ok(&["wait", "talk"]).trim(), "0");
    assert_eq!(r.ok(&["logs", "--since", "1h", "talk"]), "a\nb\nca\nb\nc");
}

#[test]
fn a_running_container_whose_supervisor_died_is_reported() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "orphan",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "bb",
        "sleep",
        "60",
    ]);
    assert_eq!(r.ok(&["system", "check"]).trim(), "no problems found");
    // The init's parent is its monitor.
    let top = r.json(&["top", "orphan", "--format", "json"]);
    let monitor = top[0]["ppid"].as_i64().unwrap() as i32;
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let o = r.run(&["system", "check"]);
    let text = common::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("runs, but its supervisor (process")
            && text.contains("health checks have stopped")
            && text.contains("klee restart orphan"),
        "{text}"
    );
    r.ok(&["rm", "-f", "orphan"]);
    assert_eq!(r.ok(&["system", "check"]).trim(), "no problems found");
}
