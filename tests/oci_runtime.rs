//! kleene-oci against the OCI runtime spec, field by field, with bundles
//! made here (a busybox rootfs and `kleene-oci spec`'s config.json).
//! Needs root; skips with a reason otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use common::oci::OCI;

struct Bundle {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Bundle {
    /// A bundle whose config.json is the default spec changed by `edit`.
    fn new(edit: impl FnOnce(&mut Value)) -> Bundle {
        let base = std::env::var_os("KLEENE_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Bundle::new_in(&base, edit)
    }

    fn new_in(base: &Path, edit: impl FnOnce(&mut Value)) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("kleene-oci-")
            .tempdir_in(base)
            .unwrap();
        common::make_busybox_rootfs(&dir.path().join("rootfs"));
        let root = dir.path().join("state");
        let b = Bundle { dir, root };
        let o = b.oci(&["spec", "--bundle", b.path().to_str().unwrap()]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let mut c: Value =
            serde_json::from_str(&std::fs::read_to_string(b.config()).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        edit(&mut c);
        std::fs::write(b.config(), serde_json::to_string_pretty(&c).unwrap()).unwrap();
        b
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> PathBuf {
        self.path().join("config.json")
    }

    /// Run kleene-oci to its end (output through files: a created
    /// container keeps the creator's stdio, as runc's does).
    fn oci(&self, args: &[&str]) -> Output {
        let mut c = Command::new(OCI);
        c.arg("--root").arg(&self.root).args(args);
        common::oci::run(&mut c, 60)
    }

    /// `run` to the end: (exit code, stdout, stderr).
    fn run(&self, id: &str) -> (i32, String, String) {
        let o = self.oci(&["run", "--bundle", self.path().to_str().unwrap(), id]);
        (
            o.status.code().unwrap_or(-1),
            common::stdout(&o),
            common::stderr(&o),
        )
    }

    fn state(&self, id: &str) -> Value {
        let o = self.oci(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", common::stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Bundle {
    /// A failed assertion must not leave containers running.
    fn drop(&mut self) {
        let o = self.oci(&["list", "-q"]);
        for id in common::stdout(&o).lines() {
            let _ = self.oci(&["delete", "--force", id]);
        }
    }
}

/// No hierarchy (v1 ones, the v2 tree) holds group `path` any more.
fn assert_no_group(path: &str) {
    for h in ["memory", "pids", "cpu", "freezer", "devices", "unified", ""] {
        let d = Path::new("/sys/fs/cgroup").join(h).join(path);
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

fn sh(c: &mut Value, script: &str) {
    c["process"]["args"] = json!(["sh", "-c", script]);
}

#[test]
fn run_passes_output_and_exit_code_and_leaves_nothing() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| sh(c, "echo hello from $(hostname); exit 3"));
    let (code, out, err) = b.run("r1");
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "hello from kleene\n");
    assert!(!b.root.join("r1").exists(), "run removes its state");
    let o = b.oci(&["state", "r1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("container \"r1\" does not exist"));
}

#[test]
fn create_start_state_kill_delete() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| c["process"]["args"] = json!(["sleep", "60"]));
    let bundle = b.path().to_str().unwrap();
    let pidfile = b.path().join("pid");
    let o = b.oci(&[
        "create",
        "--bundle",
        bundle,
        "--pid-file",
        pidfile.to_str().unwrap(),
        "c1",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let st = b.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], bundle);
    let pid: i64 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert_eq!(st["pid"], pid);
    // Created: the process exists but its command has not run.
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!cmdline.starts_with("sleep"), "{cmdline:?}");

    let o = b.oci(&["create", "--bundle", bundle, "c1"]);
    assert!(common::stderr(&o).contains("container with id exists: c1"));

    assert!(b.oci(&["start", "c1"]).status.success());
    assert_eq!(b.state("c1")["status"], "running");
    let o = b.oci(&["start", "c1"]);
    assert!(common::stderr(&o).contains("cannot start an already running container"));
    let o = b.oci(&["delete", "c1"]);
    assert!(common::stderr(&o).contains("cannot delete container c1 that is not stopped: running"));

    let list = b.oci(&["list", "--format", "json"]);
    let l: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(l[0]["id"], "c1");

    assert!(b.oci(&["kill", "c1", "KILL"]).status.success());
    let t = std::time::Instant::now();
    while b.state("c1")["status"] != "stopped" {
        assert!(t.elapsed().as_secs() < 10, "not stopped after SIGKILL");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = b.oci(&["kill", "c1"]);
    assert!(common::stderr(&o).contains("container not running"));
    let o = b.oci(&["delete", "c1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(!b.root.join("c1").exists());
    let o = b.oci(&["delete", "c1"]);
    assert!(common::stderr(&o).contains("does not exist"));
}

#[test]
fn delete_force_kills_a_running_container_and_its_group() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(c, "sleep 60 & sleep 60");
        c["linux"]["cgroupsPath"] = json!("/kleene-oci-test/force1");
    });
    let bundle = b.path().to_str().unwrap();
    assert!(b
        .oci(&["run", "-d", "--bundle", bundle, "f1"])
        .status
        .success());
    assert_eq!(b.state("f1")["status"], "running");
    let o = b.oci(&["delete", "--force", "f1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(!b.root.join("f1").exists());
    assert_no_group("kleene-oci-test/force1");
}

#[test]
fn process_identity_environment_and_working_directory() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "id; echo \"$FOO|$HOME|$(env | grep -c HOSTNAME)\"; pwd; umask",
        );
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [50], "umask": 63});
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "FOO=bar"]);
        c["process"]["cwd"] = json!("/tmp");
    });
    let (code, out, err) = b.run("u1");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "uid=1000(user) gid=1000(user) groups=50(staff)");
    // Exactly the given environment, plus HOME from /etc/passwd.
    assert_eq!(lines[1], "bar|/home/user|0");
    assert_eq!(lines[2], "/tmp");
    assert_eq!(lines[3], "0077");
}

