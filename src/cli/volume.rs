//! `klee volume …` and its shortcuts.

use clap::{Args, Subcommand};

use super::render::{self, Format};
use super::{prune, CmdResult, Outcome};
use crate::engine::{time, Engine};

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume (an existing one is left as it is)
    Create(CreateArgs),
    /// List volumes
    Ls(LsArgs),
    /// Show a volume and the containers using it, as JSON
    Inspect(InspectArgs),
    /// Remove volumes (refused while a container uses them)
    Rm(RmArgs),
    /// Remove every volume no container uses
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    volume: String,
}

impl InspectArgs {
    /// For `klee inspect`, which finds the kind first.
    pub fn of(name: &str) -> InspectArgs {
        InspectArgs {
            volume: name.to_string(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    volumes: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn run(e: &mut Engine, cmd: VolumeCmd) -> CmdResult {
    match cmd {
        VolumeCmd::Create(a) => crate::outln!("{}", e.volume_create(&a.name)?.name),
        VolumeCmd::Ls(a) => {
            let list = e.volumes()?;
            if a.format == Format::Json {
                render::json(&list);
            } else {
                let rows = list
                    .iter()
                    .map(|v| vec![v.name.clone(), time::human_since(&v.created)])
                    .collect();
                render::table(&["VOLUME NAME", "CREATED"], rows);
            }
        }
        VolumeCmd::Inspect(a) => {
            let v = e.volume(&a.volume)?;
            let users = e.volume_users(&v.name)?;
            render::json(&serde_json::json!({ "volume": v, "containers": users }));
        }
        VolumeCmd::Rm(a) => {
            for v in a.volumes {
                crate::outln!("{}", e.volume_remove(&v)?.name);
            }
        }
        VolumeCmd::Prune(a) => {
            return prune("remove all volumes no container uses", a.force, || {
                e.volume_prune()
            });
        }
    }
    Ok(Outcome::Ok)
}
