//! Containers: configuration, status and the rules on them. Starting,
//! stopping and removal are in `lifecycle.rs`.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::id::{self, Match};
use super::image::split_snapshot;
use super::limits::LimitOptions;
use super::security::{SecurityConfig, SecurityOptions};
use super::store::{is_unique_violation, store_err};
use super::{names, time, Engine};
use crate::platform::Limits;
use crate::platform::{failpoint, Platform};

pub use super::mount::MountConfig;
pub use super::status::Status;
pub use super::update::ContainerUpdate;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnStartup,
}

impl std::str::FromStr for RestartPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "no" => Ok(RestartPolicy::No),
            "on-startup" => Ok(RestartPolicy::OnStartup),
            _ => Err(Error::invalid(
                "restart policy",
                s,
                "expected 'no' or 'on-startup'",
            )),
        }
    }
}

/// What `create` takes.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    pub image: String,
    pub name: Option<String>,
    /// Empty: the image's command.
    pub cmd: Vec<String>,
    /// Replaces the image's entrypoint (`Some(vec![])` clears it).
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    /// Empty: the image's user.
    pub user: String,
    pub workdir: String,
    pub mounts: Vec<MountConfig>,
    pub jail_param: Vec<String>,
    pub persist: bool,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub fly: bool,
    /// `disabled` (loopback only, the default), `host`, `ipnet` or `vnet`.
    pub network_driver: String,
    pub public_ports: Vec<super::ports::PublishedPort>,
    /// Nameservers for the container's `/etc/resolv.conf` (empty: the host's).
    pub dns: Vec<String>,
    /// Confinement: `--cap-add`, `--privileged`, `--security-opt`, `--init`, ...
    pub security: SecurityOptions,
    /// `--memory`, `--cpus`, `--pids-limit`.
    pub limits: LimitOptions,
    /// Networks to join, written with the container's row (`-n`).
    pub networks: Vec<super::endpoint::Connection>,
    /// `--label KEY=VALUE`: the user's own metadata.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--add-host NAME:IP`: extra lines of its `/etc/hosts`.
    pub extra_hosts: Vec<String>,
    /// `--health-*` options over the image's HEALTHCHECK (`--health-cmd`
    /// is `cmd`, a shell command); `--no-healthcheck` disables it.
    pub health: HealthOptions,
}

/// `--health-cmd`, `--health-interval`, …, `--no-healthcheck`.
#[derive(Debug, Clone, Default)]
pub struct HealthOptions {
    pub cmd: Option<String>,
    /// (`interval`|`timeout`|`start-period`|`start-interval`|`retries`, value)
    pub options: Vec<(String, String)>,
    pub disable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image reference as given (`name:tag[@snap]`), for display.
    #[serde(default)]
    pub image_ref: String,
    pub created: String,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub workdir: String,
    /// Lower layers (bottom first) fixed at creation.
    #[serde(default)]
    pub layers: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<MountConfig>,
    #[serde(default)]
    pub jail_param: Vec<String>,
    #[serde(default)]
    pub persist: bool,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub fly: bool,
    #[serde(default)]
    pub network_driver: String,
    #[serde(default)]
    pub public_ports: Vec<super::ports::PublishedPort>,
    /// Nameservers for `/etc/resolv.conf` (empty: the host's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// Confinement options (the profile is derived from them and the jail
    /// parameters at each start).
    #[serde(default)]
    pub security: SecurityConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `NAME:IP` lines for `/etc/hosts` (`--add-host`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    /// Runtime state, kept in its own columns; filled on read.
    #[serde(skip_deserializing, default = "created")]
    pub status: Status,
    /// HEALTHCHECK: the image's, or `--health-*` (None: no check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
    /// What its probes found (read from its row, not stored in `data`).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

fn created() -> Status {
    Status::Created
}

/// The raw runtime columns of a container row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunState {
    /// The container's ID (its jail's name on FreeBSD).
    pub id: String,
    pub state: String,
    pub pid: Option<i32>,
    pub pid_start: Option<i64>,
    pub exit_code: Option<i32>,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub oom_killed: bool,
    /// The process supervising it while it runs (`<pid>-<start>`).
    pub monitor: Option<String>,
    /// Its health (JSON), when it has a health check and has run.
    pub health: Option<String>,
}

impl RunState {
    /// The process that claimed the row (starting, removing), if it lives.
    pub fn claimer_alive(&self, platform: &dyn Platform) -> bool {
        self.pid
            .is_some_and(|p| platform.alive(p, self.pid_start.unwrap_or(0) as u64))
    }