#[test]
fn capability_sets_are_exact() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(c, "grep ^Cap /proc/self/status");
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": [],
            "ambient": []
        });
    });
    let (code, out, err) = b.run("cap1");
    assert_eq!(code, 0, "{err}");
    // CHOWN 0, KILL 5, NET_RAW 13.
    assert!(out.contains("CapBnd:\t0000000000002021"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000021"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000021"), "{out}");
    assert!(out.contains("CapInh:\t0000000000000000"), "{out}");

    // A non-root user keeps what it is given, ambient included.
    let b = Bundle::new(|c| {
        sh(c, "grep ^Cap /proc/self/status");
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        });
    });
    let (code, out, err) = b.run("cap2");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CapEff:\t0000000000000400"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000000400"), "{out}");
}

#[test]
fn rlimits_oom_score_and_no_new_privileges() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "ulimit -n; cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status",
        );
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 123}]);
        c["process"]["oomScoreAdj"] = json!(500);
        c["process"]["noNewPrivileges"] = json!(true);
    });
    let (code, out, err) = b.run("rl1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "123\n500\nNoNewPrivs:\t1\n");
}

#[test]
fn mounts_masked_and_read_only_paths_and_read_only_root() {
    if !common::can_run() {
        return;
    }
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "from host\n").unwrap();
    let src = host.path().to_str().unwrap().to_string();
    let b = Bundle::new(|c| {
        sh(
            c,
            "cat /ro/f; { touch /ro/x; } 2>/dev/null && echo ro-writable; \
             touch /rw/y && echo rw-ok; \
             echo t > /scratch/t && cat /scratch/t; \
             { touch /z; } 2>/dev/null && echo root-writable; \
             wc -c < /proc/timer_list; \
             { echo x > /proc/sys/kernel/domainname; } 2>/dev/null && echo sys-writable; \
             hostname; cat /proc/sys/kernel/domainname",
        );
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/ro", "type": "bind", "source": src, "options": ["rbind", "ro"]}));
        mounts.push(
            json!({"destination": "/rw", "type": "bind", "source": src, "options": ["bind"]}),
        );
        mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
        c["root"]["readonly"] = json!(true);
        c["hostname"] = json!("box");
        c["domainname"] = json!("example.org");
    });
    let (code, out, err) = b.run("m1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "from host\nrw-ok\nt\n0\nbox\nexample.org\n");
    assert!(host.path().join("y").exists());
}

