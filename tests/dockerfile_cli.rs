//! `klee dockerfile parse|expand`: no root needed.

use std::io::Write;
use std::process::{Command, Stdio};

fn klee(args: &[&str], stdin: &str) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klee"))
        .args(args)
        .env("KLEENE_ROOT", "/nonexistent/never-opened")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

#[test]
fn parse_prints_the_instruction_json() {
    let df = "# escape=`\nFROM alpine AS b\nRUN <<EOF\nhi\nEOF\nONBUILD COPY --from=b a `\n  /b\n";
    let o = klee(&["dockerfile", "parse", "--json", "-"], df);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let i = &v["instructions"];
    assert_eq!(i[0]["name"], "from");
    assert_eq!(i[0]["args"], serde_json::json!(["alpine", "AS", "b"]));
    assert_eq!(
        i[1]["heredocs"][0],
        serde_json::json!({"name": "EOF", "fd": 0, "expand": true, "chomp": false, "content": "hi\n"})
    );
    assert_eq!(
        (i[1]["start_line"].as_u64(), i[1]["end_line"].as_u64()),
        (Some(3), Some(5))
    );
    assert_eq!(i[2]["sub"]["name"], "copy");
    assert_eq!(i[2]["sub"]["flags"], serde_json::json!(["--from=b"]));
    assert_eq!(i[2]["sub"]["args"], serde_json::json!(["a", "/b"]));
    assert_eq!(i[2]["end_line"], 7);
    assert!(i[0]["sub"].is_null());
}

#[test]
fn parse_errors_are_diagnostics() {
    let o = klee(
        &["dockerfile", "parse", "--json", "-"],
        "FROM x\n\nENV lonely\n",
    );
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("ENV must have two arguments")
            && e.contains("<stdin>:3:1")
            && e.contains("ENV lonely"),
        "{e}"
    );
    // translate reports the same diagnostic and prints no script.
    let o = klee(&["dockerfile", "translate", "-"], "FROM x\n\nENV lonely\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("ENV must have two arguments") && e.contains("<stdin>:3:1"),
        "{e}"
    );
    let o = klee(&["dockerfile", "parse", "--json", "-"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("file with no instructions"));
    let o = klee(&["dockerfile", "parse", "/no/such/Dockerfile"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot read Dockerfile '/no/such/Dockerfile'")
    );
}

#[test]
fn expand_word_and_words() {
    let o = klee(
        &["dockerfile", "expand", "--word"],
        r#"{"input": "${A:-x}-'$B'", "env": {"B": "1"}}"#,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#""x-$B""#);
    let o = klee(
        &["dockerfile", "expand", "--words"],
        r#"{"input": "a $B \"c d\"", "env": {"B": "1 2"}}"#,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        r#"["a","1","2","c d"]"#
    );
    let o = klee(
        &["dockerfile", "expand", "--word"],
        r#"{"input": "a`$B", "env": {"B": "1"}, "escape": "`"}"#,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#""a$B""#);
    let o = klee(
        &["dockerfile", "expand", "--word"],
        r#"{"input": "${X:?needed}"}"#,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("X: needed"));
    let o = klee(&["dockerfile", "expand", "--word"], "not json");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid expand input"));
}
