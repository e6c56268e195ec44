//! Per-object locks, for operations whose steps are not one transaction
//! (a volume's row and its directory): two processes working on the same
//! object take turns. The locks are flock(2) on a fixed set of files
//! (`locks/<kind>-<xx>`, the object's name hashed to one of 256), so they
//! never accumulate, and a process that dies holding one releases it.

use sha2::{Digest, Sha256};

use super::error::Result;
use super::Engine;
use crate::platform::fsutil;

/// Held while it lives.
pub struct ObjectLock {
    _file: std::fs::File,
}

impl Engine {
    /// Wait for and take the lock of object `name` of `kind`.
    pub(crate) fn lock_object(&self, kind: &str, name: &str) -> Result<ObjectLock> {
        Ok(ObjectLock {
            _file: fsutil::lock_file(&self.lock_path(kind, name))?,
        })
    }

    /// Wait for and take the locks of several objects of `kind`, in one
    /// order (so two processes never wait for each other), each file once
    /// (a process waiting for a lock it holds on another descriptor would
    /// wait forever).
    pub(crate) fn lock_objects<'a>(
        &self,
        kind: &str,
        names: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<ObjectLock>> {
        let mut paths: Vec<std::path::PathBuf> = names.map(|n| self.lock_path(kind, n)).collect();
        paths.sort();
        paths.dedup();
        paths
            .iter()
            .map(|p| {
                Ok(ObjectLock {
                    _file: fsutil::lock_file(p)?,
                })
            })
            .collect()
    }

    /// Take the lock of an object if nobody holds it (`None`: an operation
    /// on it is under way).
    pub(crate) fn try_lock_object(&self, kind: &str, name: &str) -> Result<Option<ObjectLock>> {
        Ok(fsutil::try_lock_file(&self.lock_path(kind, name))?.map(|f| ObjectLock { _file: f }))
    }

    fn lock_path(&self, kind: &str, name: &str) -> std::path::PathBuf {
        let slot = Sha256::digest(name.as_bytes())[0];
        self.root.join("locks").join(format!("{kind}-{slot:02x}"))
    }
}
