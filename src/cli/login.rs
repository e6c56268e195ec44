//! `klee login` / `logout`: a registry's credentials in Docker's
//! `config.json` (so `docker login`'s work for klee and klee's for
//! Docker), mode 0600.

use clap::Args;

use super::{CmdResult, Outcome};
use crate::engine::error::Error;
use crate::engine::registry::config;
use crate::engine::registry::reference::DOCKER_HUB;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The registry (`localhost:5000`, `registry.example`; default Docker Hub)
    pub registry: Option<String>,
    #[arg(short, long)]
    pub username: String,
    /// The password (prefer --password-stdin: a command line is visible to others)
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry (default Docker Hub)
    pub registry: Option<String>,
}

pub fn login(a: LoginArgs) -> CmdResult {
    let host = a.registry.unwrap_or_else(|| DOCKER_HUB.into());
    let password = match (a.password, a.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_line(&mut s)
                .map_err(|e| Error::io("cannot read the password from", "stdin", e))?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err(Error::invalid(
                "login",
                host,
                "give the password with --password-stdin (or --password)",
            ))
        }
    };
    if a.username.is_empty() || password.is_empty() {
        return Err(Error::invalid(
            "login",
            host,
            "the user name and password must not be empty",
        ));
    }
    // Checked before stored, as Docker does: a typo shows now, not at the
    // next pull.
    let r = crate::engine::registry::reference::Reference {
        registry: host.clone(),
        repository: "library/kleene-login".into(),
        tag: None,
        digest: None,
    };
    crate::engine::registry::client::Client::new(&r, &config::Config::load()?)?
        .check_login(&a.username, &password)?;
    let path = config::save_credentials(&host, &a.username, &password)?;
    crate::outln!("credentials for {host} stored in {}", path.display());
    Ok(Outcome::Ok)
}

pub fn logout(a: LogoutArgs) -> CmdResult {
    let host = a.registry.unwrap_or_else(|| DOCKER_HUB.into());
    if config::remove_credentials(&host)? {
        crate::outln!("removed the credentials for {host}");
    } else {
        crate::outln!("no credentials were stored for {host}");
    }
    Ok(Outcome::Ok)
}
