//! `image::…`: base images, builds, tags, removal; the `Image` handle.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

use super::{fail, with, RResult};
use crate::engine::image_create::{CreateOptions, Source};

/// An image (a snapshot of its metadata).
#[derive(Debug, Clone)]
pub struct ImageH(pub crate::engine::Image);

pub fn opt_bool(opts: &Map, key: &str, default: bool) -> RResult<bool> {
    match opts.get(key) {
        None => Ok(default),
        Some(v) => v.as_bool().or_else(|_| {
            fail(
                "invalid",
                format!("option '{key}' must be true or false, not {v}"),
            )
        }),
    }
}

/// A lenient switch: true only when the option is the boolean `true`.
pub fn opt_flag(opts: &Map, key: &str) -> bool {
    opts.get(key)
        .and_then(|v| v.as_bool().ok())
        .unwrap_or(false)
}

pub fn opt_str(opts: &Map, key: &str) -> RResult<Option<String>> {
    match opts.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v.clone().into_string().map(Some).or_else(|_| {
            fail(
                "invalid",
                format!("option '{key}' must be a string, not {v}"),
            )
        }),
    }
}

/// A string, or a number written as one (`memory: "64m"`, `cpus: 0.5`,
/// `pids_limit: 100`).
pub fn opt_scalar(opts: &Map, key: &str) -> RResult<Option<String>> {
    match opts.get(key) {
        Some(v) if v.is_int() || v.is_float() => Ok(Some(v.to_string())),
        _ => opt_str(opts, key),
    }
}

fn strings(v: &[String]) -> Array {
    v.iter().map(|s| Dynamic::from(s.clone())).collect()
}

#[export_module]
pub mod api {
    use super::*;

