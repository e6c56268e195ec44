//! The connection loop: hyper's HTTP/1 server under axum's router, with
//! the timeouts `axum::serve` does not set. A client that opens a
//! connection and never finishes its request headers is dropped after the
//! request timeout; one that never finishes the body it announced gets a
//! 408 after it too (`routes::read_body`). Upgraded connections (WebSocket
//! streams) are not limited: they wait for their user.

use std::future::Future;
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// How long a client has, by default, to send its request line and
/// headers, and then the body it announced (`kleened --request-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept connections from `listener` and serve `app` on each until `stop`
/// resolves; connections in flight are left to finish on their own.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    timeout: Duration,
    stop: impl Future<Output = ()>,
) where
    L: Listener,
{
    tokio::pin!(stop);
    loop {
        let (io, _addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let svc = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .serve_connection(TokioIo::new(io), svc)
                .with_upgrades();
            // A client that went away or timed out: nothing to report.
            let _ = conn.await;
        });
    }
}
