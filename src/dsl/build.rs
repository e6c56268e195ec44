//! `build::…`: the build primitives a Dockerfile compiles to, for scripts.
//! A `Build` handle drives the same instruction-at-a-time builder as
//! `klee build` (`dockerfile::plan::Builder`), so snapshots, cache and
//! cleanup behave exactly alike. Arguments are Dockerfile words: they are
//! expanded (`$VAR`, quotes) as a Dockerfile's would be.

// The immediately called closures collect a native function's errors so
// `dsl::here` can give them the position of the call.
#![allow(clippy::redundant_closure_call)]

use std::sync::{Arc, Mutex, MutexGuard};

use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};

use super::image::{opt_flag, opt_scalar, opt_str, ImageH};
use super::{fail, with, RResult};
use crate::dockerfile::parse::{parse, Instruction};
use crate::dockerfile::plan::{build as build_dockerfile, BuildError, BuildRequest, Builder};
use crate::engine::build::BuildLog;

struct Print;
impl BuildLog for Print {
    fn line(&mut self, text: &str) {
        crate::outln!("{text}");
    }
}

/// A build in progress.
#[derive(Clone)]
pub struct BuildH(Arc<Mutex<Option<Builder>>>);

fn build_err(e: BuildError) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(super::error_map("build", &e.message), Position::NONE).into()
}

/// The `memory` and `cpus` options: limits of every RUN step.
fn build_limits(opts: &Map) -> RResult<crate::platform::Limits> {
    crate::engine::limits::LimitOptions {
        memory: opt_scalar(opts, "memory")?,
        cpus: opt_scalar(opts, "cpus")?,
        pids: None,
    }
    .parse()
    .map_err(super::to_rhai)
}

fn quote(s: &str) -> String {
    crate::dsl::translate::rhai_string(s)
}

/// An instruction as if written in a Dockerfile.
fn inst(name: &str, flags: Vec<String>, args: Vec<String>, json: bool) -> Instruction {
    let shown = if json {
        format!(
            "[{}]",
            args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(", ")
        )
    } else {
        args.join(" ")
    };
    let flag_text: String = flags.iter().map(|f| format!("{f} ")).collect();
    Instruction {
        name: name.to_string(),
        flags,
        original: format!("{} {flag_text}{shown}", name.to_uppercase()),
        args,
        json,
        heredocs: vec![],
        start_line: 0,
        end_line: 0,
        sub: None,
        span: 0..0,
    }
}

impl BuildH {
    /// The builder, `None` once committed or aborted. A panic elsewhere
    /// must not make the build unusable, hence `into_inner` on poison.
    fn state(&self) -> MutexGuard<'_, Option<Builder>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, i: &Instruction) -> RResult<()> {
        let mut g = self.state();
        let Some(b) = g.as_mut() else {
            return fail("state", "this build was already committed");
        };
        let r = with(|e| Ok(b.instruction(e, i, &mut Print)))?;
        r.map_err(build_err)
    }

    /// A flagless instruction with Dockerfile words as arguments; errors
    /// carry the script's call position.
    fn step(&self, ctx: &NativeCallContext, name: &str, args: Vec<String>) -> RResult<()> {
        crate::dsl::here(ctx, self.apply(&inst(name, vec![], args, false)))
    }

    /// An exec-form (JSON array) instruction such as `RUN ["a", "b"]`.
    fn exec_form(&self, ctx: &NativeCallContext, name: &str, argv: &Array) -> RResult<()> {
        crate::dsl::here(
            ctx,
            strs(argv).and_then(|a| self.apply(&inst(name, vec![], a, true))),
        )
    }
}

/// COPY/ADD arguments: the sources, then the destination.
fn sources_to(srcs: &Array, dest: &str) -> RResult<Vec<String>> {
    let mut args = strs(srcs)?;
    args.push(dest.into());
    Ok(args)
}

/// `build_args: #{NAME: value}`; anything else means none.
fn build_args(opts: &Map) -> Vec<(String, String)> {
    match opts.get("build_args") {
        Some(v) if v.is_map() => v
            .clone()
            .cast::<Map>()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        _ => vec![],
    }
}

