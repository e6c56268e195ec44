//! `klee image …` and its shortcuts.

use std::io::IsTerminal;

use clap::{Args, Subcommand};

use super::render::{self, Format};
use super::{prune, CmdResult, Outcome};
use crate::engine::image_create::{CreateOptions, Progress, Source};
use crate::engine::{time, Engine};

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// Create a base image: `host` (the host's userland, offline), `dir PATH`, `tar FILE`; FreeBSD: `fetch URL`, `fetch-auto`, `zfs-copy DATASET`, `zfs-clone DATASET`
    Create(CreateArgs),
    /// List images
    Ls(LsArgs),
    /// Show an image as JSON
    Inspect(InspectArgs),
    /// Remove images (refused while containers or images depend on them)
    Rm(RmArgs),
    /// Remove untagged images no container or image uses (-a: all unused)
    Prune(PruneArgs),
    /// Give an image a NAME[:TAG] (the previous holder is untagged)
    Tag(TagArgs),
    /// Build an image from a Dockerfile
    Build(super::build::BuildArgs),
    /// Pull an image from a registry (`alpine`, `user/app:1`, `localhost:5000/app@sha256:…`)
    Pull(PullArgs),
    /// Push an image to a registry (as its own name, or as REFERENCE)
    Push(PushArgs),
    /// Make an image from a flat filesystem tarball (FILE, or - for stdin; `container export` writes one)
    Import(ImportArgs),
    /// Write images to an archive that docker/podman load and skopeo read
    Save(SaveArgs),
    /// Load the images of a docker-archive or OCI-layout archive
    Load(LoadArgs),
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Images (NAME[:TAG], ID)
    #[arg(required = true)]
    pub images: Vec<String>,
    /// The archive to write (default: standard output, unless a terminal)
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The archive (default: standard input)
    #[arg(short, long)]
    pub input: Option<std::path::PathBuf>,
}

pub fn save(e: &mut Engine, a: SaveArgs) -> CmdResult {
    let mut bar = Bar::new();
    super::archive_out(
        a.output.as_deref(),
        "image save",
        &a.images.join(" "),
        |w| e.image_save(&a.images, w, &mut bar),
    )
}

pub fn load(e: &mut Engine, a: LoadArgs) -> CmdResult {
    let mut bar = Bar::new();
    let images = match &a.input {
        Some(p) => {
            let mut f = std::fs::File::open(p)
                .map_err(|err| crate::engine::error::Error::io("cannot open", p, err))?;
            e.image_load(&mut f, &p.display().to_string(), &mut bar)?
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(crate::engine::error::Error::invalid(
                    "image load",
                    "-",
                    "standard input is a terminal: give -i FILE or redirect an archive to it",
                ));
            }
            e.image_load(&mut std::io::stdin().lock(), "-", &mut bar)?
        }
    };
    for i in images {
        crate::outln!(
            "{}",
            if i.name.is_empty() {
                i.id
            } else {
                format!("{} {}", i.id, i.nametag())
            }
        );
    }
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The image (NAME[:TAG], ID)
    pub image: String,
    /// REGISTRY/NAME[:TAG] to push as (default: the image's own name)
    pub reference: Option<String>,
}

pub fn push(e: &mut Engine, a: PushArgs) -> CmdResult {
    let digest = {
        let mut bar = Bar::new();
        e.image_push(&a.image, a.reference.as_deref(), &mut bar)?
    };
    crate::outln!("{digest}");
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// [REGISTRY/]NAME[:TAG|@DIGEST]; Docker Hub and `library/` for short names
    pub reference: String,
    /// OS/ARCH[/VARIANT] of a multi-platform image (default: this host's)
    #[arg(long)]
    pub platform: Option<String>,
}

pub fn pull(e: &mut Engine, a: PullArgs) -> CmdResult {
    let opts = crate::engine::registry::PullOptions {
        platform: a.platform,
    };
    let image = {
        let mut bar = Bar::new();
        e.image_pull(&a.reference, &opts, &mut bar)?
    };
    crate::outln!("{}", image.id);
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// NAME[:TAG] of the new image
    #[arg(short, long, default_value = "")]
    tag: String,
    /// Copy the host's /etc/resolv.conf into the image
    #[arg(long, overrides_with = "no_dns")]
    dns: bool,
    /// Do not copy /etc/resolv.conf
    #[arg(long = "no-dns")]
    no_dns: bool,
    /// Copy the host's /etc/localtime into the image
    #[arg(long, overrides_with = "no_localtime")]
    localtime: bool,
    /// Do not copy /etc/localtime
    #[arg(long = "no-localtime")]
    no_localtime: bool,
    /// Update the base system with freebsd-update (FreeBSD)
    #[arg(long)]
    update: bool,
    /// host, dir, tar; on FreeBSD also fetch, fetch-auto, zfs-copy, zfs-clone
    method: String,
    /// The directory (dir), archive (tar), URL (fetch) or dataset (zfs-copy, zfs-clone)
    source: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// NAME[:TAG], ID or unique ID prefix
    image: String,
}