    /// Does a live process supervise the container (and so will record
    /// its exit)?
    pub fn monitored(&self) -> bool {
        self.monitor
            .as_deref()
            .and_then(crate::platform::owner::Owner::parse)
            .is_some_and(|o| o.alive())
    }
}

/// The status a row describes, checked against the process table: a
/// container whose process is gone is exited, whatever the row says.
pub(crate) fn status_of(platform: &dyn Platform, rs: &RunState) -> Status {
    let alive = |rs: &RunState| match rs.pid {
        Some(pid) => platform.alive(pid, rs.pid_start.unwrap_or(0) as u64),
        None => false,
    };
    let running = |rs: &RunState| match rs.pid {
        Some(pid) => platform.container_running(&rs.id, pid, rs.pid_start.unwrap_or(0) as u64),
        None => false,
    };
    match rs.state.as_str() {
        "running" if running(rs) => Status::Running {
            pid: rs.pid.unwrap_or(0),
            started: rs.started.clone().unwrap_or_default(),
        },
        // A start in progress counts as running while its starter lives.
        "starting" if alive(rs) => Status::Running {
            pid: 0,
            started: rs.started.clone().unwrap_or_default(),
        },
        "created" => Status::Created,
        "removing" => Status::Removing,
        "starting" if rs.finished.is_none() => Status::Created,
        _ => Status::Exited {
            code: rs.exit_code,
            finished: rs.finished.clone(),
            oom_killed: rs.oom_killed,
        },
    }
}

impl Container {
    /// Its health while it runs with a health check (None otherwise:
    /// a stopped container's last health is history, not a status).
    pub fn health_status(&self) -> Option<super::health::HealthStatus> {
        match (&self.health, self.status.is_running()) {
            (Some(h), true) => Some(h.status),
            _ => None,
        }
    }
}

pub(crate) const SELECT: &str =
    "SELECT id, data, state, pid, pid_start, exit_code, started, finished, oom_killed, monitor, health FROM containers";

pub(crate) fn row(r: &rusqlite::Row) -> rusqlite::Result<(String, String, RunState)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        RunState {
            id: r.get(0)?,
            state: r.get(2)?,
            pid: r.get(3)?,
            pid_start: r.get(4)?,
            exit_code: r.get(5)?,
            started: r.get(6)?,
            finished: r.get(7)?,
            oom_killed: r.get::<_, Option<bool>>(8)?.unwrap_or(false),
            monitor: r.get(9)?,
            health: r.get(10)?,
        },
    ))
}

impl Engine {
    fn to_container(&self, id: String, data: String, rs: RunState) -> Result<Container> {
        let mut c: Container = super::error::decode("container", &id, &data)?;
        c.status = self.status_of(&rs);
        c.health = rs
            .health
            .as_deref()
            .and_then(|h| serde_json::from_str(h).ok());
        Ok(c)
    }

    pub(crate) fn status_of(&self, rs: &RunState) -> Status {
        status_of(self.platform, rs)
    }

    pub(crate) fn run_state(&self, id: &str) -> Result<Option<RunState>> {
        let sql = format!("{SELECT} WHERE id = ?1");
        Ok(self
            .store
            .read(|c| c.query_row(&sql, [id], row).optional())?
            .map(|(_, _, rs)| rs))
    }

    /// Every container's configuration, without asking the OS for its
    /// status (for the firewall, which only needs addresses and ports).
    pub(crate) fn container_configs(&self) -> Result<Vec<Container>> {
        self.store.objects(
            "container",
            "SELECT id, data FROM containers ORDER BY created DESC, id",
        )
    }

