//! FreeBSD: ZFS datasets for layers, containers and volumes, jails for
//! isolation, driven through their command-line tools as kleened does
//! (`reference/kleened.md` §4). Every command goes through a
//! [`Runner`](super::cmd::Runner), so the whole back end is golden-tested on
//! any OS with a recording runner; nothing here is FreeBSD-only code but
//! `init` (the process of a kleene-oci container, which attaches itself)
//! and `proc` (a zombie is not alive).
//!
//! The layer model maps onto ZFS like this: layer `L` is the dataset
//! `<root>/image/L` with the snapshot `@image`; a layer on top of `P` starts as
//! `zfs clone <root>/image/P@image`; a container over layers `[…, L]` is
//! `zfs clone <root>/image/L@image <root>/container/<id>`; a build step's
//! container becomes a layer by `zfs rename -f` (as kleened promotes a build).

pub mod confine;
pub mod fetch;
pub mod init;
mod inventory;
pub mod jail;
pub mod net;
pub mod oci;
pub mod pf;
mod proc;
mod run_as;

use std::path::{Path, PathBuf};

use super::cmd::{Output, Runner, System};
use super::{
    Error, ExecSpec, ExitStatus, Firewall, NetworkSpec, Platform, Result, RunSpec, Started, Stdio,
};

pub struct FreeBsd {
    runner: &'static dyn Runner,
}

/// The back end with real commands.
pub static SYSTEM: FreeBsd = FreeBsd { runner: &System };

impl FreeBsd {
    /// The back end on another runner (a recorder, in tests).
    pub fn with_runner(runner: &'static dyn Runner) -> FreeBsd {
        FreeBsd { runner }
    }

    /// Does `argv` run and exit 0? (A question, not a step: failure is an
    /// answer, not an error.)
    pub(crate) fn succeeds(&self, argv: &[&str]) -> bool {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.runner
            .run(&argv)
            .map(|o| o.status == 0)
            .unwrap_or(false)
    }

    pub(crate) fn run(&self, argv: &[&str]) -> Result<Output> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let out = self
            .runner
            .run(&argv)
            .map_err(|e| Error::Failed(format!("cannot run '{}': {e}", argv.join(" "))))?;
        if out.status != 0 {
            return Err(Error::Failed(format!(
                "'{}' exited with code {}: {}",
                argv.join(" "),
                out.status,
                out.stderr.trim()
            )));
        }
        Ok(out)
    }

    fn zfs(&self, args: &[&str]) -> Result<Output> {
        let mut argv = vec!["/sbin/zfs"];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// Does the dataset exist? (`zfs list -H -o name`, as kleened checks.)
    fn exists(&self, ds: &str) -> bool {
        self.succeeds(&["/sbin/zfs", "list", "-H", "-o", "name", ds])
    }

    /// Where a dataset is mounted (always asked, never assumed).
    fn mountpoint(&self, ds: &str) -> Result<PathBuf> {
        let out = self.zfs(&["list", "-H", "-o", "mountpoint", ds])?;
        let mp = out.stdout.trim();
        // `legacy` (mounted by fstab) and `none` are not paths.
        if mp.is_empty() || matches!(mp, "none" | "-" | "legacy") || !mp.starts_with('/') {
            return Err(Error::Failed(format!(
                "dataset '{ds}' has no mountpoint kleene can use ('{mp}'): set one with zfs set mountpoint=…"
            )));
        }
        Ok(PathBuf::from(mp))
    }

    /// Make `ds` (a clone of layer `from`'s snapshot, or empty) and return
    /// its mountpoint. Once made, any later failure (including `failpoint`)
    /// destroys it again, so nothing half-made is left.
    fn new_dataset(
        &self,
        root: &Path,
        ds: &str,
        from: Option<&str>,
        failpoint: Option<&str>,
    ) -> Result<PathBuf> {
        match from {
            Some(layer) => self.zfs(&["clone", &format!("{}@image", image_ds(root, layer)), ds])?,
            None => self.zfs(&["create", ds])?,
        };
        let made = failpoint
            .map_or(Ok(()), super::failpoint::check)
            .and_then(|_| self.mountpoint(ds));
        if made.is_err() {
            let _ = self.zfs(&["destroy", "-r", "-f", ds]);
        }
        made
    }
}

