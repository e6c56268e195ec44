//! kleened: the Kleene API server (REST over a UNIX socket), on the same
//! engine and store as `klee`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kleene::api::server::{self, Config};

/// Serve the Kleene API (kleened's REST routes) from the engine `klee` uses.
///
/// Settings come from flags, then the config file, then defaults. The UNIX
/// socket is created mode 0600: only root can talk to the daemon. A TCP
/// listener must use TLS.
#[derive(Parser, Debug)]
#[command(name = "kleened", version)]
struct Args {
    /// TOML config file (keys: root, socket, tcp, tls_socket, tls_cert, tls_key, tls_ca,
    /// request_timeout)
    #[arg(short, long, env = "KLEENED_CONFIG")]
    config: Option<PathBuf>,
    /// State directory [default: /var/lib/kleene; FreeBSD: /zroot/kleene, the mountpoint of zroot/kleene]
    #[arg(long, env = "KLEENE_ROOT")]
    root: Option<PathBuf>,
    /// UNIX socket to listen on [default: /var/run/kleened.sock]
    #[arg(short, long)]
    socket: Option<PathBuf>,
    /// Also listen on this TCP address (needs --tls-cert and --tls-key)
    #[arg(long, value_name = "ADDR:PORT")]
    tcp: Option<String>,
    /// Also listen on this UNIX socket with TLS (needs --tls-cert and --tls-key)
    #[arg(long, value_name = "PATH")]
    tls_socket: Option<PathBuf>,
    /// TLS certificate (PEM)
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM)
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Seconds a client has to send a request's headers, and then its body
    /// [default: 10]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: Option<u64>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let run = || -> Result<(), server::ServerError> {
        let file = match &a.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        let cfg = file.merged(Config {
            root: a.root.clone(),
            socket: a.socket.clone(),
            tcp: a.tcp.clone(),
            tls_socket: a.tls_socket.clone(),
            tls_cert: a.tls_cert.clone(),
            tls_key: a.tls_key.clone(),
            tls_ca: a.tls_ca.clone(),
            request_timeout: a.request_timeout,
        });
        // Bad TLS settings stop us before anything starts.
        server::tls_settings(&cfg)?;
        // Before the runtime's threads exist: starting containers forks.
        for line in server::reconcile(&cfg.root())? {
            eprintln!("kleened: {line}");
        }
        // From here on, big trees (a host image's layer) are removed after
        // the client has its answer.
        kleene::platform::fsutil::set_background_removal(true);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|source| server::ServerError::Listen {
                path: cfg.socket(),
                source,
            })?;
        rt.block_on(server::serve(cfg))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kleened: error: {e}");
            ExitCode::from(1)
        }
    }
}
