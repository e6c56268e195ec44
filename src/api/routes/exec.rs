//! `/exec/create` and `/exec/{id}/stop`. An exec instance lives in the
//! daemon's memory until it is started (over the `/exec/start` WebSocket),
//! as in kleened.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Axum};

use crate::api::body::{self, opt_bool, opt_str, opt_strs};
use crate::api::{id, with_engine, ApiError, ApiResult, State};

/// An exec created and not started yet.
#[derive(Debug, Clone)]
pub struct Pending {
    pub container: String,
    pub cmd: Vec<String>,
    pub user: String,
    pub env: Vec<String>,
    pub tty: bool,
}

pub async fn create(Axum(s): Axum<Arc<State>>, b: Bytes) -> ApiResult {
    let m = body::object(&b).map_err(|e| ApiError::new(404, e))?;
    let parse = || -> Result<Pending, String> {
        Ok(Pending {
            container: body::req_str(&m, "container_id")?,
            cmd: opt_strs(&m, "cmd")?.unwrap_or_default(),
            user: opt_str(&m, "user")?.unwrap_or_default(),
            env: opt_strs(&m, "env")?.unwrap_or_default(),
            tty: opt_bool(&m, "tty")?.unwrap_or(false),
        })
    };
    let mut p = parse().map_err(|e| ApiError::new(404, e))?;
    let ident = p.container.clone();
    let cid = with_engine(&s, move |e| {
        e.container(&ident)
            .map(|c| c.id)
            .map_err(|_| ApiError::new(404, "container not found"))
    })
    .await?;
    p.container = cid;
    let exec_id = crate::engine::id::new_id();
    s.execs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(exec_id.clone(), p);
    Ok(id(201, &exec_id))
}

/// Both query parameters are required, each `true` or `false`.
/// `stop_container` stops the exec's container; otherwise the exec's
/// process gets SIGTERM through the `klee` relaying it (which passes it
/// on), or with `force_stop` SIGKILL, it and everything under it.
pub async fn stop(
    Axum(s): Axum<Arc<State>>,
    Path(exec_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = body::query(q.as_deref());
    let mut flags = [false; 2];
    for (i, key) in ["force_stop", "stop_container"].into_iter().enumerate() {
        flags[i] = match body::query_flag(&q, key, 404)? {
            Some(flag) => flag,
            None => {
                return Err(ApiError::new(
                    404,
                    format!("missing query parameter: {key}"),
                ))
            }
        };
    }
    let [force, stop_container] = flags;
    if s.execs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&exec_id)
        .is_some()
    {
        return Err(ApiError::new(
            404,
            "execution instance have not been started",
        ));
    }
    let running = s
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&exec_id)
        .cloned();
    let Some((pid, container)) = running else {
        // An exec that has ended: its container can still be stopped.
        let finished = s
            .finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&exec_id)
            .cloned();
        return match finished {
            Some(container) if stop_container => {
                with_engine(&s, move |e| {
                    match e.container(&container) {
                        Ok(c) if c.status.is_running() => e
                            .container_stop(
                                &container,
                                std::time::Duration::from_secs(if force { 0 } else { 3 }),
                            )
                            .map(drop)
                            .map_err(|x| ApiError::new(404, x.to_string())),
                        // Gone or stopped already: nothing to do.
                        _ => Ok(()),
                    }
                })
                .await?;
                Ok(id(200, &exec_id))
            }
            Some(_) => Err(ApiError::new(
                404,
                format!("execution instance '{exec_id}' is not running"),
            )),
            None => Err(ApiError::new(
                404,
                format!("could not find execution instance matching '{exec_id}'"),
            )),
        };
    };
    if stop_container {
        with_engine(&s, move |e| {
            e.container_stop(
                &container,
                std::time::Duration::from_secs(if force { 0 } else { 3 }),
            )
            .map(drop)
            .map_err(|x| ApiError::new(404, x.to_string()))
        })
        .await?;
    } else {
        let platform = crate::platform::native();
        let sent = if force {
            platform.signal_tree(pid as i32, libc::SIGKILL)
        } else {
            platform.signal(pid as i32, libc::SIGTERM)
        };
        sent.map_err(|e| ApiError::new(404, e.to_string()))?;
    }
    Ok(id(200, &exec_id))
}