/// The dataset of a root: `KLEENE_DATASET` when set (its mountpoint is set
/// to the root when kleene makes it), else the root's path without its
/// leading `/` (`/zroot/kleene` → `zroot/kleene`, kleened's default), and
/// under it `image/`, `container/`, `volumes/`.
pub fn dataset(root: &Path) -> String {
    root_dataset(root, std::env::var("KLEENE_DATASET").ok().as_deref())
}

fn root_dataset(root: &Path, configured: Option<&str>) -> String {
    match configured
        .map(|d| d.trim_matches('/'))
        .filter(|d| !d.is_empty())
    {
        Some(d) => d.to_string(),
        None => root
            .to_string_lossy()
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string(),
    }
}

/// The dataset of the container whose directory (`<root>/container/<id>`)
/// the spec names.
pub(crate) fn spec_dataset(spec: &RunSpec) -> String {
    let root = spec
        .container_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"));
    container_ds(root, &spec.id)
}

fn image_ds(root: &Path, id: &str) -> String {
    format!("{}/image/{id}", dataset(root))
}

fn container_ds(root: &Path, id: &str) -> String {
    format!("{}/container/{id}", dataset(root))
}

fn volume_ds(root: &Path, name: &str) -> String {
    format!("{}/volumes/{name}", dataset(root))
}