    /// Create a base image. `method` is `"host"` (the host's userland,
    /// offline), `"dir"` (`source` is a directory) or `"tar"` (`source` is a
    /// .tar/.tar.gz/.tar.xz/.txz); on FreeBSD also `"fetch"` (a URL),
    /// `"fetch-auto"`, `"zfs-copy"` and `"zfs-clone"` (a dataset).
    /// Options: `tag`, `dns`, `localtime`, `update`.
    ///
    /// ```rhai
    /// let base = image::create("host", "", #{tag: "base"});
    /// print(base.id);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create(
        ctx: NativeCallContext,
        method: &str,
        source: &str,
        opts: Map,
    ) -> RResult<ImageH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let src = Source::parse(method, (!source.is_empty()).then_some(source))
                    .map_err(super::super::to_rhai)?;
                let o = CreateOptions {
                    tag: opt_str(&opts, "tag")?.unwrap_or_default(),
                    dns: opt_bool(&opts, "dns", true)?,
                    localtime: opt_bool(&opts, "localtime", true)?,
                    update: opt_bool(&opts, "update", false)?,
                };
                with(|e| e.image_create(&src, &o, &mut ())).map(ImageH)
            })(),
        )
    }

    /// Build an image from a Dockerfile in `context`. Options: `file`
    /// (default `Dockerfile` in the context), `tag`, `build_args` (a map),
    /// `target` (the stage to stop after), `pull`, `no_cache`, `keep_failed`, `memory` and `cpus` (limits of each RUN
    /// step: `"512m"`, `0.5`).
    ///
    /// ```rhai
    /// let app = image::build("./app", #{tag: "app:1", build_args: #{VERSION: "1"}});
    /// ```
    #[rhai_fn(return_raw)]
    pub fn build(ctx: NativeCallContext, context: &str, opts: Map) -> RResult<ImageH> {
        crate::dsl::here(&ctx, super::super::build::dockerfile_build(context, &opts))
    }

    /// Pull an image from its registry (`alpine`, `user/app:1`,
    /// `localhost:5000/app@sha256:…`; Docker Hub for short names),
    /// stored under its short name. Credentials come from `klee login`.
    ///
    /// ```rhai
    /// let alpine = image::pull("alpine:3.20");
    /// ```
    #[rhai_fn(return_raw, name = "pull")]
    pub fn pull(ctx: NativeCallContext, reference: &str) -> RResult<ImageH> {
        crate::dsl::here(
            &ctx,
            with(|e| e.image_pull(reference, &Default::default(), &mut ())).map(ImageH),
        )
    }

    /// Pull with options: `platform` (`"linux/arm64"`) for a
    /// multi-platform image.
    ///
    /// ```rhai
    /// let arm = image::pull("alpine", #{platform: "linux/arm64"});
    /// ```
    #[rhai_fn(return_raw, name = "pull")]
    pub fn pull_with(ctx: NativeCallContext, reference: &str, opts: Map) -> RResult<ImageH> {
        let r = (|| {
            let o = crate::engine::registry::PullOptions {
                platform: opt_str(&opts, "platform")?,
            };
            with(|e| e.image_pull(reference, &o, &mut ())).map(ImageH)
        })();
        crate::dsl::here(&ctx, r)
    }

    /// Push image `ident` to a registry as `reference`
    /// (`localhost:5000/app:1`); returns the manifest's digest.
    ///
    /// ```rhai
    /// let digest = image::push("app:1", "registry.example/team/app:1");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn push(ctx: NativeCallContext, ident: &str, reference: &str) -> RResult<String> {
        crate::dsl::here(
            &ctx,
            with(|e| e.image_push(ident, Some(reference), &mut ())),
        )
    }

    /// Write images (an array of names or IDs) to the archive `path`, one
    /// that `docker load`, `podman load` and skopeo read.
    ///
    /// ```rhai
    /// image::save(["app:1"], "/tmp/app.tar");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn save(ctx: NativeCallContext, images: Array, path: &str) -> RResult<()> {
        let r = (|| {
            let idents: Vec<String> = images.iter().map(|i| i.to_string()).collect();
            let mut f = match std::fs::File::create(path) {
                Ok(f) => f,
                Err(e) => return fail("os", format!("cannot create '{path}': {e}")),
            };
            with(|e| e.image_save(&idents, &mut f, &mut ()))
        })();
        crate::dsl::here(&ctx, r)
    }

    /// Load the images of a docker-archive or OCI-layout archive; returns
    /// them.
    ///
    /// ```rhai
    /// for i in image::load("/tmp/app.tar") { print(i.id); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn load(ctx: NativeCallContext, path: &str) -> RResult<Array> {
        let r = (|| {
            let mut f = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => return fail("os", format!("cannot open '{path}': {e}")),
            };
            with(|e| e.image_load(&mut f, path, &mut ()))
                .map(|v| v.into_iter().map(|i| Dynamic::from(ImageH(i))).collect())
        })();
        crate::dsl::here(&ctx, r)
    }

    /// All images, newest first.
    ///
    /// ```rhai
    /// for i in image::list() { print(`${i.name}:${i.tag} ${i.id}`); }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn list(ctx: NativeCallContext) -> RResult<Array> {
        crate::dsl::here(
            &ctx,
            (|| {
                with(|e| e.images())
                    .map(|v| v.into_iter().map(|i| Dynamic::from(ImageH(i))).collect())
            })(),
        )
    }

    /// Look an image up by `name[:tag]`, ID or unique ID prefix.
    ///
    /// ```rhai
    /// let base = image::get("base");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, ident: &str) -> RResult<ImageH> {
        crate::dsl::here(&ctx, with(|e| e.image(ident)).map(ImageH))
    }

    /// Give an image the name `nametag` (`name[:tag]`); the previous holder
    /// of the name is untagged.
    ///
    /// ```rhai
    /// image::tag("base", "base:stable");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn tag(ctx: NativeCallContext, ident: &str, nametag: &str) -> RResult<ImageH> {
        crate::dsl::here(&ctx, with(|e| e.image_tag(ident, nametag)).map(ImageH))
    }

    /// Remove an image; refused while containers or images use it. Returns its ID.
    ///
    /// ```rhai
    /// image::remove("old:1");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn remove(ctx: NativeCallContext, ident: &str) -> RResult<String> {
        crate::dsl::here(&ctx, with(|e| e.image_remove(ident)).map(|i| i.id))
    }

    /// Remove unused untagged images (with `all`, every unused image).
    /// Returns the removed IDs.
    ///
    /// ```rhai
    /// let gone = image::prune(false);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn prune(ctx: NativeCallContext, all: bool) -> RResult<Array> {
        crate::dsl::here(&ctx, with(|e| e.image_prune(all)).map(|v| strings(&v)))
    }

    /// The image's ID.
    #[rhai_fn(global, get = "id", pure)]
    pub fn id(i: &mut ImageH) -> String {
        i.0.id.clone()
    }
    /// The image's name ("" when untagged).
    #[rhai_fn(global, get = "name", pure)]
    pub fn name(i: &mut ImageH) -> String {
        i.0.name.clone()
    }
    /// The image's tag ("" when untagged).
    #[rhai_fn(global, get = "tag", pure)]
    pub fn tag_of(i: &mut ImageH) -> String {
        i.0.tag.clone()
    }
    /// The environment containers inherit (`KEY=VALUE` strings).
    #[rhai_fn(global, get = "env", pure)]
    pub fn env(i: &mut ImageH) -> Array {
        strings(&i.0.env)
    }
    /// The default command.
    #[rhai_fn(global, get = "cmd", pure)]
    pub fn cmd(i: &mut ImageH) -> Array {
        strings(&i.0.cmd)
    }
    /// The entrypoint.
    #[rhai_fn(global, get = "entrypoint", pure)]
    pub fn entrypoint(i: &mut ImageH) -> Array {
        strings(&i.0.entrypoint)
    }
    /// The default user.
    #[rhai_fn(global, get = "user", pure)]
    pub fn user(i: &mut ImageH) -> String {
        i.0.user.clone()
    }
    /// The working directory containers start in.
    #[rhai_fn(global, get = "workdir", pure)]
    pub fn workdir(i: &mut ImageH) -> String {
        i.0.workdir.clone()
    }
    /// Build snapshots: `#{id, instruction}` maps; `image@id` names one.
    #[rhai_fn(global, get = "snapshots", pure)]
    pub fn snapshots(i: &mut ImageH) -> Array {
        i.0.snapshots
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert("id".into(), s.id.clone().into());
                m.insert("instruction".into(), s.instruction.clone().into());
                Dynamic::from_map(m)
            })
            .collect()
    }
    /// When the image was created (ISO-8601 UTC).
    #[rhai_fn(global, get = "created", pure)]
    pub fn created(i: &mut ImageH) -> String {
        i.0.created.clone()
    }
    /// `name:tag`, or the ID when untagged.
    #[rhai_fn(global, name = "to_string", pure)]
    pub fn to_string(i: &mut ImageH) -> String {
        i.0.display()
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_type_with_name::<ImageH>("Image");
    e.register_static_module("image", rhai::exported_module!(api).into());
}
