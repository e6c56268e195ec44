//! Base systems: the base.txz URL for a release (fetch-auto), and the ZFS
//! and freebsd-update commands around base images.

use std::path::{Path, PathBuf};

use super::{dataset, image_ds, FreeBsd};
use crate::platform::{Error, Result};

/// The download path component for `uname -m`/`uname -p` (the mirrors'
/// `MACHINE/MACHINE_ARCH`: `arm64/aarch64`, `arm/armv7`,
/// `powerpc/powerpc64le`; `amd64` alone where both agree). kleened used
/// `uname -m` alone, which breaks every platform but amd64 and i386. A
/// bare `uname -m` falls back to the usual `MACHINE_ARCH`.
fn arch_path(machine: &str) -> String {
    if let Some((m, p)) = machine.split_once('/') {
        return if m == p { m.into() } else { machine.into() };
    }
    match machine {
        "arm64" | "aarch64" => "arm64/aarch64".into(),
        "riscv" => "riscv/riscv64".into(),
        "powerpc" => "powerpc/powerpc64".into(),
        other => other.into(),
    }
}

/// The base.txz URL for release `release` (`uname -r`) on `machine`.
pub fn base_url(release: &str, machine: &str) -> Result<String> {
    let bad = || {
        Error::Failed(format!(
            "could not deduce url from FreeBSD version {release}"
        ))
    };
    let (version, kind) = release.split_once('-').ok_or_else(bad)?;
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let arch = arch_path(machine);
    let kind_main = kind.split('-').next().unwrap_or(kind);
    let dir = match kind_main {
        // X-RELEASE and X-RELEASE-pN share the release's base.txz.
        "RELEASE" => "releases",
        "STABLE" | "CURRENT" => "snapshots",
        _ => return Err(bad()),
    };
    Ok(format!(
        "https://download.freebsd.org/{dir}/{arch}/{version}-{kind_main}/base.txz"
    ))
}

fn valid_dataset(ds: &str) -> Result<()> {
    let ok = !ds.is_empty()
        && !ds.starts_with('/')
        && ds
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::Failed(format!("invalid dataset '{ds}'")))
    }
}

impl FreeBsd {
    pub(super) fn layer_from_dataset_impl(
        &self,
        root: &Path,
        id: &str,
        src: &str,
        clone: bool,
    ) -> Result<PathBuf> {
        valid_dataset(src)?;
        self.run(&["/sbin/zfs", "list", "-H", "-o", "name", src])
            .map_err(|_| Error::Failed(format!("invalid dataset '{src}': it does not exist")))?;
        let snap = format!("{src}@{id}");
        let dest = image_ds(root, id);
        self.run(&["/sbin/zfs", "snapshot", &snap])?;
        let made = if clone {
            self.run(&["/sbin/zfs", "clone", &snap, &dest]).map(drop)
        } else {
            // Both names are validated above: nothing here is shell syntax.
            self.run(&[
                "/bin/sh",
                "-c",
                &format!("/sbin/zfs send -v {snap} | /sbin/zfs receive {dest}"),
            ])
            .map(drop)
        };
        let mp = made.and_then(|_| self.mountpoint(&dest));
        if mp.is_err() {
            let _ = self.run(&["/sbin/zfs", "destroy", "-r", "-f", &dest]);
            let _ = self.run(&["/sbin/zfs", "destroy", "-f", &snap]);
        }
        let _ = dataset;
        mp
    }

    pub(super) fn release_snapshot_impl(&self, src: &str, id: &str) -> Result<()> {
        self.run(&["/sbin/zfs", "destroy", "-f", &format!("{src}@{id}")])
            .map(drop)
    }

    pub(super) fn download_impl(&self, url: &str, dest: &Path) -> Result<()> {
        // Options before the URL: getopt may not permute.
        self.run(&["/usr/bin/fetch", "-o", &dest.display().to_string(), url])
            .map(drop)
            .map_err(|e| Error::Failed(format!("could not fetch file from url '{url}': {e}")))
    }

