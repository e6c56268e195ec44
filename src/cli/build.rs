//! `klee build`: a Dockerfile through the engine's build primitives.

use std::path::PathBuf;

use clap::Args;

use super::Outcome;
use crate::dockerfile::plan::{build, BuildRequest};
use crate::dockerfile::render_diagnostic;
use crate::engine::build::BuildLog;
use crate::engine::limits::LimitOptions;
use crate::engine::{Engine, Error};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and tag of the image: NAME[:TAG]
    #[arg(short, long, default_value = "")]
    tag: String,
    /// The Dockerfile (default: PATH/Dockerfile)
    #[arg(short, long)]
    file: Option<PathBuf>,
    /// A build argument KEY=VALUE (repeatable; only declared ARGs take it)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_arg: Vec<String>,
    /// Print only the image ID
    #[arg(short, long)]
    quiet: bool,
    /// Remove what a failed build made (the default)
    #[arg(long, overrides_with = "no_rm")]
    rm: bool,
    /// Keep a failed build's image as NAME:failed, with its snapshots
    #[arg(long = "no-rm")]
    no_rm: bool,
    /// Run every step, ignoring the build cache
    #[arg(long)]
    no_cache: bool,
    /// Pull FROM images from their registries even when they are here
    #[arg(long)]
    pull: bool,
    /// Build up to this stage (`FROM … AS NAME`) and make it the image
    #[arg(long)]
    target: Option<String>,
    /// Use this image instead of the first FROM's
    #[arg(long)]
    from: Option<String>,
    /// The build context
    /// Network of RUN steps: none (only lo, the default) or host (the host's network)
    #[arg(long, default_value = "none", value_parser = ["none", "host"])]
    network: String,
    /// Memory limit of each RUN step (e.g. 512m, 2g)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    memory: Option<String>,
    /// CPUs each RUN step may use (e.g. 0.5, 2)
    #[arg(long, value_name = "CPUS", allow_hyphen_values = true)]
    cpus: Option<String>,
    /// The image's ID, chosen by the caller (kleened announces it first)
    #[arg(long, hide = true)]
    id: Option<String>,
    /// With --quiet, still print the snapshot lines (kleened's quiet builds)
    #[arg(long, hide = true)]
    snapshots: bool,
    path: PathBuf,
}

struct Log {
    quiet: bool,
    snapshots: bool,
}

impl BuildLog for Log {
    fn line(&mut self, text: &str) {
        if !self.quiet {
            crate::outln!("{text}");
        }
    }
    fn quiet(&self) -> bool {
        self.quiet
    }
    fn snapshot(&mut self, snap: &str) {
        if !self.quiet || self.snapshots {
            crate::outln!("--> Snapshot created: @{snap}");
        }
    }
}

pub fn run(e: &mut Engine, a: BuildArgs) -> Result<Outcome, Error> {
    let file = match &a.file {
        Some(f) if f.exists() || f.is_absolute() => f.clone(),
        Some(f) => a.path.join(f),
        None => a.path.join("Dockerfile"),
    };
    let text =
        std::fs::read(&file).map_err(|err| Error::io("cannot read Dockerfile", &file, err))?;
    let text = String::from_utf8(text)
        .map_err(|_| Error::invalid("Dockerfile", file.display().to_string(), "it is not UTF-8"))?;
    let mut args = Vec::new();
    for kv in &a.build_arg {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => args.push((k.to_string(), v.to_string())),
            _ => {
                return Err(Error::invalid(
                    "build argument",
                    kv.as_str(),
                    "expected KEY=VALUE",
                ))
            }
        }
    }
    if !a.tag.is_empty() {
        crate::engine::image::parse_nametag(&a.tag)?;
    }
    let req = BuildRequest {
        context: a.path.clone(),
        dockerfile: text.clone(),
        dockerfile_name: file.display().to_string(),
        tag: a.tag.clone(),
        build_args: args,
        no_cache: a.no_cache,
        keep_failed: a.no_rm,
        from: a.from.clone(),
        image_id: a.id.clone(),
        host_network: a.network == "host",
        pull: a.pull,
        target: a.target.clone(),
        limits: LimitOptions {
            memory: a.memory.clone(),
            cpus: a.cpus.clone(),
            pids: None,
        }
        .parse()?,
    };
    let mut log = Log {
        quiet: a.quiet,
        snapshots: a.snapshots,
    };
    match build(e, &req, &mut log) {
        Ok(image) => {
            if a.quiet {
                crate::outln!("{}", image.id);
            } else {
                crate::outln!("Successfully built {}", image.id);
                if !image.name.is_empty() {
                    crate::outln!("Successfully tagged {}", image.nametag());
                }
            }
            Ok(Outcome::Ok)
        }
        Err(err) => {
            match &err.span {
                Some(span) => eprint!(
                    "{}",
                    render_diagnostic(
                        &req.dockerfile_name,
                        &text,
                        &err.message,
                        span.clone(),
                        "in this instruction"
                    )
                ),
                None => eprintln!("error: {}", err.message),
            }
            if let Some((img, snap)) = err.kept.as_deref() {
                let last = if snap.is_empty() {
                    "no snapshots were made".to_string()
                } else {
                    format!("last snapshot: {}@{snap}", img.id)
                };
                eprintln!(
                    "the failed build is kept as image {} ({}); {last}",
                    img.nametag(),
                    img.id
                );
            }
            Ok(Outcome::Code(1))
        }
    }
}
