//! The engine's objects in kleened's wire shapes (`reference/kleened.md`
//! §2): the field names, enum values and nesting klee's generated models
//! require. Extra fields are allowed by klee, but none are added.

use serde_json::{json, Value};

use crate::engine::container::{Container, RestartPolicy};
use crate::engine::endpoint::Endpoint;
use crate::engine::image::Image;
use crate::engine::network::Network;
use crate::engine::volume::Volume;

pub fn restart_policy(p: &RestartPolicy) -> &'static str {
    match p {
        RestartPolicy::No => "no",
        RestartPolicy::OnStartup => "on-startup",
    }
}

/// `bind` mounts are kleened's `nullfs`.
pub fn mount_type(kind: &str) -> &'static str {
    if kind == "volume" {
        "volume"
    } else {
        "nullfs"
    }
}

/// A container as kleened's `Container`; published ports carry the
/// container's first addresses (`eps`: its endpoints).
pub fn container(c: &Container, eps: &[Endpoint], dataset: &str) -> Value {
    let first = |v6: bool| {
        eps.iter()
            .filter(|e| e.container_id == c.id)
            .map(|e| if v6 { &e.ip_address6 } else { &e.ip_address })
            .find(|a| !a.is_empty())
            .cloned()
            .unwrap_or_default()
    };
    let ports: Vec<Value> = c
        .public_ports
        .iter()
        .map(|p| {
            json!({
                "interfaces": p.interfaces,
                "host_port": p.host_port,
                "container_port": p.container_port,
                "protocol": p.protocol,
                "ip_address": first(false),
                "ip_address6": first(true),
            })
        })
        .collect();
    json!({
        "id": c.id,
        "name": c.name,
        "image_id": c.image_id,
        "cmd": c.cmd,
        "user": c.user,
        "env": c.env,
        "network_driver": c.network_driver,
        "public_ports": ports,
        "jail_param": c.jail_param,
        "restart_policy": restart_policy(&c.restart_policy),
        "persist": c.persist,
        "created": c.created,
        "dataset": dataset,
        "running": c.status.is_running(),
    })
}

/// `ContainerSummary`: a container plus its image's name and tag and the
/// jail ID (none on Linux).
pub fn container_summary(
    c: &Container,
    img: Option<&Image>,
    eps: &[Endpoint],
    dataset: &str,
) -> Value {
    let mut v = container(c, eps, dataset);
    v["image_name"] = json!(img.map(|i| i.name.as_str()).unwrap_or(""));
    v["image_tag"] = json!(img.map(|i| i.tag.as_str()).unwrap_or(""));
    v["jid"] = Value::Null;
    v
}

pub fn mountpoint(container_id: &str, kind: &str, source: &str, dest: &str, ro: bool) -> Value {
    json!({
        "type": mount_type(kind),
        "container_id": container_id,
        "source": source,
        "destination": dest,
        "read_only": ro,
    })
}

pub fn image(i: &Image, dataset: &str) -> Value {
    let instructions: Vec<Value> = i
        .instructions
        .iter()
        .map(|(line, snap)| json!([line, snap]))
        .collect();
    json!({
        "id": i.id,
        "name": i.name,
        "tag": i.tag,
        "cmd": i.cmd,
        "env": i.env,
        "user": i.user,
        "instructions": instructions,
        "created": i.created,
        "dataset": dataset,
    })
}

pub fn network(n: &Network) -> Value {
    json!({
        "id": n.id,
        "name": n.name,
        "type": n.kind,
        "interface": n.interface,
        "subnet": n.subnet,
        "subnet6": n.subnet6,
        "gateway": n.gateway,
        "gateway6": n.gateway6,
        "nat": n.nat,
        "icc": n.icc,
        "internal": n.internal,
    })
}

pub fn endpoint(e: &Endpoint) -> Value {
    json!({
        "id": e.id,
        "network_id": e.network_id,
        "container_id": e.container_id,
        "epair": e.epair,
        "ip_address": e.ip_address,
        "ip_address6": e.ip_address6,
    })
}

pub fn volume(v: &Volume) -> Value {
    json!({
        "name": v.name,
        "dataset": v.mountpoint,
        "mountpoint": v.mountpoint,
        "created": v.created,
    })
}
