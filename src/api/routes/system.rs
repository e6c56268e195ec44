//! `GET|HEAD /_ping` and `GET /version` (kleene's additions, as Docker's):
//! a liveness probe and what answers.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `OK`, text/plain: the daemon answers (orchestrators probe this).
pub async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response()
}

/// kleene's version, OS/arch and the API version, as `klee version --format json`.
pub async fn version() -> Response {
    Json(crate::engine::info::version()).into_response()
}
