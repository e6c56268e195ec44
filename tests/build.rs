//! `klee build` end to end, as root, on busybox images.

mod common;

use std::path::Path;

use common::{can_run, stderr, stdout, Root};

fn context(r: &Root, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> String {
    let dir = r.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (f, content) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir.display().to_string()
}

const EVERYTHING: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=bb
FROM ${BASE}
ARG WHO=world
ARG UNSET
LABEL org.example.name="demo app" version=1
ENV GREETING="hello" \
    TARGET=${WHO}
WORKDIR /srv/app
RUN echo "$GREETING $TARGET" > greeting && echo "arg:$WHO" > arg
COPY --chown=user:staff files/ conf/
COPY top.txt ./
ADD archive.tar /opt/
RUN <<EOF
echo from heredoc > /heredoc
EOF
COPY <<-CONF /etc/app.conf
	key = $TARGET
	CONF
SHELL ["/bin/sh", "-ec"]
RUN test "$(cat /srv/app/greeting)" = "hello kleene"
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK CMD true
USER user
ONBUILD RUN echo triggered > /home/user/onbuild
ENTRYPOINT ["/bin/echo", "entry"]
CMD ["default", "args"]
"#;

#[test]
fn every_instruction() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let ctx = context(
        &r,
        "ctx",
        EVERYTHING,
        &[
            ("files/a.conf", "A\n"),
            ("files/sub/b.conf", "B\n"),
            ("top.txt", "top\n"),
        ],
    );
    // A tar archive for ADD to unpack.
    let tarsrc = r.path().join("tarsrc");
    std::fs::create_dir_all(tarsrc.join("pkg")).unwrap();
    std::fs::write(tarsrc.join("pkg/file"), "from tar\n").unwrap();
    assert!(std::process::Command::new("tar")
        .args([
            "-cf",
            &format!("{ctx}/archive.tar"),
            "-C",
            tarsrc.to_str().unwrap(),
            "pkg"
        ])
        .status()
        .unwrap()
        .success());

    let out = r.ok(&[
        "build",
        "-t",
        "demo",
        "--build-arg",
        "WHO=kleene",
        "--build-arg",
        "NOT_DECLARED=1",
        &ctx,
    ]);
    assert!(out.contains("Step 1/23 : ARG BASE=bb"), "{out}");
    assert_eq!(out.matches("--> Snapshot created: @").count(), 7, "{out}");
    assert!(
        out.contains("[Warning] One or more build-args [NOT_DECLARED] were not consumed"),
        "{out}"
    );
    assert!(out.contains("Successfully tagged demo:latest"), "{out}");

    let img = r.json(&["isi", "demo"]);
    assert_eq!(img["workdir"], "/srv/app");
    assert_eq!(img["user"], "user");
    assert_eq!(
        img["env"],
        serde_json::json!(["GREETING=hello", "TARGET=kleene"])
    );
    assert_eq!(img["entrypoint"], serde_json::json!(["/bin/echo", "entry"]));
    assert_eq!(img["cmd"], serde_json::json!(["default", "args"]));
    assert_eq!(
        img["exposed_ports"],
        serde_json::json!(["8080/tcp", "53/udp"])
    );
    assert_eq!(img["volumes"], serde_json::json!(["/data"]));
    assert_eq!(img["stop_signal"], "SIGINT");
    assert_eq!(img["labels"]["org.example.name"], "demo app");
    assert_eq!(img["shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(
        img["onbuild"],
        serde_json::json!(["RUN echo triggered > /home/user/onbuild"])
    );
    assert_eq!(img["snapshots"].as_array().unwrap().len(), 7);

    // CMD/ENTRYPOINT combination at run time (Docker's rules).
    assert_eq!(r.ok(&["run", "--rm", "demo"]), "entry default args\n");
    assert_eq!(r.ok(&["run", "--rm", "demo", "other"]), "entry other\n");

    // Probe the files from an image without the entrypoint (and the
    // ONBUILD trigger runs in that build).
    let probe_ctx = context(&r, "probe", "FROM demo\nENTRYPOINT []\nUSER root\n", &[]);
    r.ok(&["build", "-q", "-t", "probe", &probe_ctx]);
    let run = |cmd: &str| r.ok(&["run", "--rm", "probe", "sh", "-c", cmd]);
    assert_eq!(
        run("pwd"),
        "/srv/app\n",
        "run starts in the image's WORKDIR"
    );
    assert_eq!(run("cat greeting arg"), "hello kleene\narg:kleene\n");
    assert_eq!(
        run("cat conf/a.conf conf/sub/b.conf top.txt"),
        "A\nB\ntop\n"
    );
    assert_eq!(
        run("stat -c '%U:%G' conf/a.conf conf/sub"),
        "user:staff\nuser:staff\n"
    );
    assert_eq!(
        run("cat /opt/pkg/file /heredoc /etc/app.conf"),
        "from tar\nfrom heredoc\nkey = kleene\n"
    );
    assert_eq!(
        run("echo ${WHO:-unset} $GREETING"),
        "unset hello\n",
        "ARG values are not kept"
    );
    assert_eq!(run("cat /home/user/onbuild"), "triggered\n");
}

#[test]
fn cache_snapshots_and_multi_stage() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let ctx = context(
        &r,
        "ctx",
        "FROM bb\nRUN echo one > /one\nCOPY in.txt /in.txt\nRUN cat /in.txt > /copy\nENV X=1\n",
        &[("in.txt", "v1\n")],
    );
    let first = r.ok(&["build", "-t", "cached", &ctx]);
    assert!(!first.contains("Using cache"), "{first}");
    let id = |r: &Root| {
        r.json(&["isi", "cached"])["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first_id = id(&r);
    let second = r.ok(&["build", "-t", "cached", &ctx]);
    assert_eq!(second.matches("--> Using cache").count(), 3, "{second}");
    // Nothing new: the same image, not a copy with another ID.
    assert_eq!(id(&r), first_id);
    // Changing an input file misses from that step on.
    std::fs::write(Path::new(&ctx).join("in.txt"), "v2\n").unwrap();
    let third = r.ok(&["build", "-t", "cached", &ctx]);
    assert_eq!(third.matches("--> Using cache").count(), 1, "{third}");
    assert_eq!(r.ok(&["run", "--rm", "cached", "cat", "/copy"]), "v2\n");
    let nocache = r.ok(&["build", "--no-cache", "-t", "cached", &ctx]);
    assert!(!nocache.contains("Using cache"), "{nocache}");

    // image@snapshot works for run and FROM.
    let img = r.json(&["isi", "cached"]);
    let snap = img["snapshots"][0]["id"].as_str().unwrap().to_string();
    let at = format!("cached@{snap}");
    let o = r.run(&["run", "--rm", &at, "sh", "-c", "cat /one; ls /copy"]);
    assert_eq!(stdout(&o), "one\n");
    assert!(stderr(&o).contains("No such file"), "{}", stderr(&o));
    let from_snap = context(
        &r,
        "fromsnap",
        &format!("FROM {at}\nRUN test ! -e /in.txt && echo ok > /ok\n"),
        &[],
    );
    r.ok(&["build", "-t", "fromsnap", &from_snap]);
    assert_eq!(r.ok(&["run", "--rm", "fromsnap", "cat", "/ok"]), "ok\n");

    // FROM scratch: only what is copied in.
    let sc = context(
        &r,
        "scratch",
        "FROM scratch\nCOPY --from=bb /bin/busybox /busybox\nENTRYPOINT [\"/busybox\"]\n",
        &[],
    );
    r.ok(&["build", "-t", "tiny", &sc]);
    assert_eq!(
        r.ok(&["run", "--rm", "tiny", "ls", "/"]),
        "busybox\ndev\nproc\nsys\n"
    );

    // Multi-stage: COPY --from by name, index and image; FROM a previous stage.
    let ms = context(
        &r,
        "ms",
        "FROM bb AS builder\nRUN echo built > /artifact\nFROM bb\nRUN echo second > /second\nFROM builder AS again\nRUN echo again >> /artifact\nFROM bb\nCOPY --from=builder /artifact /a1\nCOPY --from=1 /second /a2\nCOPY --from=again /artifact /a3\nCOPY --from=cached /one /a4\n",
        &[],
    );
    r.ok(&["build", "-t", "multi", &ms]);
    assert_eq!(
        r.ok(&["run", "--rm", "multi", "cat", "/a1", "/a2", "/a3", "/a4"]),
        "built\nsecond\nbuilt\nagain\none\n"
    );
    // Layers of intermediate stages are kept as build cache until pruned;
    // then only images' layers remain, and nothing is left mounted.
    r.ok(&["system", "prune", "-f"]);
    let layers_used: std::collections::HashSet<String> = r
        .json(&["image", "ls", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            i["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for l in r.entries("layers") {
        assert!(layers_used.contains(&l), "layer {l} is used by no image");
    }
    assert!(r.entries("tmp").is_empty(), "{:?}", r.entries("tmp"));
    assert!(r.mounts().is_empty());
}

#[test]
fn failures_clean_up_or_keep_with_no_rm() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let layers_before = r.entries("layers");
    let ctx = context(
        &r,
        "ctx",
        "FROM bb\nRUN echo ok > /ok\nRUN exit 3\nRUN echo never\n",
        &[],
    );
    let o = r.run(&["build", "-t", "broken", &ctx]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("The command 'exit 3' returned a non-zero code: 3"),
        "{e}"
    );
    assert!(
        e.contains("Dockerfile:3:1"),
        "the diagnostic points at the instruction: {e}"
    );
    assert_eq!(
        r.entries("layers"),
        layers_before,
        "a failed build leaves no layer"
    );
    assert_eq!(r.ok(&["lsi"]).lines().count(), 2);
    assert!(r.entries("containers").is_empty() && r.entries("tmp").is_empty());

    let o = r.run(&["build", "--no-rm", "-t", "broken", &ctx]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("kept as image broken:failed") && e.contains("last snapshot"),
        "{e}"
    );
    let kept = r.json(&["isi", "broken:failed"]);
    let snap = kept["snapshots"][0]["id"].as_str().unwrap();
    assert_eq!(
        r.ok(&[
            "run",
            "--rm",
            &format!("broken:failed@{snap}"),
            "cat",
            "/ok"
        ]),
        "ok\n"
    );

    // Errors name the instruction and the value.
    let cases: &[(&str, &str)] = &[
        ("FROM nosuch\n", "no such image 'nosuch'"),
        ("FROM bb\nFROBNICATE x\n", "unknown instruction: FROBNICATE"),
        (
            "FROM bb\nCOPY missing.txt /\n",
            "no such file or directory in the build context",
        ),
        (
            "FROM bb\nADD http://example.com/x /\n",
            "fetching URLs is not supported",
        ),
        ("FROM bb\nENV A=${B?must_be_set}\n", "B: must_be_set"),
        (
            "FROM bb\nCOPY --chmod=644 a /\n",
            "flag '--chmod=644' is not supported",
        ),
        ("RUN true\n", "before the first FROM"),
        ("FROM bb\nENV incomplete\n", "ENV must have two arguments"),
    ];
    for (i, (df, msg)) in cases.iter().enumerate() {
        let c = context(&r, &format!("bad{i}"), df, &[]);
        let o = r.run(&["build", &c]);
        assert_eq!(o.status.code(), Some(1), "{df}");
        assert!(stderr(&o).contains(msg), "{df}: {}", stderr(&o));
    }
}

#[test]
fn context_escapes_are_refused() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    std::fs::write(r.path().join("outside.txt"), "secret").unwrap();
    let ctx = context(
        &r,
        "ctx",
        "FROM bb\n",
        &[
            ("ok.txt", "ok"),
            ("ignored.log", "no"),
            (".dockerignore", "*.log\n"),
        ],
    );
    std::os::unix::fs::symlink(r.path().join("outside.txt"), Path::new(&ctx).join("link")).unwrap();
    for (src, msg) in [
        ("../outside.txt", "outside the build context"),
        ("/etc/passwd", "absolute path"),
        ("link", "is a symlink to"),
        ("ignored.log", "no such file or directory"),
    ] {
        std::fs::write(
            Path::new(&ctx).join("Dockerfile"),
            format!("FROM bb\nCOPY {src} /x\n"),
        )
        .unwrap();
        let o = r.run(&["build", &ctx]);
        assert_eq!(o.status.code(), Some(1), "{src}");
        let e = stderr(&o);
        assert!(e.contains(msg) && e.contains(src), "{src}: {e}");
    }
    // A directory copy skips ignored files.
    std::fs::write(
        Path::new(&ctx).join("Dockerfile"),
        "FROM bb\nCOPY . /ctx/\n",
    )
    .unwrap();
    std::fs::remove_file(Path::new(&ctx).join("link")).unwrap();
    r.ok(&["build", "-t", "ctxcopy", &ctx]);
    let listing = r.ok(&["run", "--rm", "ctxcopy", "ls", "-a", "/ctx"]);
    assert!(
        listing.contains("ok.txt") && !listing.contains("ignored.log"),
        "{listing}"
    );
}

#[test]
fn dockerfile_content_never_runs_on_the_host() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let marker = r.path().join("marker");
    let m = marker.display();
    let df = format!(
        "ARG A=$(touch {m}-arg)\nFROM bb$(touch {m}-from)\nARG B=`touch {m}-bt`\nENV E=$(touch {m}-env) F=\"$(touch {m}-q)\"\nUSER root$(touch {m}-user)\nWORKDIR /w$(touch {m}-wd)\nCOPY x$(touch {m}-copy) /\n"
    );
    let ctx = context(&r, "ctx", &df, &[]);
    let _ = r.run(&[
        "build",
        "--build-arg",
        &format!("B=$(touch {m}-buildarg)"),
        &ctx,
    ]);
    let leftovers: Vec<String> = std::fs::read_dir(r.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("marker"))
        .collect();
    assert!(leftovers.is_empty(), "ran on the host: {leftovers:?}");
    // The text is kept literally where it is used.
    let ok = context(&r, "ok", "FROM bb\nARG A\nENV E=$A\n", &[]);
    r.ok(&[
        "build",
        "-t",
        "lit",
        "--build-arg",
        &format!("A=$(touch {m}-lit)"),
        &ok,
    ]);
    assert_eq!(
        r.ok(&["run", "--rm", "lit", "sh", "-c", "echo \"$E\""]),
        format!("$(touch {m}-lit)\n")
    );
    assert!(!Path::new(&format!("{m}-lit")).exists());
}

#[test]
fn run_steps_have_lo_only_unless_the_build_shares_the_host_network() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let host_links = std::fs::read_dir("/sys/class/net").unwrap().count();
    let ctx = context(&r, "net", "FROM bb\nRUN ls /sys/class/net > /nets\n", &[]);
    r.ok(&["build", "-t", "isolated", &ctx]);
    assert_eq!(r.ok(&["run", "--rm", "isolated", "cat", "/nets"]), "lo\n");
    r.ok(&[
        "build",
        "--network",
        "host",
        "--no-cache",
        "-t",
        "shared",
        &ctx,
    ]);
    let nets = r.ok(&["run", "--rm", "shared", "cat", "/nets"]);
    assert_eq!(nets.lines().count(), host_links, "{nets}");
    let e = r.fails(&["build", "--network", "bridge0", &ctx], 2);
    assert!(e.contains("bridge0"), "{e}");
}

#[test]
fn every_stage_of_a_multi_stage_build_hits_the_cache() {
    if !common::can_run() {
        return;
    }
    let r = common::Root::new();
    r.busybox_image("bb");
    let ctx = r.path().join("ms");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb AS builder\nRUN echo built > /out\nFROM bb\nCOPY --from=builder /out /out\nRUN cat /out\n",
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    r.ok(&["build", "-t", "two", ctx]);
    let again = r.ok(&["build", "-t", "two", ctx]);
    assert_eq!(again.matches("Using cache").count(), 3, "{again}");
    // The builder stage's layer is cache, not debris; pruning frees it.
    assert!(r.ok(&["system", "check"]).contains("no problems found"));
    r.ok(&["system", "prune", "-f"]);
    let third = r.ok(&["build", "-t", "two", ctx]);
    assert!(third.matches("Using cache").count() < 3, "{third}");
}
