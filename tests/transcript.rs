//! The README's and docs/cli.md's sessions run as written: every ```console
//! block of each file, in order, in one fresh root per file, in a directory
//! holding what the text says it holds (a busybox `rootfs/`, its archive
//! `base.txz`, a `Dockerfile`). Each `$ ` line runs with `sh -c` (stdout and
//! stderr together); the lines after it are its expected output, where
//! `<id>` is a 12-digit hexadecimal ID, `<any>` any text, a line `...` any
//! number of lines, and a last line `[exit N]` the expected exit status
//! (otherwise 0).

mod common;

use std::path::Path;
use std::process::Command;

use common::{can_run, make_busybox_rootfs};

struct Step {
    command: String,
    expected: Vec<String>,
    exit: i32,
    /// Where it is written: `file:line`.
    at: String,
}

fn steps(file: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let mut out: Vec<Step> = vec![];
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```console") {
            inside = true;
            continue;
        }
        if inside && line.starts_with("```") {
            inside = false;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Step {
                command: cmd.to_string(),
                expected: vec![],
                exit: 0,
                at: format!("{file}:{}", n + 1),
            });
        } else if let Some(s) = out.last_mut() {
            match line
                .strip_prefix("[exit ")
                .and_then(|r| r.strip_suffix(']'))
            {
                Some(code) => s.exit = code.parse().unwrap(),
                None => s.expected.push(line.to_string()),
            }
        }
    }
    out
}

enum Tok {
    Lit(char),
    Any,
    Id,
}

/// Does `got` match the pattern line `want`? (Backtracking over `<any>`.)
fn line_matches(want: &str, got: &str) -> bool {
    let mut toks = vec![];
    let mut rest = want.trim_end();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("<id>") {
            toks.push(Tok::Id);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("<any>") {
            toks.push(Tok::Any);
            rest = r;
        } else {
            let c = rest.chars().next().unwrap();
            toks.push(Tok::Lit(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    fn go(t: &[Tok], s: &[char]) -> bool {
        match t.first() {
            None => s.is_empty(),
            Some(Tok::Lit(c)) => s.first() == Some(c) && go(&t[1..], &s[1..]),
            Some(Tok::Id) => {
                s.len() >= 12
                    && s[..12]
                        .iter()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(c))
                    && go(&t[1..], &s[12..])
            }
            Some(Tok::Any) => (0..=s.len()).any(|i| go(&t[1..], &s[i..])),
        }
    }
    let chars: Vec<char> = got.trim_end().chars().collect();
    go(&toks, &chars)
}

/// The output lines against the expected ones (`...` any lines).
fn output_matches(want: &[String], got: &[&str]) -> bool {
    match want.first() {
        None => got.is_empty(),
        Some(w) if w == "..." => (0..=got.len()).any(|i| output_matches(&want[1..], &got[i..])),
        Some(w) => {
            !got.is_empty() && line_matches(w, got[0]) && output_matches(&want[1..], &got[1..])
        }
    }
}

fn run_file(file: &str) {
    let steps = steps(file);
    assert!(!steps.is_empty(), "no console session in {file}");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    make_busybox_rootfs(&work.join("rootfs"));
    let ok = Command::new("tar")
        .args(["-C", "rootfs", "-cJf", "base.txz", "."])
        .current_dir(&work)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    std::fs::write(
        work.join("Dockerfile"),
        "FROM bb\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n",
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_klee")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for s in &steps {
        let o = Command::new("sh")
            .args(["-c", &format!("exec 2>&1; {}", s.command)])
            .current_dir(&work)
            .env("PATH", &path)
            .env("KLEENE_ROOT", dir.path().join("root"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let got: Vec<&str> = text.lines().collect();
        let code = o.status.code().unwrap_or(-1);
        assert!(
            code == s.exit && output_matches(&s.expected, &got),
            "{}: $ {}\nexpected (exit {}):\n{}\ngot (exit {code}):\n{text}",
            s.at,
            s.command,
            s.exit,
            s.expected.join("\n"),
        );
    }
    // Whatever the session left running goes with the root.
    let _ = Command::new(Path::new(env!("CARGO_BIN_EXE_klee")))
        .args(["system", "prune", "-a", "-f", "--volumes"])
        .env("KLEENE_ROOT", dir.path().join("root"))
        .output();
    let ids = Command::new(Path::new(env!("CARGO_BIN_EXE_klee")))
        .args(["ps", "-q"])
        .env("KLEENE_ROOT", dir.path().join("root"))
        .output()
        .unwrap();
    for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
        let _ = Command::new(Path::new(env!("CARGO_BIN_EXE_klee")))
            .args(["rm", "-f", id])
            .env("KLEENE_ROOT", dir.path().join("root"))
            .output();
    }
}

#[test]
fn the_readme_session_runs_as_written() {
    if can_run() {
        run_file("README.md");
    }
}

#[test]
fn the_cli_reference_session_runs_as_written() {
    if can_run() {
        run_file("docs/cli.md");
    }
}

#[test]
fn patterns() {
    assert!(line_matches("<id>", "0123456789ab"));
    assert!(!line_matches("<id>", "0123456789a"));
    assert!(line_matches(
        "web exited (137) <any>",
        "web exited (137) just now"
    ));
    assert!(line_matches("a.b", "a.b") && !line_matches("a.b", "axb"));
    let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(output_matches(
        &w(&["x", "...", "z"]),
        &["x", "1", "2", "z"]
    ));
    assert!(!output_matches(&w(&["x"]), &["x", "y"]));
}
