//! A container is confined by default, proven from inside real containers
//! (tests/probes/confine.py calls the kernel directly): capability sets,
//! seccomp, masked and read-only kernel paths, the "shocker" escape,
//! mounts, namespaces, raw sockets; and each knob that weakens or
//! tightens it.

mod common;

use common::probe::{self, mask};
use common::{can_run, stderr};

const DEFAULT_CAPS: u64 = 0xa004_05fb;
const NET_RAW: u64 = 1 << 13;
const SYS_ADMIN: u64 = 1 << 21;

#[test]
fn a_default_container_holds_twelve_capabilities_and_a_seccomp_filter() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &[], &["status"]);
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(mask(&v, set), DEFAULT_CAPS, "{set}: {v:?}");
    }
    assert_eq!(mask(&v, "CapEff").count_ones(), 12);
    assert_eq!(mask(&v, "CapInh"), 0);
    assert_eq!(mask(&v, "CapAmb"), 0);
    assert_eq!(v["Seccomp"], "2", "seccomp filter mode");
    assert_eq!(
        v["NoNewPrivs"], "0",
        "setuid programs still work by default"
    );

    // A non-root user holds nothing in effect; the bounding set stays.
    let v = probe::run(r, &["-u", "65534"], &["status"]);
    assert_eq!(mask(&v, "CapEff"), 0);
    assert_eq!(mask(&v, "CapPrm"), 0);
    assert_eq!(mask(&v, "CapBnd"), DEFAULT_CAPS);

    // The container's own view agrees with inspect.
    let c = r.ok(&["create", "bb", "true"]);
    let inspect = r.json(&["container", "inspect", c.trim()]);
    let caps = inspect["confinement"]["capabilities"].as_array().unwrap();
    assert_eq!(caps.len(), 12);
    assert!(!caps.iter().any(|c| c == "CAP_NET_RAW" || c == "CAP_MKNOD"));
    assert_eq!(inspect["confinement"]["seccomp"], "default");
    r.ok(&["rm", c.trim()]);
}

#[test]
fn dangerous_system_calls_are_refused() {
    if !can_run() {
        return;
    }
    let v = probe::run(probe::shared(), &[], &["syscalls"]);
    for call in [
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "unshare_user",
        "unshare_net",
        "mount",
        "mknod",
        "sethostname",
        "raw_socket",
    ] {
        assert_eq!(v[call], "EPERM", "{call}: {v:?}");
    }
    // clone3 says "not here", so glibc falls back to clone.
    assert_eq!(v["clone3"], "ENOSYS");
    // ping works without raw sockets (ICMP datagram sockets).
    assert_eq!(v["ping_socket"], "ok");
}

#[test]
fn kernel_paths_are_masked_or_read_only() {
    if !can_run() {
        return;
    }
    let v = probe::run(probe::shared(), &[], &["paths"]);
    for masked in ["/proc/keys", "/proc/timer_list", "/proc/kallsyms"] {
        assert_eq!(v[masked], "0", "{masked} readable: {v:?}");
    }
    for dir in ["/proc/acpi", "/sys/firmware"] {
        if let Some(n) = v.get(dir) {
            assert_eq!(n, "0", "{dir} not empty");
        }
    }
    assert_eq!(v["/proc/sys/kernel/hostname"], "EROFS");
    assert_eq!(v["/proc/sys/vm/drop_caches"], "EROFS");
    assert_ne!(v["/proc/sysrq-trigger"], "written");

    // Unmasked on request (Docker's systempaths=unconfined), still without
    // the capability to write sysctls.
    let v = probe::run(
        probe::shared(),
        &["--security-opt", "systempaths=unconfined"],
        &["paths"],
    );
    assert_ne!(v["/proc/keys"], "0");
}

#[test]
fn the_shocker_escape_fails_on_a_volume() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    r.ok(&["volume", "create", "shocker"]);
    let v = probe::run(r, &["-m", "shocker:/vol"], &["shocker:/vol"]);
    assert_eq!(v["open_by_handle_at"], "EPERM", "{v:?}");
    assert!(!v.contains_key("host_root"));
    // The probe is real: with the capability Docker also withholds, it
    // lists the root directory of the host's filesystem.
    let v = probe::run(
        r,
        &["-m", "shocker:/vol", "--cap-add", "DAC_READ_SEARCH"],
        &["shocker:/vol"],
    );
    assert_eq!(v["open_by_handle_at"], "ok", "{v:?}");
    r.ok(&["volume", "rm", "shocker"]);
}

