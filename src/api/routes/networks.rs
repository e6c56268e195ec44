//! `/networks/…`: list, create, remove, prune, inspect, connect, disconnect.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

use crate::api::body::{self, opt_bool, opt_str};
use crate::api::{id, ok, schema, with_engine, ApiError, ApiResult, State};
use crate::engine::network::NetworkConfig;

pub async fn list(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let list = e
            .networks()
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(ok(
            200,
            Value::Array(list.iter().map(schema::network).collect()),
        ))
    })
    .await
}

fn config(m: &Map<String, Value>) -> Result<NetworkConfig, String> {
    let nat = match opt_str(m, "nat")?.as_deref() {
        None | Some("<host-gateway>") => None,
        Some(other) => Some(other.to_string()),
    };
    let subnet = opt_str(m, "subnet")?.unwrap_or_default();
    let subnet6 = opt_str(m, "subnet6")?.unwrap_or_default();
    // klee sends `<auto>` gateways for every bridge; without a subnet of
    // that family there is no gateway to make.
    let gw = |g: Option<String>, net: &str| {
        if net.is_empty() {
            String::new()
        } else {
            g.unwrap_or_default()
        }
    };
    Ok(NetworkConfig {
        name: body::req_str(m, "name")?,
        kind: body::req_str(m, "type")?,
        interface: opt_str(m, "interface")?.unwrap_or_default(),
        gateway: gw(opt_str(m, "gateway")?, &subnet),
        gateway6: gw(opt_str(m, "gateway6")?, &subnet6),
        subnet,
        subnet6,
        nat,
        icc: opt_bool(m, "icc")?.unwrap_or(true),
        internal: opt_bool(m, "internal")?.unwrap_or(false),
    })
}

/// Every create error is a 409 (kleened's code).
pub async fn create(Axum(s): Axum<Arc<State>>, b: Bytes) -> ApiResult {
    let cfg = body::object(&b)
        .and_then(|m| config(&m))
        .map_err(|e| ApiError::new(409, e))?;
    with_engine(&s, move |e| {
        let n = e
            .network_create(&cfg)
            .map_err(|x| ApiError::new(409, x.to_string()))?;
        Ok(id(201, &n.id))
    })
    .await
}

pub async fn remove(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        e.network(&ident)
            .map_err(|_| ApiError::new(404, "network not found."))?;
        let n = e
            .network_remove(&ident)
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(id(200, &n.id))
    })
    .await
}

pub async fn prune(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let ids = e
            .network_prune()
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(ok(200, json!(ids)))
    })
    .await
}

pub async fn inspect(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        let n = e
            .network(&ident)
            .map_err(|_| ApiError::new(404, "network not found"))?;
        let eps: Vec<Value> = e
            .endpoints()
            .map_err(|x| ApiError::new(500, x.to_string()))?
            .iter()
            .filter(|x| x.network_id == n.id)
            .map(schema::endpoint)
            .collect();
        Ok(ok(
            200,
            json!({ "network": schema::network(&n), "network_endpoints": eps }),
        ))
    })
    .await
}

/// 204 on success; 404 when the container or network is unknown, 409
/// otherwise. The API's default is no address (kleened's); klee sends
/// `<auto>` itself.
pub async fn connect(Axum(s): Axum<Arc<State>>, b: Bytes) -> ApiResult {
    let parse = |m: Map<String, Value>| -> Result<[String; 4], String> {
        Ok([
            body::req_str(&m, "container")?,
            body::req_str(&m, "network")?,
            opt_str(&m, "ip_address")?.unwrap_or_default(),
            opt_str(&m, "ip_address6")?.unwrap_or_default(),
        ])
    };
    let [container, network, ip, ip6] = body::object(&b)
        .and_then(parse)
        .map_err(|e| ApiError::new(409, e))?;
    with_engine(&s, move |e| {
        e.network_connect(&network, &container, &ip, &ip6)
            .map_err(|x| {
                let code = if x.kind() == "not_found" { 404 } else { 409 };
                ApiError::new(code, x.to_string())
            })?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// 204; every error is a 404 (kleened answered 409, which klee cannot
/// parse on this route and crashes on).
pub async fn disconnect(
    Axum(s): Axum<Arc<State>>,
    Path((network, container)): Path<(String, String)>,
) -> ApiResult {
    with_engine(&s, move |e| {
        e.network_disconnect(&network, &container)
            .map_err(|x| ApiError::new(404, x.to_string()))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
