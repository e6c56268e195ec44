//! Failure injection, concurrency, schema upgrades and base-image methods.

mod common;

use std::process::Command;

use common::{can_run, make_busybox_rootfs, stderr, Root};

/// The root holds exactly: no stray mounts, no staging or container
/// directories beyond `containers`, and only the given layers.
fn assert_clean(r: &Root, containers: &[String], layers: &[String]) {
    assert!(r.mounts().is_empty(), "mounts left: {:?}", r.mounts());
    assert!(r.cgroups().is_empty(), "cgroups left: {:?}", r.cgroups());
    assert!(
        r.entries("tmp").is_empty(),
        "staging left: {:?}",
        r.entries("tmp")
    );
    assert_eq!(r.entries("containers"), containers, "container directories");
    assert_eq!(r.container_ids(), containers, "container rows");
    assert_eq!(r.entries("layers"), layers, "layers");
}

#[test]
fn a_failure_at_any_step_leaves_nothing_behind() {
    if !can_run() {
        return;
    }
    let mut r = Root::new();
    r.private_cgroups();
    let img = r.busybox_image("bb");
    let layers = vec![img.clone()];
    let with_fp = |fp: &str, args: &[&str]| {
        let o = r
            .cmd(args)
            .env("KLEENE_FAILPOINT", fp)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!o.status.success(), "{fp}: {args:?} should fail");
        let e = stderr(&o);
        assert!(
            e.contains(&format!("injected failure at '{fp}'")),
            "{fp}: {e}"
        );
    };

    // create, and run (create + start), at each of their steps.
    for fp in ["container.create.fs", "container.create.row"] {
        with_fp(
            fp,
            &["create", "--name", "cc", "-m", "newvol:/data", "bb", "true"],
        );
        assert_clean(&r, &[], &layers);
        assert!(
            r.entries("volumes").is_empty(),
            "{fp}: auto-created volume left"
        );
    }
    for fp in [
        "container.start.cgroup",
        "container.start.overlay",
        "container.start.pivot",
        "container.start.devices",
        "container.start.mounts",
        "container.start.confine",
        "container.start.exec",
    ] {
        with_fp(fp, &["run", "--rm", "bb", "true"]);
        with_fp(fp, &["run", "bb", "true"]);
        with_fp(fp, &["run", "-d", "bb", "sleep", "10"]);
        assert_clean(&r, &[], &layers);
        // start of an existing container: it stays created, nothing else remains.
        let id = r
            .ok(&["create", "--name", "ss", "bb", "true"])
            .trim()
            .to_string();
        with_fp(fp, &["start", "ss"]);
        with_fp(fp, &["start", "-d", "ss"]);
        assert_eq!(r.status("ss")["state"], "created", "{fp}");
        assert_clean(&r, std::slice::from_ref(&id), &layers);
        r.ok(&["rm", "ss"]);
    }
    // rm: the container stays whole, and a retry removes it.
    let id = r
        .ok(&["create", "--name", "keep", "bb", "true"])
        .trim()
        .to_string();
    with_fp("container.remove.fs", &["rm", "keep"]);
    assert_clean(&r, std::slice::from_ref(&id), &layers);
    r.ok(&["start", "keep"]);
    r.ok(&["rm", "keep"]);
    assert_clean(&r, &[], &layers);

    // image create and volume create.
    let rootfs = r.path().join("rootfs-bb");
    for fp in ["image.create.fill", "image.create.commit"] {
        with_fp(
            fp,
            &[
                "image",
                "create",
                "-t",
                "x",
                "dir",
                rootfs.to_str().unwrap(),
            ],
        );
        assert_clean(&r, &[], &layers);
        assert_eq!(
            r.json(&["image", "ls", "--format", "json"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    with_fp("volume.create", &["volume", "create", "vv"]);
    with_fp(
        "volume.create",
        &["run", "--rm", "-m", "v2:/data", "bb", "true"],
    );
    assert!(r.entries("volumes").is_empty());
    assert_eq!(r.ok(&["volume", "ls"]).lines().count(), 1);
}

#[test]
fn concurrent_processes_never_lose_or_duplicate() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    // 8 processes, each creating 50 containers and removing every other one.
    let script = format!(
        r#"for i in $(seq 50); do
             id=$({klee} create bb true) || exit 1
             if [ $((i % 2)) = 0 ]; then {klee} rm "$id" >/dev/null || exit 1; else echo "$id"; fi
           done"#,
        klee = env!("CARGO_BIN_EXE_klee")
    );
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &script])
                .env("KLEENE_ROOT", r.path())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut kept = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "a worker failed");
        kept.extend(
            String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
    }
    kept.sort();
    assert_eq!(kept.len(), 200);
    let mut dedup = kept.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 200, "duplicate IDs");
    // The store and the disk agree exactly with what the workers kept.
    assert_eq!(r.container_ids(), kept);
    assert_eq!(r.entries("containers"), kept);
    let names: std::collections::HashSet<String> = r
        .json(&["lsc", "-a", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 200, "generated names are unique");
    // And the database is intact.
    let o = Command::new(env!("CARGO_BIN_EXE_klee"))
        .args(["container", "prune", "-f"])
        .env("KLEENE_ROOT", r.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 200);
    assert!(r.entries("containers").is_empty());
}

