//! `klee system …`: check and repair an installation, its disk use, and
//! prune everything unused at once.

use clap::{Args, Subcommand};

use super::render::{self, Format};
use super::{confirm, CmdResult, Outcome};
use crate::engine::system::PruneOptions;
use crate::engine::Engine;
use crate::platform::fsutil::size as human_bytes;

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Find what interrupted operations left (debris no row refers to, rows
    /// whose objects are gone, runs nobody supervises); exit 1 if anything is
    /// found
    Check(CheckArgs),
    /// Show the space images, containers, volumes and the build cache take
    Df(DfArgs),
    /// Remove stopped containers, unused networks, dangling images and the
    /// build cache (and, with --volumes, unused volumes)
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also repair what was found (never touches a running container or
    /// the data in a volume); exit 1 only if something could not be
    #[arg(long)]
    repair: bool,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only untagged ones
    #[arg(short, long)]
    all: bool,
    /// Also remove volumes no container uses
    #[arg(long)]
    volumes: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(e: &mut Engine, cmd: SystemCmd) -> CmdResult {
    match cmd {
        SystemCmd::Check(a) => check(e, a.repair),
        SystemCmd::Df(a) => {
            let usage = e.system_df()?;
            if a.format == Format::Json {
                render::json(&usage);
            } else {
                let rows = usage
                    .iter()
                    .map(|u| {
                        let pct = (u.reclaimable * 100).checked_div(u.size).unwrap_or(0);
                        vec![
                            u.kind.to_string(),
                            u.total.to_string(),
                            u.active.to_string(),
                            human_bytes(u.size),
                            format!("{} ({pct}%)", human_bytes(u.reclaimable)),
                        ]
                    })
                    .collect();
                render::table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows);
            }
            Ok(Outcome::Ok)
        }
        SystemCmd::Prune(a) => {
            let mut what =
                String::from("remove all stopped containers, all networks no container uses, ");
            what.push_str(if a.all {
                "all images no container uses"
            } else {
                "all dangling images"
            });
            what.push_str(if a.volumes {
                ", all volumes no container uses and the build cache"
            } else {
                " and the build cache"
            });
            if !confirm(&what, a.force)? {
                eprintln!("aborted");
                return Ok(Outcome::Code(1));
            }
            let p = e.system_prune(PruneOptions {
                all_images: a.all,
                volumes: a.volumes,
            })?;
            for (title, list) in [
                ("Deleted containers", &p.containers),
                ("Deleted networks", &p.networks),
                ("Deleted images", &p.images),
                ("Deleted build cache layers", &p.build_cache),
                ("Deleted volumes", &p.volumes),
            ] {
                if !list.is_empty() {
                    crate::outln!("{title}:");
                    for id in list {
                        crate::outln!("{id}");
                    }
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

fn check(e: &mut Engine, repair: bool) -> CmdResult {
    let findings = e.system_check()?;
    if findings.is_empty() {
        crate::outln!("no problems found");
        return Ok(Outcome::Ok);
    }
    let mut failed = 0;
    for f in &findings {
        crate::outln!("{} {}: {}", f.kind, f.subject, f.problem);
        if !f.repairable() {
            failed += 1;
            crate::outln!("  by hand: {}", f.action);
            continue;
        }
        if !repair {
            crate::outln!("  repair: {}", f.action);
            continue;
        }
        match e.system_repair(f) {
            Ok(()) => crate::outln!("  repaired: {}", f.action),
            Err(err) => {
                failed += 1;
                crate::outln!("  not repaired: {err}");
            }
        }
    }
    let n = findings.len();
    let s = if n == 1 { "" } else { "s" };
    if !repair {
        let fixable = n - failed;
        let what = match (fixable, failed) {
            (_, 0) => "`klee system check --repair` repairs them".to_string(),
            (0, _) => "none can be repaired automatically".to_string(),
            _ => format!("`klee system check --repair` repairs {fixable}, the others need a hand"),
        };
        crate::outln!("{n} problem{s} found; {what}");
        return Ok(Outcome::Code(1));
    }
    crate::outln!("{n} problem{s} found, {} repaired", n - failed);
    Ok(if failed > 0 {
        Outcome::Code(1)
    } else {
        Outcome::Ok
    })
}