#[test]
fn jail_parameters_grant_raw_sockets_and_mounting() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &["-J", "allow.raw_sockets"], &["status", "syscalls"]);
    assert_eq!(mask(&v, "CapEff"), DEFAULT_CAPS | NET_RAW);
    assert_eq!(v["raw_socket"], "ok");
    assert_eq!(v["mount"], "EPERM");
    let v = probe::run(r, &["-J", "allow.raw_sockets=1"], &["syscalls"]);
    assert_eq!(v["raw_socket"], "ok");

    let v = probe::run(r, &["-J", "allow.mount"], &["status", "syscalls"]);
    assert_eq!(mask(&v, "CapEff"), DEFAULT_CAPS | SYS_ADMIN);
    assert_eq!(v["mount"], "ok");
    assert_eq!(v["raw_socket"], "EPERM");

    // A root without privileges (jail's allow.suser=0).
    let v = probe::run(r, &["-J", "allow.suser=0"], &["status"]);
    assert_eq!(mask(&v, "CapBnd"), 0);

    // FreeBSD-only parameters are kept and reported.
    let c = r.ok(&[
        "create",
        "-J",
        "allow.sysvipc",
        "-J",
        "securelevel=3",
        "bb",
        "true",
    ]);
    let i = r.json(&["container", "inspect", c.trim()]);
    assert_eq!(
        i["confinement"]["freebsd_only"],
        serde_json::json!(["allow.sysvipc", "securelevel=3"])
    );
    assert_eq!(i["jail_param"][1], "securelevel=3");
    r.ok(&["rm", c.trim()]);
}

#[test]
fn capabilities_can_be_dropped_and_added() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &["--cap-drop", "ALL"], &["status"]);
    assert_eq!(mask(&v, "CapBnd"), 0);
    assert_eq!(mask(&v, "CapEff"), 0);

    let v = probe::run(
        r,
        &[
            "--cap-drop",
            "all",
            "--cap-add",
            "net_raw",
            "--cap-add",
            "CAP_CHOWN",
        ],
        &["status", "syscalls"],
    );
    assert_eq!(mask(&v, "CapEff"), NET_RAW | 1);
    assert_eq!(v["raw_socket"], "ok");

    // SYS_ADMIN also opens the calls the filter reserves for it.
    let v = probe::run(r, &["--cap-add", "SYS_ADMIN"], &["syscalls"]);
    assert_eq!(v["mount"], "ok");
    assert_eq!(v["unshare_net"], "ok");
    assert_eq!(v["keyctl"], "EPERM", "no capability opens the keyring");
}

#[test]
fn privileged_gives_everything_up() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let v = probe::run(r, &["--privileged"], &["status", "syscalls", "paths"]);
    let ours = u64::from_str_radix(
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .unwrap()
            .trim(),
        16,
    )
    .unwrap();
    assert_eq!(mask(&v, "CapEff"), ours, "every capability we hold");
    assert_eq!(v["Seccomp"], "0");
    assert_eq!(v["mount"], "ok");
    assert_ne!(v["keyctl"], "EPERM", "keyctl reaches the kernel");
    assert_ne!(
        v["/proc/sys/vm/drop_caches"], "EROFS",
        "/proc/sys is writable"
    );
    // The host's devices.
    let out = r.ok(&["run", "--rm", "--privileged", "bb", "ls", "/dev"]);
    let host: Vec<String> = std::fs::read_dir("/dev")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("loop") || n == "kvm" || n == "fuse")
        .collect();
    for d in host {
        assert!(out.lines().any(|l| l == d), "/dev/{d} missing: {out}");
    }
}

