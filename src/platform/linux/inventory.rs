//! The OS side of a root on Linux, for `system check`: directories, cgroups,
//! interfaces and host mounts.

use std::path::{Path, PathBuf};

use super::{cgroup, netlink};
use crate::platform::{Error, Inventory, Result};

fn names(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("cannot list", dir, e)),
    };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Ok(v)
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of `mountinfo` inside `root`'s containers or tmp.
pub fn mounts_in(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    let inside = [root.join("containers"), root.join("tmp")];
    let mut v: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| inside.iter().any(|d| m.starts_with(d) && m != d))
        .collect();
    // Deepest first, so each unmount finds its mount point reachable.
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

pub fn inventory(root: &Path) -> Result<Inventory> {
    let links = netlink::Socket::open()
        .and_then(|s| s.link_names())
        .map_err(|e| Error::Failed(e.to_string()))?;
    Ok(Inventory {
        layers: names(&root.join("layers"))?,
        containers: names(&root.join("containers"))?,
        volumes: names(&root.join("volumes"))?,
        scratch: names(&root.join("tmp"))?,
        groups: cgroup::list(),
        jails: vec![],
        links,
        mounts: mounts_in(
            &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
            root,
        ),
    })
}

/// Detach a mount (lazily: something may still hold it open).
pub fn unmount(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Failed(format!("bad path '{}'", path.display())))?;
    // SAFETY: a valid path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            return Err(Error::io("cannot unmount", path, e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_inside_containers_and_tmp_only() {
        let mi = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
40 22 0:50 / /var/lib/kleene rw - tmpfs tmpfs rw
41 40 0:51 / /var/lib/kleene/volumes rw - ext4 /dev/sdb rw
42 40 0:52 / /var/lib/kleene/containers/0123456789ab/rootfs rw - overlay overlay rw
43 40 0:53 / /var/lib/kleene/tmp/12-34.view\\0400 rw - overlay overlay rw
44 42 0:54 / /var/lib/kleene/containers/0123456789ab/rootfs/proc rw - proc proc rw
";
        let m = mounts_in(mi, Path::new("/var/lib/kleene"));
        assert_eq!(
            m,
            vec![
                PathBuf::from("/var/lib/kleene/containers/0123456789ab/rootfs/proc"),
                PathBuf::from("/var/lib/kleene/containers/0123456789ab/rootfs"),
                PathBuf::from("/var/lib/kleene/tmp/12-34.view 0"),
            ]
        );
    }
}
