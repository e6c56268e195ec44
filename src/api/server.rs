//! Running the daemon: configuration (flags over a TOML file over
//! defaults), start-up reconciliation, and the listeners. The UNIX socket
//! is created mode 0600 (root only); a TCP listener must have TLS.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::State;
use crate::engine::container::RestartPolicy;
use crate::engine::lifecycle::Attach;
use crate::engine::Engine;

/// `kleened`'s settings; every key is optional in the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The engine's root (default `platform::DEFAULT_ROOT`).
    pub root: Option<PathBuf>,
    /// The UNIX socket (default `/var/run/kleened.sock`).
    pub socket: Option<PathBuf>,
    /// A TCP address to listen on too (`127.0.0.1:8085`); needs TLS.
    pub tcp: Option<String>,
    /// A UNIX socket with TLS (klee's `https:///path.sock`); needs TLS.
    pub tls_socket: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA.
    pub tls_ca: Option<PathBuf>,
    /// Seconds a client has to send a request's headers, then its body.
    pub request_timeout: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot read config file '{}': {source}", path.display())]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file '{}': {message}", path.display())]
    ParseConfig { path: PathBuf, message: String },
    #[error(
        "'{0}' needs TLS: give --tls-cert and --tls-key (or tls_cert/tls_key in the config file)"
    )]
    TcpWithoutTls(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("socket '{}' is in use by a running server", .0.display())]
    SocketInUse(PathBuf),
    #[error("cannot listen on '{}': {source}", path.display())]
    Listen {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the engine: {0}")]
    Engine(#[from] crate::engine::error::Error),
}

impl Config {
    /// Read a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ServerError::ParseConfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// `self` with `over`'s values where it has them (flags over file).
    pub fn merged(self, over: Config) -> Config {
        Config {
            root: over.root.or(self.root),
            socket: over.socket.or(self.socket),
            tcp: over.tcp.or(self.tcp),
            tls_socket: over.tls_socket.or(self.tls_socket),
            tls_cert: over.tls_cert.or(self.tls_cert),
            tls_key: over.tls_key.or(self.tls_key),
            tls_ca: over.tls_ca.or(self.tls_ca),
            request_timeout: over.request_timeout.or(self.request_timeout),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.root
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::platform::DEFAULT_ROOT))
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout.unwrap_or(10).max(1))
    }

    pub fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/run/kleened.sock"))
    }
}

/// At start: repair what interrupted operations left (`system check
/// --repair`: runs whose end nobody recorded, `--rm` containers, debris of
/// dead processes), then start every stopped container whose restart
/// policy is `on-startup`. Returns what it did, one line each, for the log.
pub fn reconcile(root: &Path) -> Result<Vec<String>, ServerError> {
    let mut e = Engine::open(root)?;
    let mut log = Vec::new();
    match e.system_check_repair() {
        Ok(found) => {
            for (f, err) in found {
                log.push(match err {
                    None => format!(
                        "repaired {} {}: {}: {}",
                        f.kind, f.subject, f.problem, f.action
                    ),
                    Some(err) => format!(
                        "could not repair {} {}: {}: {err}",
                        f.kind, f.subject, f.problem
                    ),
                });
            }
        }
        Err(err) => log.push(format!("could not check the installation: {err}")),
    }
    for c in e.containers(true)? {
        if c.restart_policy == RestartPolicy::OnStartup && !c.status.is_running() {
            match e.container_start(&c.id, Attach::Detached) {
                Ok(_) => log.push(format!(
                    "started container {} ({}): restart policy on-startup",
                    c.id, c.name
                )),
                Err(err) => log.push(format!(
                    "could not start container {} ({}): {err}",
                    c.id, c.name
                )),
            }
        }
    }
    Ok(log)
}

/// Bind the UNIX socket, mode 0600. A stale socket file (nobody answers
/// on it) is replaced; a live one is an error.
pub fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, ServerError> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::SocketInUse(path.to_path_buf()));
        }
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let listen = |source| ServerError::Listen {
        path: path.to_path_buf(),
        source,
    };
    // Created under a tight umask, so there is no moment where others
    // could connect before the chmod.
    // SAFETY: umask has no preconditions; restored right after.
    let old = unsafe { libc::umask(0o177) };
    let l = tokio::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let l = l.map_err(listen)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(listen)?;
    Ok(l)
}

/// The TLS settings the TLS listeners need (None without any), checked
/// before anything starts.
pub fn tls_settings(
    cfg: &Config,
) -> Result<Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>, ServerError> {
    let wanted = cfg
        .tcp
        .clone()
        .or_else(|| cfg.tls_socket.as_ref().map(|p| p.display().to_string()));
    let Some(what) = wanted else { return Ok(None) };
    let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) else {
        return Err(ServerError::TcpWithoutTls(what));
    };
    super::tls::server_config(cert, key, cfg.tls_ca.as_deref()).map(Some)
}

/// Serve until SIGINT/SIGTERM; the socket file is removed on the way out.
/// (Call [`reconcile`] first, before any runtime threads exist: starting
/// containers forks.)
pub async fn serve(cfg: Config) -> Result<(), ServerError> {
    let tls = tls_settings(&cfg)?;
    let root = cfg.root();
    let socket = cfg.socket();
    let listener = bind_unix(&socket)?;
    let timeout = cfg.request_timeout();
    let app = super::router(State::with_timeout(root, timeout));
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let stopped = |tx: &tokio::sync::broadcast::Sender<()>| {
        let mut rx = tx.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    };
    let mut extra = Vec::new();
    if let Some(tls) = tls {
        if let Some(addr) = &cfg.tcp {
            let l = super::tls::TlsListener::tcp(addr, tls.clone()).await?;
            eprintln!("kleened: listening on https://{addr}");
            let serve = super::conn::serve(l, app.clone(), timeout, stopped(&stop_tx));
            extra.push(tokio::spawn(serve));
        }
        if let Some(path) = &cfg.tls_socket {
            let l = super::tls::TlsListener::unix(path, tls)?;
            eprintln!("kleened: listening on https://{}", path.display());
            let serve = super::conn::serve(l, app.clone(), timeout, stopped(&stop_tx));
            extra.push(tokio::spawn(serve));
        }
    }
    eprintln!("kleened: listening on {}", socket.display());
    let unix = tokio::spawn(super::conn::serve(
        listener,
        app,
        timeout,
        stopped(&stop_tx),
    ));
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    let _ = stop_tx.send(());
    let r = unix.await;
    for t in extra {
        let _ = t.await;
    }
    let _ = std::fs::remove_file(&socket);
    if let Some(p) = &cfg.tls_socket {
        let _ = std::fs::remove_file(p);
    }
    match r {
        Ok(()) => Ok(()),
        Err(e) => Err(ServerError::Listen {
            path: socket,
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_and_flags() {
        let c: Config = toml::from_str("root = \"/r\"\nsocket = \"/s.sock\"").unwrap();
        assert_eq!(c.root(), PathBuf::from("/r"));
        let flags = Config {
            socket: Some("/t.sock".into()),
            ..Default::default()
        };
        let m = c.merged(flags);
        assert_eq!(m.socket(), PathBuf::from("/t.sock"));
        assert_eq!(m.root(), PathBuf::from("/r"));
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
    }
}
