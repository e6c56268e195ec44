//! Base images: from the host's own userland (the offline default), from a
//! directory, or from a tar archive (.tar, .tar.gz/.tgz, .tar.xz/.txz — so
//! FreeBSD's base.txz works). The layer is filled in a staging directory and
//! committed at the end, so a failure leaves neither a layer nor a row.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::image::{parse_nametag, Image};
use super::{id, time, Engine};
use crate::platform::{failpoint, fsutil};

/// Where a base image's files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The host's userland: /usr hard-linked (no data copied), /etc copied
    /// without secrets, the usual empty top-level directories.
    Host,
    Dir(PathBuf),
    Tar(PathBuf),
    /// Download a base system archive (FreeBSD's base.txz) and unpack it.
    Fetch(String),
    /// `Fetch` of the base.txz matching the host's release and machine.
    FetchAuto,
    /// Copy a ZFS dataset (send | receive).
    ZfsCopy(String),
    /// Clone a ZFS dataset (it must outlive the image).
    ZfsClone(String),
}

impl Source {
    /// From the CLI's `METHOD [SOURCE]`.
    pub fn parse(method: &str, source: Option<&str>) -> Result<Source> {
        let need = |what: &str| {
            source.map(PathBuf::from).ok_or_else(|| {
                Error::invalid(
                    "image source",
                    method,
                    format!("method '{method}' needs {what}"),
                )
            })
        };
        match method {
            "host" => Ok(Source::Host),
            "dir" => Ok(Source::Dir(need("a directory")?)),
            "tar" => Ok(Source::Tar(need("an archive file")?)),
            "fetch" => Ok(Source::Fetch(need("a URL")?.display().to_string())),
            "fetch-auto" => Ok(Source::FetchAuto),
            "zfs-copy" => Ok(Source::ZfsCopy(
                need("a ZFS dataset")?.display().to_string(),
            )),
            "zfs-clone" => Ok(Source::ZfsClone(
                need("a ZFS dataset")?.display().to_string(),
            )),
            other => Err(Error::invalid(
                "image create method",
                other,
                "expected one of: host, dir, tar, fetch, fetch-auto, zfs-copy, zfs-clone",
            )),
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Source::Host => "host",
            Source::Dir(_) => "dir",
            Source::Tar(_) => "tar",
            Source::Fetch(_) => "fetch",
            Source::FetchAuto => "fetch-auto",
            Source::ZfsCopy(_) => "zfs-copy",
            Source::ZfsClone(_) => "zfs-clone",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub tag: String,
    /// Copy the host's /etc/resolv.conf.
    pub dns: bool,
    /// Copy the host's /etc/localtime.
    pub localtime: bool,
    /// Bring the base system up to date (freebsd-update).
    pub update: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            tag: String::new(),
            dns: true,
            localtime: true,
            update: false,
        }
    }
}

/// Progress of long work: a message and a running file count.
pub trait Progress {
    fn message(&mut self, _msg: &str) {}
    fn files(&mut self, _n: u64) {}
    /// Bytes downloaded so far of `total` (pulls).
    fn bytes(&mut self, _done: u64, _total: u64) {}
}
impl Progress for () {}

struct Counter<'a> {
    n: u64,
    p: &'a mut dyn Progress,
}
impl fsutil::Progress for Counter<'_> {
    fn file(&mut self) {
        self.n += 1;
        if self.n.is_multiple_of(512) {
            self.p.files(self.n);
        }
    }
}

/// Parts of /usr a base image does without: documentation, manuals,
/// translations and headers. What remains is the userland that runs.
fn host_usr_skip(rel: &Path) -> bool {
    const SKIP: &[&str] = &[
        "share/doc",
        "share/man",
        "share/info",
        "share/locale",
        "share/help",
        "share/gtk-doc",
        "share/lintian",
        "include",
        "src",
    ];
    SKIP.iter().any(|s| rel == Path::new(s))
}

/// /etc entries that are host secrets or host identity.
fn host_etc_skip(rel: &Path) -> bool {
    let s = rel.to_string_lossy();
    matches!(
        s.as_ref(),
        "shadow"
            | "shadow-"
            | "gshadow"
            | "gshadow-"
            | "machine-id"
            | "hostname"
            | "hosts"
            | "resolv.conf"
            | "localtime"
            | "mtab"
            | "fstab"
            | "ssl/private"
    ) || (s.starts_with("ssh/ssh_host_") && !s.ends_with(".pub"))
}

