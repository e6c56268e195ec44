//! runc's command line, as containerd's shim, Docker and Podman call it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// An OCI runtime with runc's command line, on kleene's Linux runtime.
#[derive(Parser, Debug)]
#[command(name = "kleene-oci", version)]
pub struct Cli {
    /// Directory of the containers' state
    #[arg(long, global = true, default_value = "/run/kleene-oci")]
    pub root: PathBuf,
    /// Also write errors to this file
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of --log
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Accepted for runc compatibility (errors are always logged)
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported: a clear error)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The container's ID (unique under --root)
    pub id: String,
    /// The bundle directory (holds config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's init pid here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// UNIX socket to send the pty master to (process.terminal)
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// chroot instead of pivot_root (a root on a ramfs)
    #[arg(long)]
    pub no_pivot: bool,
    /// Pass N more fds (from 3) to the container's process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility
    #[arg(long)]
    pub no_new_keyring: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container: set up, waiting for `start`
    Create(CreateArgs),
    /// Let a created container's process run
    Start { id: String },
    /// Create, start and (unless -d) wait for a container, then delete it
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once started
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Run another process in a running container
    Exec(ExecArgs),
    /// Freeze every process of a running container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// List a container's processes
    Ps {
        id: String,
        /// table, or json (the pids)
        #[arg(short, long, default_value = "table")]
        format: String,
    },
    /// Change a running container's resource limits
    Update(UpdateArgs),
    /// Resource usage as runc's events: one line with --stats, else a
    /// line every --interval until the container stops
    Events {
        id: String,
        /// One line, then exit
        #[arg(long)]
        stats: bool,
        /// Seconds between lines
        #[arg(long, default_value_t = 5)]
        interval: u64,
    },
    /// Print a container's state (OCI state JSON)
    State { id: String },
    /// Send a signal to a container's init (or all its processes)
    Kill {
        id: String,
        /// Name (TERM, SIGKILL) or number
        #[arg(default_value = "TERM")]
        signal: String,
        /// Every process of the container
        #[arg(short, long)]
        all: bool,
    },
    /// Remove a stopped container (--force: kill it first)
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    #[command(visible_alias = "ls")]
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        /// IDs only
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json into the bundle
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Accepted for runc compatibility (no user namespace yet)
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports (OCI features JSON)
    Features,
    /// (internal, FreeBSD) The process of a jail's container: attach,
    /// wait for start, become the program
    #[command(hide = true)]
    Init(InitArgs),
}

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[arg(long)]
    pub jid: i32,
    /// The container's state directory (its start FIFO)
    #[arg(long)]
    pub state: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub uid: u32,
    #[arg(long, default_value_t = 0)]
    pub gid: u32,
    /// Supplementary groups, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<u32>,
    /// Octal
    #[arg(long)]
    pub umask: Option<String>,
    /// NAME=SOFT:HARD
    #[arg(long)]
    pub rlimit: Vec<String>,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(long)]
    pub env: Vec<String>,
    #[arg(last = true, required = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (unless --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// An OCI `process` JSON to run instead of COMMAND
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal (its master goes to --console-socket)
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short, long)]
    pub detach: bool,
    /// KEY=VALUE, added to the environment
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    /// More groups (GID)
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add (CAP_NET_ADMIN, ...)
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass N more fds (from 3) to the process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// An OCI `linux.resources` JSON (`-`: stdin)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit, bytes
    #[arg(short, long)]
    pub memory: Option<i64>,
    /// CPU time per period, microseconds
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPU period, microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Maximum number of processes
    #[arg(long)]
    pub pids_limit: Option<i64>,
}
