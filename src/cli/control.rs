//! `klee kill`, `wait`, `port`: talking to running containers.

use std::time::Duration;

use clap::Args;

use super::render::{self, Format};
use super::{CmdResult, Outcome};
use crate::engine::{signal, Engine};

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send: a name (KILL, TERM, HUP, USR1, ...) or a number
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Give up after this many seconds (exit 1)
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// Container name, ID or unique ID prefix
    container: String,
    /// Only this container port, PORT[/PROTO]
    port: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `kill`: the signal to each container, its ID printed (as Docker).
pub fn kill(e: &mut Engine, a: KillArgs) -> CmdResult {
    let sig = signal::parse(&a.signal)?;
    for c in a.containers {
        crate::outln!("{}", e.container_kill(&c, sig)?.id);
    }
    Ok(Outcome::Ok)
}

/// `wait`: each container's exit code, one per line; the command exits
/// with the last one's (as Docker prints them; `-1` when there is none).
pub fn wait(e: &mut Engine, a: WaitArgs) -> CmdResult {
    let timeout = a.timeout.map(Duration::from_secs);
    for c in a.containers {
        let code = e.container_wait(&c, timeout)?;
        crate::outln!("{}", code.unwrap_or(-1));
    }
    Ok(Outcome::Ok)
}

/// `port`: `80/tcp -> *:8080` lines for the container's published ports.
pub fn port(e: &mut Engine, a: PortArgs) -> CmdResult {
    let c = e.container(&a.container)?;
    let want = a.port.as_deref().map(|p| match p.split_once('/') {
        Some((n, proto)) => (n.to_string(), proto.to_ascii_lowercase()),
        None => (p.to_string(), "tcp".to_string()),
    });
    // Each host port with its container port (a range is several).
    let mut lines = Vec::new();
    let mut ports = Vec::new();
    for p in &c.public_ports {
        let mut places = p.places();
        if places.is_empty() {
            // Every local address (the host gateway's interface on FreeBSD).
            places.push("*".into());
        }
        let mut any = false;
        for (host, inside) in p.mappings() {
            if want
                .as_ref()
                .is_some_and(|(n, proto)| *n != inside.to_string() || *proto != p.protocol)
            {
                continue;
            }
            any = true;
            for at in &places {
                lines.push(format!("{inside}/{} -> {at}:{host}", p.protocol));
            }
        }
        if any {
            ports.push(p);
        }
    }
    if a.format == Format::Json {
        render::json(&ports);
        return Ok(Outcome::Ok);
    }
    if lines.is_empty() {
        if let Some(p) = &a.port {
            return Err(crate::engine::Error::State(format!(
                "container '{}' ({}) publishes no port {p}",
                c.name, c.id
            )));
        }
    }
    for l in lines {
        crate::outln!("{l}");
    }
    Ok(Outcome::Ok)
}
