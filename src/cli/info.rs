//! `klee version`, `klee info` and the top-level `klee inspect`.

use clap::{Args, ValueEnum};

use super::render::{self, Format};
use super::{container, image, network, volume, CmdResult, Outcome};
use crate::engine::{info, Engine, Error};

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Only look for this kind of object
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
    /// Names or IDs of containers, images, volumes or networks
    #[arg(required = true)]
    objects: Vec<String>,
}

/// `version`: needs no root and no store.
pub fn version(a: FormatArgs) -> CmdResult {
    let v = info::version();
    if a.format == Format::Json {
        render::json(&v);
    } else {
        crate::outln!("klee {}", v.version);
        crate::outln!(" OS/Arch:     {}/{}", v.os, v.arch);
        crate::outln!(" API version: {} (kleened)", v.api_version);
    }
    Ok(Outcome::Ok)
}

pub fn info(e: &mut Engine, a: FormatArgs) -> CmdResult {
    let i = e.info()?;
    if a.format == Format::Json {
        render::json(&i);
        return Ok(Outcome::Ok);
    }
    crate::outln!(
        "klee {} ({}/{})",
        i.version.version,
        i.version.os,
        i.version.arch
    );
    crate::outln!("Root:        {}", i.root);
    crate::outln!("Store:       {} (schema v{})", i.store, i.schema);
    crate::outln!(
        "Containers:  {} ({} running, {} stopped)",
        i.containers,
        i.running,
        i.containers - i.running
    );
    crate::outln!("Images:      {}", i.images);
    crate::outln!("Volumes:     {}", i.volumes);
    crate::outln!("Networks:    {}", i.networks);
    for (k, v) in &i.host {
        let label = format!("{}{}:", k[..1].to_ascii_uppercase(), &k[1..]);
        crate::outln!("{label:<12} {v}");
    }
    Ok(Outcome::Ok)
}

/// `inspect NAME…`: each object as its own `inspect` shows it; a name is
/// looked for as a container, then an image, a volume, a network (as
/// Docker), unless `--type` says which.
pub fn inspect(e: &mut Engine, a: InspectArgs) -> CmdResult {
    for name in a.objects {
        let kinds = match a.kind {
            Some(k) => vec![k],
            None => vec![Kind::Container, Kind::Image, Kind::Volume, Kind::Network],
        };
        let found = kinds.into_iter().find(|k| match k {
            Kind::Container => e.container(&name).is_ok(),
            Kind::Image => e.image(&name).is_ok(),
            Kind::Volume => e.volume(&name).is_ok(),
            Kind::Network => e.network(&name).is_ok(),
        });
        match found {
            Some(Kind::Container) => {
                container::run(
                    e,
                    container::ContainerCmd::Inspect(container::InspectArgs::of(&name)),
                )?;
            }
            Some(Kind::Image) => {
                image::run(e, image::ImageCmd::Inspect(image::InspectArgs::of(&name)))?;
            }
            Some(Kind::Volume) => {
                volume::run(
                    e,
                    volume::VolumeCmd::Inspect(volume::InspectArgs::of(&name)),
                )?;
            }
            Some(Kind::Network) => {
                network::run(
                    e,
                    network::NetworkCmd::Inspect(network::InspectArgs::of(&name)),
                )?;
            }
            None => {
                let what = match a.kind {
                    Some(Kind::Container) => "container",
                    Some(Kind::Image) => "image",
                    Some(Kind::Volume) => "volume",
                    Some(Kind::Network) => "network",
                    None => "object (container, image, volume or network)",
                };
                return Err(Error::NotFound {
                    kind: what,
                    ident: name,
                });
            }
        }
    }
    Ok(Outcome::Ok)
}
