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

/// What a blocking save writes: 64 KiB chunks for the response body.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
}

impl ChunkWriter {
    const CHUNK: usize = 64 * 1024;

    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// `GET /images/{id}/save` (a kleene extension): the image as a
/// docker-archive/OCI-layout tarball, as `klee image save` writes it,
/// streamed while it is made. An image that does not exist is a 404
/// before anything is sent; a failure after the first bytes ends the
/// transfer with an error (the client sees a broken body, never a short
/// archive that looks whole).
pub async fn save(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    let probe = ident.clone();
    with_engine(&s, move |e| {
        e.image(&probe)
            .map(drop)
            .map_err(|_| ApiError::new(404, "image not found"))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    let root = s.root.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            buf: Vec::with_capacity(ChunkWriter::CHUNK),
            tx: tx.clone(),
        };
        let r = Engine::open(root)
            .and_then(|mut e| e.image_save(&[ident], &mut w, &mut ()))
            .and_then(|_| {
                std::io::Write::flush(&mut w)
                    .map_err(|x| crate::engine::Error::io("cannot send", "the archive", x))
            });
        if let Err(x) = r {
            let _ = tx.blocking_send(Err(std::io::Error::other(x.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|c| (c.map(axum::body::Bytes::from), rx))
    });
    Ok(axum::response::Response::builder()
        .status(200)
        .header("content-type", "application/x-tar")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_default())
}

/// What a blocking load reads: the request body's chunks as they come.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, String>>,
    cur: axum::body::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// `POST /images/load` (a kleene extension): the body is an archive as
/// `docker save`, `podman save`, `skopeo copy … docker-archive:`/`oci-archive:`
/// or `klee image save` write it (gzip, zstd or xz compressed too); it is
/// read as it arrives. Answers the loaded images' IDs and names.
pub async fn load(Axum(s): Axum<Arc<State>>, body: axum::body::Body) -> ApiResult {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let root = s.root.clone();
    let loading = tokio::task::spawn_blocking(move || {
        let mut input = ChunkReader {
            rx,
            cur: axum::body::Bytes::new(),
        };
        let mut e = Engine::open(root).map_err(|x| ApiError::new(500, x.to_string()))?;
        // What is wrong with the archive is the client's (400); our own
        // failures (disk, store) are ours (500).
        e.image_load(&mut input, "the request body", &mut ())
            .map_err(|x| {
                let theirs = matches!(x.kind(), "invalid" | "registry");
                ApiError::new(if theirs { 400 } else { 500 }, x.to_string())
            })
    });
    let mut data = body.into_data_stream();
    let within = s.request_timeout;
    loop {
        let chunk = match tokio::time::timeout(within, data.next()).await {
            Ok(None) => break,
            Ok(Some(c)) => c.map_err(|x| format!("cannot read it: {x}")),
            Err(_) => Err(format!("nothing of it arrived for {} s", within.as_secs())),
        };
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let images = loading
        .await
        .unwrap_or_else(|x| Err(ApiError::new(500, format!("internal error: {x}"))))?;
    Ok(ok(
        200,
        Value::Array(
            images
                .iter()
                .map(|i| json!({"id": i.id, "name": i.name, "tag": i.tag}))
                .collect(),
        ),
    ))
}
