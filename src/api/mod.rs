//! kleened's HTTP API (`reference/kleened.md` §1) served from the same
//! engine `klee` uses: every request opens the store in a blocking task, so
//! the daemon, the CLI and scripts share state through SQLite's locking as
//! the CLI's own processes already do.
//!
//! Status codes: only those klee's generated client parses for each route
//! (`reference/klee_docs.md` §2.5) — any other code crashes klee — so bad
//! input maps to the endpoint's documented error code, with a JSON
//! `{"message"}` that names what was wrong.

/// The kleened API version served (kleened's, which klee speaks).
pub const API_VERSION: &str = "0.1.1";

pub mod body;
pub mod conn;
pub mod openapi;
mod routes;
pub mod schema;
pub mod server;
pub mod tls;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::engine::error::Error as EngineError;
use crate::engine::Engine;

pub use routes::router;

/// What every handler shares.
pub struct State {
    /// The engine's root (store, layers, containers, volumes).
    pub root: PathBuf,
    /// Exec instances created and not yet started (kleened keeps them in
    /// memory too).
    pub execs: std::sync::Mutex<std::collections::HashMap<String, routes::exec::Pending>>,
    /// Attached exec sessions running now: the `klee` child relaying each
    /// one, and its container.
    pub running: std::sync::Mutex<std::collections::HashMap<String, (u32, String)>>,
    /// Exec sessions that have ended, and their containers: `stop` with
    /// `stop_container` still stops the container, as kleened does.
    pub finished: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// The store's change counter, read on a connection of our own.
    version: std::sync::Mutex<Option<rusqlite::Connection>>,
    /// Rendered container lists (`all` = false, true) and the store
    /// version and time they were made at.
    pub lists: std::sync::Mutex<[Option<(i64, std::time::Instant, axum::body::Bytes)>; 2]>,
    /// How long a client has to send a request's body.
    pub request_timeout: std::time::Duration,
}

impl State {
    pub fn new(root: PathBuf) -> Arc<State> {
        State::with_timeout(root, conn::DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(root: PathBuf, request_timeout: std::time::Duration) -> Arc<State> {
        Arc::new(State {
            request_timeout,
            root,
            execs: Default::default(),
            running: Default::default(),
            finished: Default::default(),
            version: Default::default(),
            lists: Default::default(),
        })
    }

    /// The store's version: it changes with every commit by any process
    /// (SQLite's `data_version`, seen from our connection). None when the
    /// store cannot be read.
    pub fn store_version(&self) -> Option<i64> {
        let mut guard = self.version.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let path = self.root.join("metadata.sqlite");
            *guard = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok();
        }
        let v = guard
            .as_ref()?
            .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0));
        if v.is_err() {
            *guard = None;
        }
        v.ok()
    }
}

/// An error response: a documented status and `{"message": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }
}

/// The status for an engine error on a route documenting `not_found`,
/// `conflict` (0: not documented) and 500.
pub fn status_of(e: &EngineError, not_found: u16, conflict: u16) -> u16 {
    let preferred = match e.kind() {
        "not_found" | "ambiguous" | "invalid" => not_found,
        "conflict" | "in_use" | "state" => conflict,
        _ => 500,
    };
    match preferred {
        0 if not_found != 0 => not_found,
        0 => 500,
        c => c,
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Run `f` on a fresh engine in a blocking task (engine calls do I/O and
/// may take long: stops, removals, builds).
pub async fn with_engine<T: Send + 'static>(
    state: &Arc<State>,
    f: impl FnOnce(&mut Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let root = state.root.clone();
    tokio::task::spawn_blocking(move || {
        let mut e = Engine::open(root).map_err(|e| ApiError::new(500, e.to_string()))?;
        f(&mut e)
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::new(500, format!("internal error: {e}"))))
}

pub fn ok(status: u16, v: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(v),
    )
        .into_response()
}

pub fn id(status: u16, id: &str) -> Response {
    ok(status, json!({ "id": id }))
}
