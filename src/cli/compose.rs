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
    /// Detached (the only way kleene runs a project: follow with `logs -f`)
    #[arg(short, long)]
    detach: bool,
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
    let text = compose::script::program(&loaded.project, &files, &call);
    if let Err(e) = crate::dsl::open(root) {
        eprintln!("error: {e}");
        return 1;
    }
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
    let Some(s) = p.services.get(service) else {
        eprintln!("error: no service '{service}' in project '{}'", p.name);
        return 1;
    };
    let name = if s.container_name.is_empty() {
        format!("{}_{service}_1", p.name)
    } else {
        s.container_name.clone()
    };
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
