//! `/containers/…`: list, create, remove, prune, update, stop, inspect.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Axum};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::api::body::{self, opt_bool, opt_objects, opt_str, opt_strs};
use crate::api::{id, ok, schema, status_of, with_engine, ApiError, ApiResult, State};
use crate::engine::container::{ContainerConfig, ContainerUpdate, RestartPolicy};
use crate::engine::limits::LimitOptions;
use crate::engine::mount::MountConfig;
use crate::engine::ports::PublishedPort;
use crate::engine::security::SecurityOptions;
use crate::engine::Engine;

fn dataset(e: &Engine, id: &str) -> String {
    e.platform()
        .container_dir(e.root(), id)
        .display()
        .to_string()
}

/// How long a rendered list is served while the store does not change. A
/// container's status is also its process's: one that dies without its
/// monitor recording it (the monitor killed too) shows within this time.
const LIST_TTL: std::time::Duration = std::time::Duration::from_millis(500);

/// The list is rendered once per store change (and at most every
/// `LIST_TTL`), so many clients listing many containers cost one render.
pub async fn list(Axum(s): Axum<Arc<State>>, RawQuery(q): RawQuery) -> ApiResult {
    let q = body::query(q.as_deref());
    let all = body::query_flag(&q, "all", 400)?.unwrap_or(false);
    let state = s.clone();
    let version = tokio::task::spawn_blocking(move || state.store_version())
        .await
        .ok()
        .flatten();
    if let Some(v) = version {
        let lists = s.lists.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cv, at, body)) = &lists[all as usize] {
            if *cv == v && at.elapsed() < LIST_TTL {
                return Ok(json_bytes(body.clone()));
            }
        }
    }
    let body = with_engine(&s, move |e| {
        let internal = |x: crate::engine::error::Error| ApiError::new(500, x.to_string());
        let mut list = e.containers(all).map_err(internal)?;
        list.sort_by(|a, b| b.created.cmp(&a.created));
        let images = e.images().map_err(internal)?;
        let eps = e.endpoints().map_err(internal)?;
        let out: Vec<Value> = list
            .iter()
            .map(|c| {
                let img = images.iter().find(|i| i.id == c.image_id);
                schema::container_summary(c, img, &eps, &dataset(e, &c.id))
            })
            .collect();
        Ok(axum::body::Bytes::from(Value::Array(out).to_string()))
    })
    .await?;
    if let Some(v) = version {
        let mut lists = s.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists[all as usize] = Some((v, std::time::Instant::now(), body.clone()));
    }
    Ok(json_bytes(body))
}

