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
    Ps(PsArgs),
    /// Build the images of services with build:
    Build(Services),
    /// Start the services' existing containers
    Start(Services),
    /// Stop the services' containers
    Stop(StopArgs),
    /// Stop, then start the services' containers
    Restart(StopArgs),
    /// Print the services' output, each line after `SERVICE-N |`
    Logs(LogsArgs),
    /// Run a command in a service's running container (its first)
    Exec(ExecArgs),
    /// Run a one-off container of a service with another command
    Run(RunArgs),
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
    /// Make the containers again even when their configuration is unchanged
    #[arg(long)]
    force_recreate: bool,
    /// Remove containers of services no longer in the files
    #[arg(long)]
    remove_orphans: bool,
    /// Seconds to wait for a dependency's condition (healthy, completed)
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    wait_timeout: u64,
    #[command(flatten)]
    stop: StopTimeout,
    /// Only these services (and what they depend on)
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct DownArgs {
    /// Remove the project's named volumes too
    #[arg(short, long)]
    volumes: bool,
    /// Remove containers of services no longer in the files
    #[arg(long)]
    remove_orphans: bool,
    #[command(flatten)]
    stop: StopTimeout,
}

/// `-t`: how long a container gets after SIGTERM.
#[derive(Args, Debug)]
struct StopTimeout {
    /// Seconds each container gets to stop after SIGTERM, before SIGKILL
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    stop_timeout: u64,
}

