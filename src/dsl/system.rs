//! `system::…`: check and repair the installation, its disk use, prune.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

use super::image::opt_bool;
use super::{with, RResult};
use crate::engine::check::Finding;
use crate::engine::system::PruneOptions;

fn finding(f: &Finding) -> Map {
    let mut m = Map::new();
    m.insert("kind".into(), f.kind.into());
    m.insert("subject".into(), f.subject.clone().into());
    m.insert("problem".into(), f.problem.clone().into());
    m.insert("action".into(), f.action.clone().into());
    m
}

fn strings(v: Vec<String>) -> Dynamic {
    Dynamic::from_array(v.into_iter().map(Dynamic::from).collect())
}

#[export_module]
pub mod api {
    use super::*;

    /// Print `text` to standard error as a warning (`warning: TEXT`), as
    /// klee's own warnings.
    ///
    /// ```rhai
    /// system::warn("the volume 'data' is kept");
    /// ```
    pub fn warn(text: &str) {
        eprintln!("warning: {text}");
    }
    /// The SHA-256 of `text` as `sha256:HEX`: a fingerprint of a value's
    /// printed form (the stdlib's `stack` labels containers with the one of
    /// their configuration, to recreate them when it changes).
    ///
    /// ```rhai
    /// print(system::sha256(`${#{image: "base", cmd: ["true"]}}`));
    /// ```
    pub fn sha256(text: &str) -> String {
        use sha2::Digest;
        format!("sha256:{:x}", sha2::Sha256::digest(text.as_bytes()))
    }
    /// What interrupted operations left (debris, rows whose objects are
    /// gone, runs nobody supervises): one map per problem, with `kind`,
    /// `subject`, `problem` and `action` (what `system::repair()` does).
    /// Empty when the installation is consistent.
    ///
    /// ```rhai
    /// for p in system::check() { print(`${p.kind} ${p.subject}: ${p.problem}`); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.system_check())
                .map(|v| v.iter().map(|f| Dynamic::from_map(finding(f))).collect()),
        )
    }
    /// Check and repair: finishes or rolls back what interrupted operations
    /// left (never touching a running container or a volume's data).
    /// Returns the problems found, each with `repaired` (true or false) and,
    /// when it could not be, `error`.
    ///
    /// ```rhai
    /// let left = system::repair().filter(|p| !p.repaired);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn repair(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.system_check_repair()).map(|v| {
                v.iter()
                    .map(|(f, err)| {
                        let mut m = finding(f);
                        m.insert("repaired".into(), err.is_none().into());
                        if let Some(err) = err {
                            m.insert("error".into(), err.to_string().into());
                        }
                        Dynamic::from_map(m)
                    })
                    .collect()
            }),
        )
    }
    /// Space per kind of object: maps with `kind` (Images, Containers,
    /// Local Volumes, Build Cache), `total`, `active`, `size` and
    /// `reclaimable` (bytes).
    ///
    /// ```rhai
    /// for u in system::df() { print(`${u.kind}: ${u.size} bytes`); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn df(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            with(|e| e.system_df()).map(|v| {
                v.into_iter()
                    .map(|u| {
                        let mut m = Map::new();
                        m.insert("kind".into(), u.kind.into());
                        m.insert("total".into(), (u.total as i64).into());
                        m.insert("active".into(), (u.active as i64).into());
                        m.insert("size".into(), (u.size as i64).into());
                        m.insert("reclaimable".into(), (u.reclaimable as i64).into());
                        Dynamic::from_map(m)
                    })
                    .collect()
            }),
        )
    }
    /// Remove stopped containers, networks no container uses, dangling
    /// images and the build cache; returns what went, by kind
    /// (`containers`, `networks`, `images`, `build_cache`, `volumes`).
    ///
    /// ```rhai
    /// let gone = system::prune();
    /// print(gone.containers.len());
    /// ```
    #[rhai_fn(name = "prune", return_raw)]
    pub fn prune(ctx: NativeCallContext) -> RResult<Map> {
        prune_with(ctx, Map::new())
    }
    /// `system::prune()` with options: `all` (every image no container
    /// uses, not only untagged ones) and `volumes` (also volumes no
    /// container uses).
    ///
    /// ```rhai
    /// system::prune(#{all: true, volumes: true});
    /// ```
    #[rhai_fn(name = "prune", return_raw)]
    pub fn prune_with(ctx: NativeCallContext, opts: Map) -> RResult<Map> {
        crate::dsl::here(
            &ctx,
            (|| {
                if let Some(k) = opts
                    .keys()
                    .find(|k| !matches!(k.as_str(), "all" | "volumes"))
                {
                    return crate::dsl::fail(
                        "invalid",
                        format!("unknown option '{k}' for system::prune (expected all, volumes)"),
                    );
                }
                let o = PruneOptions {
                    all_images: opt_bool(&opts, "all", false)?,
                    volumes: opt_bool(&opts, "volumes", false)?,
                };
                let p = with(|e| e.system_prune(o))?;
                let mut m = Map::new();
                m.insert("containers".into(), strings(p.containers));
                m.insert("networks".into(), strings(p.networks));
                m.insert("images".into(), strings(p.images));
                m.insert("build_cache".into(), strings(p.build_cache));
                m.insert("volumes".into(), strings(p.volumes));
                Ok(m)
            })(),
        )
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_static_module("system", rhai::exported_module!(api).into());
}
