//! kleened: the Kleene API server. The API lands with issue #7; until then
//! this binary only says so, so that packaging and scripts can rely on it.

fn main() -> std::process::ExitCode {
    eprintln!(
        "kleened: the HTTP API is not implemented yet; use `klee` directly (it needs no daemon)"
    );
    std::process::ExitCode::from(1)
}
