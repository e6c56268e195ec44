//! `system check`: compare the store with what exists on the OS side and
//! list every inconsistency with what its repair does (`repair.rs`).
//!
//! It relies on the ordering every operation follows (docs/linux-runtime.md,
//! "Crash safety"): rows are written before the objects they describe are
//! made and deleted after they are destroyed; a layer is leased before it is
//! made; work in progress carries its owner's pid and start time. So the OS
//! side is listed *first*, then the store read: an object made meanwhile is
//! not seen, and one seen has its row (or lease) already. What is left is
//! either finished by a live process (its owner, its claimer, its monitor:
//! left alone) or debris of a dead one.

mod repair;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::container::{self, status_of, Container, RunState};
use super::error::Result;
use super::Engine;
use crate::platform::owner::{self, Owner};

/// One inconsistency and what its repair does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `container`, `layer`, `volume`, `network`, `cgroup`, `interface`,
    /// `mount`, `scratch`, `lease`, `build cache`, `firewall`, `image`, `jail`.
    pub kind: &'static str,
    /// The object, as the user knows it.
    pub subject: String,
    /// What is wrong.
    pub problem: String,
    /// What `--repair` does about it, or (when it is not `repairable`)
    /// what the user has to do.
    pub action: String,
    repair: Repair,
}

impl Finding {
    /// Can `--repair` fix it?
    pub fn repairable(&self) -> bool {
        self.repair != Repair::None
    }
}

/// The repairs, in the order they are applied (jails, then mounts, before
/// the directories they are in; containers before their cgroups and
/// links; the firewall last).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Repair {
    RemoveJail(String),
    Unmount(PathBuf),
    FinishRemoval(String),
    FinishStart(String),
    FinishRun(String, i32),
    RemoveExited(String),
    MakeContainerFs(String),
    DestroyContainerFs(String),
    ForgetGroup(String),
    DropLeases(Owner),
    DestroyLayer(String),
    DropCache(String),
    RemoveScratch(String),
    RemoveBlobPart(String),
    RemoveBlob(String),
    ForgetOrigin(String),
    FinishVolumeRemoval(String),
    MakeVolume(String),
    AdoptVolume(String),
    MakeLink(String),
    RemoveLink(String),
    ReloadFirewall,
    None,
}

fn finding(
    kind: &'static str,
    subject: impl Into<String>,
    problem: impl Into<String>,
    action: impl Into<String>,
    repair: Repair,
) -> Finding {
    Finding {
        kind,
        subject: subject.into(),
        problem: problem.into(),
        action: action.into(),
        repair,
    }
}

/// A container row as the check sees it.
struct Row {
    c: Container,
    rs: RunState,
}