fn fill_host(dest: &Path, progress: &mut dyn Progress) -> Result<()> {
    let mut counter = Counter { n: 0, p: progress };
    counter
        .p
        .message("linking the host userland (/usr) into the image");
    for entry in ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"] {
        let src = Path::new("/").join(entry);
        let Ok(meta) = fs::symlink_metadata(&src) else {
            continue;
        };
        let dst = dest.join(entry);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&src).map_err(|e| Error::io("cannot read link", &src, e))?;
            std::os::unix::fs::symlink(&target, &dst)
                .map_err(|e| Error::io("cannot create symlink", &dst, e))?;
        } else if meta.is_dir() {
            let skip: &dyn Fn(&Path) -> bool = if entry == "usr" {
                &host_usr_skip
            } else {
                &|_| false
            };
            fsutil::copy_tree(&src, &dst, fsutil::Mode::Link, skip, &mut counter)?;
        }
    }
    counter.p.message("copying /etc without the host's secrets");
    fsutil::copy_tree(
        Path::new("/etc"),
        &dest.join("etc"),
        fsutil::Mode::Copy,
        &host_etc_skip,
        &mut counter,
    )?;
    let write = |rel: &str, content: &str| -> Result<()> {
        let p = dest.join(rel);
        fs::write(&p, content).map_err(|e| Error::io("cannot write", &p, e))
    };
    write("etc/hostname", "localhost\n")?;
    write(
        "etc/hosts",
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )?;
    write("etc/machine-id", "")?;
    // Accounts keep working without the host's password hashes.
    let shadow: String = fs::read_to_string(dest.join("etc/passwd"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next())
        .map(|u| format!("{u}:*:19000:0:99999:7:::\n"))
        .collect();
    write("etc/shadow", &shadow)?;
    skeleton(dest)?;
    counter.p.files(counter.n);
    Ok(())
}

/// The top-level directories every root filesystem has.
fn skeleton(dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (d, mode) in [
        ("dev", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("run", 0o755),
        ("tmp", 0o1777),
        ("var", 0o755),
        ("var/tmp", 0o1777),
        ("var/log", 0o755),
        ("var/cache", 0o755),
        ("var/lib", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("mnt", 0o755),
        ("opt", 0o755),
        ("srv", 0o755),
        ("etc", 0o755),
    ] {
        let p = dest.join(d);
        if fs::symlink_metadata(&p).is_err() {
            fs::create_dir_all(&p).map_err(|e| Error::io("cannot create directory", &p, e))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io("cannot chmod", &p, e))?;
        }
    }
    Ok(())
}

/// Extract a (possibly compressed) tar archive into `dest`; entries that
/// would leave `dest` are refused.
pub fn extract_tar(dest: &Path, file: &Path, progress: &mut dyn Progress) -> Result<()> {
    let f = fs::File::open(file).map_err(|e| Error::io("cannot open archive", file, e))?;
    // By its first bytes, not its name (standard input has none).
    let reader: Box<dyn Read> = super::registry::layer::sniffed(f)
        .map_err(|e| Error::invalid("archive", file.display().to_string(), e.to_string()))?;
    progress.message(&format!("extracting {}", file.display()));
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let bad =
        |e: std::io::Error| Error::invalid("archive", file.display().to_string(), e.to_string());
    let mut n = 0u64;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        // unpack_in refuses paths that leave `dest` ("..", absolute links).
        entry.unpack_in(dest).map_err(bad)?;
        n += 1;
        if n.is_multiple_of(100) {
            progress.files(n);
        }
    }
    progress.files(n);
    if n == 0 {
        return Err(Error::invalid(
            "archive",
            file.display().to_string(),
            "it contains no files",
        ));
    }
    Ok(())
}

fn copy_host_file(dest: &Path, rel: &str, progress: &mut dyn Progress) -> Result<()> {
    let src = Path::new("/").join(rel);
    let dst = dest.join(rel);
    if !src.exists() {
        progress.message(&format!("{} not found on host, skipping", src.display()));
        return Ok(());
    }
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("cannot create directory", parent, e))?;
    }
    // Inside the image it must be a file: a host symlink would dangle.
    let _ = fs::remove_file(&dst);
    fs::copy(&src, &dst).map_err(|e| Error::io("cannot copy to", &dst, e))?;
    Ok(())
}

impl Engine {
    /// Download `url` next to the layer and unpack it into `dest`.
    fn fetch_base(
        &self,
        dest: &Path,
        id: &str,
        url: &str,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let archive = self
            .root
            .join("tmp")
            .join(crate::platform::owner::scratch(&format!("base-{id}.txz")));
        progress.message(&format!("fetching {url}"));
        let manifest = archive.with_extension("MANIFEST");
        let r = self
            .platform
            .download(url, &archive)
            .map_err(Error::from)
            .and_then(|_| match super::manifest::manifest_url(url) {
                // A release's distribution set: checked against its MANIFEST.
                Some((murl, _)) => {
                    progress.message(&format!("checking it against {murl}"));
                    self.platform.download(&murl, &manifest)?;
                    let text = fs::read_to_string(&manifest)
                        .map_err(|e| Error::io("cannot read", &manifest, e))?;
                    super::manifest::verify(url, &text, &archive)
                }
                None => Ok(()),
            })
            .and_then(|_| extract_tar(dest, &archive, progress));
        let _ = fs::remove_file(&archive);
        let _ = fs::remove_file(&manifest);
        r
    }

