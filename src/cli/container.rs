//! `klee container …` and its shortcuts.

use crate::engine::endpoint::Connection;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::render;
use super::{prune, CmdResult, Outcome};
use crate::engine::container::{check_env, ContainerUpdate};
use crate::engine::exec::ExecConfig;
use crate::engine::lifecycle::Attach;
use crate::engine::limits::LimitOptions;
use crate::engine::security::SecurityOptions;
use crate::engine::{ContainerConfig, Engine, Error, MountConfig, RestartPolicy};

#[derive(Subcommand, Debug)]
pub enum ContainerCmd {
    /// Create a container
    Create(CreateArgs),
    /// Create and start a container
    Run(RunArgs),
    /// List containers
    Ls(super::ps::LsArgs),
    /// Show a container's configuration and state as JSON
    Inspect(InspectArgs),
    /// Remove containers
    Rm(RmArgs),
    /// Remove all stopped containers that are not persistent
    Prune(PruneArgs),
    /// Start containers (attached to the first unless -d)
    Start(StartArgs),
    /// Stop containers: SIGTERM, then SIGKILL after --time seconds
    Stop(StopArgs),
    /// Stop (if running) and start containers, detached
    Restart(StopArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Change a container's configuration for its next start
    Update(UpdateArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Print the output of a detached container
    Logs(super::logs::LogsArgs),
    /// Copy files between a container and the host (or a tar stream)
    Cp(super::cp::CpArgs),
    /// Write a stopped container's filesystem as a flat tar (`image import` reads it)
    Export(ExportArgs),
    /// Send a signal to running containers (default KILL)
    Kill(super::control::KillArgs),
    /// Wait for containers to end and print their exit codes
    Wait(super::control::WaitArgs),
    /// List a container's published ports
    Port(super::control::PortArgs),
    /// List a running container's processes
    Top(super::stats::TopArgs),
    /// Show containers' CPU, memory and process use
    Stats(super::stats::StatsArgs),
}

/// Options shared by `create` and `run`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Container name (default: a generated adjective_surname)
    #[arg(long)]
    name: Option<String>,
    /// Default user of the container's processes (name or uid[:gid])
    #[arg(short, long, default_value = "")]
    user: String,
    /// Environment variable VAR=value (repeatable)
    #[arg(short, long = "env", value_name = "VAR=value")]
    env: Vec<String>,
    /// Mount SOURCE:DEST[:ro|rw]; a SOURCE starting with '/' is a host path, else a volume
    #[arg(short, long = "mount", value_name = "SOURCE:DEST[:ro|rw]")]
    mount: Vec<String>,
    /// Docker's spelling of --mount: a volume or host path SOURCE:DEST[:ro|rw]
    #[arg(short = 'v', long = "volume", value_name = "SOURCE:DEST[:ro|rw]")]
    volume: Vec<String>,
    /// Read environment variables from a file: KEY=value lines (# comments); a bare KEY takes this shell's value (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<std::path::PathBuf>,
    /// The container's hostname (the jail parameter host.hostname)
    #[arg(long)]
    hostname: Option<String>,
    /// An extra /etc/hosts line NAME:IP (repeatable)
    #[arg(long = "add-host", value_name = "NAME:IP")]
    add_host: Vec<String>,
    /// A label KEY=VALUE, kept with the container (repeatable; ps --filter label=KEY[=VALUE])
    #[arg(long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Jail parameter; on Linux, allow.raw_sockets, allow.mount, allow.suser=0, ... change the confinement (docs/security.md)
    #[arg(short = 'J', long = "jailparam")]
    jailparam: Vec<String>,
    /// Working directory of the container's processes (default: the image's, else the user's home)
    #[arg(short, long, default_value = "")]
    workdir: String,
    /// Keep the container when pruning
    #[arg(short = 'P', long)]
    persist: bool,
    /// Restart policy: no or on-startup
    #[arg(long, default_value = "no")]
    restart: String,
    /// Remove the container when it exits (Docker's --rm)
    #[arg(long)]
    rm: bool,
    /// Replace the image's entrypoint (a command line split on whitespace; "" clears it)
    #[arg(long)]
    entrypoint: Option<String>,
    /// Network driver: ipnet, vnet, host or disabled (default: disabled, or ipnet with --network)
    #[arg(short = 'l', long)]
    driver: Option<String>,
    /// Connect to this network after creating the container; Docker's host and none mean the host and disabled drivers
    #[arg(short = 'n', long, visible_alias = "net")]
    network: Option<String>,
    /// IPv4 address in --network ("<auto>" to allocate one)
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address in --network ("<auto>", the default, allocates one when the network has an IPv6 subnet)
    #[arg(long)]
    ip6: Option<String>,
    /// Nameserver for the container's /etc/resolv.conf instead of the host's (repeatable)
    #[arg(long, value_name = "IP")]
    dns: Vec<String>,
    /// Publish a port: [INTERFACE:|IP:]HOST[:CONTAINER][/udp] (every local address unless an interface or address is given), HOST may be a range A-B, or 0 for a free port from 49152-65535 (repeatable)
    #[arg(
        short,
        long = "publish",
        value_name = "[IF:|IP:]HOST[:CONTAINER][/udp]"
    )]
    publish: Vec<String>,
    #[command(flatten)]
    confinement: ConfinementArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    health: HealthArgs,
    /// Image to use: NAME[:TAG][@SNAPSHOT] or ID
    image: String,
    /// Command and arguments (default: the image's command)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// What a container may do (docs/security.md). By default it is confined
