//! Names kept in sync: a running container's `/etc/hosts` lists its own
//! names and those of the containers it shares a network with (names and
//! IDs at their addresses there). It is written at start, and rewritten in
//! the running containers concerned whenever that changes: a container on
//! a network starts, is connected or disconnected, or is removed. Only a
//! file kleene made is rewritten (a user's `-v …:/etc/hosts` is left
//! alone). This rather than a DNS responder: nothing runs beside the
//! containers, a start costs nothing more, and programs that read
//! `/etc/hosts` (busybox, musl, glibc) all see it; see docs/networking.md.

use super::Engine;

impl Engine {
    /// The containers whose `/etc/hosts` name `id`: those sharing one of
    /// its networks (read before its endpoints change).
    pub(crate) fn hosts_concerned(&self, id: &str) -> Vec<String> {
        let Ok(endpoints) = self.endpoints() else {
            return vec![];
        };
        let mut out: Vec<String> = sharing(id, &endpoints)
            .map(|e| e.container_id.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Rewrite the `/etc/hosts` of those of `ids` that run (best effort: a
    /// container that stopped meanwhile has nothing to update). The store
    /// is read once for all of them.
    pub(crate) fn refresh_hosts(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        // Every container with its state, read once (not per peer).
        let (Ok(endpoints), Ok(configs)) = (self.endpoints(), self.containers(true)) else {
            return;
        };
        for c in configs.iter().filter(|c| ids.contains(&c.id)) {
            let Some(pid) = c.status.pid() else { continue };
            let Ok(conf) = c.security.confinement(&c.jail_param, c.fly) else {
                continue;
            };
            // What its /etc/hosts is made of: names, addresses, extra lines.
            let spec = crate::platform::RunSpec {
                id: c.id.clone(),
                name: c.name.clone(),
                hostname: conf.hostname.unwrap_or_else(|| c.id.clone()),
                attachments: endpoints
                    .iter()
                    .filter(|e| e.container_id == c.id)
                    .map(|e| crate::platform::Attachment {
                        ip: e.ip_address.clone(),
                        ip6: e.ip_address6.clone(),
                        ..Default::default()
                    })
                    .collect(),
                extra_hosts: [c.extra_hosts.clone(), peers_in(&c.id, &endpoints, &configs)]
                    .concat(),
                ..Default::default()
            };
            let _ = self.platform.refresh_hosts(&spec, pid);
        }
    }
}

/// The label whose value (`a,b`) lists more names a container's network
/// peers know it by.
pub const ALIASES: &str = "kleene.aliases";

/// `NAME:IP` lines naming the containers that share a network with `id`
/// (from endpoints and containers read once), and `id`'s own aliases (a
/// compose service resolves its own service name, as in Compose).
pub(crate) fn peers_in(
    id: &str,
    endpoints: &[super::endpoint::Endpoint],
    containers: &[super::Container],
) -> Vec<String> {
    // Other names a container answers to (`kleene.aliases`: a compose
    // service's name and its network aliases).
    let aliases = |c: &super::Container| -> Vec<String> {
        c.labels
            .get(ALIASES)
            .map(|a| {
                a.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(me) = containers.iter().find(|c| c.id == id) {
        let mine = aliases(me);
        for e in endpoints.iter().filter(|e| e.container_id == id) {
            for ip in [&e.ip_address, &e.ip_address6] {
                if !ip.is_empty() {
                    out.extend(mine.iter().map(|a| format!("{a}:{ip}")));
                }
            }
        }
    }
    for e in sharing(id, endpoints) {
        let Some(c) = containers.iter().find(|c| c.id == e.container_id) else {
            continue;
        };
        let aliases = aliases(c);
        for ip in [&e.ip_address, &e.ip_address6] {
            if !ip.is_empty() {
                out.push(format!("{}:{ip}", c.name));
                out.push(format!("{}:{ip}", c.id));
                for a in &aliases {
                    out.push(format!("{a}:{ip}"));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The other containers' endpoints on the networks `id` is on.
fn sharing<'a>(
    id: &'a str,
    endpoints: &'a [super::endpoint::Endpoint],
) -> impl Iterator<Item = &'a super::endpoint::Endpoint> {
    let mine: Vec<&str> = endpoints
        .iter()
        .filter(|e| e.container_id == id)
        .map(|e| e.network_id.as_str())
        .collect();
    endpoints
        .iter()
        .filter(move |e| e.container_id != id && mine.contains(&e.network_id.as_str()))
}
