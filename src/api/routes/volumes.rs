//! `/volumes/…`: list, create, remove, prune, inspect.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as Axum};
use serde_json::{json, Value};

use crate::api::body;
use crate::api::{id, ok, schema, with_engine, ApiError, ApiResult, State};

pub async fn list(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let mut list = e.volumes().map_err(|x| ApiError::new(500, x.to_string()))?;
        list.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(ok(
            200,
            Value::Array(list.iter().map(schema::volume).collect()),
        ))
    })
    .await
}

/// Idempotent: an existing volume is returned as it is. Engine errors
/// are 500, the only error code klee parses here; a malformed body (klee
/// never sends one) is a 400, so that bad input is never a server error.
pub async fn create(Axum(s): Axum<Arc<State>>, b: Bytes) -> ApiResult {
    let name = body::object(&b)
        .and_then(|m| body::req_str(&m, "name"))
        .map_err(|e| ApiError::new(400, e))?;
    with_engine(&s, move |e| {
        let v = e.volume_create(&name).map_err(|x| {
            let code = if x.kind() == "invalid" { 400 } else { 500 };
            ApiError::new(code, x.to_string())
        })?;
        Ok(id(201, &v.name))
    })
    .await
}

pub async fn remove(Axum(s): Axum<Arc<State>>, Path(name): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        e.volume(&name)
            .map_err(|_| ApiError::new(404, "No such volume"))?;
        let v = e
            .volume_remove(&name)
            .map_err(|x| ApiError::new(404, x.to_string()))?;
        Ok(id(200, &v.name))
    })
    .await
}

pub async fn prune(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let names = e
            .volume_prune()
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(ok(200, json!(names)))
    })
    .await
}

pub async fn inspect(Axum(s): Axum<Arc<State>>, Path(name): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        let v = e
            .volume(&name)
            .map_err(|_| ApiError::new(404, "No such volume"))?;
        let containers = e
            .containers(true)
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        let mounts: Vec<Value> = containers
            .iter()
            .flat_map(|c| {
                c.mounts
                    .iter()
                    .filter(|m| m.kind == "volume" && m.source == v.name)
                    .map(|m| {
                        schema::mountpoint(&c.id, &m.kind, &m.source, &m.destination, m.read_only)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(ok(
            200,
            json!({ "volume": schema::volume(&v), "mountpoints": mounts }),
        ))
    })
    .await
}