#[derive(Args, Debug)]
struct Services {
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct PsArgs {
    /// Accepted for Docker Compose's sake: stopped containers are always listed
    #[arg(short, long)]
    all: bool,
}

#[derive(Args, Debug)]
struct StopArgs {
    #[command(flatten)]
    stop: StopTimeout,
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct LogsArgs {
    /// Keep printing new output until the containers stop
    #[arg(short, long)]
    follow: bool,
    /// Only these services (default: all)
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct ExecArgs {
    /// No terminal (by default there is one when standard input is one)
    #[arg(short = 'T', long = "no-tty")]
    no_tty: bool,
    /// Environment variable VAR=value (repeatable)
    #[arg(short, long, value_name = "VAR=value")]
    env: Vec<String>,
    /// User (name or uid[:gid])
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory
    #[arg(short, long)]
    workdir: Option<String>,
    service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Accepted for Docker Compose's sake: the one-off container is always removed
    #[arg(long)]
    rm: bool,
    /// No terminal (by default there is one when standard input is one)
    #[arg(short = 'T', long = "no-tty")]
    no_tty: bool,
    service: String,
    /// The command (default: the service's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
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
    // Said by the commands that make something from the files, not again
    // by every ps, logs or exec.
    let makes = matches!(
        a.command,
        ComposeCmd::Up(_) | ComposeCmd::Run(_) | ComposeCmd::Build(_) | ComposeCmd::Translate(_)
    );
    if makes {
        for v in &loaded.unset {
            eprintln!("warning: variable {v} is not set: it reads as an empty string");
        }
    }
    if !loaded.warnings.is_empty() && makes {
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
        ComposeCmd::Logs(l) => return logs(root, &loaded, &profiles, l),
        ComposeCmd::Exec(x) => {
            let mut flags = vec!["-i".to_string()];
            if wants_tty(x.no_tty) {
                flags.push("-t".into());
            }
            for e in &x.env {
                flags.extend(["-e".into(), e.clone()]);
            }
            if let Some(u) = &x.user {
                flags.extend(["-u".into(), u.clone()]);
            }
            if let Some(w) = &x.workdir {
                flags.extend(["-w".into(), w.clone()]);
            }
            return hand_over(root, &loaded, &x.service, "exec", &flags, &x.command);
        }
        ComposeCmd::Up(u) => format!(
            "stack::up(project, {})",
            opts_map(
                &u.services,
                &format!(
                    ", build: {}, timeout: {}, force_recreate: {}, remove_orphans: {}, stop_timeout: {}",
                    u.build, u.wait_timeout, u.force_recreate, u.remove_orphans, u.stop.stop_timeout
                )
            )
        ),
        ComposeCmd::Down(d) => format!(
            "stack::down(project, #{{volumes: {}, remove_orphans: {}, stop_timeout: {}}})",
            d.volumes, d.remove_orphans, d.stop.stop_timeout
        ),
        ComposeCmd::Ps(_) => "for l in stack::ps_table(project) { print(l); }".into(),
        ComposeCmd::Build(s) => format!("stack::build(project, {})", opts_map(&s.services, "")),
        ComposeCmd::Start(s) => format!("stack::start(project, {})", opts_map(&s.services, "")),
        ComposeCmd::Stop(s) => format!(
            "stack::stop(project, {})",
            opts_map(&s.services, &format!(", stop_timeout: {}", s.stop.stop_timeout))
        ),
        ComposeCmd::Restart(s) => format!(
            "stack::stop(project, {0}); stack::start(project, {0})",
            opts_map(&s.services, &format!(", stop_timeout: {}", s.stop.stop_timeout))
        ),
        ComposeCmd::Run(x) => {
            if !loaded.project.services.contains_key(&x.service) {
                eprintln!(
                    "error: no service '{}' in project '{}'",
                    x.service, loaded.project.name
                );
                return 1;
            }
            // Standard input goes to it, as Compose's run.
            let tty = wants_tty(x.no_tty);
            format!(
                "exit(stack::run_one(project, {}, {}, #{{interactive: true, tty: {tty}}}))",
                list(std::slice::from_ref(&x.service)).trim_matches(['[', ']']),
                list(&x.command)
            )
        }
    };
    if let Err(e) = crate::dsl::open(root) {
        eprintln!("error: {e}");
        return 1;
    }
    // Attached `up` shows what containers print from now on.
    let marks = match &a.command {
        ComposeCmd::Up(u) if !u.detach => crate::engine::Engine::open(root)
            .map(|e| super::compose_attach::log_marks(&e, &loaded.project))
            .unwrap_or_default(),
        _ => Default::default(),
    };
    let code = run_program(&loaded, &files, &call);
    match &a.command {
        ComposeCmd::Up(u) if code == 0 && !u.detach => {
            let services = if u.services.is_empty() {
                enabled(&loaded, &profiles)
            } else {
                u.services.clone()
            };
            attached(
                root,
                &loaded,
                &files,
                &services,
                u.abort_on_container_exit,
                &marks,
            )
        }
        _ => code,
    }
}

/// A terminal for `exec`/`run`: when standard input is one, unless `-T`.
fn wants_tty(no_tty: bool) -> bool {
    use std::io::IsTerminal;
    !no_tty && std::io::stdin().is_terminal()
}

/// Run the stack program ending with `call`; its exit code.
fn run_program(loaded: &Loaded, files: &[String], call: &str) -> i32 {
    let text = compose::script::program(&loaded.project, files, call);
    let name = format!("(the stack program of {})", files.join(", "));
    let dir = Path::new(&loaded.project.dir);
    // Errors as their message alone: where in the generated program they
    // arose means nothing to a compose user (`klee compose translate` and
    // `klee script` show it; so does KLEENE_DEBUG_SCRIPT=1).
    crate::dsl::run_source_as(
        &name,
        &text,
        &text,
        Some(dir),
        &[],
        crate::dsl::Limits::default(),
        crate::dsl::Errors::Message,
    )
}

/// `logs [-f] [SERVICE…]`: the containers' output so far, each line after
/// `SERVICE-N |`; with `-f`, then what comes until they stop (or Ctrl-C).
fn logs(root: &Path, loaded: &Loaded, profiles: &[String], l: &LogsArgs) -> i32 {
    let p = &loaded.project;
    if let Some(bad) = l.services.iter().find(|s| !p.services.contains_key(*s)) {
        eprintln!("error: no service '{bad}' in project '{}'", p.name);
        return 1;
    }
    let services = if l.services.is_empty() {
        enabled(loaded, profiles)
    } else {
        l.services.clone()
    };
    let follow = if l.follow {
        super::compose_attach::Follow::UntilStopped
    } else {
        super::compose_attach::Follow::No
    };
    match crate::engine::Engine::open(root).and_then(|mut e| {
        super::compose_attach::follow(&mut e, p, &services, follow, &Default::default())
    }) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
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
    marks: &std::collections::HashMap<String, u64>,
) -> i32 {
    let ended = crate::engine::Engine::open(root).and_then(|mut e| {
        let how = if abort_on_exit {
            super::compose_attach::Follow::UntilOneStops
        } else {
            super::compose_attach::Follow::Attached
        };
        super::compose_attach::follow(&mut e, &loaded.project, services, how, marks)
    });
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
    let stop = format!("stack::stop(project, #{{services: {list}, with_dependencies: true}})");
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
    flags: &[String],
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