fn strs(a: &Array) -> RResult<Vec<String>> {
    a.iter()
        .map(|x| {
            x.clone()
                .into_string()
                .or_else(|t| fail("invalid", format!("expected strings, not {t}")))
        })
        .collect()
}

fn copy_flags(opts: &Map) -> RResult<Vec<String>> {
    let mut flags = Vec::new();
    for (k, v) in opts {
        match k.as_str() {
            "from" | "chown" => flags.push(format!("--{k}={v}")),
            other => {
                return fail(
                    "invalid",
                    format!("unknown copy option '{other}' (known: from, chown)"),
                )
            }
        }
    }
    Ok(flags)
}

/// `image::build`: a Dockerfile build, as `klee build`.
pub fn dockerfile_build(context: &str, opts: &Map) -> RResult<ImageH> {
    let ctx = std::path::PathBuf::from(context);
    let file = opt_str(opts, "file")?
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ctx.join("Dockerfile"));
    let text = std::fs::read_to_string(&file).or_else(|e| {
        fail(
            "invalid",
            format!("cannot read Dockerfile '{}': {e}", file.display()),
        )
    })?;
    let req = BuildRequest {
        context: ctx,
        dockerfile: text,
        dockerfile_name: file.display().to_string(),
        tag: opt_str(opts, "tag")?.unwrap_or_default(),
        build_args: build_args(opts),
        no_cache: opt_flag(opts, "no_cache"),
        keep_failed: opt_flag(opts, "keep_failed"),
        from: None,
        image_id: None,
        host_network: false,
        limits: build_limits(opts)?,
        pull: opt_flag(opts, "pull"),
        target: opt_str(opts, "target")?,
    };
    let r = with(|e| Ok(build_dockerfile(e, &req, &mut Print)))?;
    r.map(ImageH).map_err(build_err)
}

fn start_build(context: &str, opts: Map) -> RResult<BuildH> {
    let args = build_args(&opts);
    let no_cache = opt_flag(&opts, "no_cache");
    let escape = match opt_str(&opts, "escape")?.as_deref() {
        None | Some("\\") => '\\',
        Some("`") => '`',
        Some(o) => return fail("invalid", format!("escape token '{o}' is not \\ or `")),
    };
    let mut b =
        Builder::new(std::path::Path::new(context), &args, no_cache, escape).map_err(build_err)?;
    b.set_limits(build_limits(&opts)?);
    Ok(BuildH(Arc::new(Mutex::new(Some(b)))))
}

#[export_module]
pub mod api {
    use super::*;

    /// Start a build reading COPY sources from `context`. Options:
    /// `build_args` (a map), `no_cache`, `escape` (`"\\"` or `` "`" ``),
    /// `memory` and `cpus` (limits of each RUN step: `"512m"`, `0.5`).
    ///
    /// ```rhai
    /// let b = build::start(".", #{build_args: #{VERSION: "2"}});
    /// b.from("base");
    /// ```
    #[rhai_fn(return_raw, name = "start")]
    pub fn new_with(ctx: NativeCallContext, context: &str, opts: Map) -> RResult<BuildH> {
        crate::dsl::here(&ctx, start_build(context, opts))
    }

