//! `klee compose`: a stack in a private network namespace (the lab), and
//! bad files with positioned diagnostics.

mod common;

use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// What the lab's host answers on tcp `port`, asked from outside.
fn from_outside(lab: &common::lab::Lab, port: u16) -> String {
    let port = port.to_string();
    let o = lab.in_ns(
        &lab.out,
        &[
            "busybox",
            "timeout",
            "3",
            "busybox",
            "nc",
            "-w",
            "1",
            "192.0.2.1",
            &port,
        ],
    );
    common::stdout(&o)
}

const STACK: &str = r#"
name: demo
x-base: &base
  image: bb
  init: true
services:
  db:
    <<: *base
    command: sh -c "echo ${GREETING:?set it in .env} > /data/greeting; date +%s > /data/db-ready; (sleep 1; touch /tmp/ok) & exec nc -ll -p 5000 -e cat /data/greeting"
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ok"]
      interval: 1s
      retries: 30
  web:
    <<: *base
    command: ["sh", "-c", "date +%s > /data/web-start; nc -w 2 db 5000 > /data/fetched; echo $$((1 + 1)) >> /data/ups; exec nc -ll -p 80 -e cat /data/fetched"]
    depends_on:
      db: {condition: service_healthy}
    ports: ["8080:80"]
    volumes: ["data:/data"]
  worker:
    <<: *base
    command: sleep 1000
    scale: 3
    logging: {driver: json-file}
  debug:
    <<: *base
    command: sleep 1000
    profiles: [debug]
volumes:
  data:
"#;

