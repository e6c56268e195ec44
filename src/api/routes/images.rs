//! `/images/…`: list, remove, prune, tag, inspect. (Creating and building
//! images are WebSocket endpoints.)

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as Axum};
use serde_json::{json, Value};

use crate::api::body;
use crate::api::{id, ok, schema, with_engine, ApiError, ApiResult, State};
use crate::engine::image::Image;
use crate::engine::Engine;

fn dataset(e: &Engine, i: &Image) -> String {
    i.layers
        .last()
        .map(|l| e.platform().layer_path(e.root(), l).display().to_string())
        .unwrap_or_default()
}

pub async fn list(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let mut list = e.images().map_err(|x| ApiError::new(500, x.to_string()))?;
        list.sort_by(|a, b| b.created.cmp(&a.created));
        let out: Vec<Value> = list
            .iter()
            .map(|i| schema::image(i, &dataset(e, i)))
            .collect();
        Ok(ok(200, Value::Array(out)))
    })
    .await
}

/// kleened's words for an image in use (klee prints them as they come):
/// the containers, else the images, that depend on it, one ID per line.
fn in_use(e: &mut crate::engine::Engine, ident: &str) -> Option<String> {
    let image = e.image(ident).ok()?;
    let containers: Vec<String> = e
        .containers(true)
        .ok()?
        .into_iter()
        .filter(|c| c.image_id == image.id)
        .map(|c| c.id)
        .collect();
    if !containers.is_empty() {
        return Some(format!(
            "could not remove image {} since it is used for containers:\n{}",
            image.id,
            containers.join("\n")
        ));
    }
    let images: Vec<String> = e
        .images()
        .ok()?
        .into_iter()
        .filter(|i| i.parent == image.id)
        .map(|i| i.id)
        .collect();
    (!images.is_empty()).then(|| {
        format!(
            "could not remove image {} since it is used for images:\n{}",
            image.id,
            images.join("\n")
        )
    })
}

/// 200 with the identifier as given (kleened's quirk, kept: klee prints it).
pub async fn remove(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        e.image_remove(&ident).map_err(|x| match x.kind() {
            "not_found" => ApiError::new(404, format!("Error: No such image: {ident}\n")),
            "in_use" => ApiError::new(404, in_use(e, &ident).unwrap_or_else(|| x.to_string())),
            _ => ApiError::new(404, x.to_string()),
        })?;
        Ok(id(200, &ident))
    })
    .await
}

pub async fn prune(Axum(s): Axum<Arc<State>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = body::query(q.as_deref());
    let all = body::query_flag(&q, "all", 400)?.unwrap_or(false);
    with_engine(&s, move |e| {
        let ids = e
            .image_prune(all)
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(ok(200, json!(ids)))
    })
    .await
}

pub async fn tag(
    Axum(s): Axum<Arc<State>>,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = body::query(q.as_deref());
    let Some(nametag) = body::query_get(&q, "nametag").map(str::to_string) else {
        return Err(ApiError::new(404, "missing query parameter: nametag"));
    };
    with_engine(&s, move |e| {
        e.image(&ident)
            .map_err(|_| ApiError::new(404, "image not found"))?;
        let i = e
            .image_tag(&ident, &nametag)
            .map_err(|x| ApiError::new(404, x.to_string()))?;
        Ok(id(200, &i.id))
    })
    .await
}

pub async fn inspect(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        let i = e
            .image(&ident)
            .map_err(|_| ApiError::new(404, "image not found"))?;
        Ok(ok(200, schema::image(&i, &dataset(e, &i))))
    })
    .await
}

/// `POST /images/pull?reference=R[&platform=OS/ARCH]` (a kleene extension):
/// the image's ID once pulled.
pub async fn pull(Axum(s): Axum<Arc<State>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = body::query(q.as_deref());
    let Some(reference) = body::query_get(&q, "reference").map(str::to_string) else {
        return Err(ApiError::new(400, "missing query parameter: reference"));
    };
    let platform = body::query_get(&q, "platform").map(str::to_string);
    with_engine(&s, move |e| {
        let opts = crate::engine::registry::PullOptions { platform };
        let i = e.image_pull(&reference, &opts, &mut ()).map_err(|x| {
            ApiError::new(if x.kind() == "invalid" { 400 } else { 500 }, x.to_string())
        })?;
        Ok(id(200, &i.id))
    })
    .await
}

/// `POST /images/{id}/push[?reference=R]` (a kleene extension): the
/// pushed manifest's digest.
pub async fn push(
    Axum(s): Axum<Arc<State>>,
    Path(ident): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = body::query(q.as_deref());
    let reference = body::query_get(&q, "reference").map(str::to_string);
    with_engine(&s, move |e| {
        e.image(&ident)
            .map_err(|_| ApiError::new(404, "image not found"))?;
        let d = e
            .image_push(&ident, reference.as_deref(), &mut ())
            .map_err(|x| {
                ApiError::new(if x.kind() == "invalid" { 400 } else { 500 }, x.to_string())
            })?;
        Ok(id(200, &d))
    })
    .await
}
