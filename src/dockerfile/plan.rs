//! Running a parsed Dockerfile on the engine's build primitives
//! (`engine::build`): stages, ARG scoping, expansion in Rust, Docker's
//! CMD/ENTRYPOINT rules, ONBUILD triggers, and cleanup of failed builds.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use super::expand::Lexer;
use super::parse::{parse, Instruction};
use crate::engine::build::{BuildLog, CopyFrom, CopyOptions, Source, Stage};
use crate::engine::container::dedup_env;
use crate::engine::{Engine, Image};
use crate::platform::Limits;

/// What `klee build` asks for.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub context: PathBuf,
    /// The Dockerfile's text and the name to show in diagnostics.
    pub dockerfile: String,
    pub dockerfile_name: String,
    pub tag: String,
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
    /// Keep a failed build's image as `<name>:failed` (`--no-rm`).
    pub keep_failed: bool,
    /// Replace the first stage's FROM image.
    pub from: Option<String>,
    /// The ID the image gets (kleened announces it before the build).
    pub image_id: Option<String>,
    /// RUN steps share the host's network (otherwise: `lo` only).
    pub host_network: bool,
    /// Memory, CPU and process limits of RUN steps.
    pub limits: Limits,
    /// Pull every FROM image from its registry, even one already here
    /// (`--pull`); a missing one is pulled anyway.
    pub pull: bool,
    /// Stop after this stage (`--target NAME`): it becomes the image.
    pub target: Option<String>,
}

/// A build failure, located in the Dockerfile when it comes from an
/// instruction.
#[derive(Debug)]
pub struct BuildError {
    pub message: String,
    pub span: Option<Range<usize>>,
    /// The image kept with `--no-rm`, and its last snapshot.
    pub kept: Option<Box<(Image, String)>>,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn at(i: &Instruction, message: impl Into<String>) -> BuildError {
    BuildError {
        message: message.into(),
        span: Some(i.span.clone()),
        kept: None,
    }
}

/// The state of a build between instructions: what `klee build` and the
/// DSL's `build` module both drive, one instruction at a time.
pub struct Builder {
    no_cache: bool,
    /// Replaces the first FROM's image (`--from`).
    from_override: Option<String>,
    /// The final (or kept) image's ID, when given in advance.
    image_id: Option<String>,
    /// RUN steps share the host's network.
    host_network: bool,
    limits: Limits,
    pull: bool,
    current: Option<StageState>,
    context: Source,
    lexer: Lexer,
    /// Build args given on the command line, and which were used.
    given: BTreeMap<String, String>,
    used: Vec<String>,
    /// ARGs declared before the first FROM (their values).
    global: BTreeMap<String, String>,
    stages: Vec<Stage>,
    /// Layers made by stages that are finished.
    made: Vec<String>,
}

/// Per-stage state the image does not keep.
struct StageState {
    stage: Stage,
    /// ARG values in scope.
    args: BTreeMap<String, String>,
    arg_order: Vec<String>,
    /// CMD was set in this Dockerfile (ENTRYPOINT then keeps it).
    cmd_set: bool,
    last_snapshot: String,
}

impl StageState {
    /// Variables for expansion: ARGs, then ENV over them.
    fn lookup(&self, name: &str) -> Option<String> {
        self.stage
            .config
            .env
            .iter()
            .rev()
            .find_map(|kv| {
                kv.strip_prefix(name)
                    .and_then(|r| r.strip_prefix('='))
                    .map(str::to_string)
            })
            .or_else(|| self.args.get(name).cloned())
    }