#[test]
fn seccomp_section_is_enforced() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(c, "mkdir /tmp/d || echo refused");
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let (code, out, err) = b.run("sc1");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("refused"), "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn namespaces_joined_by_path_and_cgroup_resources() {
    if !common::can_run() {
        return;
    }
    let a = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["linux"]["cgroupsPath"] = json!("/kleene-oci-test/res1");
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "pids": {"limit": 42},
            "cpu": {"shares": 512},
        });
    });
    let o = a.oci(&["run", "-d", "--bundle", a.path().to_str().unwrap(), "ns-a"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let pid = a.state("ns-a")["pid"].as_i64().unwrap();
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    // Shares and a reservation, beyond kleene's own limits.
    let shares = std::fs::read_to_string("/sys/fs/cgroup/cpu/kleene-oci-test/res1/cpu.shares")
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/kleene-oci-test/res1/cpu.weight"));
    assert!(matches!(shares.unwrap().trim(), "512" | "20"));
    let v1 = Path::new("/sys/fs/cgroup/memory/kleene-oci-test/res1/memory.limit_in_bytes");
    let v2 = Path::new("/sys/fs/cgroup/kleene-oci-test/res1/memory.max");
    let mem = std::fs::read_to_string(v1).or_else(|_| std::fs::read_to_string(v2));
    assert_eq!(mem.unwrap().trim(), "67108864");

    let b = Bundle::new(|c| {
        sh(c, "readlink /proc/self/ns/net");
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(format!("/proc/{pid}/ns/net"));
            }
        }
    });
    let (code, out, err) = b.run("ns-b");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), net.to_str().unwrap());
    assert!(a.oci(&["delete", "-f", "ns-a"]).status.success());
}

#[test]
fn bad_bundles_get_clear_errors_and_leave_nothing() {
    if !common::can_run() {
        return;
    }
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "e1",
            Box::new(|c| c["process"]["args"] = json!([])),
            "process.args must not be empty",
        ),
        (
            "e2",
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}))
            }),
            "user namespaces enabled, but no namespace path to join nor uidMappings",
        ),
        (
            "e3",
            Box::new(|c| c["process"]["terminal"] = json!(true)),
            "--console-socket is required",
        ),
        (
            "e4",
            Box::new(|c| c["process"]["args"] = json!(["/no/such"])),
            "/no/such",
        ),
        (
            "e5",
            Box::new(|c| c["root"]["path"] = json!("missing")),
            "rootfs",
        ),
        (
            "e6",
            Box::new(|c| c["linux"]["cgroupsPath"] = json!("system.slice:kleene:e6")),
            "systemd slice",
        ),
        (
            "e7",
            Box::new(|c| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")),
            "selinux label is specified in config, but selinux is disabled",
        ),
        (
            "e8",
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "uts")
            }),
            "unable to set hostname without a private UTS namespace",
        ),
    ];
    let mut cases = cases;
    cases.push((
        "e10",
        Box::new(|c| c["linux"]["resources"]["blockIO"] = json!({"weight": 300})),
        "linux.resources.blockIO is not supported by kleene-oci",
    ));
    cases.push((
        "e11",
        Box::new(|c| c["process"]["execCPUAffinity"] = json!({"initial": "0"})),
        "process.execCPUAffinity is not supported",
    ));
    cases.push((
        "e12",
        Box::new(|c| {
            c["mounts"].as_array_mut().unwrap()[0]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        }),
        "mounts[0]: id-mapped mounts are not supported",
    ));
    // Sysctls only where the container has its own copy (never the
    // host's: vm.*, or net.* without a network namespace).
    cases.push((
        "e13",
        Box::new(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "10"})),
        "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
    ));
    cases.push((
        "e14",
        Box::new(|c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.tcp_keepalive_probes": "8"});
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
        }),
        "not allowed in host network namespace",
    ));
    cases.push((
        "e15",
        Box::new(|c| {
            c["process"]["capabilities"]["effective"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }),
        "CAP_SYS_ADMIN effective but not permitted",
    ));
    cases.push((
        "e16",
        Box::new(|c| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 10}])
        }),
        "RLIMIT_NOFILE soft limit 100 is above its hard limit 10",
    ));
    cases.push((
        "e17",
        Box::new(|c| {
            c["process"]["capabilities"]["bounding"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_FOO"));
        }),
        "process.capabilities.bounding[",
    ));
    cases.push((
        "e18",
        Box::new(|c| c["process"]["user"]["uid"] = json!("0")),
        "process.user.uid: invalid type: string \"0\", expected u32 at line",
    ));
    cases.push((
        "e19",
        Box::new(|c| c["root"]["path"] = json!("missing")),
        "root.path: rootfs",
    ));
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if !apparmor {
        cases.push((
            "e9",
            Box::new(|c| c["process"]["apparmorProfile"] = json!("docker-default")),
            "AppArmor is not enabled on this host",
        ));
    }
    for (id, edit, want) in cases {
        let b = Bundle::new(|c| edit(c));
        let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        assert_eq!(o.status.code(), Some(1), "{id} should fail");
        let err = common::stderr(&o);
        assert!(err.contains(want), "{id}: {err}");
        assert!(!b.root.join(id).exists(), "{id}: state left behind");
    }
    let b = Bundle::new(|_| {});
    let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), "../x"]);
    assert!(common::stderr(&o).contains("invalid container id '../x'"));
    let o = b.oci(&["create", "--bundle", "/nonexistent-bundle", "x"]);
    assert!(common::stderr(&o).contains("/nonexistent-bundle"));
    // An error goes to --log too, as JSON for containerd's shim.
    let log = b.path().join("log.json");
    let o = Command::new(OCI)
        .args([
            "--root",
            b.root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "container \"nope\" does not exist");
}