    /// Containers, newest first; only running ones unless `all`.
    pub fn containers(&self, all: bool) -> Result<Vec<Container>> {
        let sql = format!("{SELECT} ORDER BY created DESC, id");
        let rows = self.store.read(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([], row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, data, rs) in rows {
            let c = self.to_container(id, data, rs)?;
            if all || c.status.is_running() {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Look a container up by ID, exact name or unique ID prefix.
    pub fn container(&self, ident: &str) -> Result<Container> {
        if ident.is_empty() {
            return Err(Error::EmptyIdent { kind: "container" });
        }
        let sql = format!("{SELECT} WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1");
        if let Some((id, data, rs)) = self
            .store
            .read(|c| c.query_row(&sql, [ident], row).optional())?
        {
            return self.to_container(id, data, rs);
        }
        let cands: Vec<(String, String)> = self.store.read(|c| {
            let mut st =
                c.prepare("SELECT id, name FROM containers WHERE substr(id, 1, length(?1)) = ?1")?;
            let rows = st.query_map([ident], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        match id::resolve(ident, &cands) {
            Match::One(id) => {
                let sql = format!("{SELECT} WHERE id = ?1");
                let (id, data, rs) = self.store.read(|c| c.query_row(&sql, [id], row))?;
                self.to_container(id, data, rs)
            }
            Match::None => Err(Error::NotFound {
                kind: "container",
                ident: ident.to_string(),
            }),
            Match::Ambiguous(candidates) => Err(Error::Ambiguous {
                kind: "container",
                ident: ident.to_string(),
                candidates,
            }),
        }
    }

    /// Create a container (its filesystem and its row); nothing is left
    /// behind if any step fails.
    pub fn container_create(&mut self, cfg: &ContainerConfig) -> Result<Container> {
        self.create_claimed(cfg, false)
    }

    /// Create; with `claim`, the row is born in the `starting` state claimed
    /// by this process (saves `run` a write transaction).
    pub(crate) fn create_claimed(
        &mut self,
        cfg: &ContainerConfig,
        claim: bool,
    ) -> Result<Container> {
        let name = match &cfg.name {
            Some(n) => {
                id::check_name("container name", n)?;
                n.trim_start_matches('/').to_string()
            }
            None => names::generate(),
        };
        let (_, snap) = split_snapshot(&cfg.image);
        let image = self.image(&cfg.image)?;
        let layers = image.layers_at(snap)?;
        let generated = cfg.name.is_none();
        if !cfg.public_ports.is_empty()
            && matches!(cfg.network_driver.as_str(), "" | "disabled" | "host")
        {
            let driver = if cfg.network_driver.is_empty() {
                "disabled"
            } else {
                cfg.network_driver.as_str()
            };
            return Err(Error::invalid(
                "published ports",
                cfg.public_ports
                    .iter()
                    .map(|p| format!("{}:{}", p.host_port, p.container_port))
                    .collect::<Vec<_>>()
                    .join(" "),
                format!("cannot publish ports of a container using the '{driver}' network driver (use -n NETWORK, or -l ipnet|vnet and klee network connect NETWORK CONTAINER)"),
            ));
        }
        let public_ports = self.pick_free_ports(&cfg.public_ports)?;
        self.check_port_conflicts(&public_ports, None)?;
        if let Some(bad) = cfg
            .dns
            .iter()
            .find(|d| d.parse::<std::net::IpAddr>().is_err())
        {
            return Err(Error::invalid(
                "dns server",
                bad.as_str(),
                "not an IP address",
            ));
        }
        if let Some(other) = self.name_taken(&name)?.filter(|_| !generated) {
            return Err(Error::Conflict(format!(
                "container name '{name}' is already in use by container {other}"
            )));
        }
        let security = cfg.security.parse()?;
        let limits = cfg.limits.parse()?;
        // Jail parameters with a bad value fail now, not at each start.
        security.confinement(&cfg.jail_param, cfg.fly)?;
        self.platform.check_jail_params(&cfg.jail_param)?;
        self.platform.check_limits(&limits)?;
        for m in &cfg.mounts {
            if m.kind == "bind" && !std::path::Path::new(&m.source).exists() {
                return Err(Error::invalid(
                    "mount",
                    format!("{}:{}", m.source, m.destination),
                    format!("host path '{}' does not exist", m.source),
                ));
            }
        }
        let mut env = image.env.clone();
        env.extend(cfg.env.iter().cloned());
        let mut c = Container {
            id: id::new_id(),
            name,
            image_id: image.id.clone(),
            image_ref: cfg.image.clone(),
            created: time::now(),
            cmd: {
                // Docker's rules: the entrypoint, then the run's command or
                // the image's CMD (a replaced entrypoint drops the image's CMD).
                let (ep, default_cmd) = match &cfg.entrypoint {
                    Some(ep) => (ep.clone(), vec![]),
                    None => (image.entrypoint.clone(), image.cmd.clone()),
                };
                [
                    ep,
                    if cfg.cmd.is_empty() {
                        default_cmd
                    } else {
                        cfg.cmd.clone()
                    },
                ]
                .concat()
            },
            env: dedup_env(&env),
            user: if cfg.user.is_empty() {
                image.user.clone()
            } else {
                cfg.user.clone()
            },
            workdir: if cfg.workdir.is_empty() {
                image.workdir.clone()
            } else {
                cfg.workdir.clone()
            },
            layers,
            mounts: cfg.mounts.clone(),
            jail_param: cfg.jail_param.clone(),
            persist: cfg.persist,
            restart_policy: cfg.restart_policy,
            auto_remove: cfg.auto_remove,
            fly: cfg.fly,
            network_driver: match cfg.network_driver.as_str() {
                "" => "disabled".to_string(),
                d @ ("disabled" | "host" | "ipnet" | "vnet") => d.to_string(),
                other => {
                    return Err(Error::invalid(
                        "network driver",
                        other,
                        "expected ipnet, vnet, host or disabled",
                    ))
                }
            },
            public_ports,
            dns: cfg.dns.clone(),
            security,
            limits,
            labels: cfg.labels.clone(),
            extra_hosts: check_extra_hosts(&cfg.extra_hosts)?,
            status: Status::Created,
            healthcheck: health_config(&image, &cfg.health)?,
            health: None,
        };

        // Networks to join: checked now, their endpoints written with the row.
        let joins = cfg
            .networks
            .iter()
            .map(|j| {
                let n = self.network(&j.network)?;
                super::endpoint::check_driver(&n, &c.network_driver, false)?;
                Ok((n, j.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        // Volumes named by mounts are created on demand; undo that on failure.
        let mut new_volumes = Vec::new();
        let mut volumes: Vec<String> = c
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.source.clone())
            .collect();
        volumes.sort();
        volumes.dedup();
        let result = (|| -> Result<()> {
            // Their locks are held until the row is written: a `volume rm`
            // at the same time either goes first (and the volume is made
            // again here) or sees this container as a user and refuses.
            let _volume_locks = self.lock_objects("volume", volumes.iter().map(String::as_str))?;
            for v in &volumes {
                if self.ensure_volume_locked(v)?.1 {
                    new_volumes.push(v.clone());
                }
            }
            // The row first, then its filesystem (made whole or not at
            // all): a crash in between leaves a row without one, which the
            // next start or `system check --repair` makes.
            failpoint::check("container.create.row")?;
            // Held until the filesystem is made: `system check` leaves a
            // row alone while its creation is under way.
            let _lock = self.lock_object("container", &c.id)?;
            // A generated name may collide (also with a concurrent
            // process): draw again, with a numeric suffix after a while.
            for attempt in 0.. {
                match self.insert_container(&c, claim, &joins) {
                    Err(Error::Conflict(_)) if generated && attempt < 20 => {
                        c.name = names::generate();
                        if attempt >= 3 {
                            c.name = format!("{}_{}", c.name, &id::new_id()[..4]);
                        }
                    }
                    other => {
                        other?;
                        break;
                    }
                }
            }
            let made = self.make_container_fs(&c).and_then(|_| {
                if joins.is_empty() {
                    Ok(())
                } else {
                    // Its addresses enter the firewall (published ports).
                    self.reload_firewall()
                }
            });
            if let Err(e) = made {
                let _ = self.platform.destroy_container_fs(&self.root, &c.id);
                let _ = self.delete_container_row(&c.id);
                return Err(e);
            }
            Ok(())
        })();
        if let Err(e) = result {
            for v in new_volumes {
                let _ = self.volume_remove(&v);
            }
            return Err(e);
        }
        Ok(c)
    }

    /// Make a container's filesystem (it is made whole or not at all).
    pub(crate) fn make_container_fs(&self, c: &Container) -> Result<()> {
        self.platform
            .create_container_fs(&self.root, &c.id, &c.layers, c.auto_remove)?;
        Ok(())
    }

    pub(crate) fn delete_container_row(&mut self, id: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            Engine::forget_endpoints(tx, id).map_err(|e| store_err(&path, e))?;
            tx.execute("DELETE FROM containers WHERE id = ?1", [id])
                .map_err(|e| store_err(&path, e))
                .map(drop)
        })
    }

    fn name_taken(&self, name: &str) -> Result<Option<String>> {
        self.store.read(|c| {
            c.query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn insert_container(
        &mut self,
        c: &Container,
        claim: bool,
        joins: &[(super::network::Network, super::endpoint::Connection)],
    ) -> Result<()> {
        let data = serde_json::to_string(c).expect("container serialises");
        let path = self.store.path().to_path_buf();
        let (state, pid, pid_start) = if claim {
            // This process (its start time read once per process).
            let me = crate::platform::owner::Owner::me();
            ("starting", Some(me.pid), Some(me.start as i64))
        } else {
            ("created", None, None)
        };
        self.store.write(|tx| {
            tx.execute(
                "INSERT INTO containers (id, name, image_id, created, data, state, pid, pid_start) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![c.id, c.name, c.image_id, c.created, data, state, pid, pid_start],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict(format!("container name '{}' is already in use", c.name))
                } else {
                    store_err(&path, e)
                }
            })?;
            for (net, j) in joins {
                super::endpoint::add_endpoint_tx(tx, net, &c.id, &j.ip, &j.ip6)?;
            }
            Ok(())
        })
    }

    /// Write a container's configuration back (name and data).
    pub(crate) fn save_container(&mut self, c: &Container) -> Result<()> {
        let data = serde_json::to_string(c).expect("container serialises");
        let path = self.store.path().to_path_buf();
        let n = self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET name = ?2, data = ?3 WHERE id = ?1",
                params![c.id, c.name, data],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict(format!("container name '{}' is already in use", c.name))
                } else {
                    store_err(&path, e)
                }
            })
        })?;
        if n == 0 {
            return Err(Error::NotFound {
                kind: "container",
                ident: c.id.clone(),
            });
        }
        Ok(())
    }
}

/// Keep the last value of each key, at the position of its first occurrence.
pub fn dedup_env(env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for kv in env {
        let key = kv.split('=').next().unwrap_or("");
        match out.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => *slot = kv.clone(),
            None => out.push(kv.clone()),
        }
    }
    out
}

/// Validate `KEY=VALUE` environment entries.
pub fn check_env(env: &[String]) -> Result<()> {
    for e in env {
        match e.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.contains(char::is_whitespace) => {}
            _ => {
                return Err(Error::invalid(
                    "environment variable",
                    e.as_str(),
                    "expected KEY=VALUE",
                ))
            }
        }
    }
    Ok(())
}

impl Engine {
    /// `ports` with each `0:CONTAINER` given a free host port: one no
    /// container publishes and nothing on the host is bound to (as
    /// Docker's `-p CONTAINER`). Picked once, at create: the container keeps
    /// it across restarts.
    fn pick_free_ports(
        &self,
        ports: &[super::ports::PublishedPort],
    ) -> Result<Vec<super::ports::PublishedPort>> {
        if !ports.iter().any(|p| p.wants_free_port()) {
            return Ok(ports.to_vec());
        }
        let mut taken: Vec<_> = self
            .container_configs()?
            .into_iter()
            .flat_map(|c| c.public_ports)
            .collect();
        taken.extend(ports.iter().filter(|p| !p.wants_free_port()).cloned());
        let start = u16::from_str_radix(&id::new_id()[..4], 16).unwrap_or(0);
        let mut out = Vec::with_capacity(ports.len());
        for p in ports {
            let mut p = p.clone();
            if p.wants_free_port() {
                let port = super::ports::pick_free(&p, &taken, start, |port, proto| {
                    super::ports::host_port_free(None, port, proto)
                })
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "no free host port in {}-{} for {}",
                        super::ports::FREE_PORTS.start(),
                        super::ports::FREE_PORTS.end(),
                        p.describe()
                    ))
                })?;
                p.host_port = port.to_string();
                taken.push(p.clone());
            }
            out.push(p);
        }
        Ok(out)
    }

    /// Refuse ports another container publishes already (or that `ports`
    /// repeat), naming the holder: one of them would silently lose it.
    pub(crate) fn check_port_conflicts(
        &self,
        ports: &[super::ports::PublishedPort],
        except: Option<&str>,
    ) -> Result<()> {
        for (i, p) in ports.iter().enumerate() {
            if let Some(q) = ports[..i].iter().find(|q| q.conflicts_with(p)) {
                return Err(Error::invalid(
                    "published ports",
                    format!("{} {}", q.describe(), p.describe()),
                    "they take the same host port",
                ));
            }
        }
        for c in self.container_configs()? {
            if Some(c.id.as_str()) == except {
                continue;
            }
            for q in &c.public_ports {
                if let Some(p) = ports.iter().find(|p| p.conflicts_with(q)) {
                    return Err(Error::Conflict(format!(
                        "port {} is already published by container '{}' ({}) as {}",
                        p.describe(),
                        c.name,
                        c.id,
                        q.describe()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `--add-host NAME:IP` entries: a host name and an IPv4 or IPv6 address
/// (Docker's form; an IPv6 address keeps its colons: `h:fd00::1`).
pub fn check_extra_hosts(hosts: &[String]) -> Result<Vec<String>> {
    for h in hosts {
        let bad = |why: &str| Error::invalid("--add-host", h, why.to_string());
        let (name, ip) = h.split_once(':').ok_or_else(|| bad("expected NAME:IP"))?;
        if name.is_empty()
            || name.len() > 253
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(bad(
                "the name must be a host name (letters, digits, '-', '.')",
            ));
        }
        ip.trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .map_err(|_| bad("the address must be an IPv4 or IPv6 address"))?;
    }
    Ok(hosts.to_vec())
}

/// The container's health check: the image's HEALTHCHECK with the user's
/// `--health-*` over it.
fn health_config(
    image: &super::image::Image,
    o: &HealthOptions,
) -> Result<Option<super::health::HealthConfig>> {
    use super::health::HealthConfig;
    if o.disable {
        if o.cmd.is_some() || !o.options.is_empty() {
            return Err(Error::invalid(
                "options",
                "--no-healthcheck with --health-*",
                "choose one",
            ));
        }
        return Ok(None);
    }
    let mut cfg = match &o.cmd {
        Some(cmd) if cmd.trim().is_empty() => {
            return Err(Error::invalid("--health-cmd", cmd, "give a command"))
        }
        Some(cmd) => Some(HealthConfig::new(vec!["CMD-SHELL".into(), cmd.clone()])),
        None => HealthConfig::from_image(&image.healthcheck)?,
    };
    match &mut cfg {
        Some(c) => {
            c.shell = image.shell.clone();
            for (k, v) in &o.options {
                c.set(k, v)?;
            }
        }
        None if !o.options.is_empty() => {
            return Err(Error::invalid(
                "options",
                format!("--health-{}", o.options[0].0),
                "the image has no HEALTHCHECK: give --health-cmd",
            ))
        }
        None => {}
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_dedup_and_check() {
        let env = dedup_env(&["A=1".into(), "B=2".into(), "A=3".into()]);
        assert_eq!(env, vec!["A=3", "B=2"]);
        assert!(check_env(&["A=1".into()]).is_ok());
        assert_eq!(
            check_env(&["NOPE".into()]).unwrap_err().to_string(),
            "invalid environment variable 'NOPE': expected KEY=VALUE"
        );
    }

    #[test]
    fn restart_policy() {
        assert_eq!(
            "on-startup".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnStartup
        );
        assert!("always".parse::<RestartPolicy>().is_err());
    }
}
