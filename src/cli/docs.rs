//! `klee completions SHELL` and `klee man [DIR]`: shell completions
//! (clap_complete) and man pages (clap_mangen), generated from the same
//! command tree clap parses, so they never drift from the real options.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{Cli, CmdResult, Outcome};
use crate::engine::Error;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write klee.1 and a page per command (klee-run.1, ...) here; without
    /// it, klee.1 goes to standard output
    dir: Option<PathBuf>,
}

pub fn completions(a: CompletionsArgs) -> CmdResult {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "klee", &mut out);
    crate::out!("{}", String::from_utf8_lossy(&out));
    Ok(Outcome::Ok)
}

pub fn man(a: ManArgs) -> CmdResult {
    let cmd = Cli::command();
    match a.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::io("cannot create directory", &dir, e))?;
            clap_mangen::generate_to(cmd, &dir)
                .map_err(|e| Error::io("cannot write man pages to", &dir, e))?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| Error::io("cannot render", "klee.1", e))?;
            crate::out!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(Outcome::Ok)
}