impl Platform for FreeBsd {
    fn prepare_root(&self, root: &Path) -> Result<()> {
        let base = dataset(root);
        if !self.exists(&base) {
            if !self.module_loaded("zfs") {
                return Err(Error::Failed(
                    "ZFS is not loaded: kleene keeps images, containers and volumes in ZFS datasets (kldload zfs, and zfs_enable=\"YES\" in /etc/rc.conf)".into(),
                ));
            }
            let mountpoint = format!("mountpoint={}", root.display());
            if let Err(e) = self.zfs(&["create", "-p", "-o", &mountpoint, &base]) {
                let pool = base.split('/').next().unwrap_or(&base);
                return Err(if e.to_string().contains("no such pool") {
                    Error::Failed(format!(
                        "cannot make the root dataset '{base}' for {}: there is no ZFS pool '{pool}'; use a dataset in one of your pools (KLEENE_DATASET=zroot/kleene, or --root /zroot/kleene)",
                        root.display()
                    ))
                } else {
                    e
                });
            }
        }
        // Everything below finds datasets by path under the root: the root
        // dataset must be mounted there.
        let mp = self.mountpoint(&base)?;
        if mp != root {
            return Err(Error::Failed(format!(
                "the root dataset '{base}' is mounted at {}, not at the root {}: use --root {} or 'zfs set mountpoint={} {base}'",
                mp.display(),
                root.display(),
                mp.display(),
                root.display()
            )));
        }
        for ds in [
            format!("{base}/image"),
            format!("{base}/container"),
            format!("{base}/volumes"),
        ] {
            if !self.exists(&ds) {
                self.zfs(&["create", &ds])?;
            }
        }
        // Logs and scratch space live beside the datasets, in the root's mountpoint.
        for d in ["logs", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| Error::io("cannot create directory", &p, e))?;
        }
        Ok(())
    }

    fn begin_layer(&self, root: &Path, id: &str, parent: Option<&str>) -> Result<PathBuf> {
        let ds = image_ds(root, id);
        match self.new_dataset(root, &ds, parent, None) {
            // A dataset without its @image snapshot is a fill that was
            // killed: never a layer, so it goes and the fill starts again.
            Err(_) if self.exists(&ds) && !self.layer_exists(root, id) => {
                self.zfs(&["destroy", "-r", "-f", &ds])?;
                self.new_dataset(root, &ds, parent, None)
            }
            r => r,
        }
    }

    fn commit_layer(&self, root: &Path, id: &str) -> Result<()> {
        super::failpoint::check("image.create.commit")?;
        self.zfs(&["snapshot", &format!("{}@image", image_ds(root, id))])
            .map(drop)
    }

    fn destroy_layer(&self, root: &Path, id: &str) -> Result<()> {
        let ds = image_ds(root, id);
        if self.exists(&ds) {
            self.zfs(&["destroy", "-r", "-f", &ds])?;
        }
        Ok(())
    }

    fn layer_exists(&self, root: &Path, id: &str) -> bool {
        // Committed: its snapshot exists (commit_layer makes it last).
        self.exists(&format!("{}@image", image_ds(root, id)))
    }

    fn layer_path(&self, root: &Path, id: &str) -> PathBuf {
        root.join("image").join(id)
    }

    fn layer_tar(&self, root: &Path, id: &str, out: &mut dyn std::io::Write) -> Result<()> {
        // A layer is a clone of its parent's snapshot, so it holds the whole
        // filesystem: what it adds is its difference from the parent, which
        // the clone's origin names (`-` for a base layer). Committed layers
        // never change, so their mountpoints are their snapshots' content.
        let ds = image_ds(root, id);
        let origin = self.zfs(&["get", "-H", "-o", "value", "origin", &ds])?;
        let parent = origin
            .stdout
            .trim()
            .strip_prefix(&image_ds(root, ""))
            .and_then(|o| o.strip_suffix("@image"))
            .map(|p| self.layer_path(root, p));
        super::layer_diff::write(parent.as_deref(), &self.layer_path(root, id), out)
    }

    fn interface_exists(&self, name: &str) -> bool {
        self.interface_exists_impl(name)
    }

    fn host_gateway(&self) -> Option<String> {
        self.host_gateway_impl()
    }

    fn create_network(&self, net: &NetworkSpec) -> Result<()> {
        self.create_network_impl(net)
    }

    fn destroy_network(&self, net: &NetworkSpec, members: &[String]) -> Result<()> {
        self.destroy_network_impl(net, members)
    }

    fn apply_firewall(&self, root: &Path, fw: &Firewall) -> Result<()> {
        self.apply_firewall_impl(root, fw)
    }

    fn prepare_links(&self, spec: &mut RunSpec) -> Result<()> {
        jail::prepare_links(self, spec)
    }

    fn relink(
        &self,
        id: &str,
        _pid: i32,
        driver: &str,
        before: &[super::Attachment],
        after: &[super::Attachment],
    ) -> Result<()> {
        jail::relink(self, id, driver, before, after)
    }

    fn update_params(&self, id: &str, params: &[String]) -> Result<()> {
        jail::update_params(self, id, params)
    }

    fn layer_from_dataset(
        &self,
        root: &Path,
        id: &str,
        dataset: &str,
        clone: bool,
    ) -> Result<PathBuf> {
        self.layer_from_dataset_impl(root, id, dataset, clone)
    }

    fn release_dataset_snapshot(&self, dataset: &str, id: &str) -> Result<()> {
        self.release_snapshot_impl(dataset, id)
    }

    fn download(&self, url: &str, dest: &Path) -> Result<()> {
        self.download_impl(url, dest)
    }

    fn host_release(&self) -> Result<(String, String)> {
        self.host_release_impl()
    }

    fn update_base(&self, path: &Path) -> Result<()> {
        self.update_base_impl(path)
    }

    fn commit_container(&self, root: &Path, id: &str, layer_id: &str) -> Result<bool> {
        // The build container becomes the layer (kleened's promotion of a build).
        let ds = image_ds(root, layer_id);
        self.zfs(&["rename", "-f", &container_ds(root, id), &ds])?;
        self.zfs(&["snapshot", &format!("{ds}@image")])?;
        Ok(true)
    }

    fn view(&self, root: &Path, layers: &[String]) -> Result<PathBuf> {
        match layers.last() {
            // A ZFS layer is a whole filesystem: the top one is the view.
            Some(top) => self.mountpoint(&image_ds(root, top)),
            None => {
                let p = root.join("tmp").join(super::owner::scratch("empty"));
                std::fs::create_dir_all(&p)
                    .map_err(|e| Error::io("cannot create directory", &p, e))?;
                Ok(p)
            }
        }
    }

    fn release_views(&self, root: &Path) {
        let _ = std::fs::remove_dir(root.join("tmp").join(super::owner::scratch("empty")));
    }

    fn create_container_fs(
        &self,
        root: &Path,
        id: &str,
        layers: &[String],
        _ephemeral: bool,
    ) -> Result<PathBuf> {
        let ds = container_ds(root, id);
        let top = layers.last().map(String::as_str);
        self.new_dataset(root, &ds, top, Some("container.create.fs"))
    }

    fn destroy_container_fs(&self, root: &Path, id: &str) -> Result<()> {
        super::failpoint::check("container.remove.fs")?;
        let ds = container_ds(root, id);
        if self.exists(&ds) {
            self.zfs(&["destroy", "-r", "-f", &ds])?;
        }
        let _ = std::fs::remove_file(self.log_path(root, id));
        Ok(())
    }

    fn container_fs_exists(&self, root: &Path, id: &str) -> bool {
        self.exists(&container_ds(root, id))
    }

    fn volume_exists(&self, root: &Path, name: &str) -> bool {
        self.exists(&volume_ds(root, name))
    }

    fn container_dir(&self, root: &Path, id: &str) -> PathBuf {
        root.join("container").join(id)
    }

    fn log_path(&self, root: &Path, id: &str) -> PathBuf {
        // Not inside the container's dataset: that is the jail's own root.
        root.join("logs").join(format!("{id}.log"))
    }

    fn create_volume(&self, root: &Path, name: &str) -> Result<PathBuf> {
        let ds = volume_ds(root, name);
        self.zfs(&["create", &ds])?;
        if let Err(e) = super::failpoint::check("volume.create") {
            let _ = self.zfs(&["destroy", "-f", &ds]);
            return Err(e);
        }
        self.mountpoint(&ds)
    }

    fn destroy_volume(&self, root: &Path, name: &str) -> Result<()> {
        let ds = volume_ds(root, name);
        if self.exists(&ds) {
            self.zfs(&["destroy", "-f", &ds])?;
        }
        Ok(())
    }

    fn volume_path(&self, root: &Path, name: &str) -> PathBuf {
        root.join("volumes").join(name)
    }

    fn start_with(
        &self,
        spec: &RunSpec,
        stdio: &Stdio,
        spawned: &mut dyn FnMut(i32),
    ) -> Result<Started> {
        let s = jail::start(self, spec, stdio)?;
        spawned(s.pid);
        Ok(s)
    }

    fn exec(&self, _target: i32, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
        jail::exec(self, spec, stdio)
    }

    fn inside_container_fs(
        &self,
        spec: &RunSpec,
        _running: Option<i32>,
        work: &mut crate::platform::inside::Work,
        host: &mut dyn FnMut(&mut crate::platform::stream::Stream) -> Result<()>,
    ) -> Result<()> {
        // The jail's root is its dataset, mounted whether it runs or not;
        // volumes are nullfs-mounted into it while it runs (a stopped
        // container's volume paths are its own directories: docs/freebsd.md).
        let root = spec.container_dir.clone();
        let what = format!("container '{}'", spec.name);
        crate::platform::inside::run(
            &what,
            &|| {
                let c = std::ffi::CString::new(root.as_os_str().as_encoded_bytes())
                    .map_err(|_| format!("container path '{}' holds a NUL", root.display()))?;
                // SAFETY: chroot and chdir to valid paths in a forked child.
                unsafe {
                    if libc::chroot(c.as_ptr()) < 0 || libc::chdir(c"/".as_ptr()) < 0 {
                        return Err(format!(
                            "cannot enter '{}': {}",
                            root.display(),
                            std::io::Error::last_os_error()
                        ));
                    }
                }
                Ok(())
            },
            work,
            host,
        )
    }

    fn start_time(&self, _pid: i32) -> u64 {
        0
    }

    fn alive(&self, pid: i32, _start_time: u64) -> bool {
        proc::alive(pid)
    }

    fn container_running(&self, id: &str, _pid: i32, _start_time: u64) -> bool {
        jail::exists(self, id)
    }

    fn signal(&self, pid: i32, signal: i32) -> Result<()> {
        super::kill_pid(pid, signal)
    }

    fn stop_container(&self, id: &str, _pid: i32, signal: i32, params: &[String]) -> Result<()> {
        // By jail, never by pid: a thin VM's command is long gone and its
        // pid may be another process's.
        jail::stop(self, id, signal, params)
    }

    fn signal_all(&self, key: &str, pid: i32, signal: i32) -> Result<()> {
        // The process itself first: before `start` it is not in the jail.
        let _ = self.signal(pid, signal);
        // pkill exits 1 when nothing was left to signal: that is fine.
        let argv: Vec<String> = vec![
            "/bin/pkill".into(),
            format!("-{signal}"),
            "-j".into(),
            key.into(),
        ];
        let out = self
            .runner
            .run(&argv)
            .map_err(|e| Error::Failed(format!("cannot run '{}': {e}", argv.join(" "))))?;
        match out.status {
            0 | 1 => Ok(()),
            n => Err(Error::Failed(format!(
                "'{}' exited with code {n}: {}",
                argv.join(" "),
                out.stderr.trim()
            ))),
        }
    }

    fn kill_container(&self, id: &str, _pid: i32, signal: i32) -> Result<()> {
        // The jail's processes (its command may be gone, its pid reused).
        let sig = format!("-{signal}");
        match self.run(&["/bin/pkill", &sig, "-j", id]) {
            Err(_) if !jail::exists(self, id) => Ok(()),
            r => r.map(drop),
        }
    }

    fn wait(&self, pid: i32) -> Result<ExitStatus> {
        super::wait_pid(pid)
    }

    fn wait_container(&self, spec: &RunSpec, pid: i32) -> Result<ExitStatus> {
        jail::wait(self, spec, pid)
    }

    fn after_exit(&self, spec: &RunSpec) -> Result<super::ExitDetails> {
        jail::cleanup(self, spec)?;
        // rctl(8) has no record of why a process died: no OOM report.
        Ok(super::ExitDetails::default())
    }

    fn check_layers_removable(&self, root: &Path, ids: &[String]) -> Result<()> {
        // A dry run with -R lists everything the destroy would take:
        // anything but these layers (and their snapshots) is someone
        // else's clone (kleened's `zfs destroy -n -r -p` probe).
        let ours: Vec<String> = ids.iter().map(|id| image_ds(root, id)).collect();
        for ds in &ours {
            let out = self.zfs(&["destroy", "-n", "-R", "-p", ds])?;
            let others: Vec<&str> = out
                .stdout
                .lines()
                .filter_map(|l| l.strip_prefix("destroy\t"))
                .map(|d| d.split('@').next().unwrap_or(d))
                .filter(|d| !ours.iter().any(|o| o == d))
                .collect();
            if !others.is_empty() {
                return Err(Error::Failed(format!(
                    "layer dataset '{ds}' has ZFS clones kleene does not manage: {} (destroy or promote them first)",
                    others.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn check_jail_params(&self, params: &[String]) -> Result<()> {
        jail::check_params(self, params)
    }

    fn check_limits(&self, limits: &super::Limits) -> Result<()> {
        self.check_racct(limits)
    }

    fn update_limits(&self, id: &str, old: &super::Limits, new: &super::Limits) -> Result<()> {
        self.change_limits(id, old, new)
    }

    fn container_usage(&self, id: &str) -> Result<super::Usage> {
        // rctl -u jail:<id>: `resource=value` lines (racct must be on).
        let out = self.run(&["/usr/bin/rctl", "-u", &format!("jail:{id}")])?;
        let get = |k: &str| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Ok(super::Usage {
            cpu_ns: get("cputime").map(|s| s * 1_000_000_000),
            memory: get("memoryuse"),
            memory_limit: None,
            pids: get("maxproc"),
        })
    }

    fn container_processes(&self, id: &str, _pid: i32) -> Result<Vec<super::ProcessInfo>> {
        // ps -J <jail>: the jail's processes; -o with empty headers.
        let out = self.run(&[
            "/bin/ps", "-J", id, "-o", "pid=", "-o", "ppid=", "-o", "user=", "-o", "cputime=",
            "-o", "command=",
        ])?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let pid = f.next()?.parse().ok()?;
                let ppid = f.next()?.parse().ok()?;
                let user = f.next()?.to_string();
                let time = f.next()?;
                // cputime is [mm:]ss.hh
                let secs = time.rsplit(':').enumerate().fold(0.0, |acc, (i, p)| {
                    acc + p.parse::<f64>().unwrap_or(0.0) * 60f64.powi(i as i32)
                });
                Some(super::ProcessInfo {
                    pid,
                    ppid,
                    user,
                    cpu_seconds: secs as u64,
                    command: f.collect::<Vec<_>>().join(" "),
                })
            })
            .collect())
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let racct = self
            .run(&["/sbin/sysctl", "-n", "kern.racct.enable"])
            .map(|o| {
                if o.stdout.trim() == "1" {
                    "on"
                } else {
                    "off (no limits)"
                }
                .to_string()
            })
            .unwrap_or_else(|_| "absent (no limits)".into());
        vec![
            ("kernel", super::kernel()),
            ("isolation", "jails, ZFS, rctl".into()),
            ("racct", racct),
            ("firewall", format!("pf, anchor \"{}\"", net::ANCHOR)),
        ]
    }

    fn oci_section(&self) -> &'static str {
        "freebsd"
    }

    fn release_bundle(&self, key: &str, rootfs: &Path) -> Result<()> {
        oci::release(self, key, rootfs)
    }

    fn forget_container(&self, id: &str) -> Result<()> {
        // Its rctl rules (none is fine).
        let _ = self.run(&["/usr/bin/rctl", "-r", &format!("jail:{id}")]);
        Ok(())
    }

    fn group_exists(&self, id: &str) -> bool {
        self.run(&["/usr/bin/rctl"])
            .is_ok_and(|o| inventory::rule_jails(&o.stdout).iter().any(|j| j == id))
    }

    fn inventory(&self, root: &Path) -> Result<super::Inventory> {
        self.inventory_impl(root)
    }

    fn remove_link(&self, name: &str) -> Result<()> {
        self.run(&["/sbin/ifconfig", name, "destroy"]).map(drop)
    }

    fn unmount(&self, path: &Path) -> Result<()> {
        self.run(&["/sbin/umount", "-f", &path.display().to_string()])
            .map(drop)
    }

    fn remove_jail(&self, name: &str) -> Result<()> {
        self.run(&["/usr/sbin/jail", "-r", name]).map(drop)
    }

    fn container_links(&self, _id: &str, attachments: &[super::Attachment]) -> Vec<String> {
        // A vnet container's epair: its host end (`epairNa`).
        attachments
            .iter()
            .filter_map(|a| a.epair.as_ref().map(|e| format!("{e}a")))
            .collect()
    }

    fn firewall_current(&self, root: &Path, fw: &Firewall) -> bool {
        net::pf_conf_current(root, fw, self.anchor_rules().as_deref())
    }
}