#[test]
fn read_only_root_and_recursive_read_only_mounts() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    r.ok(&["volume", "create", "rw"]);
    let out = r.run(&[
        "run",
        "--rm",
        "--read-only",
        "-m",
        "rw:/data",
        "bb",
        "sh",
        "-c",
        "touch /x; echo root=$?; touch /dev/shm/y; echo shm=$?; touch /data/z; echo vol=$?",
    ]);
    let s = common::stdout(&out);
    assert!(
        s.contains("root=1") && s.contains("shm=0") && s.contains("vol=0"),
        "{s}"
    );
    r.ok(&["volume", "rm", "rw"]);

    // A mount below a :ro source stays read-only in the container (a plain
    // remount left it writable and reaching the host).
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "none", sub.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let m = format!("{}:/ro:ro", dir.path().display());
    let out = r.run(&[
        "run",
        "--rm",
        "-m",
        &m,
        "bb",
        "sh",
        "-c",
        "touch /ro/a; echo top=$?; touch /ro/sub/b; echo sub=$?",
    ]);
    let _ = std::process::Command::new("umount").arg(&sub).status();
    let s = common::stdout(&out);
    assert!(s.contains("top=1") && s.contains("sub=1"), "{s}");
    assert!(!sub.join("b").exists(), "written to the host through :ro");
}

#[test]
fn no_new_privileges_stops_setuid() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    // A setuid-root copy of id(1), made inside the container's own layer.
    let script = "cp /usr/bin/id /tmp/sid && chmod 4755 /tmp/sid && \
                  su -s /bin/sh nobody -c '/tmp/sid -u'";
    let plain = r.ok(&["run", "--rm", "host", "sh", "-c", script]);
    assert_eq!(plain.trim(), "0", "setuid works by default");
    let nnp = r.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "host",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(nnp.trim(), "65534", "setuid ignored with no-new-privileges");
    let v = probe::run(
        r,
        &["--security-opt", "no-new-privileges=true"],
        &["status"],
    );
    assert_eq!(v["NoNewPrivs"], "1");
}