#[test]
fn terminal_master_goes_to_the_console_socket() {
    if !common::can_run() {
        return;
    }
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::os::fd::{AsRawFd, FromRawFd};
    let b = Bundle::new(|c| {
        sh(
            c,
            "tty; [ -c /dev/console ] && echo console; echo on-the-tty",
        );
        c["process"]["terminal"] = json!(true);
    });
    let sock = b.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let bundle = b.path().to_str().unwrap().to_string();
    let root = b.root.clone();
    let sock2 = sock.clone();
    let creator = std::thread::spawn(move || {
        Command::new(OCI)
            .args([
                "--root",
                root.to_str().unwrap(),
                "create",
                "--bundle",
                &bundle,
            ])
            .args(["--console-socket", sock2.to_str().unwrap(), "t1"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    });
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            master = fds.first().copied();
        }
    }
    assert!(creator.join().unwrap().success());
    // SAFETY: the fd we just received.
    let mut master = unsafe { std::fs::File::from_raw_fd(master.expect("a pty master")) };
    assert!(b.oci(&["start", "t1"]).status.success());
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut master, &mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("on-the-tty"), "{out}");
    assert!(out.contains("console"), "{out}");
    let _ = b.oci(&["delete", "-f", "t1"]);
}

/// A hook script that logs its kind and the status it was told.
fn hook_script(path: &Path, log: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\nstate=$(cat)\n[ \"$2\" = slow ] && sleep 0.3\necho \"$1 $(echo \"$state\" | grep -o '\"status\":\"[a-z]*\"') \
             $(echo \"$state\" | grep -c '\"pid\":[1-9]')\" >> {log}\n[ \"$2\" = fail ] && exit 1\n\
             [ \"$2\" = hang ] && sleep 30\nexit 0\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn hook(path: &Path, kind: &str, extra: &str) -> Value {
    json!({"path": path, "args": ["hook.sh", kind, extra], "env": ["PATH=/usr/bin:/bin"]})
}

#[test]
fn hooks_run_in_order_with_the_state_and_their_failures_count() {
    if !common::can_run() {
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("log");
    let host_hook = shared.path().join("hook.sh");
    hook_script(&host_hook, log.to_str().unwrap());
    let b = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/shared", "type": "bind", "source": shared.path(), "options": ["bind"]}));
        c["hooks"] = json!({
            "prestart": [hook(&host_hook, "prestart", "")],
            "createRuntime": [hook(&host_hook, "createRuntime", "")],
            "createContainer": [hook(&host_hook, "createContainer", "")],
            // Slow: poststart still comes after it (start waits for the exec).
            "startContainer": [hook(Path::new("/hook.sh"), "startContainer", "slow")],
            "poststart": [hook(&host_hook, "poststart", "")],
            "poststop": [hook(&host_hook, "poststop", "")],
        });
    });
    // The startContainer hook runs inside: its script is in the rootfs.
    hook_script(&b.path().join("rootfs/hook.sh"), "/shared/log");
    let bundle = b.path().to_str().unwrap();
    let o = b.oci(&["create", "--bundle", bundle, "h1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = b.oci(&["start", "h1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = b.oci(&["delete", "--force", "h1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let got = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        got,
        "prestart \"status\":\"creating\" 1\n\
         createRuntime \"status\":\"creating\" 1\n\
         createContainer \"status\":\"creating\" 1\n\
         startContainer \"status\":\"created\" 1\n\
         poststart \"status\":\"running\" 1\n\
         poststop \"status\":\"stopped\" 1\n"
    );

    // A failing or hanging createRuntime hook fails the create, and
    // nothing of the container is left.
    for (id, how, want) in [
        ("h2", "fail", "failed: exit status: 1"),
        ("h3", "hang", "timed out after 1s"),
    ] {
        let b = Bundle::new(|c| {
            let mut h = hook(&host_hook, "createRuntime", how);
            h["timeout"] = json!(1);
            c["hooks"] = json!({"createRuntime": [h]});
            c["linux"]["cgroupsPath"] = json!(format!("/kleene-oci-test/{id}"));
        });
        let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), id]);
        assert_eq!(o.status.code(), Some(1), "{id}");
        let err = common::stderr(&o);
        assert!(
            err.contains("createRuntime hook") && err.contains(want),
            "{id}: {err}"
        );
        assert!(!b.root.join(id).exists(), "{id}: state left");
        assert_no_group(&format!("kleene-oci-test/{id}"));
    }
}

