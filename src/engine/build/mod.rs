//! Build primitives: what a Dockerfile (and, later, a Rhai script) compiles
//! to. A [`Stage`] is an image being made: a layer chain and a configuration.
//! Each RUN or COPY/ADD adds a layer and a snapshot (`image@<snapshot>`),
//! reusing a cached layer when the step's inputs are unchanged.

pub mod cache;
pub mod context;
pub mod glob;

use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::image::{split_snapshot, Image, Snapshot};
use super::{id, time, Engine};
use crate::platform::{fsutil, owner, ExecSpec, Limits, RunSpec, SecurityProfile, Stdio};
use cache::Key;
pub use context::Source;

/// Where build progress goes (step lines, cache and snapshot notes).
pub trait BuildLog {
    fn line(&mut self, text: &str);
    /// A step made a snapshot: `--> Snapshot created: @SNAP` (kleened
    /// reports these even for quiet builds).
    fn snapshot(&mut self, snap: &str) {
        self.line(&format!("--> Snapshot created: @{snap}"));
    }
    /// Run output goes to our stdout/stderr unless the log is quiet.
    fn quiet(&self) -> bool {
        false
    }
}

/// An image being built.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage's name (`FROM … AS name`) or its index.
    pub name: String,
    /// The configuration the image will have (env, cmd, user, workdir, …).
    pub config: Image,
    /// The image the stage started from ("" for scratch).
    pub base: String,
    /// Layers made by this build (to clean up if the build fails).
    pub made: Vec<String>,
    /// Cached layers this build uses, leased to it until it ends
    /// (`build_release`): nobody may take them for unused meanwhile.
    pub leased: Vec<String>,
    /// RUN steps share the host's network (`build --network host`);
    /// otherwise they have only `lo`.
    pub host_network: bool,
    /// Memory, CPU and process limits of RUN steps.
    pub limits: Limits,
    /// The cache key of the state so far.
    key: String,
}

/// Where a COPY reads from.
pub enum CopyFrom<'a> {
    Context(&'a Source),
    Stage(&'a Stage),
}

pub struct CopyOptions<'a> {
    pub from: CopyFrom<'a>,
    /// `user[:group]`, names resolved in the stage's /etc/passwd and /etc/group.
    pub chown: Option<String>,
    /// ADD: extract local tar archives.
    pub add: bool,
    /// Reuse a cached layer when the inputs are unchanged.
    pub use_cache: bool,
}

/// Would a build that made `config` over `base` produce `old` again: the
/// same layers, configuration and steps (snapshot IDs and times aside)?
fn same_build(old: &super::image::Image, config: &super::image::Image, base: &str) -> bool {
    let steps = |i: &super::image::Image| -> Vec<(usize, String)> {
        i.snapshots
            .iter()
            .map(|s| (s.layers, s.instruction.clone()))
            .collect()
    };
    let mut a = old.clone();
    let mut b = config.clone();
    b.parent = base.to_string();
    for i in [&mut a, &mut b] {
        i.id.clear();
        i.name.clear();
        i.tag.clear();
        i.created.clear();
        i.method.clear();
        i.instructions = i
            .instructions
            .iter()
            .map(|(t, _)| (t.clone(), String::new()))
            .collect();
    }
    let (sa, sb) = (steps(&a), steps(&b));
    a.snapshots.clear();
    b.snapshots.clear();
    sa == sb
        && serde_json::to_value(&a).ok() == serde_json::to_value(&b).ok()
        && a.layers == b.layers
}

impl Engine {
    /// Start a stage from an image reference (`name[:tag][@snap]`, an ID, or
    /// `scratch`).
    pub fn build_from(&mut self, reference: &str, name: &str) -> Result<Stage> {
        if reference == "scratch" {
            return Ok(Stage {
                name: name.to_string(),
                config: Image::empty(),
                base: String::new(),
                made: vec![],
                leased: vec![],
                host_network: false,
                limits: Limits::default(),
                key: Key::new("scratch").finish(),
            });
        }
        let image = self.image(reference)?;
        let (_, snap) = split_snapshot(reference);
        let layers = image.layers_at(snap)?;
        let mut key = Key::new("from");
        key.add(&image.id).add(&layers.join(","));
        let mut config = image.clone();
        config.layers = layers;
        config.snapshots.retain(|s| s.layers <= config.layers.len());
        config.instructions.clear();
        config.onbuild.clear();
        Ok(Stage {
            name: name.to_string(),
            config,
            base: image.id,
            made: vec![],
            leased: vec![],
            host_network: false,
            limits: Limits::default(),
            key: key.finish(),
        })
    }