#[test]
fn seccomp_profiles_in_dockers_format() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no-mkdir.json");
    std::fs::write(
        &p,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", p.display());
    let out = r.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "bb",
        "mkdir",
        "/tmp/d",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    // The profile is stored with the container: the file may go.
    let c = r.ok(&["create", "--security-opt", &opt, "bb", "mkdir", "/tmp/d"]);
    std::fs::remove_file(&p).unwrap();
    let out = r.run(&["start", c.trim()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    r.ok(&["rm", c.trim()]);

    let v = probe::run(
        r,
        &["--security-opt", "seccomp=unconfined"],
        &["status", "syscalls"],
    );
    assert_eq!(v["Seccomp"], "0");
    assert_ne!(v["clone3"], "ENOSYS", "clone3 reaches the kernel");
}

#[test]
fn exec_shares_the_containers_confinement() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let m = probe::mount();
    let c = r.ok(&[
        "run",
        "-d",
        "-m",
        &m,
        "--cap-drop",
        "CHOWN",
        "host",
        "sleep",
        "100",
    ]);
    let c = c.trim();
    let v = probe::parse(&r.ok(&[
        "exec",
        c,
        "python3",
        "/probes/confine.py",
        "status",
        "syscalls",
    ]));
    assert_eq!(mask(&v, "CapEff"), DEFAULT_CAPS & !1);
    assert_eq!(v["Seccomp"], "2");
    assert_eq!(v["keyctl"], "EPERM");
    // ... and its cgroup.
    let pid = r.status(c)["pid"].as_i64().unwrap();
    let init_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let exec_cg = r.ok(&["exec", c, "cat", "/proc/self/cgroup"]);
    assert_eq!(init_cg, exec_cg);
    r.ok(&["rm", "-f", c]);
}

#[test]
fn fly_mode_is_unconfined_by_design() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    let out = r.ok(&[
        "run",
        "--rm",
        "--fly",
        "bb",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(out.contains('0'), "{out}");
    // What is taken away explicitly is taken away.
    let out = r.ok(&[
        "run",
        "--rm",
        "--fly",
        "--cap-drop",
        "ALL",
        "bb",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(out.contains("0000000000000000"), "{out}");
    let help = common::stdout(&r.run(&["run", "--help"]));
    assert!(help.contains("unconfined by design"), "{help}");
}

#[test]
fn bad_confinement_options_are_clear_errors_and_leave_nothing() {
    if !can_run() {
        return;
    }
    let r = common::Root::new();
    r.busybox_image("bb");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [}",
    )
    .unwrap();
    let bad_opt = format!("seccomp={}", bad.display());
    for (args, want) in [
        (
            vec!["--cap-add", "CAP_WIZARDRY"],
            "invalid capability 'CAP_WIZARDRY': unknown capability",
        ),
        (
            vec!["--cap-add", "KILL", "--cap-drop", "KILL"],
            "it is both added (--cap-add) and dropped (--cap-drop)",
        ),
        (vec!["--security-opt", &bad_opt], "line 2 column"),
        (
            vec!["--security-opt", "seccomp=/no/such.json"],
            "cannot read seccomp profile '/no/such.json'",
        ),
        (
            vec!["--security-opt", "apparmor=docker-default"],
            "kleene does not use AppArmor",
        ),
        (
            vec!["-J", "allow.raw_sockets=perhaps"],
            "invalid jail parameter 'allow.raw_sockets=perhaps'",
        ),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(args.iter().copied());
        a.extend(["bb", "true"]);
        let e = r.fails(&a, 125);
        assert!(e.contains(want), "{a:?}: {e}");
    }
    assert!(r.container_ids().is_empty());
    assert!(r.entries("containers").is_empty());
}

#[test]
fn devices_made_in_a_container_are_inert() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    // Without MKNOD a device cannot be made at all.
    let o = r.run(&["run", "--rm", "bb", "mknod", "/tmp/zero", "c", "1", "5"]);
    assert!(!o.status.success());
    // With it, a node made anywhere (the root, /dev) does not work: they are
    // nodev; the standard devices still do (the host's, bound read-only,
    // so they cannot be chmod-ed either).
    let script = "mknod /tmp/zero c 1 5 && head -c 1 /tmp/zero >/dev/null; echo root=$?; \
                  mknod /dev/zero2 c 1 5 && head -c 1 /dev/zero2 >/dev/null; echo dev=$?; \
                  head -c 1 /dev/zero | wc -c; echo > /dev/null; echo null=$?; \
                  chmod 600 /dev/null; echo chmod=$?";
    let out = r.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "MKNOD",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    assert!(out.contains("root=1"), "{out}");
    assert!(out.contains("dev=1"), "{out}");
    assert!(out.contains("\n1\n") && out.contains("null=0"), "{out}");
    assert!(out.contains("chmod=1"), "{out}");
    let mode = std::fs::metadata("/dev/null").unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o666,
        "the host's /dev/null changed"
    );
    // A device node in an image layer is inert too (outside /dev, which is
    // the container's own tmpfs).
    let dir = tempfile::tempdir().unwrap();
    common::make_busybox_rootfs(dir.path());
    let node = dir.path().join("zero-in-image");
    let st = std::process::Command::new("mknod")
        .args([node.to_str().unwrap(), "c", "1", "5"])
        .status()
        .unwrap();
    assert!(st.success());
    let rootfs = dir.path().to_str().unwrap();
    r.ok(&[
        "image",
        "create",
        "--no-dns",
        "--no-localtime",
        "-t",
        "withdev2",
        "dir",
        rootfs,
    ]);
    let o = r.run(&[
        "run",
        "--rm",
        "withdev2",
        "head",
        "-c",
        "1",
        "/zero-in-image",
    ]);
    assert!(
        !o.status.success(),
        "a device node from an image layer worked"
    );
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn descriptors_of_the_caller_do_not_reach_the_container() {
    if !can_run() {
        return;
    }
    let r = probe::shared();
    // The caller holds a host directory open: inherited, it would be a way
    // out of the container (fchdir, openat); `run` and `exec` close it.
    let klee = env!("CARGO_BIN_EXE_klee");
    let with_fd = |args: &str| {
        let o = std::process::Command::new("sh")
            .args(["-c", &format!("exec 7</; exec {klee} {args}")])
            .env("KLEENE_ROOT", r.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = with_fd("run --rm bb ls /proc/self/fd");
    assert!(!out.lines().any(|l| l.trim() == "7"), "{out}");
    r.ok(&["run", "-d", "--name", "fdleak", "bb", "sleep", "60"]);
    let out = with_fd("exec fdleak ls /proc/self/fd");
    assert!(!out.lines().any(|l| l.trim() == "7"), "{out}");
    r.ok(&["rm", "-f", "fdleak"]);
}
