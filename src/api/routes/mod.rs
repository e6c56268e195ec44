//! The route table: kleened's 26 REST routes and 3 WebSocket endpoints,
//! plus `GET /openapi.json`. Unknown routes and
//! methods, and oversized bodies, get JSON errors too.

mod containers;
pub mod exec;
mod images;
mod networks;
mod stream;
mod system;
mod volumes;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::Next;
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
        .route("/images/pull", post(images::pull))
        .route("/images/{id}/push", post(images::push))
        .route("/images/{id}/save", get(images::save))
        .route("/images/load", post(images::load))
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
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_body,
        ))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Read a request's whole body before its handler runs, within the request
/// timeout: a client that announces more than it sends gets a 408
/// (or a 400 when it closes early) instead of holding a task forever.
/// WebSocket upgrades have no body and pass through, and so does an image
/// archive for `POST /images/load`, which its handler reads as it arrives
/// (with the same timeout for each piece).
async fn read_body(
    axum::extract::State(s): axum::extract::State<Arc<State>>,
    req: Request,
    next: Next,
) -> Response {
    let upgrade = req.headers().contains_key(header::UPGRADE);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let streamed = req.method() == Method::POST && req.uri().path() == "/images/load";
    if upgrade || streamed || (declared.unwrap_or(0) == 0 && !chunked) {
        return next.run(req).await;
    }
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let within = s.request_timeout;
    match tokio::time::timeout(within, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Err(_) => ApiError::new(
            408,
            format!(
                "the request body was not received within {} s (Content-Length: {})",
                within.as_secs(),
                declared.map_or("none".to_string(), |n| n.to_string())
            ),
        )
        .into_response(),
        Ok(Err(e)) if e.to_string().contains("length limit") => too_large(),
        Ok(Err(e)) => ApiError::new(
            400,
            format!("cannot read the request body: {e} (it ended before its Content-Length?)"),
        )
        .into_response(),
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

fn too_large() -> Response {
    ApiError::new(
        413,
        format!("request body too large (the limit is {BODY_LIMIT} bytes)"),
    )
    .into_response()
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
        return too_large();
    }
    res
}