    fn add_snapshot(stage: &mut Stage, instruction: &str) -> String {
        let snap = id::new_id();
        stage.config.snapshots.push(Snapshot {
            id: snap.clone(),
            layers: stage.config.layers.len(),
            instruction: instruction.to_string(),
        });
        stage
            .config
            .instructions
            .push((instruction.to_string(), snap.clone()));
        snap
    }

    /// Look a finished step up in the cache; on a hit, apply it.
    fn cache_hit(
        &mut self,
        stage: &mut Stage,
        key: &str,
        text: &str,
        log: &mut dyn BuildLog,
    ) -> Result<Option<String>> {
        match self.cache_get(key)? {
            Some(layer) => {
                if !layer.is_empty() {
                    self.lease_layers(std::slice::from_ref(&layer))?;
                    stage.leased.push(layer.clone());
                    stage.config.layers.push(layer);
                }
                stage.key = key.to_string();
                log.line("--> Using cache");
                Ok(Some(Self::add_snapshot(stage, text)))
            }
            None => Ok(None),
        }
    }

    /// RUN: execute `argv` in a container over the stage's layers, with the
    /// stage's env plus `env` (build args), and keep its changes as a layer.
    pub fn build_run(
        &mut self,
        stage: &mut Stage,
        argv: &[String],
        env: &[String],
        text: &str,
        use_cache: bool,
        log: &mut dyn BuildLog,
    ) -> Result<String> {
        let mut key = Key::new(&stage.key);
        key.add("RUN")
            .add(text)
            .add(&argv.join("\0"))
            .add(&stage.config.env.join("\0"))
            .add(&env.join("\0"));
        key.add(&stage.config.user).add(&stage.config.workdir);
        let key = key.finish();
        if use_cache {
            if let Some(snap) = self.cache_hit(stage, &key, text, log)? {
                return Ok(snap);
            }
        }
        if stage.config.layers.is_empty() {
            return Err(Error::invalid(
                "RUN",
                text,
                "a stage FROM scratch has no files to run anything with",
            ));
        }
        // A transient container, named after this process: if the build is
        // killed, its directory and cgroup are recognisably debris.
        let cid = owner::transient_id(&id::new_id());
        self.platform
            .create_container_fs(&self.root, &cid, &stage.config.layers, false)?;
        let result = (|| -> Result<Option<String>> {
            // Build args first: ENV of the same name wins, as in Docker.
            let mut env_all = env.to_vec();
            env_all.extend(stage.config.env.iter().cloned());
            let spec = RunSpec {
                id: cid.clone(),
                name: String::new(),
                hostname: cid[..12].to_string(),
                layers: stage
                    .config
                    .layers
                    .iter()
                    .map(|l| self.platform.layer_path(&self.root, l))
                    .collect(),
                container_dir: self.platform.container_dir(&self.root, &cid),
                mounts: vec![],
                process: ExecSpec {
                    container: cid.clone(),
                    cmd: argv.to_vec(),
                    env: super::container::dedup_env(&env_all),
                    user: stage.config.user.clone(),
                    workdir: if stage.config.workdir.is_empty() {
                        "/".into()
                    } else {
                        stage.config.workdir.clone()
                    },
                    tty: false,
                    // RUN steps get a default container's confinement.
                    profile: SecurityProfile::default(),
                    exact: None,
                },
                fly: false,
                ephemeral: false,
                limits: stage.limits,
                jail_params: vec![],
                network_driver: if stage.host_network {
                    "host"
                } else {
                    "disabled"
                }
                .into(),
                attachments: vec![],
                dns: vec![],
                die_with_caller: true,
                extra_hosts: Vec::new(),
                bundle: None,
            };
            let log_path = self.platform.log_path(&self.root, &cid);
            let quiet_log = if log.quiet() {
                let p = log_path.clone();
                Some(
                    std::fs::File::create(&p)
                        .map_err(|e| Error::io("cannot create build log", &p, e))?,
                )
            } else {
                None
            };
            let stdio = match &quiet_log {
                Some(f) => {
                    use std::os::fd::AsRawFd;
                    Stdio::Files {
                        out: f.as_raw_fd(),
                        err: f.as_raw_fd(),
                    }
                }
                None => Stdio::Inherit { stdin: false },
            };
            let started = self
                .platform
                .start(&spec, &stdio)
                .map_err(|e| Error::invalid("RUN", text, e.to_string()))?;
            let status = self.platform.wait_container(&spec, started.pid)?;
            let details = self.platform.after_exit(&spec).unwrap_or_default();
            if status.code() != 0 {
                if quiet_log.is_some() {
                    if let Ok(out) = std::fs::read_to_string(&log_path) {
                        eprint!("{out}");
                    }
                }
                if !details.oom_killed {
                    // kleened's (and Docker's) words: klee prints them as they come.
                    let cmd = text
                        .get(..4)
                        .filter(|w| w.eq_ignore_ascii_case("run "))
                        .map_or(&*text, |_| text[4..].trim_start());
                    return Err(Error::State(format!(
                        "The command '{cmd}' returned a non-zero code: {}",
                        status.code()
                    )));
                }
                let why = {
                    format!(
                        "the command was killed for using more than the build's memory limit ({}): code {}",
                        stage
                            .limits
                            .memory
                            .map(super::limits::human_bytes)
                            .unwrap_or_else(|| "none".into()),
                        status.code()
                    )
                };
                return Err(Error::invalid("RUN", text, why));
            }
            crate::platform::failpoint::check("build.run.commit")?;
            let layer = id::new_id();
            self.lease_layers(std::slice::from_ref(&layer))?;
            match self.platform.commit_container(&self.root, &cid, &layer) {
                Ok(true) => Ok(Some(layer)),
                other => {
                    let _ = self.release_layers(std::slice::from_ref(&layer));
                    other.map(|_| None).map_err(Into::into)
                }
            }
        })();
        let _ = self.platform.destroy_container_fs(&self.root, &cid);
        let layer = result?;
        if let Some(l) = &layer {
            stage.config.layers.push(l.clone());
            stage.made.push(l.clone());
        }
        self.cache_put(&key, layer.as_deref().unwrap_or(""))?;
        stage.key = key;
        Ok(Self::add_snapshot(stage, text))
    }