    pub(super) fn host_release_impl(&self) -> Result<(String, String)> {
        let r = self
            .run(&["/usr/bin/uname", "-r"])?
            .stdout
            .trim()
            .to_string();
        let m = self
            .run(&["/usr/bin/uname", "-m"])?
            .stdout
            .trim()
            .to_string();
        let p = self
            .run(&["/usr/bin/uname", "-p"])?
            .stdout
            .trim()
            .to_string();
        Ok((r, if p.is_empty() { m } else { format!("{m}/{p}") }))
    }

    /// `freebsd-update fetch install` in one run (a separate `install`
    /// after "No updates needed" exits 1), told which release the base is
    /// (its own `/bin/freebsd-version`; the host's may differ).
    pub(super) fn update_base_impl(&self, path: &Path) -> Result<()> {
        let p = path.display().to_string();
        let mut argv = vec![
            "/usr/sbin/freebsd-update",
            "-b",
            &p,
            "--not-running-from-cron",
        ];
        let release = base_release(path);
        if let Some(r) = &release {
            argv.extend(["--currently-running", r.as_str()]);
        }
        argv.extend(["fetch", "install"]);
        self.run(&argv).map(drop).map_err(|e| {
            Error::Failed(format!(
                "could not update base image with 'freebsd-update': {e}"
            ))
        })
    }
}

/// The release of a base system: `USERLAND_VERSION` in its
/// `/bin/freebsd-version` (a shell script).
fn base_release(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path.join("bin/freebsd-version")).ok()?;
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("USERLAND_VERSION=")?;
        let v = v.trim_matches('"');
        (!v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')))
        .then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = |r: &str, m: &str| base_url(r, m).unwrap();
        assert_eq!(
            u("14.1-RELEASE", "amd64"),
            "https://download.freebsd.org/releases/amd64/14.1-RELEASE/base.txz"
        );
        assert_eq!(
            u("14.1-RELEASE-p5", "amd64"),
            "https://download.freebsd.org/releases/amd64/14.1-RELEASE/base.txz"
        );
        assert_eq!(
            u("14.2-STABLE", "arm64"),
            "https://download.freebsd.org/snapshots/arm64/aarch64/14.2-STABLE/base.txz"
        );
        assert_eq!(
            u("15.0-CURRENT", "amd64"),
            "https://download.freebsd.org/snapshots/amd64/15.0-CURRENT/base.txz"
        );
        assert_eq!(
            base_url("14.1-BETA2", "amd64").unwrap_err().to_string(),
            "could not deduce url from FreeBSD version 14.1-BETA2"
        );
        assert!(base_url("garbage", "amd64").is_err());
        // uname -m/-p as the host reports them.
        assert_eq!(
            u("14.1-RELEASE", "amd64/amd64"),
            "https://download.freebsd.org/releases/amd64/14.1-RELEASE/base.txz"
        );
        assert_eq!(
            u("14.1-RELEASE", "arm/armv7"),
            "https://download.freebsd.org/releases/arm/armv7/14.1-RELEASE/base.txz"
        );
        assert_eq!(
            u("14.1-RELEASE", "powerpc/powerpc64le"),
            "https://download.freebsd.org/releases/powerpc/powerpc64le/14.1-RELEASE/base.txz"
        );
    }

    #[test]
    fn the_release_of_a_base() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(base_release(t.path()), None);
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        std::fs::write(
            t.path().join("bin/freebsd-version"),
            "#!/bin/sh\nUSERLAND_VERSION=\"13.3-RELEASE-p4\"\n",
        )
        .unwrap();
        assert_eq!(base_release(t.path()).as_deref(), Some("13.3-RELEASE-p4"));
    }

    #[test]
    fn datasets() {
        assert!(valid_dataset("zroot/base").is_ok());
        assert!(valid_dataset("/zroot/base").is_err());
        assert!(valid_dataset("zroot/x; rm -rf /").is_err());
    }
}
