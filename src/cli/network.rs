//! `klee network …` and its shortcuts.

use clap::{Args, Subcommand};

use super::render::{self, Format};
use super::{prune, CmdResult, Outcome};
use crate::engine::network::NetworkConfig;
use crate::engine::Engine;

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    Ls(LsArgs),
    /// Show a network and its endpoints as JSON
    Inspect(InspectArgs),
    /// Remove networks (their containers are disconnected)
    Rm(RmArgs),
    /// Remove every network without containers
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(format!("'{other}' is not true or false")),
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// loopback, bridge or custom
    #[arg(short = 't', long = "type", default_value = "loopback")]
    kind: String,
    /// The interface (default: the first unused kleeneN; an existing one for custom)
    #[arg(short, long, default_value = "")]
    interface: String,
    /// IPv4 subnet (CIDR)
    #[arg(long, default_value = "")]
    subnet: String,
    /// IPv6 subnet (CIDR)
    #[arg(long, default_value = "")]
    subnet6: String,
    /// IPv4 gateway of a bridge: an address, "auto" (the first host) or "" (none)
    #[arg(long, default_value = "auto")]
    gw: String,
    /// IPv6 gateway of a bridge: an address, "auto" or ""
    #[arg(long, default_value = "auto")]
    gw6: String,
    /// NAT to the outside (true/false), through --nat-if or the host's gateway
    #[arg(long, default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set, value_name = "BOOL")]
    nat: bool,
    /// The interface NAT goes out of (default: the default route's)
    #[arg(long)]
    nat_if: Option<String>,
    /// Inter-container connectivity (true/false)
    #[arg(long, default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set, value_name = "BOOL")]
    icc: bool,
    /// Block traffic leaving the network
    #[arg(long)]
    internal: bool,
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
    network: String,
}

impl InspectArgs {
    /// For `klee inspect`, which finds the kind first.
    pub fn of(name: &str) -> InspectArgs {
        InspectArgs {
            network: name.to_string(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// IPv4 address ("<auto>" allocates one; default: <auto> when the network has a subnet)
    #[arg(long, default_value = "<auto>")]
    ip: String,
    /// IPv6 address ("<auto>" allocates one; default: <auto> when the network has an IPv6 subnet)
    #[arg(long, default_value = "<auto>")]
    ip6: String,
    network: String,
    container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    network: String,
    container: String,
}

fn gateway(g: &str, kind: &str) -> String {
    match (g, kind) {
        (_, "loopback" | "custom") => String::new(),
        ("auto", _) => "<auto>".into(),
        (g, _) => g.to_string(),
    }
}

pub fn run(e: &mut Engine, cmd: NetworkCmd) -> CmdResult {
    match cmd {
        NetworkCmd::Create(a) => {
            let cfg = NetworkConfig {
                name: a.name,
                gateway: if a.subnet.is_empty() {
                    String::new()
                } else {
                    gateway(&a.gw, &a.kind)
                },
                gateway6: if a.subnet6.is_empty() {
                    String::new()
                } else {
                    gateway(&a.gw6, &a.kind)
                },
                kind: a.kind,
                interface: a.interface,
                subnet: a.subnet,
                subnet6: a.subnet6,
                nat: if a.nat { a.nat_if } else { Some(String::new()) },
                icc: a.icc,
                internal: a.internal,
            };
            crate::outln!("{}", e.network_create(&cfg)?.id);
        }
        NetworkCmd::Ls(a) => {
            let list = e.networks()?;
            if a.format == Format::Json {
                render::json(&list);
            } else {
                let rows = list
                    .iter()
                    .map(|n| {
                        vec![
                            n.id.clone(),
                            n.name.clone(),
                            n.kind.clone(),
                            n.interface.clone(),
                            n.subnet.clone(),
                            n.subnet6.clone(),
                        ]
                    })
                    .collect();
                render::table(
                    &["ID", "NAME", "TYPE", "INTERFACE", "SUBNET", "SUBNET6"],
                    rows,
                );
            }
        }
        NetworkCmd::Inspect(a) => {
            let n = e.network(&a.network)?;
            let eps: Vec<_> = e
                .endpoints()?
                .into_iter()
                .filter(|x| x.network_id == n.id)
                .collect();
            render::json(&serde_json::json!({ "network": n, "endpoints": eps }));
        }
        NetworkCmd::Rm(a) => {
            for n in a.networks {
                crate::outln!("{}", e.network_remove(&n)?.id);
            }
        }
        NetworkCmd::Prune(a) => {
            return prune("remove all networks without containers", a.force, || {
                e.network_prune()
            });
        }
        NetworkCmd::Connect(a) => {
            let ep = e.network_connect(&a.network, &a.container, &a.ip, &a.ip6)?;
            let addrs: Vec<&str> = [ep.ip_address.as_str(), ep.ip_address6.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if !addrs.is_empty() {
                crate::outln!("{}", addrs.join(" "));
            }
        }
        NetworkCmd::Disconnect(a) => e.network_disconnect(&a.network, &a.container)?,
    }
    Ok(Outcome::Ok)
}
