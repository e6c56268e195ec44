//! The OS side of a root on FreeBSD, for `system check`: the datasets under
//! the root's `image`, `container` and `volumes`, the jails whose root is
//! one of its containers, rctl(8) rules' jails, interfaces and mounts.

use std::path::{Path, PathBuf};

use super::{dataset, FreeBsd};
use crate::platform::{Inventory, Result};

/// The children of `parent` in `zfs list -H -o name -d 1 PARENT` output.
pub fn children(out: &str, parent: &str) -> Vec<String> {
    let prefix = format!("{parent}/");
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The jails named in rctl(8)'s rules (`jail:NAME:resource:action=amount`).
pub fn rule_jails(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("jail:"))
        .filter_map(|r| r.split(':').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The jails of `jls name path` output whose root is under `under`.
pub fn jails_under(out: &str, under: &Path) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().split_once(' '))
        .filter(|(_, path)| Path::new(path.trim()).starts_with(under))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The non-ZFS mount points of `mount -p` output inside `dirs` (nullfs
/// and devfs mounts of containers; a container's own dataset is ZFS).
pub fn mounts_in(out: &str, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[2] != "zfs").then(|| PathBuf::from(f[1]))
        })
        .filter(|m| dirs.iter().any(|d| m.starts_with(d) && m != d))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v
}

impl FreeBsd {
    pub(super) fn inventory_impl(&self, root: &Path) -> Result<Inventory> {
        let base = dataset(root);
        let list = |kind: &str| -> Result<Vec<String>> {
            let parent = format!("{base}/{kind}");
            let out = self.run(&["/sbin/zfs", "list", "-H", "-o", "name", "-d", "1", &parent])?;
            Ok(children(&out.stdout, &parent))
        };
        let scratch = match std::fs::read_dir(root.join("tmp")) {
            Ok(rd) => {
                let mut v: Vec<String> = rd
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                v.sort();
                v
            }
            Err(_) => vec![],
        };
        // Rules exist only where racct is on; no rctl is no rules.
        let rules = self
            .run(&["/usr/bin/rctl"])
            .map(|o| o.stdout)
            .unwrap_or_default();
        let jls = self.run(&["/usr/sbin/jls", "name", "path"])?;
        let links = self.run(&["/sbin/ifconfig", "-l"])?;
        let mounts = self.run(&["/sbin/mount", "-p"])?;
        Ok(Inventory {
            layers: list("image")?,
            containers: list("container")?,
            volumes: list("volumes")?,
            scratch,
            groups: rule_jails(&rules),
            jails: jails_under(&jls.stdout, &root.join("container")),
            links: links
                .stdout
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            mounts: mounts_in(&mounts.stdout, &[root.join("container"), root.join("tmp")]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_tools_print() {
        let zfs = "zroot/kleene/image\nzroot/kleene/image/0123456789ab\nzroot/kleene/image/0123456789ab/x\nzroot/kleene/image/ba9876543210\n";
        assert_eq!(
            children(zfs, "zroot/kleene/image"),
            ["0123456789ab", "ba9876543210"]
        );
        let rctl = "jail:abc:memoryuse:deny=1073741824\njail:abc:maxproc:deny=100\nuser:80:maxproc:deny=10\n";
        assert_eq!(rule_jails(rctl), ["abc"]);
        let jls = "abc /zroot/kleene/container/abc\nother /usr/jails/other\n";
        assert_eq!(
            jails_under(jls, Path::new("/zroot/kleene/container")),
            ["abc"]
        );
        let mounts = "zroot/kleene/container/abc /zroot/kleene/container/abc zfs rw 0 0\n/zroot/kleene/volumes/v /zroot/kleene/container/abc/data nullfs rw 0 0\ndevfs /zroot/kleene/container/abc/dev devfs rw 0 0\n/usr/home /home nullfs rw 0 0\n";
        let m = mounts_in(mounts, &[PathBuf::from("/zroot/kleene/container")]);
        assert_eq!(m.len(), 2);
        assert!(m
            .iter()
            .all(|p| p.starts_with("/zroot/kleene/container/abc/")));
    }
}