/// like a default jail: 12 capabilities, a seccomp filter, masked /proc.
#[derive(Args, Debug)]
pub struct ConfinementArgs {
    /// Add a capability: NET_RAW, CAP_SYS_ADMIN, ... or ALL (repeatable)
    #[arg(long = "cap-add", value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop a capability, or ALL (repeatable)
    #[arg(long = "cap-drop", value_name = "CAP")]
    cap_drop: Vec<String>,
    /// Give up confinement: every capability, no seccomp, no masked paths, the host's devices
    #[arg(long)]
    privileged: bool,
    /// Mount the container's root filesystem read-only
    #[arg(long = "read-only")]
    read_only: bool,
    /// no-new-privileges, seccomp=unconfined|FILE.json (Docker's format), systempaths=unconfined (repeatable)
    #[arg(long = "security-opt", value_name = "OPT")]
    security_opt: Vec<String>,
    /// Run a tiny init as PID 1 that forwards signals and reaps zombies
    #[arg(long)]
    init: bool,
}

impl ConfinementArgs {
    fn options(self) -> SecurityOptions {
        SecurityOptions {
            privileged: self.privileged,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            read_only: self.read_only,
            security_opt: self.security_opt,
            init: self.init,
        }
    }
}

/// Docker's `--health-*` options, over the image's HEALTHCHECK.
#[derive(Args, Debug)]
pub struct HealthArgs {
    /// Health check command, run with the image's shell (replaces the image's HEALTHCHECK)
    #[arg(long = "health-cmd", value_name = "COMMAND")]
    health_cmd: Option<String>,
    /// Time between health checks, e.g. 30s
    #[arg(long = "health-interval", value_name = "DURATION")]
    health_interval: Option<String>,
    /// Time a health check may take, e.g. 30s
    #[arg(long = "health-timeout", value_name = "DURATION")]
    health_timeout: Option<String>,
    /// Failures in a row that make the container unhealthy
    #[arg(long = "health-retries", value_name = "N")]
    health_retries: Option<String>,
    /// Time for the container to start during which failures do not count
    #[arg(long = "health-start-period", value_name = "DURATION")]
    health_start_period: Option<String>,
    /// Time between health checks during the start period
    #[arg(long = "health-start-interval", value_name = "DURATION")]
    health_start_interval: Option<String>,
    /// Run no health check (the image's HEALTHCHECK included)
    #[arg(long = "no-healthcheck")]
    no_healthcheck: bool,
}

