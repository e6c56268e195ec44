//! `klee compose …`: compose.yaml projects. A thin layer: the files are
//! loaded into the normalized model (crate::compose), and each command is
//! the stdlib `stack` program `klee compose translate` prints, run by the
//! DSL; `exec` and `logs` hand over to `klee exec`/`klee logs` on the
//! service's container.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::compose::{self, LoadOptions, Loaded};

#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose file(s), merged in order (default: compose.yaml,
    /// compose.yml, docker-compose.yml in the working directory)
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Project name (default: `name:`, COMPOSE_PROJECT_NAME, the directory's name)
    #[arg(short = 'p', long = "project-name")]
    project: Option<String>,
    /// Enable services of this profile (also COMPOSE_PROFILES, comma-separated)
    #[arg(long = "profile")]
    profiles: Vec<String>,
    #[command(subcommand)]
    command: ComposeCmd,
}

#[derive(Subcommand, Debug)]
enum ComposeCmd {
    /// Create and start the services (build or pull what is missing),
    /// dependencies first, waiting for their conditions
    Up(UpArgs),
    /// Stop and remove the project's containers and networks
    Down(DownArgs),
    /// List the project's containers
    Ps,
    /// Build the images of services with build:
    Build(Services),
    /// Start the services' existing containers
    Start(Services),
    /// Stop the services' containers
    Stop(Services),
    /// Stop, then start the services' containers
    Restart(Services),
    /// Print a service's output (its first container's)
    Logs(LogsArgs),
    /// Run a command in a service's running container
    Exec(ExecArgs),
    /// Run a one-off container of a service with another command
    Run(ExecArgs),
    /// Print the normalized model as YAML
    Config,
    /// Print the equivalent Rhai script (over the stdlib's `stack`)
    Translate(TranslateArgs),
}

