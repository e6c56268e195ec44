//! The `klee` command line: the klee command tree (container/image/volume
//! groups and the run/lsc/… shortcuts), each command a thin call into the
//! engine plus a renderer.

mod build;
mod compose;
mod compose_attach;
mod container;
mod control;
mod cp;
mod dockerfile;
mod docs;
mod fast;
mod image;
mod info;
mod login;
mod logs;
mod network;
mod ps;
mod render;
mod script;
mod stats;
mod system;
mod volume;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::engine::{Engine, Error, DEFAULT_ROOT};

#[derive(Parser, Debug)]
#[command(
    name = "klee",
    version,
    about = "Kleene containers: images, containers and volumes on jails (FreeBSD) or namespaces (Linux)",
    propagate_version = true
)]
pub struct Cli {
    /// State directory (images, containers, volumes, metadata)
    #[arg(long, global = true, env = "KLEENE_ROOT", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// The registry file: insecure registries, CAs, mirrors [default: /etc/kleene/registries.toml]
    #[arg(long, global = true, env = "KLEENE_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCmd),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCmd),
    /// Check and repair the installation, show its disk use, prune it
    #[command(subcommand)]
    System(system::SystemCmd),
    /// Run a Rhai script (ARGS holds its arguments)
    Script(script::ScriptArgs),
    /// Run compose.yaml projects (up, down, ps, logs, exec, config, translate, …)
    Compose(compose::ComposeArgs),
    /// An interactive Rhai session on the engine
    Repl,
    /// Print the DSL reference (docs/dsl.md) from the function metadata
    #[command(name = "dsl-docs", hide = true)]
    DslDocs,
    /// Parse Dockerfiles and expand their variables (no build)
    #[command(subcommand)]
    Dockerfile(dockerfile::DockerfileCmd),

    /// Build an image from a Dockerfile (shortcut for `image build`)
    Build(build::BuildArgs),
    /// Pull an image from a registry (shortcut for `image pull`)
    Pull(image::PullArgs),
    /// Push an image to a registry (shortcut for `image push`)
    Push(image::PushArgs),
    /// Write images to an archive (shortcut for `image save`)
    Save(image::SaveArgs),
    /// Load images from an archive (shortcut for `image load`)
    Load(image::LoadArgs),
    /// Name an image (shortcut for `image tag`)
    Tag(image::TagArgs),
    /// An image from a flat filesystem tarball (shortcut for `image import`)
    Import(image::ImportArgs),
    /// A stopped container's filesystem as a flat tar (shortcut for `container export`)
    Export(container::ExportArgs),
    /// Store a registry's credentials (Docker's config.json, mode 0600)
    Login(login::LoginArgs),
    /// Forget a registry's credentials
    Logout(login::LogoutArgs),

