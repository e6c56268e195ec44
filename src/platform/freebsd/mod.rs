//! FreeBSD: jails, ZFS and pf, driven through their command-line tools as
//! kleened does. The full back end is issue #5; until then every operation
//! reports that it is not supported, so the engine compiles and fails clearly.

use std::path::{Path, PathBuf};

use super::{Error, ExecSpec, ExitStatus, Platform, Result, RunSpec, Started, Stdio};

pub struct FreeBsd;

impl Platform for FreeBsd {
    fn prepare_root(&self, _root: &Path) -> Result<()> {
        Err(Error::Unsupported("the FreeBSD back end"))
    }
    fn begin_layer(&self, _root: &Path, _id: &str) -> Result<PathBuf> {
        Err(Error::Unsupported("creating images"))
    }
    fn commit_layer(&self, _root: &Path, _id: &str) -> Result<()> {
        Err(Error::Unsupported("creating images"))
    }
    fn destroy_layer(&self, _root: &Path, _id: &str) -> Result<()> {
        Err(Error::Unsupported("removing images"))
    }
    fn layer_path(&self, root: &Path, id: &str) -> PathBuf {
        root.join("image").join(id)
    }
    fn commit_container(&self, _root: &Path, _id: &str, _layer_id: &str) -> Result<bool> {
        Err(Error::Unsupported("committing build steps"))
    }
    fn view(&self, _root: &Path, _layers: &[String]) -> Result<PathBuf> {
        Err(Error::Unsupported("reading image layers"))
    }
    fn release_views(&self, _root: &Path) {}
    fn create_container_fs(
        &self,
        _root: &Path,
        _id: &str,
        _layers: &[String],
        _ephemeral: bool,
    ) -> Result<PathBuf> {
        Err(Error::Unsupported("creating containers"))
    }
    fn destroy_container_fs(&self, _root: &Path, _id: &str) -> Result<()> {
        Err(Error::Unsupported("removing containers"))
    }
    fn container_dir(&self, root: &Path, id: &str) -> PathBuf {
        root.join("container").join(id)
    }
    fn create_volume(&self, _root: &Path, _name: &str) -> Result<PathBuf> {
        Err(Error::Unsupported("creating volumes"))
    }
    fn destroy_volume(&self, _root: &Path, _name: &str) -> Result<()> {
        Err(Error::Unsupported("removing volumes"))
    }
    fn volume_path(&self, root: &Path, name: &str) -> PathBuf {
        root.join("volumes").join(name)
    }
    fn start(&self, _spec: &RunSpec, _stdio: &Stdio) -> Result<Started> {
        Err(Error::Unsupported("starting jails"))
    }
    fn exec(&self, _target: i32, _spec: &ExecSpec, _stdio: &Stdio) -> Result<Started> {
        Err(Error::Unsupported("jexec"))
    }
    fn start_time(&self, _pid: i32) -> u64 {
        0
    }
    fn alive(&self, _pid: i32, _start_time: u64) -> bool {
        false
    }
    fn signal(&self, _pid: i32, _signal: i32) -> Result<()> {
        Err(Error::Unsupported("signalling jails"))
    }
    fn wait(&self, _pid: i32) -> Result<ExitStatus> {
        Err(Error::Unsupported("waiting for jails"))
    }
}