#[test]
fn pause_resume_ps_and_update() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done",
        );
        c["linux"]["cgroupsPath"] = json!("/kleene-oci-test/pause1");
        c["root"]["readonly"] = json!(false);
    });
    let bundle = b.path().to_str().unwrap();
    let o = b.oci(&["run", "-d", "--bundle", bundle, "p1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let pid = b.state("p1")["pid"].as_i64().unwrap();
    let counter = format!("/proc/{pid}/root/tmp/n");
    let read = || std::fs::read_to_string(&counter).unwrap_or_default();

    let o = b.oci(&["ps", "--format", "json", "p1"]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?}");

    let o = b.oci(&["events", "--stats", "p1"]);
    let ev: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );

    // Under load the loop may not have written its first number yet.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while read().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = b.oci(&["pause", "p1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(b.state("p1")["status"], "paused");
    let before = read();
    assert!(!before.is_empty());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(read(), before, "a paused container still ran");
    let o = b.oci(&["pause", "p1"]);
    assert!(common::stderr(&o).contains("container not running"));

    assert!(b.oci(&["resume", "p1"]).status.success());
    assert_eq!(b.state("p1")["status"], "running");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_ne!(read(), before, "a resumed container did not run");
    let o = b.oci(&["resume", "p1"]);
    assert!(common::stderr(&o).contains("container not paused"));

    let o = b.oci(&["update", "--memory", "33554432", "--pids-limit", "17", "p1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v1 = Path::new("/sys/fs/cgroup/pids/kleene-oci-test/pause1/pids.max");
    let v2 = Path::new("/sys/fs/cgroup/kleene-oci-test/pause1/pids.max");
    let pids = std::fs::read_to_string(v1).or_else(|_| std::fs::read_to_string(v2));
    assert_eq!(pids.unwrap().trim(), "17");

    // A paused container can be deleted by force; nothing is left.
    assert!(b.oci(&["pause", "p1"]).status.success());
    let o = b.oci(&["delete", "--force", "p1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_no_group("kleene-oci-test/pause1");
}

#[test]
fn only_preserved_descriptors_reach_the_process() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| sh(c, "ls /proc/self/fd | sort -n | tr '\\n' ' '"));
    let run = |extra: &str, id: &str| {
        let o = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "exec 3</ 7</; exec {OCI} --root {} run {extra} --bundle {} {id}",
                    b.root.display(),
                    b.path().display()
                ),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        common::stdout(&o)
    };
    // ls's own directory is the next free descriptor.
    assert_eq!(run("", "fd1"), "0 1 2 3 ");
    assert_eq!(run("--preserve-fds 1", "fd2"), "0 1 2 3 4 ");
}

/// CAP_MKNOD in the process's bounding, effective and permitted sets.
fn with_mknod(c: &mut Value) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
}

/// A character device node at `path` (one an image could ship).
fn mknod(path: &Path, major: u32, minor: u32) {
    let ok = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod {}", path.display());
}