#[test]
fn a_v1_database_opens_with_the_current_binary() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    for d in ["layers", "containers", "volumes", "tmp"] {
        std::fs::create_dir_all(r.path().join(d)).unwrap();
    }
    let rootfs = r.path().join("layers/aaaaaaaaaaaa");
    make_busybox_rootfs(&rootfs);
    std::fs::create_dir_all(r.path().join("containers/bbbbbbbbbbbb/upper")).unwrap();
    std::fs::create_dir_all(r.path().join("containers/bbbbbbbbbbbb/work")).unwrap();
    std::fs::create_dir_all(r.path().join("containers/bbbbbbbbbbbb/rootfs")).unwrap();
    {
        let c = rusqlite::Connection::open(r.path().join("metadata.sqlite")).unwrap();
        c.execute_batch(kleene::engine::store::schema::MIGRATIONS[0])
            .unwrap();
        c.execute_batch("PRAGMA user_version = 1").unwrap();
        c.execute(
            "INSERT INTO images (id, name, tag, created, data) VALUES ('aaaaaaaaaaaa', 'old', 'latest', '2024-01-01T00:00:00.000000Z', ?1)",
            [r#"{"id":"aaaaaaaaaaaa","name":"old","tag":"latest","created":"2024-01-01T00:00:00.000000Z","cmd":["/bin/sh"],"layers":["aaaaaaaaaaaa"]}"#],
        )
        .unwrap();
        c.execute(
            "INSERT INTO containers (id, name, image_id, created, data) VALUES ('bbbbbbbbbbbb', 'legacy', 'aaaaaaaaaaaa', '2024-01-01T00:00:00.000000Z', ?1)",
            [r#"{"id":"bbbbbbbbbbbb","name":"legacy","image_id":"aaaaaaaaaaaa","created":"2024-01-01T00:00:00.000000Z","cmd":["echo","from v1"],"layers":["aaaaaaaaaaaa"]}"#],
        )
        .unwrap();
    }
    assert!(r.ok(&["lsc", "-a"]).contains("legacy"));
    assert_eq!(r.ok(&["start", "legacy"]), "from v1\n");
    assert_eq!(r.status("legacy")["state"], "exited");
    let v: i64 = rusqlite::Connection::open(r.path().join("metadata.sqlite"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(v, kleene::engine::store::schema::CURRENT_VERSION);
}

#[test]
fn base_images_from_tar_archives() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    let rootfs = r.path().join("rfs");
    make_busybox_rootfs(&rootfs);
    for (file, flag) in [("bb.tar", ""), ("bb.tar.gz", "z"), ("bb.txz", "J")] {
        let archive = r.path().join(file);
        let ok = Command::new("tar")
            .args([
                &format!("-c{flag}f"),
                archive.to_str().unwrap(),
                "-C",
                rootfs.to_str().unwrap(),
                ".",
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        let tag = format!("t{}", file.replace('.', "-"));
        r.ok(&[
            "image",
            "create",
            "-t",
            &tag,
            "tar",
            archive.to_str().unwrap(),
        ]);
        assert_eq!(
            r.ok(&["run", "--rm", &tag, "cat", "/data/seed"]),
            "seeded\n"
        );
        // --dns is the default: the host's resolv.conf is in the image.
        if std::path::Path::new("/etc/resolv.conf").exists() {
            assert_eq!(
                r.ok(&["run", "--rm", &tag, "cat", "/etc/resolv.conf"]),
                std::fs::read_to_string("/etc/resolv.conf").unwrap()
            );
        }
    }
    let e = r.fails(&["image", "create", "tar", "/no/such.tar"], 1);
    assert!(
        e.contains("invalid image source '/no/such.tar': not a file"),
        "{e}"
    );
    let junk = r.path().join("junk.tar.gz");
    std::fs::write(&junk, b"not gzip at all").unwrap();
    let e = r.fails(&["image", "create", "tar", junk.to_str().unwrap()], 1);
    assert!(e.contains("invalid archive"), "{e}");
    let e = r.fails(&["image", "create", "bogus"], 1);
    assert!(e.contains("invalid image create method 'bogus'"), "{e}");
    let e = r.fails(&["image", "create", "fetch"], 1);
    assert!(e.contains("method 'fetch' needs a URL"), "{e}");
    assert!(r.entries("tmp").is_empty());
}

#[test]
fn the_host_method_makes_a_usable_image_offline() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    let t = std::time::Instant::now();
    let id = r
        .ok(&["image", "create", "-t", "host", "host"])
        .trim()
        .to_string();
    eprintln!("host image in {:?}", t.elapsed());
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            "host",
            "/bin/bash",
            "-c",
            "echo $BASH_VERSION | cut -c1"
        ])
        .len(),
        2
    );
    // No data was copied out of /usr: files are hard links.
    use std::os::unix::fs::MetadataExt;
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let rel = sh.strip_prefix("/").unwrap();
    assert_eq!(
        std::fs::metadata(r.path().join("layers").join(&id).join(rel))
            .unwrap()
            .ino(),
        std::fs::metadata(&sh).unwrap().ino()
    );
    // The host's secrets and identity stay out.
    let shadow = r.ok(&["run", "--rm", "host", "cat", "/etc/shadow"]);
    assert!(
        shadow.lines().all(|l| l.split(':').nth(1) == Some("*")),
        "{shadow}"
    );
    assert_eq!(
        r.ok(&["run", "--rm", "host", "cat", "/etc/hostname"]),
        "localhost\n"
    );
    // Writes go to the container, never to the host's files.
    r.ok(&[
        "run",
        "--rm",
        "host",
        "sh",
        "-c",
        "echo changed >> /usr/bin/which || true",
    ]);
    assert!(!std::fs::read_to_string("/usr/bin/which")
        .unwrap_or_default()
        .contains("changed"));
}