fn json_bytes(body: axum::body::Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn port(m: &Map<String, Value>) -> Result<PublishedPort, String> {
    let host = body::req_str(m, "host_port")?;
    let container = body::req_str(m, "container_port")?;
    let protocol = opt_str(m, "protocol")?.unwrap_or_else(|| "tcp".into());
    if !matches!(protocol.as_str(), "tcp" | "udp") {
        return Err(format!(
            "invalid protocol '{protocol}': expected tcp or udp"
        ));
    }
    // Check the numbers with the CLI's parser.
    let spec = format!(
        "{}:{}/{protocol}",
        host.replace(':', "-"),
        container.trim_end_matches(":*")
    );
    PublishedPort::parse(&spec).map_err(|e| e.to_string())?;
    let addresses = body::opt_strs(m, "addresses")?.unwrap_or_default();
    if let Some(a) = addresses
        .iter()
        .find(|a| a.parse::<std::net::IpAddr>().is_err())
    {
        return Err(format!(
            "invalid address '{a}': expected an IPv4 or IPv6 address"
        ));
    }
    Ok(PublishedPort {
        interfaces: body::opt_strs(m, "interfaces")?.unwrap_or_default(),
        // (kleene's extension: local addresses, as Docker's IP:HOST:CONTAINER.)
        addresses,
        host_port: host,
        container_port: container,
        protocol,
    })
}

fn mount(m: &Map<String, Value>) -> Result<MountConfig, String> {
    let kind = match body::req_str(m, "type")?.as_str() {
        "volume" => "volume",
        "nullfs" | "bind" => "bind",
        other => {
            return Err(format!(
                "invalid mount type '{other}': expected volume or nullfs"
            ))
        }
    };
    Ok(MountConfig {
        kind: kind.into(),
        source: body::req_str(m, "source")?,
        destination: body::req_str(m, "destination")?,
        read_only: opt_bool(m, "read_only")?.unwrap_or(false),
    })
}

fn restart(m: &Map<String, Value>) -> Result<Option<RestartPolicy>, String> {
    opt_str(m, "restart_policy")?
        .map(|r| r.parse::<RestartPolicy>().map_err(|e| e.to_string()))
        .transpose()
}

fn config(m: &Map<String, Value>) -> Result<ContainerConfig, String> {
    let driver = opt_str(m, "network_driver")?.unwrap_or_else(|| "ipnet".into());
    if !matches!(driver.as_str(), "ipnet" | "vnet" | "host" | "disabled") {
        return Err(format!(
            "invalid network_driver '{driver}': expected ipnet, vnet, host or disabled"
        ));
    }
    Ok(ContainerConfig {
        image: opt_str(m, "image")?.unwrap_or_default(),
        name: opt_str(m, "name")?
            .filter(|n| !n.is_empty())
            .map(|n| n.trim_start_matches('/').to_string()),
        cmd: opt_strs(m, "cmd")?.unwrap_or_default(),
        entrypoint: None,
        env: opt_strs(m, "env")?.unwrap_or_default(),
        user: opt_str(m, "user")?.unwrap_or_default(),
        workdir: String::new(),
        mounts: opt_objects(m, "mounts")?
            .iter()
            .map(mount)
            .collect::<Result<_, _>>()?,
        jail_param: opt_strs(m, "jail_param")?.unwrap_or_default(),
        persist: opt_bool(m, "persist")?.unwrap_or(false),
        restart_policy: restart(m)?.unwrap_or_default(),
        auto_remove: false,
        fly: false,
        network_driver: driver,
        public_ports: opt_objects(m, "public_ports")?
            .iter()
            .map(port)
            .collect::<Result<_, _>>()?,
        dns: vec![],
        security: SecurityOptions {
            privileged: opt_bool(m, "privileged")?.unwrap_or(false),
            cap_add: opt_strs(m, "cap_add")?.unwrap_or_default(),
            cap_drop: opt_strs(m, "cap_drop")?.unwrap_or_default(),
            read_only: opt_bool(m, "read_only")?.unwrap_or(false),
            security_opt: opt_strs(m, "security_opt")?.unwrap_or_default(),
            init: opt_bool(m, "init")?.unwrap_or(false),
        },
        limits: limits(m)?,
        // klee connects with its own request after the create.
        networks: vec![],
        ..Default::default()
    })
}

/// Kleene's `memory`, `cpus` and `pids_limit` (strings or numbers).
fn limits(m: &Map<String, Value>) -> Result<LimitOptions, String> {
    Ok(LimitOptions {
        memory: body::opt_scalar(m, "memory")?,
        cpus: body::opt_scalar(m, "cpus")?,
        pids: body::opt_scalar(m, "pids_limit")?,
    })
}

/// Every create error is a 404 (kleened's code, the only error klee parses
/// besides 500).
pub async fn create(Axum(s): Axum<Arc<State>>, b: Bytes) -> ApiResult {
    let cfg = body::object(&b)
        .and_then(|m| config(&m))
        .map_err(|e| ApiError::new(404, e))?;
    if cfg.image.is_empty() {
        return Err(ApiError::new(404, "no such image ''"));
    }
    with_engine(&s, move |e| {
        let c = e
            .container_create(&cfg)
            .map_err(|x| ApiError::new(404, x.to_string()))?;
        Ok(id(201, &c.id))
    })
    .await
}

pub async fn remove(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        let c = e.container_remove(&ident, false).map_err(|x| {
            let code = status_of(&x, 404, 409);
            let msg = match code {
                404 => format!("no such container '{ident}'"),
                409 if x.kind() == "state" => "you cannot remove a running container".into(),
                _ => x.to_string(),
            };
            ApiError::new(code, msg)
        })?;
        Ok(id(200, &c.id))
    })
    .await
}

