//! The original Python `klee` (PyPI `kleene-cli==0.1.0rc4`, unmodified)
//! drives our `kleened` through a whole session on a UNIX socket. The
//! daemon runs in a network namespace of its own (`common/lab.rs`), so
//! networks never touch the machine. `scripts/test` installs klee into
//! `target/klee-venv`; `KLEE_PY` points elsewhere.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use common::api::Daemon;
use common::lab::lab;
use common::{stderr, stdout, Root};

fn klee_py() -> Option<PathBuf> {
    let p = std::env::var_os("KLEE_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/klee-venv/bin/klee")
        });
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: the Python klee is not installed at {} (scripts/test installs it: pip install kleene-cli==0.1.0rc4)",
            p.display()
        );
        None
    }
}

struct Session {
    klee: PathBuf,
    host: String,
    /// TLS flags, before the command.
    tls: Vec<String>,
}

impl Session {
    /// Run klee; returns (exit code, stdout + stderr).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let o = Command::new(&self.klee)
            .arg("--host")
            .arg(&self.host)
            .args(&self.tls)
            .args(args)
            .env("COLUMNS", "200")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            format!("{}{}", stdout(&o), stderr(&o)),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_eq!(code, 0, "klee {args:?}:\n{out}");
        assert!(!out.contains("Traceback"), "klee {args:?} crashed:\n{out}");
        out
    }
}

#[test]
fn the_python_klee_drives_kleened() {
    let Some(klee) = klee_py() else { return };
    let Some(lab) = lab() else { return };
    let root = Root::new();
    root.busybox_image("bb");
    let d = Daemon::start_in(root, Some(&lab.host));
    let s = Session {
        klee,
        host: format!("http://{}", d.socket.display()),
        tls: vec![],
    };
    session(&d, &s);
}

#[test]
fn the_python_klee_drives_kleened_over_mutual_tls() {
    let Some(klee) = klee_py() else { return };
    let Some(lab) = lab() else { return };
    let Some((root, certs)) = tls_root() else {
        return;
    };
    // TCP inside the lab's namespace.
    let mut flags = vec!["--tcp".to_string(), "127.0.0.1:8085".to_string()];
    flags.extend(server_tls_flags(&certs));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let d = Daemon::spawn(root, Some(&lab.host), &flags);
    let s = Session {
        klee,
        host: "https://127.0.0.1:8085".into(),
        tls: tls_flags(&certs),
    };
    // The Python klee runs in the lab's namespace too, to reach it.
    let s = Session {
        klee: write_wrapper(&d, &lab.host, &s.klee),
        ..s
    };
    session(&d, &s);
}

/// A script running `klee` inside network namespace `ns`.
fn write_wrapper(d: &Daemon, ns: &str, klee: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let w = d.root.path().join("klee-in-ns");
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\nexec ip netns exec {ns} {} \"$@\"\n",
            klee.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    w
}