#[derive(Args, Debug)]
struct UpArgs {
    /// Detached: start the services and return (without it, their output
    /// is printed until they stop; Ctrl-C stops them)
    #[arg(short, long)]
    detach: bool,
    /// Attached: stop the project when any container stops, and exit
    /// with its code
    #[arg(long, conflicts_with = "detach")]
    abort_on_container_exit: bool,
    /// Build images again even when they exist
    #[arg(long)]
    build: bool,
    /// Seconds to wait for a dependency's condition
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Only these services (and what they depend on)
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct DownArgs {
    /// Remove the project's named volumes too
    #[arg(short, long)]
    volumes: bool,
}

#[derive(Args, Debug)]
struct Services {
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct LogsArgs {
    /// Keep printing new output
    #[arg(short, long)]
    follow: bool,
    service: String,
}

#[derive(Args, Debug)]
struct ExecArgs {
    service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct TranslateArgs {
    /// The stack call the script ends with (up, down, ps, …)
    #[arg(long, default_value = "up")]
    action: String,
}

/// Run `klee compose`; the exit code.
pub fn run(root: &Path, a: ComposeArgs) -> i32 {
    let env = compose::load::process_env();
    let mut profiles = a.profiles.clone();
    if let Some(p) = env.get("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_string));
    }
    let opts = LoadOptions {
        files: a.files.clone(),
        project_name: a.project.clone(),
        dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        env,
    };
    let loaded = match compose::load(&opts) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            if e.at.is_none() {
                eprintln!();
            }
            return 1;
        }
    };
    if !loaded.warnings.is_empty() && !matches!(a.command, ComposeCmd::Config) {
        eprintln!(
            "warning: kleene does not honour: {}",
            loaded.warnings.join("; ")
        );
    }
    let files: Vec<String> = loaded
        .sources
        .files
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let list = |s: &[String]| crate::compose::script::literal(&serde_json::json!(s), 0);
    let opts_map = |services: &[String], extra: &str| {
        format!(
            "#{{services: {}, profiles: {}{extra}}}",
            list(services),
            list(&profiles)
        )
    };
    let call = match &a.command {
        ComposeCmd::Config => {
            crate::out!("{}", compose::script::yaml(&loaded.project));
            return 0;
        }
        ComposeCmd::Translate(t) => {
            let call = match t.action.as_str() {
                "up" => format!("stack::up(project, {})", opts_map(&[], "")),
                "ps" => r#"for s in stack::ps(project) { print(s.name + " " + s.service + " " + s.status); }"#.into(),
                other => format!("stack::{other}(project, {})", opts_map(&[], "")),
            };
            crate::out!(
                "{}",
                compose::script::program(&loaded.project, &files, &call)
            );
            return 0;
        }
        ComposeCmd::Logs(l) => {
            return hand_over(
                root,
                &loaded,
                &l.service,
                "logs",
                if l.follow { &["-f"] } else { &[] },
                &[],
            )
        }
        ComposeCmd::Exec(x) => {
            return hand_over(root, &loaded, &x.service, "exec", &[], &x.command)
        }
        ComposeCmd::Up(u) => format!(
            "stack::up(project, {})",
            opts_map(
                &u.services,
                &format!(", build: {}, timeout: {}", u.build, u.timeout)
            )
        ),
        ComposeCmd::Down(d) => format!("stack::down(project, #{{volumes: {}}})", d.volumes),
        ComposeCmd::Ps => "for l in stack::ps_table(project) { print(l); }".into(),
        ComposeCmd::Build(s) => format!("stack::build(project, {})", opts_map(&s.services, "")),
        ComposeCmd::Start(s) => format!("stack::start(project, {})", opts_map(&s.services, "")),
        ComposeCmd::Stop(s) => format!("stack::stop(project, {})", opts_map(&s.services, "")),
        ComposeCmd::Restart(s) => format!(
            "stack::stop(project, {0}); stack::start(project, {0})",
            opts_map(&s.services, "")
        ),
        ComposeCmd::Run(x) => {
            if !loaded.project.services.contains_key(&x.service) {
                eprintln!(
                    "error: no service '{}' in project '{}'",
                    x.service, loaded.project.name
                );
                return 1;
            }
            format!(
                "exit(stack::run_one(project, {}, {}))",
                list(std::slice::from_ref(&x.service)).trim_matches(['[', ']']),
                list(&x.command)
            )
        }
    };
    if let Err(e) = crate::dsl::open(root) {
        eprintln!("error: {e}");
        return 1;
    }
    let code = run_program(&loaded, &files, &call);
    match &a.command {
        ComposeCmd::Up(u) if code == 0 && !u.detach => {
            let services = if u.services.is_empty() {
                enabled(&loaded, &profiles)
            } else {
                u.services.clone()
            };
            attached(root, &loaded, &files, &services, u.abort_on_container_exit)
        }
        _ => code,
    }
}

/// Run the stack program ending with `call`; its exit code.
fn run_program(loaded: &Loaded, files: &[String], call: &str) -> i32 {
    let text = compose::script::program(&loaded.project, files, call);
    let name = format!("(the stack program of {})", files.join(", "));
    let dir = Path::new(&loaded.project.dir);
    crate::dsl::run_source(
        &name,
        &text,
        &text,
        Some(dir),
        &[],
        crate::dsl::Limits::default(),
    )
}

/// The services without profiles or with one of `profiles`.
fn enabled(loaded: &Loaded, profiles: &[String]) -> Vec<String> {
    let p = &loaded.project;
    p.services
        .iter()
        .filter(|(_, s)| s.profiles.is_empty() || s.profiles.iter().any(|x| profiles.contains(x)))
        .map(|(n, _)| n.clone())
        .collect()
}

/// `up` without `-d`: follow the services' output; on Ctrl-C (or with
/// `--abort-on-container-exit`, when one stops) stop the project.
fn attached(
    root: &Path,
    loaded: &Loaded,
    files: &[String],
    services: &[String],
    abort_on_exit: bool,
) -> i32 {
    let ended = crate::engine::Engine::open(root)
        .and_then(|e| super::compose_attach::follow(&e, &loaded.project, services, abort_on_exit));
    let code = match ended {
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
        Ok(super::compose_attach::Ended::AllStopped) => return 0,
        Ok(super::compose_attach::Ended::Interrupted) => 130,
        Ok(super::compose_attach::Ended::Exited(name, code)) => {
            eprintln!("{name} stopped (--abort-on-container-exit): stopping the project");
            code
        }
    };
    super::compose_attach::default_signals();
    if code == 130 {
        eprintln!(
            "stopping project '{}' (Ctrl-C again leaves the containers as they are)",
            loaded.project.name
        );
    }
    // The services followed and what they depend on.
    let list = crate::compose::script::literal(&serde_json::json!(services), 0);
    let stop = format!("stack::stop(project, #{{services: {list}}})");
    match run_program(loaded, files, &stop) {
        0 => code,
        c => c,
    }
}

/// `klee logs`/`klee exec` on a service's first container, in this
/// process's place.
fn hand_over(
    root: &Path,
    loaded: &Loaded,
    service: &str,
    what: &str,
    flags: &[&str],
    rest: &[String],
) -> i32 {
    let p = &loaded.project;
    if !p.services.contains_key(service) {
        eprintln!("error: no service '{service}' in project '{}'", p.name);
        return 1;
    }
    let name = p
        .container_names(service)
        .into_iter()
        .next()
        .unwrap_or_else(|| format!("{}_{service}_1", p.name));
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("klee"));
    let mut c = std::process::Command::new(exe);
    c.arg("--root")
        .arg(root)
        .arg(what)
        .args(flags)
        .arg(&name)
        .args(rest);
    let e = std::os::unix::process::CommandExt::exec(&mut c);
    eprintln!("error: cannot run klee {what}: {e}");
    1
}