    fn arg_env(&self) -> Vec<String> {
        self.arg_order
            .iter()
            .filter_map(|k| self.args.get(k).map(|v| format!("{k}={v}")))
            .collect()
    }
}

/// Build the Dockerfile in `req`; returns the final image.
pub fn build(
    engine: &mut Engine,
    req: &BuildRequest,
    log: &mut dyn BuildLog,
) -> Result<Image, BuildError> {
    let df = parse(&req.dockerfile).map_err(|e| BuildError {
        message: e.message,
        span: Some(e.span),
        kept: None,
    })?;
    // Options kleene does not take fail before any step runs.
    super::validate::check(&df)?;
    let mut b = Builder::new(&req.context, &req.build_args, req.no_cache, df.escape)?;
    b.from_override = req.from.clone();
    b.image_id = req.image_id.clone();
    b.host_network = req.host_network;
    b.limits = req.limits;
    b.pull = req.pull;
    let instructions = match &req.target {
        Some(t) => up_to_stage(&df.instructions, t).map_err(|message| BuildError {
            message,
            span: None,
            kept: None,
        })?,
        None => &df.instructions[..],
    };
    let total = instructions.len();
    let mut outcome = Ok(());
    for (n, inst) in instructions.iter().enumerate() {
        log.line(&format!("Step {}/{} : {}", n + 1, total, inst.original));
        if let Err(e) = b.instruction(engine, inst, log) {
            outcome = Err(e);
            break;
        }
    }
    let result = match outcome {
        Ok(()) => b.finish(engine, &req.tag, log),
        Err(mut e) => {
            e.kept = b
                .abort(engine, req.keep_failed.then_some(req.tag.as_str()))
                .map(Box::new);
            Err(e)
        }
    };
    engine.platform().release_views(engine.root());
    result
}

/// The instructions up to the end of stage `target` (`FROM … AS target`).
fn up_to_stage<'a>(all: &'a [Instruction], target: &str) -> Result<&'a [Instruction], String> {
    let is_from = |i: &Instruction| i.name == "from";
    let named = |i: &Instruction| {
        is_from(i)
            && i.args.len() == 3
            && i.args[1].eq_ignore_ascii_case("as")
            && i.args[2].eq_ignore_ascii_case(target)
    };
    let start = all.iter().position(named).ok_or_else(|| {
        format!("target stage '{target}' is not in the Dockerfile (FROM … AS {target})")
    })?;
    let end = all[start + 1..]
        .iter()
        .position(is_from)
        .map_or(all.len(), |i| start + 1 + i);
    Ok(&all[..end])
}

impl Builder {
    /// A build reading COPY/ADD sources from `context`.
    pub fn new(
        context: &std::path::Path,
        build_args: &[(String, String)],
        no_cache: bool,
        escape: char,
    ) -> Result<Builder, BuildError> {
        let context = Source::context(context).map_err(|e| BuildError {
            message: e.to_string(),
            span: None,
            kept: None,
        })?;
        Ok(Builder {
            no_cache,
            image_id: None,
            host_network: false,
            pull: false,
            limits: Limits::default(),
            from_override: None,
            current: None,
            context,
            lexer: Lexer::new(escape),
            given: build_args.iter().cloned().collect(),
            used: vec![],
            global: BTreeMap::new(),
            stages: vec![],
            made: vec![],
        })
    }

    /// Run one instruction.
    pub fn instruction(
        &mut self,
        e: &mut Engine,
        inst: &Instruction,
        log: &mut dyn BuildLog,
    ) -> Result<(), BuildError> {
        if inst.name == "from" {
            if let Some(done) = self.current.take() {
                self.stages.push(done.stage);
            }
            let reference = self.from_override.take();
            let st = self.from(e, log, inst, reference)?;
            self.current = Some(st);
            Ok(())
        } else if inst.name == "arg" && self.current.is_none() {
            self.global_arg(inst)
        } else {
            let Some(mut st) = self.current.take() else {
                return Err(at(
                    inst,
                    format!(
                        "{} before the first FROM: a Dockerfile must start with FROM (or ARG)",
                        inst.name.to_uppercase()
                    ),
                ));
            };
            let r = self.step(e, log, &mut st, inst);
            self.current = Some(st);
            r
        }
    }

