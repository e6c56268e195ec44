//! A kleene-oci container's record: `<root>/<id>/state.json`, next to its
//! start FIFO. The record is written once the container exists and its
//! directory is removed last by `delete`, so a directory without a record
//! is a create that died half-way (and `delete` clears it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OciError;
use crate::platform::Platform;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub pid: i32,
    /// The init's start time, to tell it from a later process with its pid.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339.
    pub created: String,
    /// The group key (a `cgroupsPath`, with its leading '/'; on FreeBSD
    /// the jail's name).
    pub cgroup: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// `start` has let the command run.
    pub started: bool,
    /// The limits in force (`update` changes them from these).
    #[serde(default)]
    pub limits: crate::platform::Limits,
}

/// The lifecycle states of the OCI runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    pub fn can_kill(self) -> bool {
        self != Status::Stopped
    }

    /// Without `--force`: a created container is removed too (its
    /// process never ran anything), as runc does.
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub fn fifo(root: &Path, id: &str) -> PathBuf {
    dir(root, id).join("exec.fifo")
}

/// Container IDs name directories: letters, digits and `_.+-` only.
pub fn check_id(id: &str) -> Result<(), OciError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(OciError::Invalid(format!(
            "invalid container id '{id}': use letters, digits and _.+- only"
        )))
    }
}

impl Record {
    pub fn load(root: &Path, id: &str) -> Result<Record, OciError> {
        check_id(id)?;
        let path = dir(root, id).join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                OciError::NotFound(id.to_string())
            } else {
                OciError::Io(format!("read '{}': {e}", path.display()))
            }
        })?;
        serde_json::from_str(&text)
            .map_err(|e| OciError::Io(format!("corrupt state '{}': {e}", path.display())))
    }

    /// Write atomically (a reader never sees half a record).
    pub fn save(&self, root: &Path) -> Result<(), OciError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| OciError::Io(e.to_string()))?;
        write_atomic(&dir(root, &self.id).join("state.json"), &text)
    }

    pub fn status(&self, p: &dyn Platform) -> Status {
        if !p.alive(self.pid, self.start_time) {
            Status::Stopped
        } else if self.started {
            if p.frozen(&self.cgroup) {
                Status::Paused
            } else {
                Status::Running
            }
        } else {
            Status::Created
        }
    }

    /// The state JSON of the OCI runtime spec (with runc's extra fields,
    /// which containerd reads).
    pub fn to_state(&self, status: Status) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.name(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        })
    }
}

/// Write `path` whole or not at all (a temporary file renamed over it).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), OciError> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, data)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| OciError::Io(format!("write '{}': {e}", path.display())))
}

/// Every container ID under `root`.
pub fn list(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

/// What a create records before anything exists, so that whoever finds
/// its directory without a record (a create killed half-way) can remove
/// what it made: `<dir>/intent.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Intent {
    pub cgroup: String,
    /// The bundle's root filesystem (FreeBSD mounts under it).
    #[serde(default)]
    pub rootfs: PathBuf,
}

impl Intent {
    pub fn save(&self, root: &Path, id: &str) -> Result<(), OciError> {
        let text = serde_json::to_vec(self).map_err(|e| OciError::Io(e.to_string()))?;
        write_atomic(&dir(root, id).join("intent.json"), &text)
    }

    pub fn load(root: &Path, id: &str) -> Option<Intent> {
        let text = std::fs::read_to_string(dir(root, id).join("intent.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Container `id`'s lock, held by a create or a delete of it: a POSIX
/// record lock, which (unlike flock) the container's process does not
/// inherit, so it ends with the command that took it.
pub struct Lock(#[allow(dead_code)] std::fs::File);

/// Take `id`'s lock; `wait` false: `None` when someone holds it.
pub fn lock(root: &Path, id: &str, wait: bool) -> Result<Option<Lock>, OciError> {
    use std::os::fd::AsRawFd;
    let d = root.join(".locks");
    std::fs::create_dir_all(&d)
        .map_err(|e| OciError::Io(format!("create '{}': {e}", d.display())))?;
    let path = d.join(id);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| OciError::Io(format!("open '{}': {e}", path.display())))?;
    // SAFETY: a zeroed flock is valid; the fields that matter are set.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    let cmd = if wait { libc::F_SETLKW } else { libc::F_SETLK };
    loop {
        // SAFETY: fcntl with a valid fd and flock struct.
        if unsafe { libc::fcntl(f.as_raw_fd(), cmd, &fl) } == 0 {
            return Ok(Some(Lock(f)));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) | Some(libc::EACCES) if !wait => return Ok(None),
            _ => return Err(OciError::Io(format!("lock '{}': {e}", path.display()))),
        }
    }
}

/// Remove a create's leftovers (a directory without a record): its
/// processes and groups, then the directory.
pub fn clear_leftover(p: &dyn crate::platform::Platform, root: &Path, id: &str) {
    let d = dir(root, id);
    if !d.is_dir() || d.join("state.json").exists() {
        return;
    }
    if let Some(i) = Intent::load(root, id) {
        let _ = p.forget_container(&i.cgroup);
        let _ = p.release_bundle(&i.cgroup, &i.rootfs);
    }
    let _ = std::fs::remove_dir_all(&d);
}