impl HealthArgs {
    fn options(self) -> crate::engine::container::HealthOptions {
        let options = [
            ("interval", self.health_interval),
            ("timeout", self.health_timeout),
            ("retries", self.health_retries),
            ("start-period", self.health_start_period),
            ("start-interval", self.health_start_interval),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
        crate::engine::container::HealthOptions {
            cmd: self.health_cmd,
            options,
            disable: self.no_healthcheck,
        }
    }
}

/// How much a container may use.
#[derive(Args, Debug)]
pub struct LimitArgs {
    /// Memory limit, e.g. 64m or 1g (the kernel's OOM killer ends processes beyond it)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    memory: Option<String>,
    /// CPUs the container may use, e.g. 0.5 or 2
    #[arg(long, value_name = "CPUS", allow_hyphen_values = true)]
    cpus: Option<String>,
    /// Maximum number of processes and threads (-1: unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
}

impl LimitArgs {
    fn options(self) -> LimitOptions {
        LimitOptions {
            memory: self.memory,
            cpus: self.cpus,
            pids: self.pids_limit,
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    attach: AttachArgs,
    /// rkt's fly mode: chroot only, with the host's pid, network, uts and ipc namespaces; unconfined by design (every capability, no seccomp)
    #[arg(long)]
    fly: bool,
    #[command(flatten)]
    create: CreateArgs,
}

impl RunArgs {
    /// Will this process start a container with a network namespace of its
    /// own (not `--fly`, not the host's network, not detached: a detached
    /// container is started by a forked monitor)?
    pub fn own_network_in_foreground(&self) -> bool {
        let c = &self.create;
        let host = match c.driver.as_deref() {
            Some(d) => d == "host",
            None => c.network.as_deref() == Some("host"),
        };
        !(self.fly || self.attach.detach || host)
    }
}

/// How a started process relates to this terminal.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Run in the background (output goes to the container's log)
    #[arg(short, long)]
    detach: bool,
    /// Keep stdin open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    tty: bool,
}

impl AttachArgs {
    fn mode(&self) -> Result<Attach, Error> {
        if self.detach && (self.interactive || self.tty) {
            return Err(Error::invalid(
                "options",
                "--detach with --interactive/--tty",
                "a detached process has no terminal or stdin",
            ));
        }
        Ok(if self.detach {
            Attach::Detached
        } else {
            Attach::Attached {
                tty: self.tty,
                stdin: self.interactive,
            }
        })
    }
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Container name, ID or unique ID prefix
    container: String,
}

impl InspectArgs {
    /// For `klee inspect`, which finds the kind first.
    pub fn of(name: &str) -> InspectArgs {
        InspectArgs {
            container: name.to_string(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill running containers first
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    attach: AttachArgs,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(short, long, default_value_t = 10)]
    time: u64,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    attach: AttachArgs,
    /// Environment variable VAR=value (repeatable)
    #[arg(short, long = "env", value_name = "VAR=value")]
    env: Vec<String>,
    /// User (name or uid[:gid]); default: the container's
    #[arg(short, long, default_value = "")]
    user: String,
    /// Working directory; default: the container's
    #[arg(short, long, default_value = "")]
    workdir: String,
    /// Container name, ID or unique ID prefix
    container: String,
    /// Command and arguments (default: the container's command)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// New name
    #[arg(long)]
    name: Option<String>,
    /// New default user
    #[arg(short, long)]
    user: Option<String>,
    /// Environment variables to add or change (repeatable)
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Jail parameters (replace the stored ones)
    #[arg(short = 'J', long = "jailparam")]
    jailparam: Vec<String>,
    /// Keep the container when pruning
    #[arg(short = 'P', long, conflicts_with = "no_persist")]
    persist: bool,
    /// Let prune remove the container again
    #[arg(long = "no-persist")]
    no_persist: bool,
    /// Restart policy: no or on-startup
    #[arg(long)]
    restart: Option<String>,
    /// New limits, applied at once to a running container (0 or -1 removes one)
    #[command(flatten)]
    limits: LimitArgs,
    container: String,
    /// New default command
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

/// The network to connect a new container to, and its addresses.
fn config(mut a: CreateArgs, fly: bool) -> Result<ContainerConfig, Error> {
    // Docker's spellings, folded into klee's own options.
    let mut env = env_files(&a.env_file)?;
    env.append(&mut a.env);
    check_env(&env)?;
    a.mount.append(&mut a.volume);
    if let Some(h) = a.hostname.take() {
        a.jailparam.push(format!("host.hostname={h}"));
    }
    match a.network.as_deref() {
        Some(special @ ("host" | "none")) if a.driver.is_none() => {
            a.driver = Some(
                if special == "host" {
                    "host"
                } else {
                    "disabled"
                }
                .into(),
            );
            a.network = None;
        }
        _ => {}
    }
    let labels = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !l.is_empty() => Ok((l.clone(), String::new())),
            _ => Err(Error::invalid("label", l, "expected KEY=VALUE")),
        })
        .collect::<Result<_, _>>()?;
    let mounts = a
        .mount
        .iter()
        .map(|m| MountConfig::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ContainerConfig {
        image: a.image,
        name: a.name,
        cmd: a.command,
        entrypoint: a
            .entrypoint
            .map(|e| e.split_whitespace().map(str::to_string).collect()),
        env,
        user: a.user,
        workdir: a.workdir,
        mounts,
        jail_param: a.jailparam,
        persist: a.persist,
        restart_policy: a.restart.parse::<RestartPolicy>()?,
        auto_remove: a.rm,
        fly,
        network_driver: a.driver.clone().unwrap_or_else(|| {
            if a.network.is_some() {
                "ipnet".into()
            } else {
                String::new()
            }
        }),
        public_ports: a
            .publish
            .iter()
            .map(|p| crate::engine::ports::PublishedPort::parse(p))
            .collect::<Result<_, _>>()?,
        dns: a.dns.clone(),
        security: a.confinement.options(),
        limits: a.limits.options(),
        health: a.health.options(),
        // Joined with the container's creation, in the same write.
        networks: a
            .network
            .iter()
            .map(|n| Connection {
                network: n.clone(),
                ip: a.ip.clone().unwrap_or_else(|| "<auto>".into()),
                ip6: a.ip6.clone().unwrap_or_else(|| "<auto>".into()),
            })
            .collect(),
        labels,
        extra_hosts: a.add_host,
    })
}

/// `--env-file`: `KEY=value` lines, `#` comments and blank lines skipped, a
/// bare `KEY` taking this shell's value (left out when unset), as Docker.
fn env_files(files: &[std::path::PathBuf]) -> Result<Vec<String>, Error> {
    let mut env = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| Error::io("cannot read env file", f, e))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((k, _)) if k.is_empty() || k.contains(char::is_whitespace) => {
                    return Err(Error::invalid(
                        "env file line",
                        format!("{}:{}: {line}", f.display(), n + 1),
                        "expected KEY=value",
                    ))
                }
                Some(_) => env.push(line.to_string()),
                None => {
                    if let Ok(v) = std::env::var(line.trim()) {
                        env.push(format!("{}={v}", line.trim()));
                    }
                }
            }
        }
    }
    Ok(env)
}