    /// Create a base image from `source`.
    pub fn image_create(
        &mut self,
        source: &Source,
        opts: &CreateOptions,
        progress: &mut dyn Progress,
    ) -> Result<Image> {
        let (name, tag) = if opts.tag.is_empty() {
            (String::new(), String::new())
        } else {
            parse_nametag(&opts.tag)?
        };
        match source {
            Source::Dir(d) if !d.is_dir() => {
                return Err(Error::invalid(
                    "image source",
                    d.display().to_string(),
                    "not a directory",
                ))
            }
            Source::Tar(f) if !f.is_file() => {
                return Err(Error::invalid(
                    "image source",
                    f.display().to_string(),
                    "not a file",
                ))
            }
            _ => {}
        }
        let id = id::new_id();
        // Leased before it exists, released when the image row refers to it.
        self.lease_layers(std::slice::from_ref(&id))?;
        let dest = match source {
            Source::ZfsCopy(ds) => self.platform.layer_from_dataset(&self.root, &id, ds, false),
            Source::ZfsClone(ds) => self.platform.layer_from_dataset(&self.root, &id, ds, true),
            _ => self.platform.begin_layer(&self.root, &id, None),
        };
        let dest = match dest {
            Ok(d) => d,
            Err(e) => {
                let _ = self.release_layers(std::slice::from_ref(&id));
                return Err(e.into());
            }
        };
        let filled = (|| -> Result<()> {
            match source {
                Source::ZfsCopy(_) | Source::ZfsClone(_) => {}
                Source::Fetch(url) => self.fetch_base(&dest, &id, url, progress)?,
                Source::FetchAuto => {
                    let (release, machine) = self.platform.host_release()?;
                    let url = crate::platform::freebsd::fetch::base_url(&release, &machine)?;
                    progress.message(&format!(
                        "fetching the base system of FreeBSD {release} ({machine}): {url}"
                    ));
                    self.fetch_base(&dest, &id, &url, progress)?;
                }
                Source::Host => fill_host(&dest, progress)?,
                Source::Dir(d) => {
                    progress.message(&format!("copying {}", d.display()));
                    let mut counter = Counter { n: 0, p: progress };
                    fsutil::copy_tree(d, &dest, fsutil::Mode::Copy, &|_| false, &mut counter)?;
                    counter.p.files(counter.n);
                }
                Source::Tar(f) => extract_tar(&dest, f, progress)?,
            }
            if opts.dns {
                copy_host_file(&dest, "etc/resolv.conf", progress)?;
            }
            if opts.localtime {
                copy_host_file(&dest, "etc/localtime", progress)?;
            }
            if opts.update {
                progress.message("updating the base system with freebsd-update");
                self.platform.update_base(&dest)?;
            }
            failpoint::check("image.create.fill")?;
            Ok(())
        })();
        if let Err(e) = filled {
            let _ = self.platform.destroy_layer(&self.root, &id);
            if let Source::ZfsCopy(ds) | Source::ZfsClone(ds) = source {
                let _ = self.platform.release_dataset_snapshot(ds, &id);
            }
            let _ = self.release_layers(std::slice::from_ref(&id));
            return Err(e);
        }
        if let Err(e) = self.platform.commit_layer(&self.root, &id) {
            let _ = self.platform.destroy_layer(&self.root, &id);
            let _ = self.release_layers(std::slice::from_ref(&id));
            return Err(e.into());
        }
        // A copy no longer needs the snapshot it was sent from; a clone does.
        if let Source::ZfsCopy(ds) = source {
            let _ = self.platform.release_dataset_snapshot(ds, &id);
        }
        let image = Image {
            id: id.clone(),
            name,
            tag,
            created: time::now(),
            cmd: vec!["/bin/sh".into()],
            entrypoint: vec![],
            env: vec![],
            user: "root".into(),
            workdir: String::new(),
            layers: vec![id.clone()],
            parent: String::new(),
            snapshots: vec![],
            method: source.method().into(),
            ..Image::empty()
        };
        let saved = self.store.write(|tx| {
            super::image::save_image_tx(tx, &image)?;
            super::lease::release_tx(tx, &image.layers)
        });
        if let Err(e) = saved {
            let _ = self.platform.destroy_layer(&self.root, &id);
            let _ = self.release_layers(std::slice::from_ref(&id));
            return Err(e);
        }
        Ok(image)
    }
}
