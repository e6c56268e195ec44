//! `klee dockerfile …`: the front end's parser and expander on their own,
//! for inspection and for tests against buildkit's behaviour.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Outcome;
use crate::dockerfile::parse::Dockerfile;
use crate::dockerfile::{parse, render_diagnostic, Lexer};
use crate::engine::Error;

#[derive(Subcommand, Debug)]
pub enum DockerfileCmd {
    /// Parse a Dockerfile and print its instructions
    Parse(ParseArgs),
    /// Print an equivalent .rhai script on the `build` module
    Translate(TranslateArgs),
    /// Expand variables in words as a build would: reads
    /// {"input": "...", "env": {...}, "escape": "\\"} on stdin
    Expand(ExpandArgs),
}

#[derive(Args, Debug)]
pub struct ParseArgs {
    /// Print {"instructions": [...]} as JSON
    #[arg(long)]
    json: bool,
    /// The Dockerfile ("-" for stdin)
    file: PathBuf,
}

#[derive(Args, Debug)]
pub struct TranslateArgs {
    /// The Dockerfile ("-" for stdin)
    file: PathBuf,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ExpandArgs {
    /// Print the expansion as one JSON string
    #[arg(long)]
    word: bool,
    /// Print the expansion split into words, as a JSON array of strings
    #[arg(long)]
    words: bool,
}

#[derive(serde::Deserialize)]
struct ExpandInput {
    input: String,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    #[serde(default = "default_escape")]
    escape: String,
}

fn default_escape() -> String {
    "\\".into()
}

fn read_source(file: &PathBuf) -> Result<(String, String), Error> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("cannot read", "<stdin>", e))?;
        return Ok(("<stdin>".into(), s));
    }
    let s = std::fs::read(file).map_err(|e| Error::io("cannot read Dockerfile", file, e))?;
    let s = String::from_utf8(s)
        .map_err(|_| Error::invalid("Dockerfile", file.display().to_string(), "it is not UTF-8"))?;
    Ok((file.display().to_string(), s))
}

/// Read and parse `file` into (name, source, Dockerfile); a parse error is
/// printed as a diagnostic and gives `None`.
fn parse_file(file: &PathBuf) -> Result<Option<(String, String, Dockerfile)>, Error> {
    let (name, src) = read_source(file)?;
    match parse(&src) {
        Ok(df) => Ok(Some((name, src, df))),
        Err(e) => {
            eprint!(
                "{}",
                render_diagnostic(&name, &src, &e.message, e.span, "here")
            );
            Ok(None)
        }
    }
}

pub fn run(cmd: DockerfileCmd) -> Result<Outcome, Error> {
    match cmd {
        DockerfileCmd::Parse(a) => {
            let Some((_, _, df)) = parse_file(&a.file)? else {
                return Ok(Outcome::Code(1));
            };
            if a.json {
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(&df).expect("serialisable")
                );
            } else {
                for i in &df.instructions {
                    let flags = if i.flags.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", i.flags.join(" "))
                    };
                    crate::outln!(
                        "{:>4}  {}{flags} {:?}{}",
                        i.start_line,
                        i.name.to_uppercase(),
                        i.args,
                        if i.json { " (exec form)" } else { "" }
                    );
                }
            }
            Ok(Outcome::Ok)
        }
        DockerfileCmd::Translate(a) => {
            let Some((name, src, df)) = parse_file(&a.file)? else {
                return Ok(Outcome::Code(1));
            };
            crate::out!("{}", crate::dsl::translate::translate(&df, &name, &src));
            Ok(Outcome::Ok)
        }
        DockerfileCmd::Expand(a) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("cannot read", "<stdin>", e))?;
            let input: ExpandInput = serde_json::from_str(&s).map_err(|e| {
                Error::invalid(
                    "expand input",
                    s.trim(),
                    format!("expected {{\"input\": ..., \"env\": {{...}}, \"escape\": ...}}: {e}"),
                )
            })?;
            let escape = match input.escape.as_str() {
                "\\" => '\\',
                "`" => '`',
                other => return Err(Error::invalid("escape token", other, "expected \\ or `")),
            };
            let lx = Lexer::new(escape);
            let env = |k: &str| input.env.get(k).cloned();
            let out = if a.word {
                lx.word(&input.input, &env)
                    .map(|w| serde_json::to_string(&w))
            } else {
                lx.words(&input.input, &env)
                    .map(|w| serde_json::to_string(&w))
            };
            match out {
                Ok(json) => {
                    crate::outln!("{}", json.expect("serialisable"));
                    Ok(Outcome::Ok)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(Outcome::Code(1))
                }
            }
        }
    }
}
