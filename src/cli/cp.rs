//! `klee cp`: files between a container and the host (Docker's `cp`).

use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Outcome};
use crate::engine::copy::{CopyFrom, CopyOptions, CopyTo};
use crate::engine::{Engine, Error};

#[derive(Args, Debug)]
#[command(after_help = "\
One side is CONTAINER:PATH, the other a path on the host or - (a tar \
stream on stdin or stdout). SRC goes into DEST when DEST is a directory, \
becomes DEST when DEST does not exist, and replaces a file DEST; SRC/. \
copies a directory's contents. A path on the host with a colon is \
written ./name:with:colons.

Examples:
  klee cp web:/etc/nginx/nginx.conf .
  klee cp ./site/. web:/usr/share/nginx/html
  klee cp web:/var/log - | tar -t")]
pub struct CpArgs {
    /// Keep the files' owners (uid/gid) from the source
    #[arg(short, long)]
    archive: bool,
    /// Follow SRC when it is a symbolic link
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar stream on stdin)
    src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar stream on stdout)
    dest: String,
}

/// `CONTAINER:PATH` as Docker reads it: a colon before any slash, and not
/// a path that starts with `/` or `.`.
fn container_side(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with(['/', '.']) {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    (!c.contains('/')).then_some((c, p))
}

pub fn cp(e: &mut Engine, a: CpArgs) -> CmdResult {
    let opts = CopyOptions {
        follow_link: a.follow_link,
        archive: a.archive,
    };
    match (container_side(&a.src), container_side(&a.dest)) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "cp arguments",
            format!("{} {}", a.src, a.dest),
            "copying between two containers is not supported: one side must be the host or -",
        )),
        (None, None) => Err(Error::invalid(
            "cp arguments",
            format!("{} {}", a.src, a.dest),
            "one side must be CONTAINER:PATH",
        )),
        (Some((c, p)), None) => {
            if a.dest == "-" {
                // Written as it comes: a large tree never sits in memory.
                let mut out = std::io::stdout().lock();
                e.container_copy_out(c, p, CopyTo::Tar(&mut out), opts)?;
            } else {
                e.container_copy_out(c, p, CopyTo::Host(PathBuf::from(&a.dest)), opts)?;
            }
            Ok(Outcome::Ok)
        }
        (None, Some((c, p))) => {
            if a.src == "-" {
                let mut input = std::io::stdin().lock();
                e.container_copy_in(c, CopyFrom::Tar(&mut input), p, opts)?;
            } else {
                e.container_copy_in(c, CopyFrom::Host(PathBuf::from(&a.src)), p, opts)?;
            }
            Ok(Outcome::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_side_is_the_container() {
        assert_eq!(container_side("web:/etc"), Some(("web", "/etc")));
        assert_eq!(container_side("web:rel"), Some(("web", "rel")));
        assert_eq!(container_side("./a:b"), None);
        assert_eq!(container_side("/tmp/a:b"), None);
        assert_eq!(container_side("dir/a:b"), None);
        assert_eq!(container_side("-"), None);
        assert_eq!(container_side("plain"), None);
    }
}