/// `run`: create, connect, start.
fn run_container(e: &mut Engine, a: RunArgs) -> CmdResult {
    let mode = a.attach.mode()?;
    let (c, r) = e.container_run(&config(a.create, a.fly)?, mode)?;
    if mode == Attach::Detached {
        crate::outln!("{}", c.id);
    }
    Ok(code(r))
}

fn code(o: Option<i32>) -> Outcome {
    match o {
        Some(c) => Outcome::Code(c),
        None => Outcome::Ok,
    }
}

pub fn run(e: &mut Engine, cmd: ContainerCmd) -> CmdResult {
    match cmd {
        ContainerCmd::Create(a) => {
            let c = e.container_create(&config(a, false)?)?;
            crate::outln!("{}", c.id);
        }
        ContainerCmd::Run(a) => {
            // Like `docker run`: 125 whenever the container did not run,
            // whatever stopped it (bad options, no such image, ...).
            return match run_container(e, a) {
                Err(err) => {
                    eprintln!("error: {err}");
                    Ok(Outcome::Code(125))
                }
                ok => ok,
            };
        }
        ContainerCmd::Ls(a) => return super::ps::ls(e, a),
        ContainerCmd::Inspect(a) => render::json(&e.container_inspect(&a.container)?),
        ContainerCmd::Rm(a) => {
            for c in a.containers {
                let c = e.container_remove(&c, a.force)?;
                crate::outln!("{}", c.id);
            }
        }
        ContainerCmd::Prune(a) => {
            return prune("remove all stopped containers", a.force, || {
                e.container_prune()
            });
        }
        ContainerCmd::Start(a) => {
            let mode = a.attach.mode()?;
            if mode != Attach::Detached && a.containers.len() > 1 {
                return Err(Error::invalid(
                    "options",
                    a.containers.join(" "),
                    "only one container can be started attached; use --detach",
                ));
            }
            let mut last = None;
            for c in &a.containers {
                last = e.container_start(c, mode)?;
                if mode == Attach::Detached {
                    crate::outln!("{}", e.container(c)?.id);
                }
            }
            return Ok(code(last));
        }
        ContainerCmd::Stop(a) => {
            for c in a.containers {
                let c = e.container_stop(&c, Duration::from_secs(a.time))?;
                crate::outln!("{}", c.id);
            }
        }
        ContainerCmd::Restart(a) => {
            for c in a.containers {
                let c = e.container_restart(&c, Duration::from_secs(a.time))?;
                crate::outln!("{}", c.id);
            }
        }
        ContainerCmd::Exec(a) => {
            check_env(&a.env)?;
            let mode = a.attach.mode()?;
            let cfg = ExecConfig {
                cmd: a.command,
                env: a.env,
                user: a.user,
                workdir: a.workdir,
            };
            return Ok(code(e.container_exec(&a.container, &cfg, mode)?));
        }
        ContainerCmd::Update(a) => {
            check_env(&a.env)?;
            let u = ContainerUpdate {
                name: a.name,
                user: a.user,
                env: a.env,
                cmd: a.command,
                jail_param: a.jailparam,
                persist: match (a.persist, a.no_persist) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                restart_policy: a.restart.map(|r| r.parse()).transpose()?,
                limits: a.limits.options(),
            };
            crate::outln!("{}", e.container_update(&a.container, &u)?.id);
        }
        ContainerCmd::Rename(a) => {
            crate::outln!("{}", e.container_rename(&a.container, &a.new_name)?.id);
        }
        ContainerCmd::Logs(a) => return super::logs::logs(e, a),
        ContainerCmd::Kill(a) => return super::control::kill(e, a),
        ContainerCmd::Cp(a) => return super::cp::cp(e, a),
        ContainerCmd::Export(a) => return export(e, a),
        ContainerCmd::Wait(a) => return super::control::wait(e, a),
        ContainerCmd::Port(a) => return super::control::port(e, a),
        ContainerCmd::Top(a) => return super::stats::top(e, a),
        ContainerCmd::Stats(a) => return super::stats::stats(e, a),
    }
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The container
    pub container: String,
    /// The tar to write (default: standard output, unless a terminal)
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

pub fn export(e: &mut Engine, a: ExportArgs) -> CmdResult {
    super::archive_out(a.output.as_deref(), "container export", &a.container, |w| {
        e.container_export(&a.container, w)
    })
}
