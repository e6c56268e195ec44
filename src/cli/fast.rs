//! `klee run`'s fast path. A container's start is measured in
//! milliseconds, and opening the metadata store (about 0.8 ms: SQLite
//! reads its WAL and schema) needs nothing from the arguments but the
//! root. When the command line is `klee [--root DIR] run …`, a thread
//! opens it while clap parses (about 0.3 ms), and the parse only confirms
//! the root; if it names another one after all, that work is dropped.
//! (Making the network namespace this early as well gained nothing
//! measurable: it already overlaps the store and the container's record,
//! and on two cores a third thread only competes.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::container;
use crate::engine::{Engine, Error, DEFAULT_ROOT};

/// The store being opened ahead, for the root the raw arguments name.
pub struct Early {
    opening: Option<(PathBuf, JoinHandle<Result<Engine, Error>>)>,
}

impl Early {
    /// Start opening the store if this is a `run`.
    pub fn start() -> Early {
        let argv: Vec<OsString> = std::env::args_os().collect();
        // A root that is not there yet is made by the ordinary path, after
        // the parse: a mistyped command must not create one.
        let Some(root) = run_root(&argv).filter(|r| r.join("metadata.sqlite").exists()) else {
            return Early { opening: None };
        };
        let at = root.clone();
        let opening = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || Engine::open(&at))
            .ok();
        Early {
            opening: opening.map(|t| (root, t)),
        }
    }

    /// Not a `run` after all (or not one the fast parse takes): wait for
    /// the thread, so nothing is cut off in the middle of SQLite.
    pub fn discard(self) {
        if let Some((_, t)) = self.opening {
            let _ = t.join();
        }
    }

    /// The engine on `root`: the one opened ahead if it was for this root
    /// (the thread is joined either way: a container is cloned
    /// single-threaded).
    pub fn engine(self, root: &Path) -> Result<Engine, Error> {
        if let Some((ahead, t)) = self.opening {
            let opened = t.join();
            if ahead == root {
                if let Ok(r) = opened {
                    return r;
                }
            }
        }
        Engine::open(root)
    }
}

/// The root of `klee [--root DIR] run …` as clap will read it (None: not a
/// `run`).
fn run_root(argv: &[OsString]) -> Option<PathBuf> {
    let mut root = None;
    let mut i = 1;
    while let Some(a) = argv.get(i).and_then(|a| a.to_str()) {
        match a {
            "--root" => {
                root = Some(PathBuf::from(argv.get(i + 1)?));
                i += 2;
            }
            _ if a.starts_with("--root=") => {
                root = Some(PathBuf::from(&a["--root=".len()..]));
                i += 1;
            }
            "run" => break,
            _ => return None,
        }
    }
    argv.get(i)?;
    Some(
        root.unwrap_or_else(|| match std::env::var_os("KLEENE_ROOT") {
            Some(r) if !r.is_empty() => PathBuf::from(r),
            _ => PathBuf::from(DEFAULT_ROOT),
        }),
    )
}

/// `klee [--root DIR] run …`, parsed with the arguments of `run` alone:
/// building clap's whole command tree takes about 0.6 ms, a fifth of what
/// a container's start costs. Help, errors and everything else go to the
/// full parser, so what users see is the same.
pub fn parse() -> Option<(PathBuf, container::RunArgs)> {
    use clap::{Arg, Args, FromArgMatches};
    let argv: Vec<OsString> = std::env::args_os().collect();
    run_root(&argv)?;
    let cmd = clap::Command::new("klee")
        .arg(
            Arg::new("root")
                .long("root")
                .env("KLEENE_ROOT")
                .default_value(DEFAULT_ROOT)
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .subcommand(container::RunArgs::augment_args(clap::Command::new("run")));
    let m = cmd.try_get_matches_from(&argv).ok()?;
    let (_, sub) = m.subcommand()?;
    let args = container::RunArgs::from_arg_matches(sub).ok()?;
    Some((m.get_one::<PathBuf>("root")?.clone(), args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn the_root_of_a_run_is_read_as_clap_reads_it() {
        assert_eq!(
            run_root(&args("klee --root /r run img")),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(
            run_root(&args("klee --root=/s run img")),
            Some(PathBuf::from("/s"))
        );
        assert_eq!(run_root(&args("klee ps")), None);
        assert_eq!(run_root(&args("klee --root /r ps")), None);
        assert_eq!(run_root(&args("klee --root")), None);
    }
}