/// A whole klee session against `d`, asserting on klee's output and on
/// the store.
fn session(d: &Daemon, s: &Session) {
    let ours = |args: &[&str]| d.root.json(args);

    // Images: the Linux default method (klee's fetch-auto is the host's
    // userland here), and a build with its output and snapshot lines.
    let out = s.ok(&["image", "create", "-t", "hostimg", "fetch-auto"]);
    assert!(out.contains("image created"), "{out}");
    assert_eq!(ours(&["image", "inspect", "hostimg"])["method"], "host");
    let ctx = d.root.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nRUN echo built > /built\nENV B=1\n",
    )
    .unwrap();
    let out = s.ok(&["build", "-t", "built:1", ctx.to_str().unwrap()]);
    for want in [
        "Started to build image with ID ",
        "Step 1/3 : FROM bb",
        "Step 2/3 : RUN echo built",
        "--> Snapshot created: @",
        "image created",
    ] {
        assert!(out.contains(want), "build output lacks {want:?}:\n{out}");
    }
    assert_eq!(ours(&["image", "inspect", "built:1"])["env"][0], "B=1");
    let out = s.ok(&["lsi"]);
    assert!(out.contains("hostimg") && out.contains("built"), "{out}");

    // Containers: attached and detached runs, exec, stop, rename, update.
    let out = s.ok(&["run", "built:1", "cat", "/built"]);
    assert!(out.contains("built\n"), "{out}");
    assert!(out.contains("exited with exit-code 0"), "{out}");
    let out = s.ok(&["run", "bb", "sh", "-c", "exit 3"]);
    assert!(out.contains("exit-code 3"), "{out}");
    s.ok(&["run", "-d", "--name", "web", "bb", "sleep", "60"]);
    assert_eq!(d.root.status("web")["state"], "running");
    let out = s.ok(&["exec", "web", "echo", "inside"]);
    assert!(
        out.contains("inside") && out.contains("has exited with exit-code 0"),
        "{out}"
    );
    let out = s.ok(&["lsc"]);
    assert!(out.contains("web") && out.contains("running"), "{out}");
    s.ok(&["stop", "web"]);
    assert_ne!(d.root.status("web")["state"], "running");
    s.ok(&["container", "rename", "web", "web2"]);
    s.ok(&["container", "update", "--env", "A=1", "web2"]);
    let c = ours(&["container", "inspect", "web2"]);
    assert_eq!(c["env"][0], "A=1");
    assert_eq!(c["cmd"][1], "60", "update keeps what it does not name");
    let out = s.ok(&["isc", "web2"]);
    assert!(out.contains("\"name\": \"web2\""), "{out}");

    // Networks, in the lab's namespace.
    s.ok(&[
        "network",
        "create",
        "--type",
        "bridge",
        "--subnet",
        "10.60.0.0/24",
        "n1",
    ]);
    assert!(s.ok(&["lsn"]).contains("n1"));
    s.ok(&["create", "--name", "c1", "-l", "vnet", "bb", "true"]);
    s.ok(&["network", "connect", "n1", "c1"]);
    let net = ours(&["network", "inspect", "n1"]);
    assert_eq!(net["endpoints"][0]["ip_address"], "10.60.0.2");
    let out = s.ok(&[
        "run", "-l", "vnet", "-n", "n1", "bb", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    assert!(out.contains("10.60.0.3/24"), "{out}");
    s.ok(&["network", "disconnect", "n1", "c1"]);
    assert_eq!(
        ours(&["network", "inspect", "n1"])["endpoints"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Volumes.
    s.ok(&["volume", "create", "v1"]);
    assert!(s.ok(&["lsv"]).contains("v1"));
    s.ok(&["rmv", "v1"]);

    // Removal and pruning.
    s.ok(&["rmc", "c1"]);
    s.ok(&["container", "prune", "-f"]);
    assert!(
        d.root.container_ids().is_empty(),
        "{:?}",
        d.root.container_ids()
    );
    s.ok(&["rmn", "n1"]);
    s.ok(&["network", "prune", "-f"]);
    s.ok(&["rmi", "hostimg"]);
    s.ok(&["image", "prune", "-f"]);
    let out = s.ok(&["lsi"]);
    assert!(!out.contains("hostimg"), "{out}");
}

/// klee's flags for mutual TLS with the test certificates.
fn tls_flags(certs: &std::path::Path) -> Vec<String> {
    let p = |f: &str| certs.join(f).display().to_string();
    [
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "--tlscert",
        &p("client.pem"),
        "--tlskey",
        &p("client-key.pem"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// kleened's flags for TLS with the test certificates (client
/// certificates required).
fn server_tls_flags(certs: &std::path::Path) -> Vec<String> {
    let p = |f: &str| certs.join(f).display().to_string();
    [
        "--tls-cert",
        &p("server.pem"),
        "--tls-key",
        &p("server-key.pem"),
        "--tls-ca",
        &p("ca.pem"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A root with the busybox image and test certificates in `<root>/certs`.
fn tls_root() -> Option<(Root, PathBuf)> {
    let root = Root::new();
    let certs = root.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    if !certificates(&certs) {
        eprintln!(
            "skipping: openssl(1) could not make test certificates (apt-get install openssl)"
        );
        return None;
    }
    root.busybox_image("bb");
    Some((root, certs))
}

/// A CA, a server certificate for `localhost` and `127.0.0.1`, and a
/// client certificate, made with openssl(1) in `dir`.
fn certificates(dir: &std::path::Path) -> bool {
    let sh = |script: &str| {
        Command::new("sh")
            .args(["-ec", script])
            .current_dir(dir)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=test-ca
        openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 -extfile server.ext
        openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj /CN=client
        printf 'extendedKeyUsage=clientAuth\\n' > client.ext
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days 2 -extfile client.ext")
}

#[test]
fn tls_with_client_certificates() {
    let Some(klee) = klee_py() else { return };
    if !common::can_run() {
        return;
    }
    let Some((root, certs)) = tls_root() else {
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tls_sock = certs.join("kleened-tls.sock").display().to_string();
    let mut flags = vec![
        "--tcp".to_string(),
        format!("127.0.0.1:{port}"),
        "--tls-socket".to_string(),
        tls_sock.clone(),
    ];
    flags.extend(server_tls_flags(&certs));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let d = Daemon::start_with(root, &flags);
    let session = |host: String, tls: Vec<String>| Session {
        klee: klee.clone(),
        host,
        tls,
    };
    let tcp = format!("https://127.0.0.1:{port}");
    // Wait for the TCP listener.
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < end, "no TLS listener");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // REST and WebSocket over mutual TLS.
    let mtls = session(tcp.clone(), tls_flags(&certs));
    let out = mtls.run(&["lsi"]).1;
    assert!(out.contains("bb"), "{out}");
    let out = mtls.run(&["run", "bb", "echo", "over-tls"]).1;
    assert!(
        out.contains("over-tls") && out.contains("exit-code 0"),
        "{out}"
    );
    // No client certificate: TLS 1.3's certificate_required alert, which
    // klee reports as its own test suite expects.
    let ca = certs.join("ca.pem").display().to_string();
    let no_cert = session(tcp, vec!["--tlsverify".into(), "--tlscacert".into(), ca]);
    let out = no_cert.run(&["lsi"]).1;
    assert!(out.contains("TLSV13_ALERT_CERTIFICATE_REQUIRED"), "{out}");
    // TLS on a UNIX socket: klee's `https:///path.sock`, verified against
    // `localhost`.
    let mode = std::fs::metadata(&tls_sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let uds = session(format!("https://{tls_sock}"), tls_flags(&certs));
    let out = uds.run(&["run", "bb", "echo", "tls-on-a-socket"]).1;
    assert!(
        out.contains("tls-on-a-socket") && out.contains("exit-code 0"),
        "{out}"
    );
    drop(d);
}