#[test]
fn mount_destinations_stay_inside_the_container() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    // An image whose symlinks point at host paths: absolute, through "..",
    // and through where the host's root waits during setup (had that name
    // been predictable).
    let rootfs = r.path().join("evil-rootfs");
    make_busybox_rootfs(&rootfs);
    let secret = r.path().join("secret-dir");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("secret"), "host data").unwrap();
    let s = secret.display();
    std::os::unix::fs::symlink(&secret, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../..{s}"), rootfs.join("rel")).unwrap();
    std::os::unix::fs::symlink(format!("/.kleene-oldroot{s}"), rootfs.join("old")).unwrap();
    r.ok(&[
        "image",
        "create",
        "--no-dns",
        "--no-localtime",
        "-t",
        "evil",
        "dir",
        rootfs.to_str().unwrap(),
    ]);
    for (i, link) in ["abs", "rel", "old"].iter().enumerate() {
        // Resolved inside the container the links dangle: an error, or a
        // directory made inside the container, but never the host's files.
        let vol = format!("vol{i}");
        let _ = r.run(&[
            "run",
            "--rm",
            "-m",
            &format!("{vol}:/{link}"),
            "evil",
            "true",
        ]);
        let _ = r.run(&[
            "run",
            "--rm",
            "-m",
            &format!("{vol}:/{link}/sub"),
            "evil",
            "true",
        ]);
        assert!(
            !r.path().join("volumes").join(&vol).join("secret").exists(),
            "/{link}: host data copied into a volume"
        );
        assert!(
            !secret.join("sub").exists(),
            "/{link}/sub: a directory made on the host"
        );
        assert_eq!(std::fs::read_dir(&secret).unwrap().count(), 1);
    }
}

/// The monitor of a detached container never depends on the `klee` that
/// started it: with that caller killed right after the fork, the exit is
/// still recorded and `--rm` still honoured (it used to die of SIGPIPE
/// reporting to a closed pipe, leaving `exited (?)` forever).
#[test]
fn the_monitor_outlives_its_caller() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let crash = |args: &[&str]| {
        let o = r
            .cmd(args)
            .env("KLEENE_FAILPOINT", "container.start.detached:crash")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "the caller was not killed: {o:?}");
    };
    crash(&[
        "run",
        "-d",
        "--name",
        "kept",
        "bb",
        "sh",
        "-c",
        "sleep 0.3; exit 4",
    ]);
    crash(&["run", "-d", "--rm", "--name", "gone", "bb", "sleep", "0.3"]);
    for _ in 0..200 {
        let ids = r.container_ids();
        if r.status("kept")["state"] == "exited" && ids.len() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(r.status("kept")["code"], 4, "{}", r.status("kept"));
    assert_eq!(
        r.container_ids().len(),
        1,
        "the --rm container was not removed"
    );
}
