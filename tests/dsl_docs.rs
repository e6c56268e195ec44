//! docs/dsl.md is generated from the DSL's function metadata; it must not
//! go stale. Regenerate with `klee dsl-docs > docs/dsl.md`.

#[test]
fn docs_dsl_md_is_current() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_klee"))
        .arg("dsl-docs")
        .output()
        .unwrap();
    assert!(o.status.success());
    let generated = String::from_utf8(o.stdout).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dsl.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/dsl.md is stale: regenerate it with `cargo run -q --bin klee -- dsl-docs > docs/dsl.md`"
    );
    // Every DSL function is documented, with an example for module functions.
    for section in generated.split("\n### ").skip(1) {
        let title = section.lines().next().unwrap_or_default();
        assert!(section.lines().count() > 2, "undocumented: {title}");
        if title.contains("::") {
            assert!(section.contains("```rhai"), "no example: {title}");
        }
    }
}
