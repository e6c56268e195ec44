//! Linux: overlayfs layers as directories, namespaces + pivot_root for
//! isolation, bridges and veths through rtnetlink, nftables for the
//! firewall.

mod bpf;
mod bundle_fs;
mod caps;
pub mod cgroup;
mod confine;
mod exec;
mod handshake;
mod init;
mod inventory;
mod layer_tar;
mod net;
mod netlink;
mod netns;
mod nft;
mod process;
pub mod procfs;
mod rootfs;
mod seccomp;
mod seccomp_default;
mod spawn;
mod sys;
pub use super::user;
mod view;

use std::fs;
use std::path::{Path, PathBuf};

use super::fsutil;
use super::{
    failpoint, Attachment, Error, ExecSpec, ExitDetails, ExitStatus, Firewall, Limits, NetworkSpec,
    Platform, Result, RunSpec, Started, Stdio,
};

pub struct Linux;

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().recursive(true).mode(mode).create(p) {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::io("cannot create directory", p, e)),
    }
}

pub use super::wait_pid as wait;

/// Where this process fills layer `id` before committing it.
fn staging(root: &Path, id: &str) -> PathBuf {
    root.join("tmp")
        .join(super::owner::scratch(&format!("layer-{id}")))
}

impl Platform for Linux {
    fn prepare_root(&self, root: &Path) -> Result<()> {
        mkdir(root, 0o700)?;
        for d in ["layers", "containers", "volumes", "tmp"] {
            mkdir(&root.join(d), 0o700)?;
        }
        Ok(())
    }

    fn begin_layer(&self, root: &Path, id: &str, _parent: Option<&str>) -> Result<PathBuf> {
        // Filled in tmp/ under this process's name and renamed into layers/
        // on commit, so a layer that exists is always complete, and one
        // whose filler died is recognisably debris.
        let p = staging(root, id);
        fsutil::remove_tree(&p)?;
        mkdir(&p, 0o755)?;
        Ok(p)
    }

    fn commit_layer(&self, root: &Path, id: &str) -> Result<()> {
        failpoint::check("image.create.commit")?;
        let (from, to) = (staging(root, id), self.layer_path(root, id));
        fs::rename(&from, &to).map_err(|e| Error::io("cannot commit layer", &to, e))
    }

    fn destroy_layer(&self, root: &Path, id: &str) -> Result<()> {
        fsutil::remove_tree(&staging(root, id))?;
        let trash = root
            .join("tmp")
            .join(super::owner::scratch(&format!("trash-{id}")));
        fsutil::discard(&self.layer_path(root, id), &trash)
    }

    fn layer_path(&self, root: &Path, id: &str) -> PathBuf {
        root.join("layers").join(id)
    }

    fn layer_tar(&self, root: &Path, id: &str, out: &mut dyn std::io::Write) -> Result<()> {
        layer_tar::write(&self.layer_path(root, id), out)
    }