    /// The escape token of the Dockerfile this build follows.
    /// Limits for the RUN steps of stages started from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub fn escape(&self) -> char {
        self.lexer.escape()
    }

    /// The current stage's image configuration so far.
    pub fn config(&self) -> Option<&Image> {
        self.current.as_ref().map(|s| &s.stage.config)
    }

    /// Make the last stage an image named `tag`; drop the layers of earlier
    /// stages it does not use.
    pub fn finish(
        &mut self,
        e: &mut Engine,
        tag: &str,
        log: &mut dyn BuildLog,
    ) -> Result<Image, BuildError> {
        let Some(last) = self.current.take() else {
            return Err(BuildError {
                message: "the build has no FROM instruction".into(),
                span: None,
                kept: None,
            });
        };
        let unused: Vec<&str> = self
            .given
            .keys()
            .filter(|k| !self.used.contains(k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            log.line(&format!(
                "[Warning] One or more build-args [{}] were not consumed",
                unused.join(" ")
            ));
        }
        let image = e
            .build_commit(&last.stage, tag, self.image_id.as_deref())
            .map_err(|err| BuildError {
                message: err.to_string(),
                span: None,
                kept: None,
            })?;
        let mut made: Vec<String> = std::mem::take(&mut self.made);
        made.extend(self.stages.iter().flat_map(|s| s.made.clone()));
        let _ = e.build_discard(&made, true);
        let leased: Vec<String> = self
            .stages
            .iter()
            .flat_map(|s| s.leased.clone())
            .chain(last.stage.leased.iter().cloned())
            .collect();
        let _ = e.build_release(&leased);
        Ok(image)
    }

    /// A failed build: with `keep` (the tag), keep the current stage as
    /// `NAME:failed` and return it with its last snapshot; otherwise remove
    /// everything the build made.
    pub fn abort(&mut self, e: &mut Engine, keep: Option<&str>) -> Option<(Image, String)> {
        let mut made: Vec<String> = std::mem::take(&mut self.made);
        made.extend(self.stages.iter().flat_map(|s| s.made.clone()));
        let mut leased: Vec<String> = self.stages.iter().flat_map(|s| s.leased.clone()).collect();
        let current = self.current.take();
        if let Some(st) = &current {
            made.extend(st.stage.made.clone());
            leased.extend(st.stage.leased.clone());
        }
        let kept = match (keep, current) {
            (Some(tag), Some(st)) => {
                let name = tag.split_once(':').map(|(n, _)| n).unwrap_or(tag);
                let nametag = format!("{}:failed", if name.is_empty() { "image" } else { name });
                let kept = e
                    .build_commit(&st.stage, &nametag, self.image_id.as_deref())
                    .ok()
                    .map(|img| (img, st.last_snapshot));
                // What earlier stages made and the kept image does not use.
                let _ = e.build_discard(&made, false);
                kept
            }
            _ => {
                let _ = e.build_discard(&made, false);
                None
            }
        };
        // The cached layers it used are released in any case.
        let _ = e.build_release(&leased);
        kept
    }

    fn word(
        &self,
        st: Option<&StageState>,
        i: &Instruction,
        w: &str,
    ) -> Result<String, BuildError> {
        let env = |k: &str| match st {
            Some(s) => s.lookup(k),
            None => self.global.get(k).cloned(),
        };
        self.lexer.word(w, &env).map_err(|e| at(i, e.0))
    }

    fn global_arg(&mut self, i: &Instruction) -> Result<(), BuildError> {
        for a in &i.args {
            let (k, default) = match a.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(self.word(None, i, v)?)),
                None => (a.clone(), None),
            };
            if let Some(v) = self.given.get(&k).cloned() {
                self.used.push(k.clone());
                self.global.insert(k, v);
            } else if let Some(d) = default {
                self.global.insert(k, d);
            }
        }
        Ok(())
    }

    fn from(
        &mut self,
        e: &mut Engine,
        log: &mut dyn BuildLog,
        i: &Instruction,
        replace: Option<String>,
    ) -> Result<StageState, BuildError> {
        let (reference, name) = match i.args.as_slice() {
            [r] => (r.clone(), String::new()),
            [r, as_, n] if as_.eq_ignore_ascii_case("as") => (r.clone(), n.to_ascii_lowercase()),
            _ => return Err(at(i, "FROM takes IMAGE [AS NAME]")),
        };
        let reference = match replace {
            Some(r) => r,
            None => self.word(None, i, &reference)?,
        };
        let stage_name = if name.is_empty() {
            self.stages.len().to_string()
        } else {
            name
        };
        // FROM another stage of this Dockerfile continues from it.
        let stage = match self
            .stages
            .iter()
            .find(|s| s.name == reference.to_ascii_lowercase())
        {
            Some(prev) => {
                let mut s = prev.clone();
                s.name = stage_name;
                s.made.clear();
                s
            }
            None => {
                let reference = self
                    .pull_if_needed(e, log, &reference)
                    .map_err(|e| at(i, e.to_string()))?;
                e.build_from(&reference, &stage_name)
                    .map_err(|e| at(i, e.to_string()))?
            }
        };
        let triggers = e
            .image(&reference)
            .map(|img| img.onbuild)
            .unwrap_or_default();
        let mut stage = stage;
        stage.host_network = self.host_network;
        stage.limits = self.limits;
        let mut st = StageState {
            stage,
            args: BTreeMap::new(),
            arg_order: vec![],
            cmd_set: false,
            last_snapshot: String::new(),
        };
        for t in triggers {
            log.line(&format!("--> Running ONBUILD trigger: {t}"));
            let df = parse(&t).map_err(|e| {
                at(
                    i,
                    format!("ONBUILD trigger '{t}' of '{reference}': {}", e.message),
                )
            })?;
            for ti in &df.instructions {
                self.step(e, log, &mut st, ti)
                    .map_err(|e| at(i, format!("ONBUILD trigger '{t}': {}", e.message)))?;
            }
        }
        Ok(st)
    }

    /// A FROM image from its registry when it is not here (or always,
    /// with `--pull`); the name it is stored under then.
    fn pull_if_needed(
        &self,
        e: &mut Engine,
        log: &mut dyn BuildLog,
        reference: &str,
    ) -> crate::engine::error::Result<String> {
        use crate::engine::error::Error;
        use crate::engine::registry::reference::Reference;
        // `name@snapshot` is kleene's own; `@sha256:` a registry digest.
        if reference == "scratch" || (reference.contains('@') && !reference.contains("@sha256:")) {
            return Ok(reference.to_string());
        }
        let here = e.image(reference);
        if let Err(err) = &here {
            if !matches!(err, Error::NotFound { .. }) {
                return Err(here.unwrap_err());
            }
        }
        if here.is_ok() && !self.pull {
            return Ok(reference.to_string());
        }
        let r = Reference::parse(reference)?;
        let local = format!("{}:{}", r.local_name(), r.local_tag());
        if !self.pull && e.image(&local).is_ok() {
            return Ok(local);
        }
        log.line(&format!("--> pulling {r}"));
        match e.image_pull(reference, &Default::default(), &mut ()) {
            Ok(_) => Ok(local),
            // Not here, and not to be had: say both.
            Err(pull) if here.is_err() => Err(Error::Registry(format!(
                "no such image '{reference}' here, and pulling it failed: {pull}"
            ))),
            Err(pull) => Err(pull),
        }
    }

    fn step(
        &mut self,
        e: &mut Engine,
        log: &mut dyn BuildLog,
        st: &mut StageState,
        i: &Instruction,
    ) -> Result<(), BuildError> {
        let use_cache = !self.no_cache;
        let text = i.original.clone();
        let eng = |e: crate::engine::Error| at(i, e.to_string());
        let unsupported_flags = |allowed: &[&str]| -> Result<(), BuildError> {
            for f in &i.flags {
                let name = f.trim_start_matches('-').split('=').next().unwrap_or("");
                if !allowed.contains(&name) {
                    return Err(at(
                        i,
                        format!("flag '{f}' is not supported for {}", i.name.to_uppercase()),
                    ));
                }
            }
            Ok(())
        };
        match i.name.as_str() {
            "run" => {
                unsupported_flags(&[])?;
                let argv = if i.json {
                    i.args.clone()
                } else {
                    let mut script = i.args.first().cloned().unwrap_or_default();
                    // Heredocs go to the shell as written: it implements them.
                    for h in &i.heredocs {
                        script.push('\n');
                        script.push_str(&h.content);
                        script.push_str(&h.name);
                    }
                    if script.trim().is_empty() {
                        return Err(at(i, "RUN needs a command"));
                    }
                    let mut shell = self.shell(st);
                    // A lone heredoc is the script itself.
                    if i.heredocs.len() == 1
                        && i.args
                            .first()
                            .map(|a| a.trim().starts_with("<<"))
                            .unwrap_or(false)
                        && !i.args[0].trim().contains(' ')
                    {
                        script = chomp(&i.heredocs[0]);
                    }
                    shell.push(script);
                    shell
                };
                let env = st.arg_env();
                let snap = e
                    .build_run(&mut st.stage, &argv, &env, &text, use_cache, log)
                    .map_err(eng)?;
                Self::snapshot(log, st, snap);
            }
            "copy" | "add" => {
                let add = i.name == "add";
                unsupported_flags(if add {
                    &["chown", "link"]
                } else {
                    &["from", "chown", "link"]
                })?;
                let flag = |n: &str| {
                    i.flags
                        .iter()
                        .find_map(|f| f.strip_prefix(&format!("--{n}=")).map(str::to_string))
                };
                let mut words = Vec::new();
                for a in &i.args {
                    words.push(if i.json {
                        a.clone()
                    } else {
                        self.word(Some(st), i, a)?
                    });
                }
                let Some(dest) = words.pop() else {
                    return Err(at(
                        i,
                        format!("{} needs a source and a destination", i.name.to_uppercase()),
                    ));
                };
                let chown = match flag("chown") {
                    Some(c) => Some(self.word(Some(st), i, &c)?),
                    None => None,
                };
                // Heredoc sources become files in a scratch context.
                let heredoc_dir = e
                    .root()
                    .join("tmp")
                    .join(format!("heredoc-{}", crate::engine::id::new_id()));
                let heredoc_src;
                let mut from_stage = None;
                let from = if !i.heredocs.is_empty() {
                    std::fs::create_dir_all(&heredoc_dir).map_err(|e| at(i, e.to_string()))?;
                    for h in &i.heredocs {
                        let body = if h.expand {
                            self.word(
                                Some(st),
                                i,
                                &format!("\"{}\"", chomp(h).replace('"', "\\\"")),
                            )?
                        } else {
                            chomp(h)
                        };
                        std::fs::write(heredoc_dir.join(&h.name), body)
                            .map_err(|e| at(i, e.to_string()))?;
                    }
                    words = words
                        .iter()
                        .map(|w| {
                            w.trim_start_matches(|c: char| c.is_ascii_digit())
                                .trim_start_matches("<<")
                                .trim_start_matches('-')
                                .trim_matches(['"', '\''])
                                .to_string()
                        })
                        .collect();
                    heredoc_src = Source::context(&heredoc_dir).map_err(eng)?;
                    CopyFrom::Context(&heredoc_src)
                } else if let Some(f) = flag("from") {
                    // Stage names are case-insensitive; an image's tag is not.
                    let raw = self.word(Some(st), i, &f)?;
                    let f = raw.to_ascii_lowercase();
                    let found = self.stages.iter().find(|s| s.name == f).cloned();
                    let stage = match found {
                        Some(s) => s,
                        // An image, pulled when it is not here (as FROM).
                        None => self
                            .pull_if_needed(e, log, &raw)
                            .and_then(|r| e.build_from(&r, ""))
                            .map_err(|e| {
                                at(i, format!("COPY --from: no stage or image '{f}': {e}"))
                            })?,
                    };
                    from_stage = Some(stage);
                    CopyFrom::Stage(from_stage.as_ref().expect("set above"))
                } else {
                    CopyFrom::Context(&self.context)
                };
                let opts = CopyOptions {
                    from,
                    chown,
                    add,
                    use_cache,
                };
                let r = e.build_copy(&mut st.stage, &words, &dest, &opts, &text, log);
                drop(opts);
                drop(from_stage);
                let _ = std::fs::remove_dir_all(&heredoc_dir);
                let snap = r.map_err(eng)?;
                Self::snapshot(log, st, snap);
            }
            "env" => {
                // Every value sees the environment from before this
                // instruction, as in Docker (`ENV a=1 b=$a` uses the old a).
                let mut pairs = Vec::new();
                for kv in i.args.chunks(3) {
                    pairs.push(format!(
                        "{}={}",
                        self.word(Some(st), i, &kv[0])?,
                        self.word(Some(st), i, &kv[1])?
                    ));
                }
                st.stage.config.env.extend(pairs);
                st.stage.config.env = dedup_env(&st.stage.config.env);
                e.build_note(&mut st.stage, &text, "");
            }
            "arg" => {
                for a in &i.args {
                    let (k, default) = match a.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(self.word(Some(st), i, v)?)),
                        None => (a.clone(), None),
                    };
                    let value = match self.given.get(&k) {
                        Some(v) => {
                            self.used.push(k.clone());
                            Some(v.clone())
                        }
                        None => default.or_else(|| self.global.get(&k).cloned()),
                    };
                    if let Some(v) = value {
                        if !st.arg_order.contains(&k) {
                            st.arg_order.push(k.clone());
                        }
                        st.args.insert(k, v);
                    }
                }
                let inputs = st.arg_env().join("\0");
                e.build_note(&mut st.stage, &text, &inputs);
            }
            "workdir" => {
                let p = self.one(st, i)?;
                e.build_workdir(&mut st.stage, &p, use_cache).map_err(eng)?;
            }
            "user" => {
                st.stage.config.user = self.one(st, i)?;
                e.build_note(&mut st.stage, &text, "");
            }
            "cmd" => {
                st.stage.config.cmd = self.command(st, i);
                st.cmd_set = true;
                e.build_note(&mut st.stage, &text, "");
            }
            "entrypoint" => {
                st.stage.config.entrypoint = self.command(st, i);
                if !st.cmd_set {
                    st.stage.config.cmd.clear();
                }
                e.build_note(&mut st.stage, &text, "");
            }
            "shell" => {
                if !i.json || i.args.is_empty() {
                    return Err(at(
                        i,
                        "SHELL requires the exec form: SHELL [\"executable\", \"parameters\"]",
                    ));
                }
                st.stage.config.shell = i.args.clone();
                e.build_note(&mut st.stage, &text, "");
            }
            "expose" => {
                for a in &i.args {
                    let p = self.word(Some(st), i, a)?;
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    if !st.stage.config.exposed_ports.contains(&p) {
                        st.stage.config.exposed_ports.push(p);
                    }
                }
                e.build_note(&mut st.stage, &text, "");
            }
            "label" => {
                for kv in i.args.chunks(3) {
                    let k = self.word(Some(st), i, &kv[0])?;
                    let v = self.word(Some(st), i, &kv[1])?;
                    st.stage.config.labels.insert(k, v);
                }
                e.build_note(&mut st.stage, &text, "");
            }
            "maintainer" => {
                let m = i.args.first().cloned().unwrap_or_default();
                st.stage.config.labels.insert("maintainer".into(), m);
                e.build_note(&mut st.stage, &text, "");
            }
            "volume" => {
                for a in &i.args {
                    let v = self.word(Some(st), i, a)?;
                    if !st.stage.config.volumes.contains(&v) {
                        st.stage.config.volumes.push(v);
                    }
                }
                e.build_note(&mut st.stage, &text, "");
            }
            "stopsignal" => {
                st.stage.config.stop_signal = self.one(st, i)?;
                e.build_note(&mut st.stage, &text, "");
            }
            "healthcheck" => {
                // Docker's form: the options, then CMD (exec form), CMD-SHELL
                // (shell form) or NONE.
                let mut hc: Vec<String> = i
                    .flags
                    .iter()
                    .map(|f| format!("--{}", f.trim_start_matches('-')))
                    .collect();
                match i.args.first() {
                    Some(k) if k.eq_ignore_ascii_case("cmd") && !i.json => {
                        hc.push("CMD-SHELL".into());
                        hc.push(i.args[1..].join(" "));
                    }
                    Some(k) if k.eq_ignore_ascii_case("cmd") => {
                        hc.push("CMD".into());
                        hc.extend(i.args[1..].iter().cloned());
                    }
                    _ => hc.push("NONE".into()),
                }
                st.stage.config.healthcheck = hc;
                e.build_note(&mut st.stage, &text, "");
            }
            "onbuild" => {
                let sub = i
                    .sub
                    .as_ref()
                    .ok_or_else(|| at(i, "ONBUILD needs an instruction"))?;
                st.stage.config.onbuild.push(sub.original.clone());
                e.build_note(&mut st.stage, &text, "");
            }
            other => {
                return Err(at(
                    i,
                    format!("unknown instruction: {}", other.to_uppercase()),
                ))
            }
        }
        Ok(())
    }

    fn one(&self, st: &StageState, i: &Instruction) -> Result<String, BuildError> {
        match i.args.as_slice() {
            [a] => self.word(Some(st), i, a),
            _ => Err(at(
                i,
                format!("{} takes exactly one argument", i.name.to_uppercase()),
            )),
        }
    }

    fn shell(&self, st: &StageState) -> Vec<String> {
        if st.stage.config.shell.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            st.stage.config.shell.clone()
        }
    }

    fn command(&self, st: &StageState, i: &Instruction) -> Vec<String> {
        if i.json {
            i.args.clone()
        } else if i.args.is_empty() {
            vec![]
        } else {
            let mut s = self.shell(st);
            s.push(i.args[0].clone());
            s
        }
    }

    fn snapshot(log: &mut dyn BuildLog, st: &mut StageState, snap: String) {
        log.snapshot(&snap);
        st.last_snapshot = snap;
    }
}

/// A heredoc body, with leading tabs stripped for `<<-`.
fn chomp(h: &super::Heredoc) -> String {
    if h.chomp {
        h.content
            .lines()
            .map(|l| format!("{}\n", l.trim_start_matches('\t')))
            .collect()
    } else {
        h.content.clone()
    }
}
