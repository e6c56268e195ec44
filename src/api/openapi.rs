//! `GET /openapi.json`: the API described from the route table, with each
//! route's documented status codes (those klee parses) and schemas named as
//! kleened's spec names them.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// Every route: method, path, operation, documented codes, and whether it
/// is a WebSocket endpoint.
pub const ROUTES: &[(&str, &str, &str, &[u16])] = &[
    ("get", "/containers/list", "Container.List", &[200]),
    (
        "post",
        "/containers/create",
        "Container.Create",
        &[201, 404, 500],
    ),
    (
        "delete",
        "/containers/{container_id}",
        "Container.Remove",
        &[200, 404, 409, 500],
    ),
    ("post", "/containers/prune", "Container.Prune", &[200, 500]),
    (
        "post",
        "/containers/{container_id}/update",
        "Container.Update",
        &[201, 404, 409, 500],
    ),
    (
        "post",
        "/containers/{container_id}/stop",
        "Container.Stop",
        &[200, 404, 500],
    ),
    (
        "get",
        "/containers/{container_id}/inspect",
        "Container.Inspect",
        &[200, 404, 500],
    ),
    ("post", "/exec/create", "Exec.Create", &[201, 404, 500]),
    (
        "post",
        "/exec/{exec_id}/stop",
        "Exec.Stop",
        &[200, 404, 500],
    ),
    ("get", "/images/list", "Image.List", &[200]),
    (
        "delete",
        "/images/{image_id}",
        "Image.Remove",
        &[200, 404, 500],
    ),
    ("post", "/images/prune", "Image.Prune", &[200]),
    ("post", "/images/pull", "Image.Pull", &[200, 400, 500]),
    (
        "post",
        "/images/{image_id}/push",
        "Image.Push",
        &[200, 400, 404, 500],
    ),
    (
        "get",
        "/images/{image_id}/save",
        "Image.Save",
        &[200, 404, 500],
    ),
    ("post", "/images/load", "Image.Load", &[200, 400, 500]),
    (
        "post",
        "/images/{image_id}/tag",
        "Image.Tag",
        &[200, 404, 500],
    ),
    (
        "get",
        "/images/{image_id}/inspect",
        "Image.Inspect",
        &[200, 404, 500],
    ),
    ("get", "/networks/list", "Network.List", &[200, 500]),
    (
        "post",
        "/networks/create",
        "Network.Create",
        &[201, 409, 500],
    ),
    (
        "delete",
        "/networks/{network_id}",
        "Network.Remove",
        &[200, 404, 500],
    ),
    ("post", "/networks/prune", "Network.Prune", &[200, 500]),
    (
        "get",
        "/networks/{network_id}/inspect",
        "Network.Inspect",
        &[200, 404, 500],
    ),
    (
        "post",
        "/networks/connect",
        "Network.Connect",
        &[204, 404, 409, 500],
    ),
    (
        "post",
        "/networks/{network_id}/disconnect/{container_id}",
        "Network.Disconnect",
        &[204, 404, 500],
    ),
    ("get", "/volumes/list", "Volume.List", &[200]),
    ("post", "/volumes/create", "Volume.Create", &[201, 400, 500]),
    (
        "delete",
        "/volumes/{volume_name}",
        "Volume.Remove",
        &[200, 404, 500],
    ),
    ("post", "/volumes/prune", "Volume.Prune", &[200, 500]),
    (
        "get",
        "/volumes/{volume_name}/inspect",
        "Volume.Inspect",
        &[200, 404, 500],
    ),
    // kleene's additions (as Docker's): a liveness probe, the version.
    ("get", "/_ping", "System.Ping", &[200]),
    ("get", "/version", "System.Version", &[200]),
];

/// Kleene's extensions of kleened's container configuration
/// (`ContainerConfig`): confinement and limits, as `klee run` has them.
fn container_extensions() -> Value {
    let s = |d: &str| json!({ "type": "string", "description": d });
    let b = |d: &str| json!({ "type": "boolean", "description": d });
    let l = |d: &str| json!({ "type": "array", "items": { "type": "string" }, "description": d });
    let n = |d: &str| json!({ "oneOf": [{ "type": "string" }, { "type": "number" }], "description": d });
    json!({
        "privileged": b("every capability, no seccomp filter, no masked paths, the host's devices (kleene extension)"),
        "cap_add": l("capabilities to add: NET_RAW, CAP_SYS_ADMIN, ... or ALL (kleene extension)"),
        "cap_drop": l("capabilities to drop, or ALL (kleene extension)"),
        "read_only": b("mount the root filesystem read-only (kleene extension)"),
        "security_opt": l("no-new-privileges, seccomp=unconfined or seccomp=<profile JSON text>, systempaths=unconfined (kleene extension)"),
        "init": b("run a tiny init as PID 1 that forwards signals and reaps zombies (kleene extension)"),
        "memory": n("memory limit: bytes or 64m, 1g, ... (kleene extension; 0 removes it in updates)"),
        "cpus": n("CPUs the container may use, e.g. 0.5 (kleene extension; 0 removes it in updates)"),
        "pids_limit": n("maximum number of processes (kleene extension; -1 or 0: none)"),
        "jail_param": l("jail(8) parameters; on Linux those with a Linux meaning change the confinement (docs/security.md)"),
        "image": s("image name[:tag][@snapshot] or ID"),
    })
}

pub fn spec() -> Value {
    let mut paths = Map::new();
    for (method, path, op, codes) in ROUTES {
        let responses: Map<String, Value> = codes
            .iter()
            .map(|c| {
                let desc = match c {
                    200 | 201 => "success",
                    204 => "success, no content",
                    400 => "malformed request body (ErrorResponse)",
                    404 => "not found, or invalid input (ErrorResponse)",
                    409 => "conflict (ErrorResponse)",
                    _ => "internal error (ErrorResponse)",
                };
                (c.to_string(), json!({ "description": desc }))
            })
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = json!({ "operationId": op, "responses": responses });
        match *op {
            "Image.Save" => {
                entry[*method]["description"] = json!("kleene extension: the image as a docker-archive/OCI-layout tarball (as `klee image save`), streamed");
                entry[*method]["responses"]["200"]["content"] = json!({ "application/x-tar": { "schema": { "type": "string", "format": "binary" } } });
            }
            "Image.Load" => {
                entry[*method]["description"] = json!("kleene extension: load the images of a docker-archive or OCI-layout tarball (gzip, zstd or xz compressed too); answers their IDs and names");
                entry[*method]["requestBody"] = json!({ "content": { "application/x-tar": { "schema": { "type": "string", "format": "binary" } } } });
            }
            _ => {}
        }
        if matches!(*op, "Container.Create" | "Container.Update") {
            entry[*method]["requestBody"] = json!({ "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/ContainerConfig" } } } });
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kleened API", "version": crate::api::API_VERSION },
        "paths": paths,
        "components": { "schemas": { "ContainerConfig": {
            "type": "object",
            "description": "kleened's container configuration; the fields described as kleene extensions are kleene's own",
            "properties": container_extensions(),
        } } },
    })
}

pub async fn handler() -> Response {
    Json(spec()).into_response()
}