pub async fn prune(Axum(s): Axum<Arc<State>>) -> ApiResult {
    with_engine(&s, |e| {
        let ids = e
            .container_prune()
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        Ok(ok(200, json!(ids)))
    })
    .await
}

/// Only `name`, `user`, `env`, `cmd`, `persist`, `restart_policy` and
/// `jail_param` are applied (kleened's rule); absent or null fields keep
/// their values (kleened reset them: klee's `rename` sends only a name).
pub async fn update(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>, b: Bytes) -> ApiResult {
    let parse = |m: Map<String, Value>| -> Result<ContainerUpdate, String> {
        Ok(ContainerUpdate {
            name: opt_str(&m, "name")?.filter(|n| !n.is_empty()),
            user: opt_str(&m, "user")?,
            env: opt_strs(&m, "env")?.unwrap_or_default(),
            cmd: opt_strs(&m, "cmd")?.unwrap_or_default(),
            jail_param: opt_strs(&m, "jail_param")?.unwrap_or_default(),
            persist: opt_bool(&m, "persist")?,
            restart_policy: restart(&m)?,
            limits: limits(&m)?,
        })
    };
    let u = body::object(&b).and_then(parse).map_err(|e| {
        ApiError::new(
            409,
            format!("an error ocurred while updating the container: {e}"),
        )
    })?;
    with_engine(&s, move |e| {
        let c = e.container_update(&ident, &u).map_err(|x| match x.kind() {
            "not_found" | "ambiguous" | "invalid" if e.container(&ident).is_err() => {
                ApiError::new(404, format!("no such container '{ident}'"))
            }
            _ => ApiError::new(
                409,
                format!("an error ocurred while updating the container: {x}"),
            ),
        })?;
        Ok(id(201, &c.id))
    })
    .await
}

pub async fn stop(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult {
    with_engine(&s, move |e| {
        let c = e
            .container(&ident)
            .map_err(|_| ApiError::new(404, "container not found"))?;
        if !c.status.is_running() {
            return Err(ApiError::new(404, "container not running"));
        }
        // klee gives up after 5 s: stop before that.
        e.container_stop(&c.id, Duration::from_secs(3))
            .map_err(|x| ApiError::new(status_of(&x, 404, 404), x.to_string()))?;
        Ok(id(200, &c.id))
    })
    .await
}

pub async fn inspect(Axum(s): Axum<Arc<State>>, Path(ident): Path<String>) -> ApiResult<Response> {
    with_engine(&s, move |e| {
        let c = e
            .container(&ident)
            .map_err(|_| ApiError::new(404, "container not found"))?;
        let eps = e
            .endpoints()
            .map_err(|x| ApiError::new(500, x.to_string()))?;
        let mine: Vec<Value> = eps
            .iter()
            .filter(|x| x.container_id == c.id)
            .map(schema::endpoint)
            .collect();
        let mounts: Vec<Value> = c
            .mounts
            .iter()
            .map(|m| schema::mountpoint(&c.id, &m.kind, &m.source, &m.destination, m.read_only))
            .collect();
        Ok(ok(
            200,
            json!({
                "container": schema::container(&c, &eps, &dataset(e, &c.id)),
                "container_endpoints": mine,
                "container_mountpoints": mounts,
            }),
        ))
    })
    .await
}