impl Engine {
    /// Every inconsistency between the store and the OS side, in the order
    /// their repairs run. Read-only.
    pub fn system_check(&mut self) -> Result<Vec<Finding>> {
        // The OS side first (see the module comment).
        let inv = self.platform.inventory(&self.root)?;
        let mut out = Vec::new();
        let rows = self.container_rows()?;
        for m in &inv.mounts {
            // A running container's (a FreeBSD jail's nullfs and devfs
            // mounts are the host's) are its own.
            let busy = rows.iter().any(|r| {
                m.starts_with(self.platform.container_dir(&self.root, &r.c.id))
                    && self.may_run(&r.rs)
            });
            if busy {
                continue;
            }
            out.push(finding(
                "mount",
                m.display().to_string(),
                "a mount the host sees inside kleene's directories",
                "detach it",
                Repair::Unmount(m.clone()),
            ));
        }
        let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.c.id.as_str(), r)).collect();
        // Containers whose repair also takes their cgroup and links.
        let mut handled: HashSet<String> = HashSet::new();
        let fs: HashSet<&str> = inv.containers.iter().map(String::as_str).collect();
        for r in &rows {
            let c = &r.c;
            let subject = format!("{} ({})", c.id, c.name);
            if self.row_finding(c, &r.rs).is_some() {
                // Read again before reporting: the snapshot may be older
                // than a process that has finished the job since.
                if let Some(f) = self
                    .run_state(&c.id)?
                    .and_then(|rs| self.row_finding(c, &rs))
                {
                    handled.insert(c.id.clone());
                    out.push(f);
                }
            } else if !fs.contains(c.id.as_str()) {
                // A create under way holds the container's lock; once we
                // hold it, look again.
                if let Some(_lock) = self.try_lock_object("container", &c.id)? {
                    let still = self
                        .run_state(&c.id)?
                        .is_some_and(|rs| rs.state != "removing");
                    if still && !self.platform.container_fs_exists(&self.root, &c.id) {
                        out.push(finding(
                            "container",
                            &subject,
                            "its filesystem is missing",
                            "make it again (empty)",
                            Repair::MakeContainerFs(c.id.clone()),
                        ));
                    }
                }
            }
            let layers: HashSet<&str> = inv.layers.iter().map(String::as_str).collect();
            if let Some(l) = c.layers.iter().find(|l| {
                !layers.contains(l.as_str()) && !self.platform.layer_exists(&self.root, l)
            }) {
                out.push(finding(
                    "container",
                    &subject,
                    format!("its image's layer {l} is missing"),
                    "remove the container (klee rm)",
                    Repair::None,
                ));
            }
        }
        let mut waited = false;
        for name in &inv.containers {
            // (Removed meanwhile: its row goes after its directory.)
            if by_id.contains_key(name.as_str())
                || !self.platform.container_fs_exists(&self.root, name)
                || self.run_state(name)?.is_some()
            {
                continue;
            }
            // `run --rm` deletes its row first and its directory just
            // after: give such a removal a moment before calling the
            // directory an orphan (once per check).
            if !waited {
                waited = true;
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            if !self.platform.container_fs_exists(&self.root, name) {
                continue;
            }
            match owner::transient_owner(name) {
                Some(o) if o.alive() => {}
                Some(o) => out.push(finding(
                    "container",
                    name,
                    format!(
                        "a build step's container, and its builder (process {}) is gone",
                        o.pid
                    ),
                    "stop what runs in it and remove it",
                    Repair::DestroyContainerFs(name.clone()),
                )),
                None => out.push(finding(
                    "container",
                    name,
                    "a container directory no row refers to",
                    "remove it",
                    Repair::DestroyContainerFs(name.clone()),
                )),
            }
        }
        for j in &inv.jails {
            let orphan = match owner::transient_owner(j) {
                Some(o) => !o.alive(),
                None => !by_id.contains_key(j.as_str()),
            };
            if orphan {
                out.push(finding(
                    "jail",
                    j,
                    "a running jail of kleene's that no container refers to",
                    "remove it",
                    Repair::RemoveJail(j.clone()),
                ));
            }
        }
        for g in &inv.groups {
            if handled.contains(g) {
                continue;
            }
            // (Removed meanwhile by the process that ran it.)
            if !self.platform.group_exists(g) {
                continue;
            }
            let problem = match (owner::transient_owner(g), by_id.get(g.as_str())) {
                (Some(o), _) if !o.alive() => format!(
                    "the cgroup of a build step whose builder (process {}) is gone",
                    o.pid
                ),
                (None, Some(r))
                    if !self.may_run(&r.rs)
                        && self.run_state(g)?.is_some_and(|rs| !self.may_run(&rs)) =>
                {
                    "the cgroup of a container that is not running".to_string()
                }
                // Its owner lives, or another root's.
                _ => continue,
            };
            out.push(finding(
                "cgroup",
                g,
                problem,
                "stop what runs in it and remove it",
                Repair::ForgetGroup(g.clone()),
            ));
        }
        self.check_layers(&inv, &rows, &mut out)?;
        for s in &inv.scratch {
            // (Renamed into place by its owner, which has exited, since.)
            if std::fs::symlink_metadata(self.root.join("tmp").join(s)).is_err() {
                continue;
            }
            let problem = match owner::scratch_owner(s) {
                Some(o) if o.alive() => continue,
                Some(o) => format!("work of process {}, which is gone", o.pid),
                None => "not a name kleene makes (left by an older version?)".into(),
            };
            out.push(finding(
                "scratch",
                format!("tmp/{s}"),
                problem,
                "remove it",
                Repair::RemoveScratch(s.clone()),
            ));
        }
        self.check_blob_parts(&mut out)?;
        self.check_volumes(&inv, &mut out)?;
        self.check_networks(&inv, &by_id, &mut out)?;
        let fw = self.firewall()?;
        if !self.platform.firewall_current(&self.root, &fw) {
            out.push(finding(
                "firewall",
                "kleene's rules",
                "the loaded rules are not the ones the store asks for",
                "load them again",
                Repair::ReloadFirewall,
            ));
        }
        out.sort_by(|a, b| a.repair.cmp(&b.repair));
        Ok(out)
    }

    /// Partial downloads (`blobs/<hex>.part`) that no pull is finishing: kept
    /// so the next pull of the image resumes them, reported because they
    /// take space; `--repair` removes them (a pull then starts over). Whole
    /// blobs that no pull is going to unpack, too.
    fn check_blob_parts(&self, out: &mut Vec<Finding>) -> Result<()> {
        let dir = self.root.join("blobs");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut files: Vec<(String, u64)> = entries
            .flatten()
            .map(|e| {
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                (e.file_name().to_string_lossy().into_owned(), size)
            })
            .collect();
        files.sort();
        let (parts, rest): (Vec<_>, Vec<_>) =
            files.into_iter().partition(|(n, _)| n.ends_with(".part"));
        // Whole blobs wait in blobs/ only between their download and their
        // layer's unpacking, under the pull's layer leases: with no live
        // lease, they are what a killed pull left.
        let live = self.live_leases()?;
        if live.is_empty() {
            let whole = rest.into_iter().filter(|(n, _)| {
                crate::engine::registry::reference::is_sha256_digest(&format!("sha256:{n}"))
            });
            for (name, size) in whole {
                out.push(finding(
                    "blob",
                    format!("blobs/{name}"),
                    format!("a downloaded blob ({size} bytes) that no pull is unpacking: an interrupted pull left it"),
                    "remove it (a pull downloads it again if it needs it)",
                    Repair::RemoveBlob(name),
                ));
            }
        }
        // Where layers came from (and their tar skeletons), kept while
        // the layer is: a removal killed between the two leaves them.
        let mut gone: Vec<String> = std::fs::read_dir(dir.join("origin"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (id, _) = name.rsplit_once('.')?;
                Some(id.to_string())
            })
            .filter(|id| !live.contains(id) && !self.platform.layer_exists(&self.root, id))
            .collect();
        gone.sort();
        gone.dedup();
        for id in gone {
            out.push(finding(
                "blob",
                format!("blobs/origin/{id}.*"),
                format!("where layer {id} came from, but the layer is gone"),
                "forget it",
                Repair::ForgetOrigin(id),
            ));
        }
        for (name, size) in parts {
            let hex = name.trim_end_matches(".part");
            // A pull holds the blob's lock while it downloads.
            let lock = dir.join("locks").join(format!("blob-{hex}"));
            if crate::platform::fsutil::try_lock_file(&lock)?.is_none() {
                continue;
            }
            out.push(finding(
                "blob",
                format!("blobs/{name}"),
                format!(
                    "an interrupted download of sha256:{hex} ({size} bytes), kept so the next pull resumes it"
                ),
                "remove it (a pull then downloads the blob again)",
                Repair::RemoveBlobPart(name),
            ));
        }
        Ok(())
    }

    /// What is wrong with a container's row: an operation whose process
    /// died, a run whose end nobody recorded.
    fn row_finding(&self, c: &Container, rs: &RunState) -> Option<Finding> {
        let subject = format!("{} ({})", c.id, c.name);
        let claimer = rs.pid.unwrap_or(0);
        match rs.state.as_str() {
            "removing" if !rs.claimer_alive(self.platform) => Some(finding(
                "container",
                &subject,
                format!("its removal was interrupted (process {claimer} is gone)"),
                "finish removing it",
                Repair::FinishRemoval(c.id.clone()),
            )),
            "starting" if !rs.claimer_alive(self.platform) => Some(finding(
                "container",
                &subject,
                format!("its start was interrupted (process {claimer} is gone)"),
                if c.auto_remove {
                    "undo what its start set up and remove it (--rm)"
                } else {
                    "undo what its start set up and mark it stopped"
                },
                Repair::FinishStart(c.id.clone()),
            )),
            "running" if !status_of(self.platform, rs).is_running() && !rs.monitored() => {
                Some(finding(
                    "container",
                    &subject,
                    format!(
                        "marked running, but its process {claimer} is gone and nobody supervises it"
                    ),
                    if c.auto_remove {
                        "record the exit, undo what its start set up and remove it (--rm)"
                    } else {
                        "record the exit (code unknown) and undo what its start set up (cgroup, links, firewall rules)"
                    },
                    Repair::FinishRun(c.id.clone(), claimer),
                ))
            }
            // Alive, but whoever recorded itself as its supervisor died
            // (a killed `klee run -d` monitor): nobody will record its exit
            // or run its health checks. Not ours to stop.
            "running"
                if status_of(self.platform, rs).is_running()
                    && rs.monitor.is_some()
                    && !rs.monitored() =>
            {
                Some(finding(
                    "container",
                    &subject,
                    format!(
                        "runs, but its supervisor (process {}) is gone: its exit will not be recorded and its health checks have stopped",
                        rs.monitor.as_deref().unwrap_or("?")
                    ),
                    format!("`klee restart {}` when convenient", c.name),
                    Repair::None,
                ))
            }
            // (Its monitor removes it now.)
            "exited" if c.auto_remove && !rs.monitored() => Some(finding(
                "container",
                &subject,
                "an --rm container that exited but was not removed",
                "remove it",
                Repair::RemoveExited(c.id.clone()),
            )),
            _ => None,
        }
    }

    /// Could the container of this row be running or about to (a live
    /// process claimed its start, or supervises it)?
    /// (Or a live process is busy with it: it starts it, supervises it,
    /// or removes it, and takes its cgroup and links along.)
    fn may_run(&self, rs: &RunState) -> bool {
        status_of(self.platform, rs).is_running()
            || (matches!(rs.state.as_str(), "starting" | "removing")
                && rs.claimer_alive(self.platform))
            || rs.monitored()
    }

    fn container_rows(&self) -> Result<Vec<Row>> {
        let sql = format!("{} ORDER BY created, id", container::SELECT);
        let raw = self.store.read(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([], container::row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        raw.into_iter()
            .map(|(id, data, rs)| {
                let c: Container = super::error::decode("container", &id, &data)?;
                Ok(Row { c, rs })
            })
            .collect()
    }

    fn check_layers(
        &mut self,
        inv: &crate::platform::Inventory,
        rows: &[Row],
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        let images = self.images()?;
        let leases = self.leases()?;
        let cache: Vec<String> = self.store.read(|c| {
            let mut st = c.prepare("SELECT DISTINCT layer FROM build_cache WHERE layer <> ''")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        let mut used: HashSet<&str> = HashSet::new();
        used.extend(
            images
                .iter()
                .flat_map(|i| i.layers.iter().map(String::as_str)),
        );
        used.extend(
            rows.iter()
                .flat_map(|r| r.c.layers.iter().map(String::as_str)),
        );
        used.extend(cache.iter().map(String::as_str));
        let mut dead: Vec<Owner> = Vec::new();
        for l in &leases {
            if l.owner.alive() {
                used.insert(l.layer.as_str());
            } else if !dead.contains(&l.owner) {
                dead.push(l.owner);
            }
        }
        for o in dead {
            // Read again: it may have released them and exited since.
            let layers: Vec<String> = self
                .leases()?
                .into_iter()
                .filter(|l| l.owner == o)
                .map(|l| l.layer)
                .collect();
            if layers.is_empty() {
                continue;
            }
            out.push(finding(
                "lease",
                format!("of process {}", o.pid),
                format!(
                    "held on layers {} by a process that is gone",
                    layers.join(", ")
                ),
                "drop the lease",
                Repair::DropLeases(o),
            ));
        }
        let exists = |l: &str| self.platform.layer_exists(&self.root, l);
        for l in &inv.layers {
            // Read again: a build may have written the image that refers
            // to it, and released it, since.
            if !used.contains(l.as_str()) && exists(l) && !self.layer_referenced(l)? {
                out.push(finding(
                    "layer",
                    l,
                    "no image, container, build or cache entry refers to it",
                    "remove it",
                    Repair::DestroyLayer(l.clone()),
                ));
            }
        }
        let have: HashSet<&str> = inv.layers.iter().map(String::as_str).collect();
        for l in cache
            .iter()
            .filter(|l| !have.contains(l.as_str()) && !exists(l))
        {
            out.push(finding(
                "build cache",
                format!("entries for layer {l}"),
                "the layer is missing",
                "drop the entries",
                Repair::DropCache(l.clone()),
            ));
        }
        for i in &images {
            if let Some(l) = i
                .layers
                .iter()
                .find(|l| !have.contains(l.as_str()) && !exists(l))
            {
                out.push(finding(
                    "image",
                    format!("{} ({})", i.id, i.display()),
                    format!("its layer {l} is missing"),
                    "remove the image (klee image rm) and build or create it again",
                    Repair::None,
                ));
            }
        }
        Ok(())
    }

    fn check_volumes(
        &mut self,
        inv: &crate::platform::Inventory,
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        let volumes = self.volumes()?;
        let rows: HashSet<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        let have: HashSet<&str> = inv.volumes.iter().map(String::as_str).collect();
        for v in &volumes {
            if have.contains(v.name.as_str()) {
                continue;
            }
            // A create or removal under way holds the volume's lock; once
            // we hold it, look again.
            let Some(_lock) = self.try_lock_object("volume", &v.name)? else {
                continue;
            };
            if self.volume_opt(&v.name)?.is_none()
                || self.platform.volume_exists(&self.root, &v.name)
            {
                continue;
            }
            // Its storage moved aside by a removal that was interrupted.
            let trash = format!(".{}", owner::volume_trash(&v.name));
            if inv.scratch.iter().any(|s| s.ends_with(&trash)) {
                out.push(finding(
                    "volume",
                    &v.name,
                    "its removal was interrupted (its data is already in tmp/)",
                    "finish removing it",
                    Repair::FinishVolumeRemoval(v.name.clone()),
                ));
            } else {
                out.push(finding(
                    "volume",
                    &v.name,
                    "its directory is missing",
                    "make it again (empty)",
                    Repair::MakeVolume(v.name.clone()),
                ));
            }
        }
        for name in &inv.volumes {
            if rows.contains(name.as_str()) {
                continue;
            }
            let Some(_lock) = self.try_lock_object("volume", name)? else {
                continue;
            };
            if self.volume_opt(name)?.is_none() && self.platform.volume_exists(&self.root, name) {
                out.push(finding(
                    "volume",
                    name,
                    "a volume directory no row refers to",
                    "adopt it as a volume (its data is kept)",
                    Repair::AdoptVolume(name.clone()),
                ));
            }
        }
        Ok(())
    }

    fn check_networks(
        &mut self,
        inv: &crate::platform::Inventory,
        by_id: &HashMap<&str, &Row>,
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        let links: HashSet<&str> = inv.links.iter().map(String::as_str).collect();
        for n in self.networks()? {
            if n.kind == "custom" || links.contains(n.interface.as_str()) {
                continue;
            }
            let Some(_lock) = self.try_lock_object("network", &n.id)? else {
                continue;
            };
            let current = self.networks()?.into_iter().find(|m| m.id == n.id);
            if current.is_some_and(|m| !self.platform.interface_exists(&m.interface)) {
                out.push(finding(
                    "network",
                    format!("{} ({})", n.id, n.name),
                    format!("its interface {} is missing", n.interface),
                    "create it again",
                    Repair::MakeLink(n.id.clone()),
                ));
            }
        }
        // The host ends of the links of containers that are not running
        // (their namespace or jail normally takes them along).
        let links: HashSet<&str> = inv.links.iter().map(String::as_str).collect();
        for r in by_id.values() {
            if r.c.network_driver == "disabled"
                || r.c.network_driver == "host"
                || self.may_run(&r.rs)
            {
                continue;
            }
            let attachments = self.attachments(&r.c.id)?;
            for name in self.platform.container_links(&r.c.id, &attachments) {
                if links.contains(name.as_str())
                    && self
                        .run_state(&r.c.id)?
                        .is_some_and(|rs| !self.may_run(&rs))
                {
                    out.push(finding(
                        "interface",
                        &name,
                        format!("a link of container {}, which is not running", r.c.id),
                        "remove it",
                        Repair::RemoveLink(name.clone()),
                    ));
                }
            }
        }
        Ok(())
    }
}
