//! `container::…`: create, run, list and look up containers; the
//! `Container` handle with its lifecycle methods. A handle names a
//! container by ID; its getters read the current state.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use crate::engine::endpoint::Connection;
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

use super::image::{opt_bool, opt_flag, opt_scalar, opt_str};
use super::{fail, with, RResult};
use crate::engine::exec::ExecConfig;
use crate::engine::lifecycle::Attach;
use crate::engine::limits::LimitOptions;
use crate::engine::security::SecurityOptions;
use crate::engine::{ContainerConfig, MountConfig, Status};

/// A container, by ID.
#[derive(Debug, Clone)]
pub struct ContainerH {
    pub id: String,
}

fn string_list(opts: &Map, key: &str) -> RResult<Vec<String>> {
    match opts.get(key) {
        None => Ok(vec![]),
        Some(v) if v.is_array() => v
            .clone()
            .into_array()
            .unwrap_or_default()
            .into_iter()
            .map(|x| {
                x.into_string().or_else(|t| {
                    fail(
                        "invalid",
                        format!("option '{key}' must hold strings, not {t}"),
                    )
                })
            })
            .collect(),
        Some(v) if v.is_map() => Ok(v
            .clone()
            .cast::<Map>()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()),
        Some(v) => fail(
            "invalid",
            format!("option '{key}' must be an array, not {v}"),
        ),
    }
}

fn strings_of(a: &Array, what: &str) -> RResult<Vec<String>> {
    a.iter()
        .map(|x| {
            x.clone()
                .into_string()
                .or_else(|t| fail("invalid", format!("{what} must hold strings, not {t}")))
        })
        .collect()
}

