//! `kleene-oci`: runc's command line over kleene's runtime, so containerd,
//! Docker and Podman can run containers on kleene. A thin front end like
//! `klee` and `kleened`: parse the command line and the bundle, build a run
//! spec, call the platform. Its containers live under `--root`, not in
//! klee's store: the caller owns images and bundles.

mod cli;
mod commands;
pub mod convert;
mod convert_freebsd;
mod running;
pub mod state;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// What went wrong, in runc's terms where callers match on them
/// (containerd looks for "does not exist").
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    State(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Runtime(#[from] crate::platform::Error),
}

/// Where errors go besides stderr: `--log` in `--log-format` (containerd's
/// shim reads the last JSON `error` line of its log file).
struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn error(&self, msg: &str) {
        eprintln!("kleene-oci: {msg}");
        let Some(path) = &self.file else { return };
        let line = if self.json {
            serde_json::json!({"level": "error", "msg": msg, "time": crate::engine::time::now()})
                .to_string()
        } else {
            format!(
                "time=\"{}\" level=error msg={:?}",
                crate::engine::time::now(),
                msg
            )
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Run a `kleene-oci` command line (`args[0]` is the program's name) on
/// platform `p`: the FreeBSD back end over a host model, in tests.
pub fn run_on(args: &[&str], p: &'static dyn crate::platform::Platform) -> Result<i32, OciError> {
    let cli = cli::Cli::try_parse_from(args).map_err(|e| OciError::Invalid(e.to_string()))?;
    commands::run_on(cli, p)
}

pub fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let log = Log {
        file: args.log.clone(),
        json: args.log_format == cli::LogFormat::Json,
    };
    match commands::run(args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            log.error(&e.to_string());
            ExitCode::from(1)
        }
    }
}