#[test]
fn without_a_device_list_devices_are_denied_by_default() {
    if !common::can_run() {
        return;
    }
    // kleene-oci's own `spec` and configs with no list: runc's default
    // (deny, then the standard devices) applies all the same.
    for (id, devices) in [("dd1", json!([])), ("dd2", Value::Null)] {
        let b = Bundle::new(|c| {
            sh(
                c,
                "{ head -c 1 /evil >/dev/null; } 2>/dev/null && echo image-device-open; \
                 head -c 3 /dev/zero | wc -c",
            );
            c["linux"]["resources"]["devices"] = devices.clone();
        });
        mknod(&b.path().join("rootfs/evil"), 7, 0);
        let (code, out, err) = b.run(id);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "3\n", "{id}");
    }
}

#[test]
fn the_device_allow_list_is_enforced() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "{ mknod /tmp/vcs c 7 0 && head -c 1 /tmp/vcs >/dev/null; } 2>/dev/null && echo host-device-open; \
             head -c 3 /dev/zero | wc -c",
        );
        c["root"]["readonly"] = json!(false);
        with_mknod(c);
        c["linux"]["resources"] = json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        ]});
    });
    let (code, out, err) = b.run("dev1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "3\n");
}

#[test]
fn one_id_one_container_and_created_ones_delete_without_force() {
    if !common::can_run() {
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    let slow = shared.path().join("hook.sh");
    hook_script(&slow, shared.path().join("log").to_str().unwrap());
    let b = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        let mut h = hook(&slow, "createRuntime", "hang");
        h["timeout"] = json!(2);
        c["hooks"] = json!({"createRuntime": [h]});
    });
    let bundle = b.path().to_str().unwrap().to_string();
    let root = b.root.clone();
    // A first create waits in its hook; a second of the same ID meanwhile
    // is refused, not run beside it.
    let first = std::thread::spawn(move || {
        Command::new(OCI)
            .args([
                "--root",
                root.to_str().unwrap(),
                "create",
                "--bundle",
                &bundle,
                "same",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), "same"]);
    assert!(
        common::stderr(&o).contains("container with id exists: same"),
        "{}",
        common::stderr(&o)
    );
    assert!(!first.join().unwrap().success(), "the hook times out");
    assert!(!b.root.join("same").exists());

    // A created container goes with a plain delete, as with runc.
    let b = Bundle::new(|c| c["process"]["args"] = json!(["sleep", "60"]));
    let bundle = b.path().to_str().unwrap();
    assert!(b
        .oci(&["create", "--bundle", bundle, "c2"])
        .status
        .success());
    let pid = b.state("c2")["pid"].as_i64().unwrap();
    let o = b.oci(&["delete", "c2"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Dead: gone, or a zombie its new parent has yet to reap.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
}

#[test]
fn a_killed_create_is_cleared_by_the_next_command() {
    if !common::can_run() {
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    let slow = shared.path().join("hook.sh");
    hook_script(&slow, shared.path().join("log").to_str().unwrap());
    let b = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["hooks"] = json!({"createRuntime": [hook(&slow, "createRuntime", "hang")]});
        c["linux"]["cgroupsPath"] = json!("/kleene-oci-test/killed1");
        // A devices group too (v1), made before the hook runs.
        c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    let mut child = Command::new(OCI)
        .args(["--root", b.root.to_str().unwrap(), "create", "--bundle"])
        .arg(b.path())
        .arg("k1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(b.root.join("k1").is_dir(), "the create was under way");
    let o = b.oci(&["delete", "k1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(!b.root.join("k1").exists());
    assert_no_group("kleene-oci-test/killed1");
}

#[test]
fn update_raises_and_lowers_memory_and_messages_name_the_problem() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    });
    let bundle = b.path().to_str().unwrap();
    assert!(b
        .oci(&["run", "-d", "--bundle", bundle, "up1"])
        .status
        .success());
    for m in ["134217728", "33554432", "268435456"] {
        let o = b.oci(&["update", "--memory", m, "up1"]);
        assert!(o.status.success(), "{m}: {}", common::stderr(&o));
    }
    let o = b.oci(&["exec", "up1", "true"]);
    assert!(o.status.success());
    let o = b.oci(&["pause", "up1"]);
    assert!(o.status.success());
    let o = b.oci(&["exec", "up1", "true"]);
    assert!(common::stderr(&o).contains("cannot exec in a paused container"));

    // Bad JSON: where, not just that.
    std::fs::write(b.config(), "{\"ociVersion\": \"1.0.2\",\n \"process\": [}").unwrap();
    let o = b.oci(&["create", "--bundle", bundle, "bad"]);
    assert!(
        common::stderr(&o).contains("line 2 column"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn a_missing_working_directory_is_made_and_signal_zero_probes() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(c, "pwd");
        c["process"]["cwd"] = json!("/made/here");
        c["root"]["readonly"] = json!(false);
    });
    let (code, out, err) = b.run("cwd1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "/made/here\n");

    let b = Bundle::new(|c| c["process"]["args"] = json!(["sleep", "60"]));
    assert!(b
        .oci(&["run", "-d", "--bundle", b.path().to_str().unwrap(), "z1"])
        .status
        .success());
    assert!(b.oci(&["kill", "z1", "0"]).status.success());
    assert_eq!(b.state("z1")["status"], "running");
}

#[test]
fn a_user_namespace_maps_root_to_an_unprivileged_host_user() {
    if !common::can_run() {
        return;
    }
    if !Path::new("/proc/self/ns/user").exists() {
        eprintln!("skipping: the kernel has no user namespaces");
        return;
    }
    // The container's root is host uid 200000: the bundle and the state
    // must be reachable for it (containerd keeps its directories 0711).
    let userns = |c: &mut Value| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    };
    let dir = |mode: u32| {
        let d = tempfile::Builder::new()
            .prefix("kleene-userns-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        d
    };
    // Out of its reach: a clear error that says what to do.
    let hidden = dir(0o700);
    let b = Bundle::new_in(hidden.path(), |c| {
        sh(c, "true");
        userns(c);
    });
    let o = b.oci(&["run", "--bundle", b.path().to_str().unwrap(), "u0"]);
    assert!(
        common::stderr(&o).contains("host uid 200000, which must be able to reach the bundle"),
        "{}",
        common::stderr(&o)
    );
    drop(b);

    let base = dir(0o711);
    let b = Bundle::new_in(base.path(), |c| {
        sh(
            c,
            "id; cat /proc/self/uid_map; touch /made-inside; sleep 60",
        );
        userns(c);
    });
    let rootfs = b.path().join("rootfs");
    let o = Command::new("chown")
        .args(["-R", "200000:200000"])
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(o.success());
    let bundle = b.path().to_str().unwrap();
    let out = b.path().join("out");
    let o = Command::new("sh")
        .args([
            "-c",
            &format!(
                "exec {OCI} --root {} run -d --bundle {bundle} u1 > {}",
                b.root.display(),
                out.display()
            ),
        ])
        .status()
        .unwrap();
    assert!(o.success());
    let pid = b.state("u1")["pid"].as_i64().unwrap();
    // Root inside, user 200000 outside.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t200000")),
        "{status}"
    );
    let o = b.oci(&["exec", "u1", "id", "-u"]);
    assert_eq!(common::stdout(&o), "0\n", "{}", common::stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let md = std::fs::metadata(rootfs.join("made-inside")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&md), 200000);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("uid=0(root) gid=0(root)"), "{text}");
    assert!(b.oci(&["delete", "--force", "u1"]).status.success());

    // Maps without a namespace, a namespace without maps: refused.
    for (edit, want) in [
        (
            json!({"ns": false}),
            "user namespace mappings specified, but no user namespace",
        ),
        (
            json!({"ns": true, "maps": false}),
            "no namespace path to join nor uidMappings",
        ),
    ] {
        let b = Bundle::new(|c| {
            if edit["ns"] == true {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
            }
            if edit.get("maps").is_none() {
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 200000, "size": 1}]);
            }
        });
        let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), "bad"]);
        assert!(common::stderr(&o).contains(want), "{}", common::stderr(&o));
    }
}