    /// Start a build from `image` (FROM), with the current directory as context.
    ///
    /// ```rhai
    /// let b = build::from("base");
    /// b.run("echo hi > /greeting");
    /// let img = b.commit("hello:1");
    /// ```
    #[rhai_fn(return_raw, name = "from")]
    pub fn from_image(ctx: NativeCallContext, image: &str) -> RResult<BuildH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let b = start_build(".", Map::new())?;
                b.apply(&inst("from", vec![], vec![image.into()], false))?;
                Ok(b)
            })(),
        )
    }

    /// Start a build from `image`. Options as `build::start` plus `context`
    /// and `name` (the stage name).
    ///
    /// ```rhai
    /// let b = build::from("base", #{context: "./app", name: "builder"});
    /// ```
    #[rhai_fn(return_raw, name = "from")]
    pub fn from_image_opts(ctx: NativeCallContext, image: &str, opts: Map) -> RResult<BuildH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let ctx_dir = opt_str(&opts, "context")?.unwrap_or_else(|| ".".into());
                let b = start_build(&ctx_dir, opts.clone())?;
                let mut args = vec![image.to_string()];
                if let Some(n) = opt_str(&opts, "name")? {
                    args.extend(["AS".to_string(), n]);
                }
                b.apply(&inst("from", vec![], args, false))?;
                Ok(b)
            })(),
        )
    }

    /// FROM: begin a (further) stage.
    ///
    /// ```rhai
    /// b.stage("base", "final");
    /// ```
    #[rhai_fn(global, return_raw, name = "from")]
    pub fn stage_from(ctx: NativeCallContext, b: &mut BuildH, image: &str) -> RResult<()> {
        b.step(&ctx, "from", vec![image.into()])
    }

    /// FROM … AS `name`: begin a named stage.
    ///
    /// ```rhai
    /// b.from("base", "builder");
    /// ```
    #[rhai_fn(global, return_raw, name = "from")]
    pub fn stage_from_named(
        ctx: NativeCallContext,
        b: &mut BuildH,
        image: &str,
        name: &str,
    ) -> RResult<()> {
        b.step(&ctx, "from", vec![image.into(), "AS".into(), name.into()])
    }

    /// FROM … AS `name` (same as `from(image, name)`).
    ///
    /// ```rhai
    /// b.stage("base", "runtime");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn stage(ctx: NativeCallContext, b: &mut BuildH, image: &str, name: &str) -> RResult<()> {
        stage_from_named(ctx, b, image, name)
    }

    /// RUN in shell form (the stage's SHELL, `/bin/sh -c` by default).
    ///
    /// ```rhai
    /// b.run("apt-get update && apt-get install -y curl");
    /// ```
    #[rhai_fn(global, return_raw, name = "run")]
    pub fn run_shell(ctx: NativeCallContext, b: &mut BuildH, cmd: &str) -> RResult<()> {
        b.step(&ctx, "run", vec![cmd.into()])
    }

    /// RUN in exec form.
    ///
    /// ```rhai
    /// b.run(["/bin/mkdir", "-p", "/srv"]);
    /// ```
    #[rhai_fn(global, return_raw, name = "run")]
    pub fn run_exec(ctx: NativeCallContext, b: &mut BuildH, argv: Array) -> RResult<()> {
        b.exec_form(&ctx, "run", &argv)
    }

    /// COPY `src` (a path or glob in the context) to `dest`.
    ///
    /// ```rhai
    /// b.copy("app.conf", "/etc/app/");
    /// ```
    #[rhai_fn(global, return_raw, name = "copy")]
    pub fn copy_one(ctx: NativeCallContext, b: &mut BuildH, src: &str, dest: &str) -> RResult<()> {
        b.step(&ctx, "copy", vec![src.into(), dest.into()])
    }

    /// COPY several sources to `dest`.
    ///
    /// ```rhai
    /// b.copy(["a.txt", "b.txt"], "/data/");
    /// ```
    #[rhai_fn(global, return_raw, name = "copy")]
    pub fn copy_many(
        ctx: NativeCallContext,
        b: &mut BuildH,
        srcs: Array,
        dest: &str,
    ) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| b.apply(&inst("copy", vec![], sources_to(&srcs, dest)?, false)))(),
        )
    }

    /// COPY with options `from` (a stage or image) and `chown`.
    ///
    /// ```rhai
    /// b.copy(["/artifact"], "/usr/local/bin/", #{from: "builder", chown: "root:root"});
    /// ```
    #[rhai_fn(global, return_raw, name = "copy")]
    pub fn copy_opts(
        ctx: NativeCallContext,
        b: &mut BuildH,
        srcs: Array,
        dest: &str,
        opts: Map,
    ) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                b.apply(&inst(
                    "copy",
                    copy_flags(&opts)?,
                    sources_to(&srcs, dest)?,
                    false,
                ))
            })(),
        )
    }

    /// COPY --from=`stage` `src` `dest`.
    ///
    /// ```rhai
    /// b.copy_from("builder", "/out/app", "/usr/local/bin/app");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn copy_from(
        ctx: NativeCallContext,
        b: &mut BuildH,
        stage: &str,
        src: &str,
        dest: &str,
    ) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                b.apply(&inst(
                    "copy",
                    vec![format!("--from={stage}")],
                    vec![src.into(), dest.into()],
                    false,
                ))
            })(),
        )
    }

    /// ADD: as COPY, and local tar archives are unpacked.
    ///
    /// ```rhai
    /// b.add("rootfs.tar.xz", "/");
    /// ```
    #[rhai_fn(global, return_raw, name = "add")]
    pub fn add_one(ctx: NativeCallContext, b: &mut BuildH, src: &str, dest: &str) -> RResult<()> {
        b.step(&ctx, "add", vec![src.into(), dest.into()])
    }

    /// ADD several sources, with options (`chown`).
    ///
    /// ```rhai
    /// b.add(["a.tar"], "/opt/", #{chown: "1000"});
    /// ```
    #[rhai_fn(global, return_raw, name = "add")]
    pub fn add_opts(
        ctx: NativeCallContext,
        b: &mut BuildH,
        srcs: Array,
        dest: &str,
        opts: Map,
    ) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                b.apply(&inst(
                    "add",
                    copy_flags(&opts)?,
                    sources_to(&srcs, dest)?,
                    false,
                ))
            })(),
        )
    }

    /// ENV `key`=`value` (kept in the image).
    ///
    /// ```rhai
    /// b.env("PATH", "/opt/bin:$PATH");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn env(ctx: NativeCallContext, b: &mut BuildH, key: &str, value: &str) -> RResult<()> {
        b.step(&ctx, "env", vec![key.into(), value.into(), "=".into()])
    }

    /// ARG: `NAME` or `NAME=default` (a build argument, not kept).
    ///
    /// ```rhai
    /// b.arg("VERSION=1.0");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn arg(ctx: NativeCallContext, b: &mut BuildH, spec: &str) -> RResult<()> {
        b.step(&ctx, "arg", vec![spec.into()])
    }

    /// WORKDIR: created if missing, kept in the image.
    ///
    /// ```rhai
    /// b.workdir("/srv/app");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn workdir(ctx: NativeCallContext, b: &mut BuildH, path: &str) -> RResult<()> {
        b.step(&ctx, "workdir", vec![path.into()])
    }

    /// USER for later steps and containers.
    ///
    /// ```rhai
    /// b.user("www-data");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn user(ctx: NativeCallContext, b: &mut BuildH, user: &str) -> RResult<()> {
        b.step(&ctx, "user", vec![user.into()])
    }

    /// CMD in exec form.
    ///
    /// ```rhai
    /// b.cmd(["nginx", "-g", "daemon off;"]);
    /// ```
    #[rhai_fn(global, return_raw, name = "cmd")]
    pub fn cmd_exec(ctx: NativeCallContext, b: &mut BuildH, argv: Array) -> RResult<()> {
        b.exec_form(&ctx, "cmd", &argv)
    }

    /// CMD in shell form.
    ///
    /// ```rhai
    /// b.cmd("exec nginx -g 'daemon off;'");
    /// ```
    #[rhai_fn(global, return_raw, name = "cmd")]
    pub fn cmd_shell(ctx: NativeCallContext, b: &mut BuildH, cmd: &str) -> RResult<()> {
        b.step(&ctx, "cmd", vec![cmd.into()])
    }

    /// ENTRYPOINT in exec form.
    ///
    /// ```rhai
    /// b.entrypoint(["/usr/bin/tini", "--"]);
    /// ```
    #[rhai_fn(global, return_raw, name = "entrypoint")]
    pub fn entrypoint_exec(ctx: NativeCallContext, b: &mut BuildH, argv: Array) -> RResult<()> {
        b.exec_form(&ctx, "entrypoint", &argv)
    }

    /// ENTRYPOINT in shell form.
    ///
    /// ```rhai
    /// b.entrypoint("exec /app/start");
    /// ```
    #[rhai_fn(global, return_raw, name = "entrypoint")]
    pub fn entrypoint_shell(ctx: NativeCallContext, b: &mut BuildH, cmd: &str) -> RResult<()> {
        b.step(&ctx, "entrypoint", vec![cmd.into()])
    }

    /// LABEL `key`=`value`.
    ///
    /// ```rhai
    /// b.label("org.opencontainers.image.version", "1.0");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn label(ctx: NativeCallContext, b: &mut BuildH, key: &str, value: &str) -> RResult<()> {
        b.step(&ctx, "label", vec![key.into(), value.into(), "=".into()])
    }

    /// EXPOSE a port (`80`, `53/udp`).
    ///
    /// ```rhai
    /// b.expose("8080");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn expose(ctx: NativeCallContext, b: &mut BuildH, port: &str) -> RResult<()> {
        b.step(&ctx, "expose", vec![port.into()])
    }

    /// VOLUME: mark a path as a volume.
    ///
    /// ```rhai
    /// b.volume("/var/lib/data");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn volume(ctx: NativeCallContext, b: &mut BuildH, path: &str) -> RResult<()> {
        b.step(&ctx, "volume", vec![path.into()])
    }

    /// SHELL: the shell for later shell-form instructions.
    ///
    /// ```rhai
    /// b.shell(["/bin/bash", "-euo", "pipefail", "-c"]);
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn shell(ctx: NativeCallContext, b: &mut BuildH, argv: Array) -> RResult<()> {
        b.exec_form(&ctx, "shell", &argv)
    }

    /// STOPSIGNAL for containers of the image.
    ///
    /// ```rhai
    /// b.stopsignal("SIGINT");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn stopsignal(ctx: NativeCallContext, b: &mut BuildH, signal: &str) -> RResult<()> {
        b.step(&ctx, "stopsignal", vec![signal.into()])
    }

    /// Any instruction(s) in Dockerfile syntax (heredocs, ONBUILD,
    /// HEALTHCHECK, flags): parsed and run as `klee build` would.
    ///
    /// ```rhai
    /// b.dockerfile("ONBUILD RUN echo child build");
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn dockerfile(ctx: NativeCallContext, b: &mut BuildH, text: &str) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let escape = b.state().as_ref().map(|x| x.escape()).unwrap_or('\\');
                // The text follows the build's escape token.
                let text = if escape == '`' {
                    format!("# escape=`\n{text}")
                } else {
                    text.to_string()
                };
                let df = parse(&text)
                    .or_else(|e| fail("invalid", format!("Dockerfile text: {}", e.message)))?;
                for i in &df.instructions {
                    b.apply(i)?;
                }
                Ok(())
            })(),
        )
    }

    /// Finish: the last stage becomes an image named `tag` ("" for none).
    ///
    /// ```rhai
    /// let img = b.commit("app:latest");
    /// print(img.id);
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn commit(ctx: NativeCallContext, b: &mut BuildH, tag: &str) -> RResult<ImageH> {
        crate::dsl::here(
            &ctx,
            (|| {
                let mut g = b.state();
                let Some(mut builder) = g.take() else {
                    return fail("state", "this build was already committed");
                };
                let r = with(|e| {
                    let r = builder.finish(e, tag, &mut Print);
                    e.platform().release_views(e.root());
                    Ok(r)
                })?;
                r.map(ImageH).map_err(build_err)
            })(),
        )
    }

    /// Give up: remove everything this build made.
    ///
    /// ```rhai
    /// b.abort();
    /// ```
    #[rhai_fn(global, return_raw)]
    pub fn abort(ctx: NativeCallContext, b: &mut BuildH) -> RResult<()> {
        crate::dsl::here(
            &ctx,
            (|| {
                let mut g = b.state();
                if let Some(mut builder) = g.take() {
                    with(|e| {
                        builder.abort(e, None);
                        e.platform().release_views(e.root());
                        Ok(())
                    })?;
                }
                Ok(())
            })(),
        )
    }
}

pub fn register(e: &mut rhai::Engine) {
    e.register_type_with_name::<BuildH>("Build");
    e.register_static_module("build", rhai::exported_module!(api).into());
    let _ = Dynamic::UNIT;
}
