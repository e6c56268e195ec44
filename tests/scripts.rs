//! Runs every `tests/scripts/*.rhai` with the real `klee script`, as root,
//! on a fresh root with the busybox image `bb`, and compares stdout
//! (`NAME.out`, snapshot IDs normalised), the exit code (`NAME.code`,
//! default 0) and text expected in stderr (`NAME.err`).

mod common;

use common::{can_run, Root};

fn normalise(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('@') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let hex = rest.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        if hex == 12 {
            out.push_str("SNAP");
            rest = &rest[12..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn scripts() {
    if !can_run() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        // Symlinks are import targets for the escape tests, not scripts.
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".rhai").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 5);
    let mut failures = Vec::new();
    for name in &names {
        let r = Root::new();
        r.busybox_image("bb");
        let ctx = r.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("input.txt"), "input\n").unwrap();
        let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).ok();
        let args: Vec<String> = read("args")
            .map(|a| {
                a.lines()
                    .map(|l| l.replace("{ctx}", ctx.to_str().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        let script = dir.join(format!("{name}.rhai"));
        let mut argv = vec![
            "script".to_string(),
            "--max-operations".into(),
            "200000".into(),
            script.display().to_string(),
        ];
        argv.extend(args);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let o = r.run(&argv);
        let stdout = normalise(&String::from_utf8_lossy(&o.stdout));
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let want_out = read("out").unwrap_or_default();
        let want_code: i32 = read("code").map(|c| c.trim().parse().unwrap()).unwrap_or(0);
        let mut problems = Vec::new();
        if stdout != want_out {
            problems.push(format!("stdout:\n{stdout}\nwanted:\n{want_out}"));
        }
        if o.status.code() != Some(want_code) {
            problems.push(format!(
                "exit code {:?}, wanted {want_code}",
                o.status.code()
            ));
        }
        if let Some(err) = read("err") {
            for line in err.lines().filter(|l| !l.is_empty()) {
                if !stderr.contains(line) {
                    problems.push(format!("stderr lacks '{line}'"));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "== {name}\n{}\nstderr:\n{stderr}",
                problems.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn examples_run() {
    if !can_run() {
        return;
    }
    let r = Root::new();
    r.busybox_image("bb");
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = r.ok(&["script", ex.join("quickstart.rhai").to_str().unwrap(), "bb"]);
    assert!(
        out.contains("hello from") && out.contains("removed; done."),
        "{out}"
    );
    let stack = ex.join("stack.rhai");
    let out = r.ok(&["script", stack.to_str().unwrap(), "bb", "up"]);
    assert!(
        out.contains("store: example_store running")
            && out.contains("worker: example_worker running"),
        "{out}"
    );
    // up again is idempotent
    r.ok(&["script", stack.to_str().unwrap(), "bb", "up"]);
    assert_eq!(r.container_ids().len(), 2);
    r.ok(&["script", stack.to_str().unwrap(), "bb", "down"]);
    assert!(r.container_ids().is_empty());
}