    fn whiteout(&self, layer: &Path, rel: &Path) -> Result<()> {
        // Layers are overlayfs lower directories: a 0:0 character device
        // hides the name in the layers below.
        let p = fsutil::resolve_beneath(layer, &Path::new("/").join(rel))?;
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).map_err(|e| Error::io("cannot create", d, e))?;
        }
        let _ = fsutil::remove_tree(&p);
        nix::sys::stat::mknod(
            &p,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .map_err(|e| Error::sys("cannot make a whiteout", e))
    }

    fn opaque(&self, layer: &Path, rel: &Path, _ours: &[PathBuf]) -> Result<()> {
        let d = fsutil::resolve_beneath(layer, &Path::new("/").join(rel))?;
        fs::create_dir_all(&d).map_err(|e| Error::io("cannot create", &d, e))?;
        let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Failed(format!("bad path '{}'", d.display())))?;
        // SAFETY: valid path, name and value.
        let r = unsafe {
            libc::setxattr(
                c.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                c"y".as_ptr().cast(),
                1,
                0,
            )
        };
        if r != 0 {
            return Err(Error::io(
                "cannot mark opaque",
                &d,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    fn commit_container(&self, root: &Path, id: &str, layer_id: &str) -> Result<bool> {
        let upper = self.container_dir(root, id).join("upper");
        if fsutil::dir_is_empty(&upper) {
            return Ok(false);
        }
        let to = self.layer_path(root, layer_id);
        // The upper directory is already in overlayfs's own format (whiteouts,
        // opaque directories), so it serves as a lower layer as it is.
        fs::rename(&upper, &to).map_err(|e| Error::io("cannot commit layer", &to, e))?;
        Ok(true)
    }

    fn view(&self, root: &Path, layers: &[String]) -> Result<PathBuf> {
        view::view(self, root, layers)
    }

    fn release_views(&self, root: &Path) {
        view::release(root)
    }

    fn create_container_fs(
        &self,
        root: &Path,
        id: &str,
        _layers: &[String],
        ephemeral: bool,
    ) -> Result<PathBuf> {
        // Made under this process's name in tmp/ and renamed into place, so
        // a container directory is whole or absent, and one whose maker
        // died is recognisably debris.
        let dir = self.container_dir(root, id);
        if dir.is_dir() {
            // Made already (a repair finishing an interrupted create).
            return Ok(dir);
        }
        let work = root
            .join("tmp")
            .join(super::owner::scratch(&format!("container-{id}")));
        let made = (|| {
            mkdir(&work, 0o700)?;
            if !ephemeral {
                for d in ["upper", "work", "rootfs"] {
                    mkdir(&work.join(d), 0o755)?;
                }
            }
            failpoint::check("container.create.fs")?;
            fs::rename(&work, &dir).map_err(|e| Error::io("cannot create directory", &dir, e))
        })();
        if let Err(e) = made {
            let _ = fsutil::remove_tree(&work);
            return Err(e);
        }
        Ok(dir)
    }

    fn destroy_container_fs(&self, root: &Path, id: &str) -> Result<()> {
        failpoint::check("container.remove.fs")?;
        let trash = root
            .join("tmp")
            .join(super::owner::scratch(&format!("trash-{id}")));
        fsutil::discard(&self.container_dir(root, id), &trash)
    }

    fn container_dir(&self, root: &Path, id: &str) -> PathBuf {
        root.join("containers").join(id)
    }

    fn log_path(&self, root: &Path, id: &str) -> PathBuf {
        self.container_dir(root, id).join("log")
    }

    fn create_volume(&self, root: &Path, name: &str) -> Result<PathBuf> {
        let p = self.volume_path(root, name);
        mkdir(&p, 0o755)?;
        if let Err(e) = failpoint::check("volume.create") {
            let _ = fsutil::remove_tree(&p);
            return Err(e);
        }
        Ok(p)
    }

    fn trash_volume(&self, root: &Path, name: &str) -> Result<Option<String>> {
        let trash = super::owner::scratch(&super::owner::volume_trash(name));
        match fs::rename(self.volume_path(root, name), root.join("tmp").join(&trash)) {
            Ok(()) => Ok(Some(trash)),
            // Gone already (a removal that was interrupted).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // On another filesystem (a separate mount for volumes/).
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => Ok(None),
            Err(e) => Err(Error::io(
                "cannot move aside",
                self.volume_path(root, name),
                e,
            )),
        }
    }

    fn destroy_volume(&self, root: &Path, name: &str) -> Result<()> {
        fsutil::remove_tree(&self.volume_path(root, name))
    }

    fn volume_path(&self, root: &Path, name: &str) -> PathBuf {
        root.join("volumes").join(name)
    }

    /// klee's `fetch-auto` (its default) is the host's userland; `fetch`
    /// of a local archive (a path or `file://`) is `tar`; `zfs-copy` and
    /// `zfs-clone` of a directory are `dir`.
    fn base_method_for_api(&self, method: &str, source: &str) -> (String, String) {
        let local = source.strip_prefix("file://").unwrap_or(source);
        match method {
            "fetch-auto" => ("host".into(), String::new()),
            "fetch" if local.starts_with('/') => ("tar".into(), local.into()),
            "zfs-copy" | "zfs-clone" if Path::new(source).is_dir() => ("dir".into(), source.into()),
            _ => (method.into(), source.into()),
        }
    }

    fn interface_exists(&self, name: &str) -> bool {
        net::interface_exists(name)
    }

    fn host_gateway(&self) -> Option<String> {
        net::host_gateway()
    }

    fn host_routes(&self) -> Vec<(String, String)> {
        net::host_routes()
    }

    fn create_network(&self, net: &NetworkSpec) -> Result<()> {
        failpoint::check("network.create.link")?;
        net::create_network(net)
    }

    fn destroy_network(&self, net: &NetworkSpec, _members: &[String]) -> Result<()> {
        // A bridge's ports leave it when it is deleted.
        net::destroy_network(net)
    }

    fn relink(
        &self,
        id: &str,
        pid: i32,
        driver: &str,
        before: &[Attachment],
        after: &[Attachment],
    ) -> Result<()> {
        net::relink(id, pid, driver, before, after)
    }

    fn apply_firewall(&self, root: &Path, fw: &Firewall) -> Result<()> {
        failpoint::check("network.firewall")?;
        net::apply_firewall(root, fw)
    }

    fn start_with(
        &self,
        spec: &RunSpec,
        stdio: &Stdio,
        spawned: &mut dyn FnMut(i32),
    ) -> Result<Started> {
        spawn::start(spec, stdio, spawned)
    }

    fn exec(&self, target: i32, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
        exec::exec(target, spec, stdio)
    }

    fn inside_container_fs(
        &self,
        spec: &RunSpec,
        running: Option<i32>,
        work: &mut crate::platform::inside::Work,
        host: &mut dyn FnMut(&mut crate::platform::stream::Stream) -> Result<()>,
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        // Opened here: a container that stopped meanwhile is an error now,
        // not a half-entered child.
        let mnt = match running {
            Some(pid) => Some(fs::File::open(format!("/proc/{pid}/ns/mnt")).map_err(|e| {
                Error::io(
                    "cannot open the mount namespace of container",
                    &spec.name,
                    e,
                )
            })?),
            None => None,
        };
        let mnt_fd = mnt.as_ref().map(|f| f.as_raw_fd());
        let what = format!("container '{}'", spec.name);
        crate::platform::inside::run(
            &what,
            &|| spawn::enter_container_fs(spec, mnt_fd),
            work,
            host,
        )
    }

    fn refresh_hosts(&self, spec: &RunSpec, pid: i32) -> Result<()> {
        net::refresh_hosts(spec, pid)
    }

    fn prepare_network(&self) {
        netns::prepare();
    }

    fn start_time(&self, pid: i32) -> u64 {
        procfs::start_time(pid).unwrap_or(0)
    }

    fn alive(&self, pid: i32, start_time: u64) -> bool {
        procfs::alive(pid, start_time)
    }

    fn signal(&self, pid: i32, signal: i32) -> Result<()> {
        super::kill_pid(pid, signal)
    }

    fn signal_tree(&self, pid: i32, signal: i32) -> Result<()> {
        // Descendants first, so none is reparented out of reach.
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let _ = self.signal_tree(c, signal);
        }
        super::kill_pid(pid, signal)
    }

    fn stop_container(&self, _id: &str, pid: i32, signal: i32, _params: &[String]) -> Result<()> {
        // The init is pid 1 of its namespace: when it goes, everything does.
        super::kill_pid(pid, signal)
    }

    fn wait(&self, pid: i32) -> Result<ExitStatus> {
        wait(pid)
    }

    fn after_exit(&self, spec: &RunSpec) -> Result<ExitDetails> {
        let key = spec.cgroup_key();
        let oom_killed = cgroup::oom_killed(&key);
        cgroup::remove(&key)?;
        Ok(ExitDetails { oom_killed })
    }

    fn check_limits(&self, limits: &Limits) -> Result<()> {
        cgroup::check(limits)
    }

    fn enforces_device_rules(&self) -> bool {
        cgroup::devices::enforceable()
    }

    fn has_lsm(&self, name: &str) -> bool {
        std::fs::read_to_string("/sys/kernel/security/lsm")
            .or_else(|_| {
                std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").map(|s| {
                    if s.trim() == "Y" {
                        "apparmor".to_string()
                    } else {
                        String::new()
                    }
                })
            })
            .is_ok_and(|l| l.trim().split(',').any(|x| x == name))
    }

    fn freeze(&self, key: &str, on: bool) -> Result<()> {
        cgroup::freezer::set(key, on)
    }

    fn frozen(&self, key: &str) -> bool {
        cgroup::freezer::frozen(key)
    }

    fn update_limits(&self, id: &str, old: &Limits, new: &Limits) -> Result<()> {
        cgroup::update(id, old, new)
    }

    fn container_usage(&self, id: &str) -> Result<super::Usage> {
        Ok(cgroup::usage(id))
    }

    fn container_processes(&self, id: &str, _pid: i32) -> Result<Vec<super::ProcessInfo>> {
        Ok(cgroup::processes(id))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let cgroups = match cgroup::layout() {
            cgroup::Layout::Unified(_) => "v2".to_string(),
            cgroup::Layout::Legacy {
                unified: Some(_), ..
            } => "v1/v2 hybrid (containers in v1)".to_string(),
            cgroup::Layout::Legacy { .. } => "v1".to_string(),
            cgroup::Layout::None => "none mounted (limits unavailable)".to_string(),
        };
        vec![
            ("kernel", super::kernel()),
            (
                "isolation",
                "namespaces, overlayfs, seccomp, capabilities".into(),
            ),
            ("cgroups", cgroups),
            ("firewall", "nftables (table inet kleene)".into()),
        ]
    }

    fn forget_container(&self, id: &str) -> Result<()> {
        cgroup::kill_and_remove(id)
    }

    fn group_exists(&self, id: &str) -> bool {
        cgroup::exists(id)
    }

    fn inventory(&self, root: &Path) -> Result<super::Inventory> {
        inventory::inventory(root)
    }

    fn remove_scratch(&self, root: &Path, name: &str) -> Result<()> {
        let p = root.join("tmp").join(name);
        // A view's mount lives in its maker's namespace, gone with it; one
        // the host sees (made by an older kleene) is detached first.
        let _ = inventory::unmount(&p);
        fsutil::remove_tree(&p)
    }

    fn remove_link(&self, name: &str) -> Result<()> {
        net::remove_link(name)
    }

    fn unmount(&self, path: &Path) -> Result<()> {
        inventory::unmount(path)
    }

    fn container_links(&self, id: &str, attachments: &[Attachment]) -> Vec<String> {
        let mut v = vec![net::ipnet_link(id)];
        v.extend(attachments.iter().map(|a| net::vnet_link(&a.endpoint)));
        v
    }

    fn firewall_current(&self, root: &Path, fw: &Firewall) -> bool {
        net::firewall_current(root, fw)
    }

    fn reload_firewall(&self, root: &Path, fw: &Firewall) -> Result<()> {
        let _ = std::fs::remove_file(root.join("nftables.rules"));
        self.apply_firewall(root, fw)
    }
}
