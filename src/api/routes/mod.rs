//! The route table: kleened's 26 REST routes and 3 WebSocket endpoints,
//! plus `GET /openapi.json`. Unknown routes and
//! methods, and oversized bodies, get JSON errors too.

mod containers;
pub mod exec;
mod images;
mod networks;
mod stream;
mod volumes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;

use super::{ApiError, State};

/// The largest request body accepted (configs are small; a build context
/// never travels in a body).
pub const BODY_LIMIT: usize = 1 << 20;

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/containers/list", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/inspect", get(containers::inspect))
        .route("/exec/create", post(exec::create))
        .route("/exec/{id}/stop", post(exec::stop))
        .route("/images/list", get(images::list))
        .route("/images/prune", post(images::prune))
        .route("/images/{id}", delete(images::remove))
        .route("/images/{id}/tag", post(images::tag))
        .route("/images/{id}/inspect", get(images::inspect))
        .route("/networks/list", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route("/networks/connect", post(networks::connect))
        .route("/networks/{id}", delete(networks::remove))
        .route("/networks/{id}/inspect", get(networks::inspect))
        .route(
            "/networks/{id}/disconnect/{container}",
            post(networks::disconnect),
        )
        .route("/volumes/list", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route("/volumes/{name}", delete(volumes::remove))
        .route("/volumes/{name}/inspect", get(volumes::inspect))
        .route("/exec/start", get(stream::exec_start))
        .route("/images/create", get(stream::image_create))
        .route("/images/build", get(stream::image_build))
        .route("/openapi.json", get(super::openapi::handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(404, format!("not found: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        405,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

/// axum's own rejections (a body over the limit) are plain text: make
/// them JSON like every other error.
async fn json_errors(res: Response) -> Response {
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            413,
            format!("request body too large (the limit is {BODY_LIMIT} bytes)"),
        )
        .into_response();
    }
    res
}