    // Shortcuts, as klee has them.
    /// Create and start a container (shortcut for `container run`)
    Run(container::RunArgs),
    /// Create a container (shortcut for `container create`)
    Create(container::CreateArgs),
    /// Start containers (shortcut for `container start`)
    Start(container::StartArgs),
    /// Stop containers (shortcut for `container stop`)
    Stop(container::StopArgs),
    /// Restart containers (shortcut for `container restart`)
    Restart(container::StopArgs),
    /// Run a command in a running container (shortcut for `container exec`)
    Exec(container::ExecArgs),
    /// Change a container's configuration and limits (shortcut for `container update`)
    Update(container::UpdateArgs),
    /// Print a detached container's output (shortcut for `container logs`)
    Logs(logs::LogsArgs),
    /// List containers (shortcut for `container ls`; Docker's `ps` works too)
    #[command(visible_alias = "ps")]
    Lsc(ps::LsArgs),
    /// Remove containers (shortcut for `container rm`; Docker's `rm` works too)
    #[command(visible_alias = "rm")]
    Rmc(container::RmArgs),
    /// Inspect a container (shortcut for `container inspect`)
    Isc(container::InspectArgs),
    /// Show containers, images, volumes or networks as JSON, whichever the names are
    Inspect(info::InspectArgs),
    /// Rename a container (shortcut for `container rename`)
    Rename(container::RenameArgs),
    /// Copy files between a container and the host (or a tar stream)
    Cp(cp::CpArgs),
    /// Send a signal to running containers (default KILL)
    Kill(control::KillArgs),
    /// Wait for containers to end and print their exit codes
    Wait(control::WaitArgs),
    /// List a container's published ports
    Port(control::PortArgs),
    /// List a running container's processes
    Top(stats::TopArgs),
    /// Show containers' CPU, memory and process use
    Stats(stats::StatsArgs),
    /// Show klee's version, OS and architecture
    Version(info::FormatArgs),
    /// Show the installation: root, store, objects, host facts
    Info(info::FormatArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(docs::CompletionsArgs),
    /// Write man pages (klee.1 and one per command) to DIR, or klee.1 to stdout
    Man(docs::ManArgs),
    /// List images (shortcut for `image ls`; Docker's `images` works too)
    #[command(visible_alias = "images")]
    Lsi(image::LsArgs),
    /// Remove images (shortcut for `image rm`)
    Rmi(image::RmArgs),
    /// Inspect an image (shortcut for `image inspect`)
    Isi(image::InspectArgs),
    /// List volumes (shortcut for `volume ls`)
    Lsv(volume::LsArgs),
    /// Remove volumes (shortcut for `volume rm`)
    Rmv(volume::RmArgs),
    /// Inspect a volume (shortcut for `volume inspect`)
    Isv(volume::InspectArgs),
    /// List networks (shortcut for `network ls`)
    Lsn(network::LsArgs),
    /// Remove networks (shortcut for `network rm`)
    Rmn(network::RmArgs),
    /// Inspect a network (shortcut for `network inspect`)
    Isn(network::InspectArgs),
}

/// How a command ended: success, or an exit code of its own (a container's).
pub enum Outcome {
    Ok,
    Code(i32),
}

pub type CmdResult = Result<Outcome, Error>;

/// Write an archive with `write` to `output`, or to standard output when
/// none is given (refused on a terminal). A file is written beside and
/// renamed once whole, so a failure leaves no half archive.
pub(crate) fn archive_out(
    output: Option<&std::path::Path>,
    what: &'static str,
    value: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), Error>,
) -> CmdResult {
    match output {
        Some(p) => {
            // A symlink is written through (to what it names).
            let p = &match std::fs::canonicalize(p) {
                Ok(real) if p.is_symlink() => real,
                _ => p.to_path_buf(),
            };
            let special = std::fs::metadata(p).is_ok_and(|m| !m.is_file());
            if special {
                // A device, a FIFO (`-o /dev/stdout`): written into, never
                // replaced.
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(|err| Error::io("cannot write", p, err))?;
                write(&mut f)?;
                return Ok(Outcome::Ok);
            }
            // Written beside it under a name of this process's, renamed
            // when whole: a failed or killed save never leaves a truncated
            // FILE, and two saves to one FILE do not mix.
            let mut name = std::ffi::OsString::from(".");
            name.push(p.file_name().unwrap_or_default());
            name.push(format!(".{}.partial", std::process::id()));
            let tmp = p.with_file_name(name);
            let r = std::fs::File::create(&tmp)
                .map_err(|err| Error::io("cannot create", p, err))
                .and_then(|mut f| {
                    write(&mut f)?;
                    // An existing FILE keeps its mode.
                    if let Ok(m) = std::fs::metadata(p) {
                        let _ = f.set_permissions(m.permissions());
                    }
                    Ok(())
                })
                .and_then(|_| {
                    std::fs::rename(&tmp, p).map_err(|err| Error::io("cannot write", p, err))
                });
            if r.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            r?;
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(Error::invalid(
                    what,
                    value,
                    "standard output is a terminal: give -o FILE or redirect it",
                ));
            }
            // A reader that goes away (`| head`) fails the write, so the
            // save cleans up after itself instead of dying in the middle.
            crate::platform::term::ignore_sigpipe();
            let r = write(&mut std::io::stdout().lock());
            crate::platform::term::default_sigpipe();
            match r {
                Err(e) if e.to_string().contains("Broken pipe") => {
                    return Err(Error::invalid(
                        what,
                        value,
                        "its reader closed standard output before the end",
                    ))
                }
                r => r?,
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn main() -> ExitCode {
    crate::platform::trace::begin();
    crate::platform::term::default_sigpipe();
    let early = fast::Early::start();
    if let Some((root, args)) = fast::parse() {
        crate::platform::trace::mark("parsed");
        if args.own_network_in_foreground() {
            crate::platform::native().prepare_network();
        }
        let mut engine = match early.engine(&root) {
            Ok(e) => e,
            Err(e) => return fail(&e),
        };
        crate::platform::trace::mark("store opened");
        let r = exit(container::run(
            &mut engine,
            container::ContainerCmd::Run(args),
        ));
        crate::platform::trace::mark("done");
        return r;
    }
    early.discard();
    let cli = Cli::parse();
    if let Some(c) = &cli.config {
        // Read where registries are reached (engine::registry::config);
        // still single-threaded here.
        std::env::set_var("KLEENE_CONFIG", c);
    }
    match cli.command {
        Command::Script(a) => return with_output(script::run(&cli.root, a)),
        Command::Compose(a) => return with_output(compose::run(&cli.root, a)),
        Command::Repl => {
            return with_output(crate::dsl::repl::run(
                &cli.root,
                crate::dsl::Limits::default(),
            ))
        }
        Command::DslDocs => {
            crate::out!(
                "{}",
                crate::dsl::docs::markdown(&crate::dsl::new_engine(
                    crate::dsl::Limits::default(),
                    None
                ))
            );
            return with_output(0);
        }
        _ => {}
    }
    // Front-end commands that need no engine (and no root).
    match cli.command {
        Command::Version(a) => return exit(info::version(a)),
        Command::Login(a) => return exit(login::login(a)),
        Command::Logout(a) => return exit(login::logout(a)),
        Command::Completions(a) => return exit(docs::completions(a)),
        Command::Man(a) => return exit(docs::man(a)),
        _ => {}
    }
    if let Command::Dockerfile(c) = cli.command {
        return exit(dockerfile::run(c));
    }
    let mut engine = match Engine::open(&cli.root) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let r = match cli.command {
        Command::Dockerfile(_)
        | Command::Script(_)
        | Command::Compose(_)
        | Command::Repl
        | Command::DslDocs
        | Command::Version(_)
        | Command::Completions(_)
        | Command::Man(_)
        | Command::Login(_)
        | Command::Logout(_) => {
            unreachable!("handled before the engine opens")
        }
        Command::Container(c) => container::run(&mut engine, c),
        Command::Build(a) => build::run(&mut engine, a),
        Command::Pull(a) => image::pull(&mut engine, a),
        Command::Push(a) => image::push(&mut engine, a),
        Command::Save(a) => image::save(&mut engine, a),
        Command::Load(a) => image::load(&mut engine, a),
        Command::Tag(a) => image::run(&mut engine, image::ImageCmd::Tag(a)),
        Command::Import(a) => image::import(&mut engine, a),
        Command::Export(a) => container::export(&mut engine, a),
        Command::Image(c) => image::run(&mut engine, c),
        Command::Volume(c) => volume::run(&mut engine, c),
        Command::Network(c) => network::run(&mut engine, c),
        Command::System(c) => system::run(&mut engine, c),
        Command::Lsn(a) => network::run(&mut engine, network::NetworkCmd::Ls(a)),
        Command::Rmn(a) => network::run(&mut engine, network::NetworkCmd::Rm(a)),
        Command::Isn(a) => network::run(&mut engine, network::NetworkCmd::Inspect(a)),
        Command::Run(a) => container::run(&mut engine, container::ContainerCmd::Run(a)),
        Command::Create(a) => container::run(&mut engine, container::ContainerCmd::Create(a)),
        Command::Start(a) => container::run(&mut engine, container::ContainerCmd::Start(a)),
        Command::Stop(a) => container::run(&mut engine, container::ContainerCmd::Stop(a)),
        Command::Restart(a) => container::run(&mut engine, container::ContainerCmd::Restart(a)),
        Command::Exec(a) => container::run(&mut engine, container::ContainerCmd::Exec(a)),
        Command::Update(a) => container::run(&mut engine, container::ContainerCmd::Update(a)),
        Command::Logs(a) => container::run(&mut engine, container::ContainerCmd::Logs(a)),
        Command::Lsc(a) => container::run(&mut engine, container::ContainerCmd::Ls(a)),
        Command::Rmc(a) => container::run(&mut engine, container::ContainerCmd::Rm(a)),
        Command::Isc(a) => container::run(&mut engine, container::ContainerCmd::Inspect(a)),
        Command::Inspect(a) => info::inspect(&mut engine, a),
        Command::Rename(a) => container::run(&mut engine, container::ContainerCmd::Rename(a)),
        Command::Kill(a) => control::kill(&mut engine, a),
        Command::Cp(a) => cp::cp(&mut engine, a),
        Command::Wait(a) => control::wait(&mut engine, a),
        Command::Port(a) => control::port(&mut engine, a),
        Command::Top(a) => stats::top(&mut engine, a),
        Command::Stats(a) => stats::stats(&mut engine, a),
        Command::Info(a) => info::info(&mut engine, a),
        Command::Lsi(a) => image::run(&mut engine, image::ImageCmd::Ls(a)),
        Command::Rmi(a) => image::run(&mut engine, image::ImageCmd::Rm(a)),
        Command::Isi(a) => image::run(&mut engine, image::ImageCmd::Inspect(a)),
        Command::Lsv(a) => volume::run(&mut engine, volume::VolumeCmd::Ls(a)),
        Command::Rmv(a) => volume::run(&mut engine, volume::VolumeCmd::Rm(a)),
        Command::Isv(a) => volume::run(&mut engine, volume::VolumeCmd::Inspect(a)),
    };
    exit(r)
}

fn exit(r: CmdResult) -> ExitCode {
    match r {
        Ok(outcome) => with_output(match outcome {
            Outcome::Ok => 0,
            Outcome::Code(c) => c,
        }),
        Err(e) => fail(&e),
    }
}

/// `code`, unless writing to standard output failed (and the command
/// itself succeeded): then say so and exit 1.
fn with_output(code: i32) -> ExitCode {
    match crate::stdout::failure() {
        Some(e) if code == 0 => {
            eprintln!("error: writing standard output: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::from(code.clamp(0, 255) as u8),
    }
}

/// Print an engine error; 125 when a container could not even start (as
/// Docker), 1 otherwise.
fn fail(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        Error::Start { .. } | Error::Exec { .. } => ExitCode::from(125),
        _ => ExitCode::from(1),
    }
}

/// A bulk removal: confirm, run `remove`, print what went; "aborted" and
/// exit code 1 when the user declines.
fn prune(
    what: &str,
    force: bool,
    remove: impl FnOnce() -> Result<Vec<String>, Error>,
) -> CmdResult {
    if !confirm(what, force)? {
        eprintln!("aborted");
        return Ok(Outcome::Code(1));
    }
    for id in remove()? {
        crate::outln!("{id}");
    }
    Ok(Outcome::Ok)
}

/// Ask before destructive bulk operations; without a terminal, refuse
/// unless `--force` was given.
fn confirm(what: &str, force: bool) -> Result<bool, Error> {
    use std::io::{BufRead, IsTerminal, Write};
    if force {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::State(format!(
            "refusing to {what} without confirmation: no terminal to ask on; use --force"
        )));
    }
    eprint!("WARNING! This will {what}.\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES"))
}
