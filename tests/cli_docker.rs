//! The commands and spellings Docker users type: version, info, inspect,
//! rename, kill, wait, port, logs --tail/-f, ps -q/--filter/--format, and
//! -v, --env-file, --hostname, --add-host, --label, --network host|none.

mod common;

use common::{can_run, Root};

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
