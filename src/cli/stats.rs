//! `klee top C` and `klee stats [C…]`: a running container's processes,
//! and what containers use (CPU %, memory, processes) from their cgroups
//! (Linux) or rctl (FreeBSD).

use std::time::{Duration, Instant};

use clap::Args;

use super::render::{self, Format};
use super::{CmdResult, Outcome};
use crate::engine::{Engine, Error};

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Container name, ID or unique ID prefix
    container: String,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// One sample and exit (default: a new one every second until interrupted)
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Containers (default: every running one)
    containers: Vec<String>,
}

pub fn top(e: &mut Engine, a: TopArgs) -> CmdResult {
    let procs = e.container_top(&a.container)?;
    if a.format == Format::Json {
        render::json(&procs);
        return Ok(Outcome::Ok);
    }
    let rows = procs
        .iter()
        .map(|p| {
            vec![
                p.pid.to_string(),
                p.ppid.to_string(),
                p.user.clone(),
                format!(
                    "{:02}:{:02}:{:02}",
                    p.cpu_seconds / 3600,
                    p.cpu_seconds / 60 % 60,
                    p.cpu_seconds % 60
                ),
                p.command.clone(),
            ]
        })
        .collect();
    render::table(&["PID", "PPID", "USER", "TIME", "COMMAND"], rows);
    Ok(Outcome::Ok)
}

fn bytes(n: Option<u64>) -> String {
    n.map_or("-".into(), crate::engine::limits::size)
}

#[derive(serde::Serialize)]
struct Sample {
    id: String,
    name: String,
    cpu_percent: Option<f64>,
    memory: Option<u64>,
    memory_limit: Option<u64>,
    pids: Option<u64>,
}

pub fn stats(e: &mut Engine, a: StatsArgs) -> CmdResult {
    let names: Vec<String> = if a.containers.is_empty() {
        e.containers(false)?.into_iter().map(|c| c.id).collect()
    } else {
        a.containers.clone()
    };
    let take = |e: &Engine| -> Result<Vec<_>, Error> {
        names.iter().map(|n| e.container_usage(n)).collect()
    };
    let mut before = take(e)?;
    let mut at = Instant::now();
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        std::thread::sleep(Duration::from_millis(if a.no_stream { 500 } else { 1000 }));
        let now = take(e)?;
        let wall = at.elapsed().as_nanos() as f64;
        at = Instant::now();
        let samples: Vec<Sample> = now
            .iter()
            .zip(&before)
            .map(|((c, u), (_, b))| Sample {
                id: c.id.clone(),
                name: c.name.clone(),
                cpu_percent: match (u.cpu_ns, b.cpu_ns) {
                    (Some(x), Some(y)) if wall > 0.0 => {
                        Some(x.saturating_sub(y) as f64 / wall * 100.0)
                    }
                    _ => None,
                },
                memory: u.memory,
                memory_limit: u.memory_limit,
                pids: u.pids,
            })
            .collect();
        if a.format == Format::Json {
            render::json(&samples);
        } else {
            if terminal && !a.no_stream {
                crate::out!("\x1b[2J\x1b[H");
            }
            let rows = samples
                .iter()
                .map(|s| {
                    vec![
                        s.id.clone(),
                        s.name.clone(),
                        s.cpu_percent.map_or("-".into(), |p| format!("{p:.2}%")),
                        format!(
                            "{} / {}",
                            bytes(s.memory),
                            s.memory_limit.map_or("-".into(), |l| bytes(Some(l)))
                        ),
                        s.pids.map_or("-".into(), |p| p.to_string()),
                    ]
                })
                .collect();
            render::table(
                &["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS"],
                rows,
            );
        }
        if a.no_stream {
            return Ok(Outcome::Ok);
        }
        before = now;
    }
}
