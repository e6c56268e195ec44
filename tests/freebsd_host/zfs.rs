//! ZFS datasets and mounts of the model.

use std::path::{Path, PathBuf};

use kleene::platform::cmd::Output;

use super::*;

impl State {
    // ---- zfs ----
    pub(super) fn zfs(&mut self, a: &[&str], dir: &Path) -> Output {
        match a {
            // A snapshot by its full name (zfs list takes those too).
            ["list", "-H", "-o", "name", snap] if snap.contains('@') => {
                let (ds, name) = snap.split_once('@').unwrap();
                match self.datasets.get(ds) {
                    Some(d) if d.snapshots.contains(name) => ok(&format!("{snap}\n")),
                    _ => fail(1, &format!("cannot open '{snap}': dataset does not exist")),
                }
            }
            ["list", "-H", "-o", "name", ds] => match self.datasets.get(*ds) {
                Some(_) => ok(&format!("{ds}\n")),
                None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
            },
            ["get", "-H", "-o", "value", "origin", ds] => match self.datasets.get(*ds) {
                Some(d) => ok(&format!("{}\n", d.origin.as_deref().unwrap_or("-"))),
                None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
            },
            ["list", "-H", "-o", "mountpoint", ds] => match self.datasets.get(*ds) {
                Some(d) => ok(&format!("{}\n", d.mountpoint.display())),
                None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
            },
            ["list", "-H", "-o", "name", "-d", "1", ds] => {
                if !self.datasets.contains_key(*ds) {
                    return fail(1, &format!("cannot open '{ds}': dataset does not exist"));
                }
                let mut out = format!("{ds}\n");
                for n in self.datasets.keys() {
                    if let Some(rest) = n.strip_prefix(&format!("{ds}/")) {
                        if !rest.contains('/') {
                            out.push_str(&format!("{n}\n"));
                        }
                    }
                }
                ok(&out)
            }
            ["create", rest @ ..] => {
                let (mut parents, mut mp, mut i) = (false, None, 0);
                while i < rest.len() {
                    match rest[i] {
                        "-p" => parents = true,
                        "-o" => {
                            mp = rest[i + 1].strip_prefix("mountpoint=").map(PathBuf::from);
                            i += 1;
                        }
                        _ => break,
                    }
                    i += 1;
                }
                let ds = rest[i];
                self.create_ds(ds, parents, mp, None, dir)
            }
            ["clone", snap, ds] => {
                let Some((origin, s)) = snap.split_once('@') else {
                    return fail(1, "invalid snapshot");
                };
                if !self
                    .datasets
                    .get(origin)
                    .is_some_and(|d| d.snapshots.contains(s))
                {
                    return fail(1, &format!("cannot open '{snap}': dataset does not exist"));
                }
                let from = self.datasets[origin].mountpoint.clone();
                let r = self.create_ds(ds, false, None, Some(snap.to_string()), dir);
                if r.status == 0 {
                    copy_dir(&from, &self.datasets[*ds].mountpoint.clone());
                }
                r
            }
            ["snapshot", snap] => {
                let (ds, s) = snap.split_once('@').unwrap();
                match self.datasets.get_mut(ds) {
                    Some(d) => {
                        if d.snapshots.insert(s.into()) {
                            ok("")
                        } else {
                            fail(
                                1,
                                &format!("cannot create snapshot '{snap}': dataset already exists"),
                            )
                        }
                    }
                    None => fail(1, &format!("cannot open '{ds}': dataset does not exist")),
                }
            }
            ["set", prop, ds] => match (prop.split_once('='), self.datasets.get_mut(*ds)) {
                (Some(("readonly", v)), Some(d)) => {
                    d.readonly = v == "on";
                    ok("")
                }
                _ => fail(1, &format!("cannot set '{prop}' on '{ds}'")),
            },
            ["rename", "-f", from, to] => {
                if !self.datasets.contains_key(*from) {
                    return fail(1, &format!("cannot open '{from}': dataset does not exist"));
                }
                let names: Vec<String> = self
                    .datasets
                    .keys()
                    .filter(|n| *n == from || n.starts_with(&format!("{from}/")))
                    .cloned()
                    .collect();
                for n in names {
                    let mut d = self.datasets.remove(&n).unwrap();
                    let new = n.replacen(from, to, 1);
                    let mp = self.default_mountpoint(&new, dir);
                    let _ = std::fs::create_dir_all(mp.parent().unwrap());
                    let _ = std::fs::rename(&d.mountpoint, &mp);
                    d.mountpoint = mp;
                    self.datasets.insert(new, d);
                }
                ok("")
            }
            // A dry run: what -R would take, parsable (zfs(8) -n -p).
            ["destroy", "-n", "-R", "-p", ds] => {
                if !self.datasets.contains_key(*ds) {
                    return fail(1, &format!("cannot open '{ds}': dataset does not exist"));
                }
                let mut out = String::new();
                let mut todo = vec![ds.to_string()];
                while let Some(d) = todo.pop() {
                    out.push_str(&format!("destroy\t{d}\n"));
                    for s in &self.datasets[&d].snapshots {
                        out.push_str(&format!("destroy\t{d}@{s}\n"));
                    }
                    for (n, o) in &self.datasets {
                        let child = n.starts_with(&format!("{d}/"));
                        let clone = o.origin.as_deref().and_then(|o| o.split('@').next())
                            == Some(d.as_str());
                        if child || clone {
                            todo.push(n.clone());
                        }
                    }
                }
                ok(&out)
            }
            ["destroy", flags @ .., ds] => {
                let recursive = flags.contains(&"-r");
                let Some(d) = self.datasets.get(*ds).cloned() else {
                    return fail(1, &format!("cannot open '{ds}': dataset does not exist"));
                };
                if self
                    .datasets
                    .keys()
                    .any(|n| n.starts_with(&format!("{ds}/")))
                {
                    return fail(
                        1,
                        &format!("cannot destroy '{ds}': filesystem has children"),
                    );
                }
                let dependents: Vec<String> = self
                    .datasets
                    .iter()
                    .filter(|(_, o)| {
                        o.origin
                            .as_deref()
                            .is_some_and(|o| o.split('@').next() == Some(*ds))
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                if !dependents.is_empty() {
                    return fail(1, &format!("cannot destroy '{ds}': filesystem has dependent clones\nuse '-R' to destroy the following datasets:\n{}", dependents.join("\n")));
                }
                if !d.snapshots.is_empty() && !recursive {
                    return fail(
                        1,
                        &format!("cannot destroy '{ds}': filesystem has children"),
                    );
                }
                // A jail or a mount inside it keeps it busy.
                let busy = self
                    .mounts
                    .iter()
                    .any(|m| m.kind != "zfs" && m.on.starts_with(&d.mountpoint))
                    || self
                        .jails
                        .values()
                        .any(|j| j.path.starts_with(&d.mountpoint));
                if busy {
                    return fail(
                        1,
                        &format!(
                            "cannot unmount '{}': pool or dataset is busy",
                            d.mountpoint.display()
                        ),
                    );
                }
                self.datasets.remove(*ds);
                self.mounts.retain(|m| !(m.kind == "zfs" && m.from == *ds));
                let _ = std::fs::remove_dir_all(&d.mountpoint);
                ok("")
            }
            _ => {
                self.unknown.push(format!("zfs {}", a.join(" ")));
                fail(127, "model: zfs subcommand not modelled")
            }
        }
    }

    pub(super) fn default_mountpoint(&self, ds: &str, dir: &Path) -> PathBuf {
        match ds.rsplit_once('/') {
            Some((parent, last)) => match self.datasets.get(parent) {
                Some(p) => p.mountpoint.join(last),
                None => dir.join(ds),
            },
            None => dir.join(ds),
        }
    }

    pub(super) fn create_ds(
        &mut self,
        ds: &str,
        parents: bool,
        mp: Option<PathBuf>,
        origin: Option<String>,
        dir: &Path,
    ) -> Output {
        if self.datasets.contains_key(ds) {
            return fail(1, &format!("cannot create '{ds}': dataset already exists"));
        }
        let pool = ds.split('/').next().unwrap();
        if !self.datasets.contains_key(pool) {
            return fail(1, &format!("cannot create '{ds}': no such pool '{pool}'"));
        }
        let parent = ds.rsplit_once('/').map(|(p, _)| p).unwrap_or(pool);
        if !self.datasets.contains_key(parent) {
            if !parents {
                return fail(1, &format!("cannot create '{ds}': parent does not exist"));
            }
            let r = self.create_ds(parent, true, None, None, dir);
            if r.status != 0 {
                return r;
            }
        }
        let mountpoint = mp.unwrap_or_else(|| self.default_mountpoint(ds, dir));
        std::fs::create_dir_all(&mountpoint).unwrap();
        self.mounts.push(Mount {
            kind: "zfs".into(),
            from: ds.into(),
            on: mountpoint.clone(),
        });
        self.datasets.insert(
            ds.into(),
            Dataset {
                mountpoint,
                snapshots: BTreeSet::new(),
                origin,
                readonly: false,
            },
        );
        ok("")
    }

    // ---- mounts ----
    pub(super) fn mount_nullfs(&mut self, a: &[&str]) -> Output {
        let a: Vec<&str> = a
            .iter()
            .copied()
            .filter(|x| *x != "-o" && *x != "ro")
            .collect();
        let [from, on] = a[..] else {
            return fail(64, "usage: mount_nullfs [-o options] target mount-point");
        };
        if !Path::new(on).exists() {
            return fail(1, &format!("mount_nullfs: {on}: No such file or directory"));
        }
        self.mounts.push(Mount {
            kind: "nullfs".into(),
            from: from.into(),
            on: on.into(),
        });
        ok("")
    }

    /// `mount -t TYPE [-o OPTS] SOURCE DIR`.
    pub(super) fn mount_t(&mut self, a: &[&str]) -> Output {
        let (kind, rest) = match a {
            [kind, "-o", _, rest @ ..] | [kind, rest @ ..] => (*kind, rest),
            [] => return fail(64, "usage: mount -t type"),
        };
        let [from, on] = rest else {
            return fail(64, "usage: mount [-t fstype] [-o options] special node");
        };
        if !Path::new(on).is_dir() {
            return fail(1, &format!("mount: {on}: No such file or directory"));
        }
        self.mounts.push(Mount {
            kind: kind.into(),
            from: (*from).into(),
            on: (*on).into(),
        });
        ok("")
    }

    /// `devfs -m DIR rule apply RULE…`: a rule applied to the devfs at DIR.
    pub(super) fn devfs(&mut self, a: &[&str]) -> Output {
        let ["-m", dir, "rule", "apply", rule @ ..] = a else {
            self.unknown.push(format!("devfs {}", a.join(" ")));
            return fail(64, "usage: devfs");
        };
        let on = PathBuf::from(dir);
        if !self.mounts.iter().any(|m| m.kind == "devfs" && m.on == on) {
            return fail(1, &format!("devfs: {dir}: not a devfs mount"));
        }
        self.devfs_rules.push((on, rule.join(" ")));
        ok("")
    }

    pub(super) fn umount(&mut self, a: &[&str]) -> Output {
        let Some(path) = a.last() else {
            return fail(64, "usage: umount");
        };
        let p = PathBuf::from(path);
        let Some(i) = self.mounts.iter().rposition(|m| m.on == p) else {
            return fail(
                1,
                &format!("umount: {path}: not a file system root directory"),
            );
        };
        if self
            .mounts
            .iter()
            .any(|m| m.on != p && m.on.starts_with(&p))
        {
            return fail(1, &format!("umount: unmount of {path} failed: Device busy"));
        }
        let m = self.mounts.remove(i);
        if m.kind == "devfs" {
            self.devfs_rules.retain(|(on, _)| *on != m.on);
        }
        ok("")
    }

    pub(super) fn mount_p(&self) -> String {
        self.mounts
            .iter()
            .map(|m| format!("{}\t{}\t{}\trw\t0 0\n", m.from, m.on.display(), m.kind))
            .collect()
    }
}