#[test]
fn a_stack_runs_in_order_by_name_with_volumes_ports_scale_and_profiles() {
    let Some(lab) = common::lab::lab() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", STACK);
    write(dir.path(), ".env", "GREETING=hello-from-dotenv\n");
    let f = dir.path().join("compose.yaml");
    let f = f.to_str().unwrap();
    let up = lab.root.run(&["compose", "-f", f, "up", "-d"]);
    let said = common::stderr(&up);
    assert!(up.status.success(), "{said}");
    assert!(
        said.contains("services.worker.logging"),
        "one warning: {said}"
    );
    let ps = lab.klee(&["compose", "-f", f, "ps"]);
    for name in [
        "demo_db_1",
        "demo_web_1",
        "demo_worker_1",
        "demo_worker_2",
        "demo_worker_3",
    ] {
        assert!(ps.contains(name), "{name}: {ps}");
    }
    assert!(!ps.contains("debug"), "a profile's service: {ps}");
    // web started after db was healthy, and reached it by service name.
    let cat = |what: &str| {
        lab.klee(&[
            "compose",
            "-f",
            f,
            "exec",
            "db",
            "cat",
            &format!("/data/{what}"),
        ])
    };
    let ready: u64 = cat("db-ready").trim().parse().unwrap();
    let mut fetched = String::new();
    for _ in 0..50 {
        fetched = cat("fetched");
        if !fetched.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // (db turns healthy a second after it wrote db-ready: in whole
    // seconds, web cannot start before ready + 1.)
    let started: u64 = cat("web-start").trim().parse().unwrap();
    assert!(
        started > ready,
        "web at {started}, db ready at {ready} (+1 s)"
    );
    assert_eq!(fetched, "hello-from-dotenv\n");
    // Its port, from outside.
    assert_eq!(from_outside(&lab, 8080), "hello-from-dotenv\n");
    // A profile brings its service.
    lab.klee(&["compose", "-f", f, "--profile", "debug", "up", "-d"]);
    assert!(lab
        .klee(&["compose", "-f", f, "ps"])
        .contains("demo_debug_1"));
    // down keeps the named volume; up again finds its data.
    lab.klee(&["compose", "-f", f, "down"]);
    assert!(
        lab.klee(&["lsc", "-a"]).lines().count() == 1,
        "{}",
        lab.klee(&["lsc", "-a"])
    );
    assert!(lab.klee(&["lsv"]).contains("demo_data"));
    assert!(!lab.klee(&["lsn"]).contains("demo_default"));
    lab.klee(&["compose", "-f", f, "up", "-d"]);
    let mut ups = String::new();
    for _ in 0..50 {
        ups = cat("ups");
        if ups.lines().count() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(ups, "2\n2\n", "the volume survived down");
    // down -v leaves nothing.
    lab.klee(&["compose", "-f", f, "down", "-v"]);
    assert_eq!(lab.klee(&["lsc", "-a"]).lines().count(), 1);
    assert!(!lab.klee(&["lsv"]).contains("demo_data"));
    assert!(!lab.klee(&["lsn"]).contains("demo_"));
    let check = lab.klee(&["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");

    // The translated script is the same program: the same containers.
    let script = lab.klee(&["compose", "-f", f, "translate"]);
    assert!(
        script.contains("import \"stack\"") && script.contains("stack::up(project"),
        "{script}"
    );
    let file = dir.path().join("up.rhai");
    std::fs::write(&file, &script).unwrap();
    lab.klee(&["script", file.to_str().unwrap()]);
    let ps = lab.klee(&["compose", "-f", f, "ps"]);
    for name in ["demo_db_1", "demo_web_1", "demo_worker_3"] {
        assert!(ps.contains(name), "{name}: {ps}");
    }
    lab.klee(&["compose", "-f", f, "down", "-v"]);
    assert_eq!(lab.klee(&["lsc", "-a"]).lines().count(), 1);
}

#[test]
fn bad_files_are_refused_with_their_place() {
    if !common::can_run() {
        return;
    }
    let root = common::Root::new();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "services:\n  web:\n    image: bb\n    depends_on: [db]\n",
            "unknown service 'db'",
            "compose.yaml:4:18",
        ),
        (
            "services:\n  a:\n    image: bb\n    depends_on: [b]\n  b:\n    image: bb\n    depends_on: [a]\n",
            "dependency cycle among services a, b",
            "compose.yaml:4:17",
        ),
        (
            "services:\n  web:\n    image: bb\n    ports: [\"80:99999\"]\n",
            "invalid port value",
            "compose.yaml:4:14",
        ),
        (
            "services:\n  web:\n    image: bb\n    secrets: [key]\n",
            "secrets from external stores are not supported",
            "compose.yaml:4:5",
        ),
        (
            "services:\n  web:\n    image: ${IMAGE:?say which image}\n",
            "required variable IMAGE: say which image",
            "compose.yaml:3:12",
        ),
        ("services:\n  web: [oops\n", "not valid YAML", "compose.yaml:"),
        (
            "services:\n  web:\n    image: bb\n    enviroment: {A: 1}\n",
            "not a Compose service key (did you mean 'environment'?)",
            "compose.yaml:4:5",
        ),
        (
            "servces:\n  web: {image: bb}\n",
            "did you mean 'services'?",
            "compose.yaml:1:1",
        ),
    ];
    for (text, says, at) in cases {
        write(dir.path(), "compose.yaml", text);
        let f = dir.path().join("compose.yaml");
        let err = root.fails(&["compose", "-f", f.to_str().unwrap(), "config"], 1);
        assert!(err.contains(says), "{text}: {err}");
        assert!(err.contains(at), "{text}: expected {at} in {err}");
    }
    // No file at all.
    let o = root
        .cmd(&["compose", "config"])
        .current_dir(dir.path().join(".."))
        .output()
        .unwrap();
    assert!(
        common::stderr(&o).contains("no compose file"),
        "{}",
        common::stderr(&o)
    );
}

/// `up` without `-d` prints the services' output prefixed and stops the
/// project on Ctrl-C or, with `--abort-on-container-exit`, when one
/// stops; a lone container port gets a free host port; `up` makes a
/// container again only when its configuration changed.
#[test]
fn attached_up_free_ports_and_recreation() {
    let Some(lab) = common::lab::lab() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = |cmd: &str| {
        format!(
            "name: att\nservices:\n  talk:\n    image: bb\n    command: sh -c 'echo one; sleep 0.3; echo two; exit 3'\n  web:\n    image: bb\n    init: true\n    command: {cmd}\n    ports: [\"80\"]\n"
        )
    };
    write(
        dir.path(),
        "compose.yaml",
        &file("nc -ll -p 80 -e echo free"),
    );
    let f = dir.path().join("compose.yaml");
    let f = f.to_str().unwrap();
    // Attached, ending when talk stops: its code, the project stopped.
    let o = lab
        .root
        .run(&["compose", "-f", f, "up", "--abort-on-container-exit"]);
    let out = common::stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{}", common::stderr(&o));
    for line in [
        "talk-1 | one\n",
        "talk-1 | two\n",
        "talk-1 exited with code 3\n",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    let ps = lab.klee(&["compose", "-f", f, "ps"]);
    assert!(!ps.contains("running"), "all stopped: {ps}");

    // Detached: web's port is a free one, reached from outside.
    lab.klee(&["compose", "-f", f, "up", "-d"]);
    let port = lab.klee(&["port", "att_web_1"]);
    let host_port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(host_port >= 49152, "{port}");
    assert!(lab
        .klee(&["compose", "-f", f, "ps"])
        .contains(&format!("{host_port}:80/tcp")));
    assert_eq!(from_outside(&lab, host_port), "free\n");
    // The same file: the same container; another command: a new one.
    let id = |lab: &common::lab::Lab| {
        lab.root.json(&["container", "inspect", "att_web_1"])["id"].to_string()
    };
    let first = id(&lab);
    lab.klee(&["compose", "-f", f, "up", "-d"]);
    assert_eq!(id(&lab), first, "unchanged: kept");
    write(
        dir.path(),
        "compose.yaml",
        &file("nc -ll -p 80 -e echo changed"),
    );
    lab.klee(&["compose", "-f", f, "up", "-d"]);
    assert_ne!(id(&lab), first, "changed: made again");

    // Ctrl-C stops the project (exit code 130).
    let mut child = lab
        .root
        .cmd(&["compose", "-f", f, "up"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("talk-1 exited") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        seen += &line;
    }
    assert!(seen.contains("talk-1 | two"), "{seen}");
    // What it printed in its earlier runs is not shown again.
    assert_eq!(seen.matches("talk-1 | one").count(), 1, "{seen}");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let ps = lab.klee(&["compose", "-f", f, "ps"]);
    assert!(!ps.contains("running"), "stopped by Ctrl-C: {ps}");
    lab.klee(&["compose", "-f", f, "down"]);
    let check = lab.klee(&["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}

/// What the newcomer trial found, as it should be: the override file, a
/// bad project name, logs of every replica, exec with standard input,
/// a service resolving its own name, a graceful down, an unhealthy
/// dependency failing at once, orphans kept with their network until
/// --remove-orphans.
#[test]
fn everyday_commands_and_orphans() {
    let Some(lab) = common::lab::lab() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("out")).unwrap();
    write(
        d,
        "compose.yaml",
        "name: ev\nservices:\n  db:\n    image: bb\n    command: [\"sh\", \"-c\", \"trap 'echo term > /out/flag; exit 0' TERM; echo up $$A; while :; do sleep 0.1; done\"]\n    volumes: [\"./out:/out\"]\n    environment: {A: base}\n    scale: 2\n",
    );
    write(
        d,
        "compose.override.yaml",
        "services:\n  db:\n    environment: {A: over}\n",
    );
    write(
        d,
        "extra.yaml",
        "services:\n  extra:\n    image: bb\n    init: true\n    command: sleep 1000\n",
    );
    let run = |args: &[&str]| {
        let mut c = lab.root.cmd(args);
        c.current_dir(d);
        c.stdin(std::process::Stdio::null()).output().unwrap()
    };
    assert!(common::stdout(&run(&["compose", "config"])).contains("A=over"));
    let bad = run(&["compose", "-p", "My.Proj", "config"]);
    assert!(
        common::stderr(&bad).contains("invalid project name 'My.Proj'"),
        "{}",
        common::stderr(&bad)
    );
    assert!(run(&["compose", "up", "-d"]).status.success());
    // Every replica's output, prefixed.
    let mut logs = String::new();
    for _ in 0..50 {
        logs = common::stdout(&run(&["compose", "logs"]));
        if logs.contains("db-1 | up over") && logs.contains("db-2 | up over") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(logs.contains("db-2 | up over"), "{logs}");
    // exec passes standard input through; db knows its own service name.
    let piped = |args: &[&str], input: &[u8]| {
        let mut c = lab.root.cmd(args);
        c.current_dir(d)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
        common::stdout(&child.wait_with_output().unwrap())
    };
    assert_eq!(
        piped(&["compose", "exec", "db", "cat"], b"piped\n"),
        "piped\n"
    );
    assert_eq!(
        piped(&["compose", "run", "--rm", "db", "cat"], b"to run\n"),
        "to run\n"
    );
    let hosts = common::stdout(&run(&["compose", "exec", "db", "cat", "/etc/hosts"]));
    assert!(hosts.lines().any(|l| l.ends_with("\tdb")), "{hosts}");
    // An orphan: a service in a file the next command does not read.
    let f2 = ["-f", "compose.yaml", "-f", "extra.yaml"];
    assert!(run(&[&["compose"], &f2[..], &["up", "-d"]].concat())
        .status
        .success());
    let down = run(&["compose", "-f", "compose.yaml", "down", "-t", "5"]);
    assert!(
        common::stderr(&down).contains("orphan containers of project 'ev'"),
        "{}",
        common::stderr(&down)
    );
    // db stopped gracefully (its TERM trap ran); extra and its network stay.
    assert_eq!(
        std::fs::read_to_string(d.join("out/flag")).unwrap(),
        "term\n"
    );
    assert!(lab.klee(&["lsc"]).contains("ev_extra_1"));
    assert!(lab.klee(&["lsn"]).contains("ev_default"));
    assert!(
        run(&["compose", "-f", "compose.yaml", "down", "--remove-orphans"])
            .status
            .success()
    );
    assert_eq!(lab.klee(&["lsc", "-a"]).lines().count(), 1);
    assert!(!lab.klee(&["lsn"]).contains("ev_default"));

    // An unhealthy dependency fails up at once, not after --wait-timeout.
    write(
        d,
        "sick.yaml",
        "name: sick\nservices:\n  u:\n    image: bb\n    command: sleep 1000\n    init: true\n    healthcheck: {test: [\"CMD\", \"false\"], interval: 1s, retries: 1}\n  a:\n    image: bb\n    command: sleep 1\n    depends_on: {u: {condition: service_healthy}}\n",
    );
    let o = run(&[
        "compose",
        "-f",
        "sick.yaml",
        "up",
        "-d",
        "--wait-timeout",
        "600",
    ]);
    assert!(
        common::stderr(&o).contains("service 'u' is unhealthy"),
        "{}",
        common::stderr(&o)
    );
    run(&["compose", "-f", "sick.yaml", "down"]);
    let check = lab.klee(&["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
}