/// Options map → create configuration (the CLI's options, by name).
fn config(image: &str, cmd: Vec<String>, opts: &Map) -> RResult<ContainerConfig> {
    let known = [
        "name",
        "env",
        "user",
        "workdir",
        "mounts",
        "driver",
        "network",
        "ports",
        "restart",
        "persist",
        "detach",
        "interactive",
        "tty",
        "rm",
        "fly",
        "dns",
        "jail_params",
        "cap_add",
        "cap_drop",
        "privileged",
        "read_only",
        "security_opt",
        "init",
        "memory",
        "cpus",
        "pids_limit",
        "health_cmd",
        "health_interval",
        "health_timeout",
        "health_retries",
        "health_start_period",
        "health_start_interval",
        "no_healthcheck",
        "entrypoint",
        "labels",
        "hostname",
        "extra_hosts",
        "cmd",
    ];
    if let Some(k) = opts.keys().find(|k| !known.contains(&k.as_str())) {
        return fail(
            "invalid",
            format!(
                "unknown container option '{k}' (known: {})",
                known.join(", ")
            ),
        );
    }
    let public_ports = string_list(opts, "ports")?
        .iter()
        .map(|p| crate::engine::ports::PublishedPort::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(super::to_rhai)?;
    let env = string_list(opts, "env")?;
    crate::engine::container::check_env(&env).map_err(super::to_rhai)?;
    let mounts = string_list(opts, "mounts")?
        .iter()
        .map(|m| MountConfig::parse(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(super::to_rhai)?;
    let flag = |k: &str| opt_flag(opts, k);
    let mut jail_param = string_list(opts, "jail_params")?;
    if let Some(h) = opt_str(opts, "hostname")? {
        jail_param.push(format!("host.hostname={h}"));
    }
    let entrypoint = match opts.get("entrypoint") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(_) => Some(string_list(opts, "entrypoint")?),
    };
    let labels = match opts.get("labels").map(|v| v.clone().try_cast::<Map>()) {
        None => Default::default(),
        Some(Some(m)) => m
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Some(None) => return fail("invalid", "labels must be a map of strings"),
    };
    Ok(ContainerConfig {
        image: image.to_string(),
        name: opt_str(opts, "name")?,
        cmd,
        entrypoint,
        env,
        user: opt_str(opts, "user")?.unwrap_or_default(),
        workdir: opt_str(opts, "workdir")?.unwrap_or_default(),
        mounts,
        jail_param,
        labels,
        extra_hosts: string_list(opts, "extra_hosts")?,
        persist: flag("persist"),
        restart_policy: opt_str(opts, "restart")?
            .unwrap_or_else(|| "no".into())
            .parse()
            .map_err(super::to_rhai)?,
        auto_remove: flag("rm"),
        fly: flag("fly"),
        network_driver: opt_str(opts, "driver")?.unwrap_or_else(|| {
            if opts.get("network").is_some_and(|v| !v.is_unit()) {
                "ipnet".into()
            } else {
                String::new()
            }
        }),
        public_ports,
        dns: string_list(opts, "dns")?,
        // Strict: `read_only: 1` must not quietly mean a writable root.
        security: SecurityOptions {
            privileged: opt_bool(opts, "privileged", false)?,
            cap_add: string_list(opts, "cap_add")?,
            cap_drop: string_list(opts, "cap_drop")?,
            read_only: opt_bool(opts, "read_only", false)?,
            security_opt: string_list(opts, "security_opt")?,
            init: opt_bool(opts, "init", false)?,
        },
        limits: limit_options(opts)?,
        health: crate::engine::container::HealthOptions {
            cmd: opt_str(opts, "health_cmd")?,
            options: [
                "interval",
                "timeout",
                "retries",
                "start_period",
                "start_interval",
            ]
            .iter()
            .map(
                |k| Ok(opt_scalar(opts, &format!("health_{k}"))?.map(|v| (k.replace('_', "-"), v))),
            )
            .collect::<RResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
            disable: opt_bool(opts, "no_healthcheck", false)?,
        },
        // Joined with the container's creation (an address is allocated).
        networks: opt_str(opts, "network")?
            .map(|n| Connection {
                network: n,
                ip: "<auto>".into(),
                ip6: "<auto>".into(),
            })
            .into_iter()
            .collect(),
    })
}

/// `memory`, `cpus`, `pids_limit`: strings (`"64m"`) or numbers.
fn limit_options(opts: &Map) -> RResult<LimitOptions> {
    Ok(LimitOptions {
        memory: opt_scalar(opts, "memory")?,
        cpus: opt_scalar(opts, "cpus")?,
        pids: opt_scalar(opts, "pids_limit")?,
    })
}

fn status_of(id: &str) -> RResult<Status> {
    with(|e| e.container(id)).map(|c| c.status)
}

/// `starting`, `healthy`, `unhealthy` while running with a check, else "".
fn health_of(id: &str) -> RResult<String> {
    with(|e| e.container(id)).map(|c| c.health_status().map_or("", |h| h.as_str()).to_string())
}

#[export_module]
pub mod api {
    use super::*;

    /// Create a container from `image`. Options: `name`, `env` (array of
    /// `K=V` or a map), `user`, `workdir`, `mounts` (array of
    /// `SRC:DEST[:ro|rw]`), `driver`, `network` (connected with an
    /// allocated address), `ports` (`[IF:]HOST[:CONTAINER][/udp]`),
    /// `dns` (nameserver addresses instead of the host's), `restart`,
    /// `persist`, `rm`, `cmd` (array; empty: the image's), `entrypoint` (array; `[]` clears the image's),
    /// `hostname`, `labels` (map), `extra_hosts` (array of `NAME:IP`;
    /// the label `kleene.aliases`, `a,b`, adds names its network peers
    /// know it by). Confinement (docs/security.md): `jail_params`
    /// (e.g. `["allow.raw_sockets"]`), `cap_add`, `cap_drop` (arrays of
    /// capability names or `"ALL"`), `privileged`, `read_only`,
    /// `security_opt` (e.g. `["no-new-privileges"]`), `init`. Limits:
    /// `memory` (`"64m"`), `cpus` (`0.5`), `pids_limit` (`100`).
    ///
    /// ```rhai
    /// let c = container::create("base", #{name: "web", env: ["PORT=80"], memory: "256m"});
    /// c.start();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create(ctx: NativeCallContext, image: &str, opts: Map) -> RResult<ContainerH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let cfg = config(image, string_list(&opts, "cmd")?, &opts)?;
                with(|e| e.container_create(&cfg)).map(|c| ContainerH { id: c.id })
            })(),
        )
    }

    /// Create and start a container running `cmd` (empty: the image's
    /// command). Attached (the default) its output goes to the script's
    /// and `run` returns when it exits; with `detach: true` it returns at
    /// once. Options as `create`, plus `detach`, and for an attached run
    /// `interactive` (the script's standard input goes to it) and `tty` (a
    /// terminal, when the script's standard input is one).
    ///
    /// ```rhai
    /// let c = container::run("base", ["echo", "hi"], #{});
    /// print(c.exit_code);   // 0
    /// ```
    #[rhai_fn(return_raw)]
    pub fn run(ctx: NativeCallContext, image: &str, cmd: Array, opts: Map) -> RResult<ContainerH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let cfg = config(image, strings_of(&cmd, "the command")?, &opts)?;
                let detach = opt_flag(&opts, "detach");
                let attach = if detach {
                    Attach::Detached
                } else {
                    Attach::Attached {
                        tty: opt_flag(&opts, "tty"),
                        stdin: opt_flag(&opts, "interactive"),
                    }
                };
                with(|e| e.container_run(&cfg, attach)).map(|(c, _)| ContainerH { id: c.id })
            })(),
        )
    }

    /// Running containers, newest first.
    ///
    /// ```rhai
    /// for c in container::list() { print(c.name); }
    /// ```
    #[rhai_fn(return_raw, name = "list")]
    pub fn list_running(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.containers(false)).map(|v| {
                    v.into_iter()
                        .map(|c| Dynamic::from(ContainerH { id: c.id }))
                        .collect()
                })
            })(),
        )
    }

    /// Containers, newest first; all of them when `all` is true.
    ///
    /// ```rhai
    /// let every = container::list(true);
    /// ```
    #[rhai_fn(return_raw, name = "list")]
    pub fn list_all(ctx: NativeCallContext, all: bool) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.containers(all)).map(|v| {
                    v.into_iter()
                        .map(|c| Dynamic::from(ContainerH { id: c.id }))
                        .collect()
                })
            })(),
        )
    }

    /// Look a container up by name, ID or unique ID prefix.
    ///
    /// ```rhai
    /// let web = container::get("web");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, ident: &str) -> RResult<ContainerH> {
        crate::dsl::here(
            &ctx,
            with(|e| e.container(ident)).map(|c| ContainerH { id: c.id }),
        )
    }

    /// Start the container in the background.
    ///
    /// ```rhai
    /// container::get("web").start();
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn start(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            with(|e| e.container_start(&c.id, Attach::Detached)).map(drop),
        )
    }

    /// Send a signal (`"TERM"`, `"SIGHUP"`, `"9"`) to its init; an
    /// error when it does not run.
    ///
    /// ```rhai
    /// container::get("web").kill("HUP");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn kill(ctx: NativeCallContext, c: &mut ContainerH, signal: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            with(|e| {
                let n = crate::engine::signal::parse(signal)?;
                e.container_kill(&c.id, n).map(drop)
            }),
        )
    }

    /// Stop: SIGTERM, then SIGKILL after 10 seconds.
    ///
    /// ```rhai
    /// container::get("web").stop();
    /// ```
    #[rhai_fn(global, return_raw, name = "stop")]
    pub fn stop(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            with(|e| e.container_stop(&c.id, std::time::Duration::from_secs(10))).map(drop),
        )
    }

    /// Stop with SIGKILL after `timeout` seconds.
    ///
    /// ```rhai
    /// container::get("web").stop(2);
    /// ```
    #[rhai_fn(global, return_raw, name = "stop")]
    pub fn stop_after(ctx: NativeCallContext, c: &mut ContainerH, timeout: i64) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| {
                    e.container_stop(&c.id, std::time::Duration::from_secs(timeout.max(0) as u64))
                })
                .map(drop)
            })(),
        )
    }

    /// Stop (if running) and start again in the background.
    ///
    /// ```rhai
    /// container::get("web").restart();
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn restart(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| with(|e| e.container_restart(&c.id, std::time::Duration::from_secs(10))).map(drop))(
            ),
        )
    }

    /// Change the container's limits (`memory`, `cpus`, `pids_limit`; `0`
    /// removes one), at once if it runs.
    ///
    /// ```rhai
    /// container::get("web").update(#{memory: "512m", cpus: 1.5});
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn update(ctx: NativeCallContext, c: &mut ContainerH, opts: Map) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let known = ["memory", "cpus", "pids_limit"];
                if let Some(k) = opts.keys().find(|k| !known.contains(&k.as_str())) {
                    return fail(
                        "invalid",
                        format!("unknown update option '{k}' (known: {})", known.join(", ")),
                    );
                }
                let u = crate::engine::container::ContainerUpdate {
                    limits: limit_options(&opts)?,
                    ..Default::default()
                };
                with(|e| e.container_update(&c.id, &u)).map(drop)
            })(),
        )
    }

    /// Remove the container (it must not be running).
    ///
    /// ```rhai
    /// container::get("old").remove();
    /// ```
    #[rhai_fn(global, return_raw, name = "remove")]
    pub fn remove(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<()> {
        crate::dsl::here(&ctx, with(|e| e.container_remove(&c.id, false)).map(drop))
    }

    /// Remove the container; with `force`, kill it first if it runs.
    ///
    /// ```rhai
    /// container::get("web").remove(true);
    /// ```
    #[rhai_fn(global, return_raw, name = "remove")]
    pub fn remove_force(ctx: NativeCallContext, c: &mut ContainerH, force: bool) -> RResult<()> {
        crate::dsl::here(&ctx, with(|e| e.container_remove(&c.id, force)).map(drop))
    }

    /// Rename the container.
    ///
    /// ```rhai
    /// container::get("web").rename("frontend");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn rename(ctx: NativeCallContext, c: &mut ContainerH, name: &str) -> RResult<()> {
        crate::dsl::here(&ctx, with(|e| e.container_rename(&c.id, name)).map(drop))
    }

    /// Run `cmd` in the running container and collect
    /// `#{exit_code, stdout, stderr}`. Options: `env`, `user`, `workdir`.
    ///
    /// ```rhai
    /// let r = container::get("web").exec(["cat", "/etc/hostname"], #{});
    /// print(r.stdout);
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn exec(ctx: NativeCallContext, c: &mut ContainerH, cmd: Array, opts: Map) -> RResult<Map> {
        crate::dsl::here(
            &ctx,
            (|| {
                let cfg = ExecConfig {
                    cmd: strings_of(&cmd, "the command")?,
                    env: string_list(&opts, "env")?,
                    user: opt_str(&opts, "user")?.unwrap_or_default(),
                    workdir: opt_str(&opts, "workdir")?.unwrap_or_default(),
                };
                let (code, out, err) = with(|e| e.container_exec_capture(&c.id, &cfg))?;
                let mut m = Map::new();
                m.insert("exit_code".into(), (code as i64).into());
                m.insert(
                    "stdout".into(),
                    String::from_utf8_lossy(&out).into_owned().into(),
                );
                m.insert(
                    "stderr".into(),
                    String::from_utf8_lossy(&err).into_owned().into(),
                );
                Ok(m)
            })(),
        )
    }

    /// Wait until the container is not running; returns its exit code (-1
    /// when it has none: never started, or removed meanwhile).
    ///
    /// ```rhai
    /// let code = container::run("base", ["sleep", "1"], #{detach: true}).wait();
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn wait(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<i64> {
        // The engine's wait: an exit whose code its supervisor is still
        // writing is waited for, not read as unknown.
        crate::dsl::here(
            &ctx,
            with(|e| e.container_wait(&c.id, None)).map(|code| code.unwrap_or(-1) as i64),
        )
    }

    /// What a detached container has printed so far.
    ///
    /// ```rhai
    /// print(container::get("web").logs());
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn logs(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<String> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.container_logs(&c.id)).map(|b| String::from_utf8_lossy(&b).into_owned())
            })(),
        )
    }

    /// The container's ID.
    #[rhai_fn(global, get = "id", pure)]
    pub fn id(c: &mut ContainerH) -> String {
        c.id.clone()
    }
    /// The container's name.
    #[rhai_fn(global, get = "name", pure, return_raw)]
    pub fn name(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<String> {
        crate::dsl::here(&ctx, with(|e| e.container(&c.id)).map(|c| c.name))
    }
    /// `"created"`, `"running"`, `"exited"` or `"removing"`.
    #[rhai_fn(global, get = "status", pure, return_raw)]
    pub fn status(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<String> {
        crate::dsl::here(
            &ctx,
            (|| {
                Ok(match status_of(&c.id)? {
                    Status::Created => "created",
                    Status::Running { .. } => "running",
                    Status::Exited { .. } => "exited",
                    Status::Removing => "removing",
                }
                .into())
            })(),
        )
    }
    /// The exit code once it exited (`()` before, or when unknown).
    #[rhai_fn(global, get = "exit_code", pure, return_raw)]
    pub fn exit_code(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<Dynamic> {
        crate::dsl::here(
            &ctx,
            (|| {
                Ok(match status_of(&c.id)? {
                    Status::Exited { code: Some(n), .. } => (n as i64).into(),
                    _ => Dynamic::UNIT,
                })
            })(),
        )
    }
    /// Whether the kernel's OOM killer ended its last run (its memory
    /// limit was reached).
    ///
    /// ```rhai
    /// let c = container::run("base", ["sh", "-c", "tail /dev/zero"], #{memory: "16m"});
    /// print(c.oom_killed);   // true
    /// ```
    #[rhai_fn(global, get = "oom_killed", pure, return_raw)]
    pub fn oom_killed(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<bool> {
        crate::dsl::here(
            &ctx,
            (|| {
                Ok(matches!(
                    status_of(&c.id)?,
                    Status::Exited {
                        oom_killed: true,
                        ..
                    }
                ))
            })(),
        )
    }
    /// Its health while it runs with a health check (the image's
    /// HEALTHCHECK or `health_cmd`): `"starting"`, `"healthy"` or
    /// `"unhealthy"`; `""` otherwise.
    ///
    /// ```rhai
    /// let c = container::run("base", ["sleep", "60"], #{detach: true, health_cmd: "true", health_interval: "1s"});
    /// print(c.health);   // "starting", then "healthy"
    /// ```
    #[rhai_fn(global, get = "health", pure, return_raw)]
    pub fn health(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<String> {
        crate::dsl::here(&ctx, health_of(&c.id))
    }
    /// Its labels, a map (what `labels` gave at create).
    ///
    /// ```rhai
    /// let c = container::create("base", #{labels: #{tier: "web"}});
    /// print(c.labels.tier);   // web
    /// ```
    #[rhai_fn(global, get = "labels", pure, return_raw)]
    pub fn labels(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<rhai::Map> {
        crate::dsl::here(
            &ctx,
            with(|e| e.container(&c.id)).map(|x| {
                x.labels
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect()
            }),
        )
    }
    /// Its published ports as `[PLACE:]HOST:CONTAINER/PROTO` (a port asked
    /// for as `0:CONTAINER` shows the host port picked for it).
    ///
    /// ```rhai
    /// let c = container::create("base", #{network: "backend", ports: ["0:80"]});
    /// print(c.ports);   // e.g. ["50213:80/tcp"]
    /// ```
    #[rhai_fn(global, get = "ports", pure, return_raw)]
    pub fn ports(ctx: NativeCallContext, c: &mut ContainerH) -> RResult<rhai::Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.container(&c.id))
                .map(|x| x.public_ports.iter().map(|p| p.describe().into()).collect()),
        )
    }
    /// The container's first IPv4 address in its networks ("" without one).
    ///
    /// ```rhai
    /// let c = container::create("base", #{driver: "vnet", network: "backend"});
    /// print(c.ip);   // e.g. 10.2.0.2
    /// ```
    #[rhai_fn(global, get = "ip", pure)]
    pub fn ip(c: &mut ContainerH) -> String {
        with(|e| e.endpoints())
            .unwrap_or_default()
            .into_iter()
            .filter(|ep| ep.container_id == c.id)
            .map(|ep| ep.ip_address)
            .find(|a| !a.is_empty())
            .unwrap_or_default()
    }
    /// The container's name, for printing.
    #[rhai_fn(global, name = "to_string", pure)]
    pub fn to_string(c: &mut ContainerH) -> String {
        with(|e| e.container(&c.id))
            .map(|x| x.name)
            .unwrap_or_else(|_| c.id.clone())
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_type_with_name::<ContainerH>("Container");
    e.register_static_module("container", rhai::exported_module!(api).into());
}