impl InspectArgs {
    /// For `klee inspect`, which finds the kind first.
    pub fn of(name: &str) -> InspectArgs {
        InspectArgs {
            image: name.to_string(),
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not only untagged ones
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    source: String,
    nametag: String,
}

/// Progress on stderr: a live spinner on a terminal, plain lines otherwise.
struct Bar(Option<indicatif::ProgressBar>, bool);

impl Bar {
    fn new() -> Bar {
        if std::io::stderr().is_terminal() {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            Bar(Some(pb), false)
        } else {
            Bar(None, false)
        }
    }
}

impl Progress for Bar {
    fn message(&mut self, msg: &str) {
        match &self.0 {
            Some(pb) => pb.set_message(msg.to_string()),
            None => eprintln!("{msg}"),
        }
    }
    fn files(&mut self, n: u64) {
        if let Some(pb) = &self.0 {
            // A count only once there is one to show (a pull has none).
            if !self.1 {
                self.1 = true;
                pb.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} files")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
            }
            pb.set_position(n);
        }
    }
    fn bytes(&mut self, done: u64, total: u64) {
        if let Some(pb) = &self.0 {
            if pb.length() != Some(total) {
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                pb.set_length(total);
            }
            pb.set_position(done);
        }
    }
}

/// Progress whose messages say `to` where they would say `from`.
struct Renamed<'a> {
    inner: &'a mut dyn Progress,
    from: String,
    to: &'static str,
}

impl Renamed<'_> {
    fn error(&self, e: crate::engine::error::Error) -> crate::engine::error::Error {
        match e {
            crate::engine::error::Error::Invalid {
                what,
                value,
                reason,
            } if value == self.from => crate::engine::error::Error::Invalid {
                what,
                value: self.to.into(),
                reason,
            },
            e => e,
        }
    }
}

impl Progress for Renamed<'_> {
    fn message(&mut self, msg: &str) {
        self.inner.message(&msg.replace(&self.from, self.to));
    }
    fn files(&mut self, n: u64) {
        self.inner.files(n);
    }
    fn bytes(&mut self, done: u64, total: u64) {
        self.inner.bytes(done, total);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

pub fn run(e: &mut Engine, cmd: ImageCmd) -> CmdResult {
    match cmd {
        ImageCmd::Pull(a) => return pull(e, a),
        ImageCmd::Push(a) => return push(e, a),
        ImageCmd::Save(a) => return save(e, a),
        ImageCmd::Import(a) => return import(e, a),
        ImageCmd::Load(a) => return load(e, a),
        ImageCmd::Create(a) => {
            let source = Source::parse(&a.method, a.source.as_deref())?;
            let opts = CreateOptions {
                tag: a.tag,
                dns: !a.no_dns,
                localtime: !a.no_localtime,
                update: a.update,
            };
            let image = {
                let mut bar = Bar::new();
                e.image_create(&source, &opts, &mut bar)?
            };
            crate::outln!("{}", image.id);
        }
        ImageCmd::Ls(a) => {
            let list = e.images()?;
            if a.format == Format::Json {
                render::json(&list);
            } else {
                let rows = list
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.clone(),
                            i.name.clone(),
                            i.tag.clone(),
                            time::human_since(&i.created),
                        ]
                    })
                    .collect();
                render::table(&["ID", "NAME", "TAG", "CREATED"], rows);
            }
        }
        ImageCmd::Inspect(a) => render::json(&e.image(&a.image)?),
        ImageCmd::Rm(a) => {
            for i in a.images {
                crate::outln!("{}", e.image_remove(&i)?.id);
            }
        }
        ImageCmd::Prune(a) => {
            let what = if a.all {
                "remove all images without containers or child images"
            } else {
                "remove all untagged images without containers or child images"
            };
            return prune(what, a.force, || e.image_prune(a.all));
        }
        ImageCmd::Tag(a) => crate::outln!("{}", e.image_tag(&a.source, &a.nametag)?.id),
        ImageCmd::Build(a) => return super::build::run(e, a),
    }
    Ok(Outcome::Ok)
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The tarball (plain, .gz, .xz), or - for standard input
    pub file: String,
    /// NAME[:TAG] of the new image
    #[arg(short, long, default_value = "")]
    pub tag: String,
}

pub fn import(e: &mut Engine, a: ImportArgs) -> CmdResult {
    // Standard input is kept in a file first: the tarball is read as one.
    let spooled;
    let file = if a.file == "-" {
        // Named for this process, so `system check` leaves it alone while
        // we live (and knows it for debris if we are killed).
        let p = e
            .root()
            .join("tmp")
            .join(crate::platform::owner::scratch("import.tar"));
        let mut f = std::fs::File::create(&p)
            .map_err(|err| crate::engine::error::Error::io("cannot create", &p, err))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut f).map_err(|err| {
            crate::engine::error::Error::io("cannot read standard input into", &p, err)
        })?;
        spooled = Some(p.clone());
        p
    } else {
        spooled = None;
        std::path::PathBuf::from(&a.file)
    };
    let opts = CreateOptions {
        tag: a.tag,
        dns: false,
        localtime: false,
        update: false,
    };
    let r = {
        let mut bar = Bar::new();
        match &spooled {
            // Messages name standard input, not the file it waits in.
            Some(p) => {
                let mut named = Renamed {
                    inner: &mut bar,
                    from: p.display().to_string(),
                    to: "standard input",
                };
                e.image_create(&Source::Tar(file), &opts, &mut named)
                    .map_err(|err| named.error(err))
            }
            None => e.image_create(&Source::Tar(file), &opts, &mut bar),
        }
    };
    if let Some(p) = spooled {
        let _ = std::fs::remove_file(p);
    }
    crate::outln!("{}", r?.id);
    Ok(Outcome::Ok)
}
