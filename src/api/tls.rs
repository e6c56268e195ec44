//! The TCP listener with TLS (rustls): a certificate and key, and with a
//! CA, required client certificates — a client without one fails the
//! handshake with TLS 1.3's `certificate_required` alert, which is what
//! klee's own test suite expects. Handshakes run in their own tasks, so a
//! slow or silent client never holds up the others.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::server::ServerError;

fn tls_err(path: &Path, what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(format!("{what} '{}': {e}", path.display()))
}

/// The server's TLS settings from PEM files.
pub fn server_config(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, ServerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(cert, "cannot read certificate", e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(cert, "invalid certificate", e))?;
    if certs.is_empty() {
        return Err(tls_err(
            cert,
            "no certificate in",
            "the file has no CERTIFICATE block",
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_err(key, "cannot read private key", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let builder = match ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in
                CertificateDer::pem_file_iter(ca).map_err(|e| tls_err(ca, "cannot read CA", e))?
            {
                let c = c.map_err(|e| tls_err(ca, "invalid CA certificate", e))?;
                roots
                    .add(c)
                    .map_err(|e| tls_err(ca, "unusable CA certificate", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_err(ca, "cannot verify clients with", e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(certs, key_der)
        .map_err(|e| tls_err(cert, "certificate and key do not match", e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Accepted, handshaken TLS connections, for `axum::serve`: over TCP or
/// over a UNIX socket (klee's `https:///path.sock`).
pub struct TlsListener<T> {
    name: String,
    ready: mpsc::Receiver<TlsStream<T>>,
}

/// Handshake each accepted stream in its own task; the finished ones go
/// to `tx`. A failed handshake (no client certificate, bad CA, plain
/// HTTP) just ends that connection.
fn handshake<T>(acceptor: TlsAcceptor, tx: mpsc::Sender<TlsStream<T>>, stream: T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Ok(Ok(tls)) =
            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
        {
            let _ = tx.send(tls).await;
        }
    });
}

impl TlsListener<TcpStream> {
    pub async fn tcp(addr: &str, cfg: Arc<ServerConfig>) -> Result<Self, ServerError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Listen {
                path: addr.into(),
                source,
            })?;
        let acceptor = TlsAcceptor::from(cfg);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match tcp.accept().await {
                    Ok((stream, _)) => handshake(acceptor.clone(), tx.clone(), stream),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Ok(TlsListener {
            name: format!("https://{addr}"),
            ready,
        })
    }
}

impl TlsListener<tokio::net::UnixStream> {
    /// TLS on a UNIX socket, created 0600 like the plain one.
    pub fn unix(path: &Path, cfg: Arc<ServerConfig>) -> Result<Self, ServerError> {
        let l = super::server::bind_unix(path)?;
        let acceptor = TlsAcceptor::from(cfg);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((stream, _)) => handshake(acceptor.clone(), tx.clone(), stream),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Ok(TlsListener {
            name: format!("https://{}", path.display()),
            ready,
        })
    }
}

impl<T> axum::serve::Listener for TlsListener<T>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Io = TlsStream<T>;
    type Addr = String;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => (c, self.name.clone()),
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.name.clone())
    }
}