    /// COPY/ADD `srcs` to `dest` (relative to the stage's workdir).
    pub fn build_copy(
        &mut self,
        stage: &mut Stage,
        srcs: &[String],
        dest: &str,
        opts: &CopyOptions,
        text: &str,
        log: &mut dyn BuildLog,
    ) -> Result<String> {
        let what = if opts.add { "ADD" } else { "COPY" };
        if srcs.is_empty() {
            return Err(Error::invalid(
                what,
                text,
                "it needs at least one source and a destination",
            ));
        }
        if let Some(url) = srcs.iter().find(|s| s.contains("://")) {
            return Err(Error::invalid(
                what,
                url.as_str(),
                "fetching URLs is not supported; download the file into the build context first",
            ));
        }
        let view;
        let source: &Source = match &opts.from {
            CopyFrom::Context(s) => s,
            CopyFrom::Stage(other) => {
                view = Source::filesystem(self.platform.view(&self.root, &other.config.layers)?);
                &view
            }
        };
        let mut paths = Vec::new();
        for s in srcs {
            paths.extend(source.resolve(what, s)?);
        }
        let mut key = Key::new(&stage.key);
        key.add(what)
            .add(text)
            .add(dest)
            .add(&stage.config.workdir)
            .add(opts.chown.as_deref().unwrap_or(""));
        for p in &paths {
            key.add(&p.to_string_lossy());
            key.add_tree(&source.root().join(p))
                .map_err(|e| Error::io("cannot read build source", source.root().join(p), e))?;
        }
        let key = key.finish();
        if opts.use_cache {
            if let Some(snap) = self.cache_hit(stage, &key, text, log)? {
                return Ok(snap);
            }
        }
        let dest_abs = absolute(&stage.config.workdir, dest);
        let into_dir =
            dest.ends_with('/') || paths.len() > 1 || self.stage_is_dir(stage, &dest_abs)?;
        let chown = match &opts.chown {
            Some(c) => Some(self.resolve_owner(stage, c)?),
            None => None,
        };
        let layer = id::new_id();
        let dir = self.begin_build_layer(stage, &layer)?;
        let filled = (|| -> Result<()> {
            self.make_parents(stage, &dir, &dest_abs, into_dir)?;
            for p in &paths {
                let src = source.root().join(p);
                let meta = std::fs::symlink_metadata(&src)
                    .map_err(|e| Error::io("cannot read", &src, e))?;
                let target = if meta.is_dir() || !into_dir {
                    dir.join(dest_abs.trim_start_matches('/'))
                } else {
                    dir.join(dest_abs.trim_start_matches('/'))
                        .join(p.file_name().unwrap_or_default())
                };
                if opts.add && meta.is_file() && is_archive(&src) {
                    let to = dir.join(dest_abs.trim_start_matches('/'));
                    std::fs::create_dir_all(&to)
                        .map_err(|e| Error::io("cannot create directory", &to, e))?;
                    super::image_create::extract_tar(&to, &src, &mut ())?;
                    continue;
                }
                if meta.is_dir() {
                    let skip = |rel: &Path| source.ignored(&p.join(rel));
                    fsutil::copy_tree(&src, &target, fsutil::Mode::Copy, &skip, &mut ())?;
                } else {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(|e| Error::io("cannot create directory", parent, e))?;
                    }
                    copy_entry(&src, &target)?;
                }
                if let Some((uid, gid)) = chown {
                    chown_tree(&target, uid, gid)?;
                }
            }
            Ok(())
        })();
        self.add_layer(stage, &layer, filled, key)?;
        Ok(Self::add_snapshot(stage, text))
    }

    /// Lease a new layer to this build and begin it over the stage's top
    /// layer. The lease lasts until the build ends (`build_commit` or
    /// `build_discard`): until then no image refers to the layer.
    fn begin_build_layer(&mut self, stage: &Stage, layer: &str) -> Result<PathBuf> {
        self.lease_layers(&[layer.to_string()])?;
        let parent = stage.config.layers.last().map(String::as_str);
        self.platform
            .begin_layer(&self.root, layer, parent)
            .map_err(|e| {
                let _ = self.release_layers(&[layer.to_string()]);
                e.into()
            })
    }

    /// Commit a filled layer as the stage's next one and remember it in the
    /// cache; if filling or committing failed, the layer is destroyed.
    fn add_layer(
        &mut self,
        stage: &mut Stage,
        layer: &str,
        filled: Result<()>,
        key: String,
    ) -> Result<()> {
        let committed = filled.and_then(|_| {
            self.platform
                .commit_layer(&self.root, layer)
                .map_err(Into::into)
        });
        if let Err(e) = committed {
            let _ = self.platform.destroy_layer(&self.root, layer);
            let _ = self.release_layers(&[layer.to_string()]);
            return Err(e);
        }
        stage.config.layers.push(layer.to_string());
        stage.made.push(layer.to_string());
        self.cache_put(&key, layer)?;
        stage.key = key;
        Ok(())
    }

    /// WORKDIR: set it, and create it in the image if it is missing.
    pub fn build_workdir(&mut self, stage: &mut Stage, path: &str, use_cache: bool) -> Result<()> {
        let abs = absolute(&stage.config.workdir, path);
        stage.config.workdir = abs.clone();
        let mut key = Key::new(&stage.key);
        key.add("WORKDIR").add(&abs);
        let key = key.finish();
        if self.stage_is_dir(stage, &abs)? {
            stage.key = key;
            return Ok(());
        }
        if use_cache {
            if let Some(layer) = self.cache_get(&key)? {
                if !layer.is_empty() {
                    stage.config.layers.push(layer);
                }
                stage.key = key;
                return Ok(());
            }
        }
        let layer = id::new_id();
        let dir = self.begin_build_layer(stage, &layer)?;
        let made = self.make_parents(stage, &dir, &abs, true);
        self.add_layer(stage, &layer, made, key)
    }

    /// Record a configuration change in the cache key chain (ENV, USER, …
    /// change what later steps do); `inputs` are values the text alone does
    /// not show (ARG values).
    pub fn build_note(&mut self, stage: &mut Stage, text: &str, inputs: &str) {
        let mut key = Key::new(&stage.key);
        key.add("CONFIG").add(text).add(inputs);
        stage.key = key.finish();
        stage
            .config
            .instructions
            .push((text.to_string(), String::new()));
    }

    /// Make the stage an image named `nametag` ("" for none), with ID `id`
    /// if given (it must be unused) or a new one.
    pub fn build_commit(
        &mut self,
        stage: &Stage,
        nametag: &str,
        id: Option<&str>,
    ) -> Result<Image> {
        let (name, tag) = if nametag.is_empty() {
            (String::new(), String::new())
        } else {
            super::image::parse_nametag(nametag)?
        };
        // Every step from the cache and the tag already on that very
        // image: it is the result, as Docker's (a rebuild of nothing new
        // must not make a new image, nor recreate what runs it).
        if id.is_none() && stage.made.is_empty() && !nametag.is_empty() {
            if let Ok(old) = self.image(nametag) {
                if same_build(&old, &stage.config, &stage.base) {
                    self.store
                        .write(|tx| super::lease::release_tx(tx, &stage.leased))?;
                    return Ok(old);
                }
            }
        }
        let mut image = stage.config.clone();
        image.id = match id {
            Some(given) if id::valid_id(given) && self.image(given).is_err() => given.to_string(),
            Some(given) => {
                return Err(Error::invalid(
                    "image ID",
                    given,
                    "not a free 12-hex-digit ID",
                ))
            }
            None => id::new_id(),
        };
        image.name = name;
        image.tag = tag;
        image.created = time::now();
        image.parent = stage.base.clone();
        image.method = "build".into();
        crate::platform::failpoint::check("build.commit")?;
        // The image now refers to the stage's layers: their leases go with
        // the same write.
        self.store.write(|tx| {
            super::image::save_image_tx(tx, &image)?;
            super::lease::release_tx(tx, &stage.made)?;
            super::lease::release_tx(tx, &stage.leased)
        })?;
        Ok(image)
    }

    /// Remove layers a failed or finished build made that no image uses.
    /// A finished build keeps those its cache names (the steps of its
    /// other stages), so the next build hits the cache in every stage, as
    /// Docker's; `klee system prune`/`image prune` of the cache frees them.
    pub fn build_discard(&mut self, layers: &[String], keep_cached: bool) -> Result<()> {
        // The unused ones stay leased while they are destroyed (a crash
        // leaves a dead lease, which `system check` follows up); the others
        // are released at once.
        let platform = self.platform;
        let path = self.store.path().to_path_buf();
        let victims = self.store.write(|tx| {
            let cached: std::collections::HashSet<String> = if keep_cached {
                let mut st = tx
                    .prepare("SELECT layer FROM build_cache")
                    .map_err(|e| crate::engine::store::store_err(&path, e))?;
                let rows = st
                    .query_map([], |r| r.get::<_, String>(0))
                    .and_then(|r| r.collect::<rusqlite::Result<_>>())
                    .map_err(|e| crate::engine::store::store_err(&path, e))?;
                rows
            } else {
                Default::default()
            };
            let candidates: Vec<String> = layers
                .iter()
                .filter(|l| !cached.contains(*l))
                .cloned()
                .collect();
            let victims = super::lease::claim_unused_tx(tx, platform, &candidates)?;
            let kept: Vec<String> = layers
                .iter()
                .filter(|l| !victims.contains(*l))
                .cloned()
                .collect();
            super::lease::release_tx(tx, &kept)?;
            Ok(victims)
        })?;
        self.destroy_leased(&victims)
    }

    /// Release the cached layers a finished build used (`Stage::leased`).
    pub fn build_release(&mut self, layers: &[String]) -> Result<()> {
        self.release_layers(layers)
    }

    /// Destroy layers this process claimed (top first: on ZFS a layer is
    /// a clone of the one below), then release them.
    pub(crate) fn destroy_leased(&mut self, layers: &[String]) -> Result<()> {
        for l in layers.iter().rev() {
            self.platform.destroy_layer(&self.root, l)?;
            crate::engine::registry::origin::forget(&self.root, l);
        }
        self.release_layers(layers)
    }

    /// Is `path` a directory in the stage's filesystem?
    fn stage_is_dir(&self, stage: &Stage, path: &str) -> Result<bool> {
        let view = self.platform.view(&self.root, &stage.config.layers)?;
        Ok(view.join(path.trim_start_matches('/')).is_dir())
    }

    /// Create `path` (or its parent) in a new layer, with the attributes the
    /// directories have in the stage (the upper layer's win when merged).
    fn make_parents(
        &self,
        stage: &Stage,
        layer: &Path,
        path: &str,
        including_last: bool,
    ) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let view = self.platform.view(&self.root, &stage.config.layers)?;
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let n = if including_last {
            comps.len()
        } else {
            comps.len().saturating_sub(1)
        };
        let mut rel = PathBuf::new();
        for c in &comps[..n] {
            rel.push(c);
            let target = layer.join(&rel);
            std::fs::create_dir_all(&target)
                .map_err(|e| Error::io("cannot create directory", &target, e))?;
            if let Ok(m) = std::fs::metadata(view.join(&rel)) {
                let _ = std::os::unix::fs::lchown(&target, Some(m.uid()), Some(m.gid()));
                let _ = std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode(m.mode() & 0o7777),
                );
            }
        }
        Ok(())
    }

    /// `user[:group]` to ids, names looked up in the stage's /etc files.
    fn resolve_owner(&self, stage: &Stage, spec: &str) -> Result<(u32, u32)> {
        let view = self.platform.view(&self.root, &stage.config.layers)?;
        let read = |f: &str| std::fs::read_to_string(view.join("etc").join(f)).unwrap_or_default();
        let (passwd, group) = (read("passwd"), read("group"));
        let lookup = |text: &str, name: &str, uid_field: usize| -> Option<u32> {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.first() == Some(&name))
                    .then(|| f.get(uid_field).and_then(|v| v.parse().ok()))
                    .flatten()
            })
        };
        let bad =
            |what: &str| Error::invalid("--chown", spec, format!("no such {what} in the image"));
        let (u, g) = spec
            .split_once(':')
            .map(|(u, g)| (u, Some(g)))
            .unwrap_or((spec, None));
        let uid = u
            .parse()
            .ok()
            .or_else(|| lookup(&passwd, u, 2))
            .ok_or_else(|| bad("user"))?;
        let gid = match g {
            Some(g) => g
                .parse()
                .ok()
                .or_else(|| lookup(&group, g, 2))
                .ok_or_else(|| bad("group"))?,
            None => uid,
        };
        Ok((uid, gid))
    }
}