#[test]
fn a_foreground_run_passes_its_signals_on() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "trap 'echo got TERM; exit 7' TERM; while true; do sleep 0.1; done",
        )
    });
    let out = b.path().join("out");
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!(
                "exec {OCI} --root {} run --bundle {} sig1 > {}",
                b.root.display(),
                b.path().display(),
                out.display()
            ),
        ])
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.oci(&["state", "sig1"]).stdout.is_empty() || b.state("sig1")["status"] != "running" {
        assert!(std::time::Instant::now() < until, "never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: plain kill of our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "got TERM\n");
    assert!(
        !b.root.join("sig1").exists(),
        "run cleans up after the signal"
    );
}

#[test]
fn without_a_devices_cgroup_device_nodes_of_the_rootfs_are_inert() {
    if !common::can_run() {
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "{ head -c 1 /evil >/dev/null; } 2>/dev/null && echo rootfs-device-open; \
             head -c 3 /dev/zero | wc -c; grep CapBnd /proc/self/status",
        );
        with_mknod(c);
        c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    // A device node shipped in the image (here: the host's memory device's
    // harmless cousin, zero).
    let evil = b.path().join("rootfs/evil");
    mknod(&evil, 1, 5);
    let o = Command::new(OCI)
        .args(["--root", b.root.to_str().unwrap(), "run", "--bundle"])
        .arg(b.path())
        .arg("nodev1")
        .env("KLEENE_NO_DEVICES_CGROUP", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    let out = common::stdout(&o);
    assert!(!out.contains("rootfs-device-open"), "{out}");
    assert!(out.contains("3\n"), "{out}");
    // CAP_MKNOD (27) is gone from the bounding set.
    let bnd = out.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    let bits = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(bits & (1 << 27), 0, "{bnd}");
}

#[test]
fn a_time_namespace_shifts_boottime_for_the_process_and_its_execs() {
    if !common::can_run() {
        return;
    }
    if !Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipping: this kernel has no time namespaces");
        return;
    }
    let b = Bundle::new(|c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] =
            json!({"boottime": {"secs": 1_000_000_000, "nanosecs": 0}, "monotonic": {"secs": 5}});
    });
    let bundle = b.path().to_str().unwrap();
    let o = b.oci(&["create", "--bundle", bundle, "tn1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = b.oci(&["start", "tn1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let o = b.oci(&["exec", "tn1", "cat", "/proc/uptime"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let up: f64 = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        up - host_up > 999_999_000.0,
        "uptime in the namespace {up}, on the host {host_up}"
    );
    let o = b.oci(&["delete", "--force", "tn1"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Offsets need a new time namespace, and only two clocks shift.
    for (edit, says) in [
        (json!({"type": "ipc"}), "need a new time namespace"),
        (json!({"type": "time"}), "'realtime' is not a clock"),
    ] {
        let b = Bundle::new(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "ipc");
            ns.push(edit.clone());
            let clock = if says.contains("realtime") {
                "realtime"
            } else {
                "boottime"
            };
            c["linux"]["timeOffsets"] = json!({clock: {"secs": 1}});
        });
        let o = b.oci(&["create", "--bundle", b.path().to_str().unwrap(), "tn2"]);
        assert!(!o.status.success());
        assert!(common::stderr(&o).contains(says), "{}", common::stderr(&o));
    }
}

#[test]
fn on_a_cgroup_v2_host_the_device_allow_list_is_an_ebpf_program() {
    if !common::can_run() {
        return;
    }
    // A v2-only host, in a private mount namespace: cgroup2 over
    // /sys/fs/cgroup (on this hybrid kernel it has no controllers, which
    // device programs do not need).
    let probe = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t cgroup2 none /sys/fs/cgroup")
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipping: cannot mount cgroup2 in a private mount namespace");
        return;
    }
    let b = Bundle::new(|c| {
        sh(
            c,
            "{ head -c 1 /evil >/dev/null; } 2>/dev/null && echo rootfs-device-open; \
             { mknod /tmp/vcs c 7 0 && head -c 1 /tmp/vcs >/dev/null; } 2>/dev/null && echo made-device-open; \
             head -c 3 /dev/zero | wc -c; head -c 2 /dev/full | wc -c; grep CapBnd /proc/self/status",
        );
        c["root"]["readonly"] = json!(false);
        with_mknod(c);
        c["linux"]["resources"] = json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "r"},
        ]});
    });
    let evil = b.path().join("rootfs/evil");
    mknod(&evil, 1, 1);
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"")
        .arg("sh")
        .arg(OCI)
        .args(["--root", b.root.to_str().unwrap(), "run", "--bundle"])
        .arg(b.path())
        .arg("bpf1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    let out = common::stdout(&o);
    // The node in the image and one made inside are refused; the
    // standard devices work; CAP_MKNOD stays (the program enforces).
    assert!(!out.contains("device-open"), "{out}");
    assert!(out.contains("3\n2\n"), "{out}");
    let bnd = out.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    let bits = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(bits & (1 << 27), 0, "CAP_MKNOD kept: {bnd}");
}
