//! The stdlib modules, compiled into the binary: `import "stack"` works
//! wherever klee is copied, with no file beside it. `KLEENE_STDLIB` (or an
//! installed `<prefix>/share/kleene/stdlib`) replaces them with a
//! directory, to try changes without rebuilding.

/// How diagnostics name an embedded module's source.
pub const PREFIX: &str = "<stdlib>/";

const MODULES: &[(&str, &str)] = &[
    ("stack.rhai", include_str!("../../stdlib/stack.rhai")),
    ("wait.rhai", include_str!("../../stdlib/wait.rhai")),
];

/// The embedded module `file` (`stack.rhai`), as (source name, text).
pub fn module(file: &str) -> Option<(String, &'static str)> {
    MODULES
        .iter()
        .find(|(n, _)| *n == file)
        .map(|(n, text)| (format!("{PREFIX}{n}"), *text))
}

/// The text of a script source named `name`: an embedded module's, or the
/// file's.
pub fn source_text(name: &str) -> Option<String> {
    match name.strip_prefix(PREFIX) {
        Some(file) => module(file).map(|(_, t)| t.to_string()),
        None => std::fs::read_to_string(name).ok(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_stdlib_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib");
        for f in std::fs::read_dir(dir).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            assert!(super::module(&name).is_some(), "{name} is not embedded");
        }
    }
}