/// `path` made absolute against `workdir` (default `/`).
pub fn absolute(workdir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!(
            "{}/{path}",
            if workdir.is_empty() {
                ""
            } else {
                workdir.trim_end_matches('/')
            }
        )
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn is_archive(p: &Path) -> bool {
    let n = p.to_string_lossy().to_ascii_lowercase();
    [".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz"]
        .iter()
        .any(|s| n.ends_with(s))
}

fn copy_entry(src: &Path, dst: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| Error::io("cannot read", src, e))?;
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(src).map_err(|e| Error::io("cannot read link", src, e))?;
        let _ = std::fs::remove_file(dst);
        std::os::unix::fs::symlink(t, dst)
            .map_err(|e| Error::io("cannot create symlink", dst, e))?;
    } else {
        std::fs::copy(src, dst).map_err(|e| Error::io("cannot copy to", dst, e))?;
    }
    Ok(())
}

fn chown_tree(p: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .map_err(|e| Error::io("cannot chown", p, e))?;
    if std::fs::symlink_metadata(p)
        .map(|m| m.is_dir())
        .unwrap_or(false)
    {
        for e in std::fs::read_dir(p)
            .map_err(|e| Error::io("cannot read directory", p, e))?
            .flatten()
        {
            chown_tree(&e.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn absolute_paths() {
        use super::absolute;
        assert_eq!(absolute("", "app"), "/app");
        assert_eq!(absolute("/srv", "app/"), "/srv/app");
        assert_eq!(absolute("/srv", "/x/../y"), "/y");
        assert_eq!(absolute("/a/b", "../c"), "/a/c");
        assert_eq!(absolute("", "."), "/");
    }
}
