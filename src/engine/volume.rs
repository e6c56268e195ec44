//! Volumes: named directories (datasets on FreeBSD) mounted into containers.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::store::store_err;
use super::{id, time, Engine};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub mountpoint: String,
}

impl Engine {
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        self.store.objects(
            "volume",
            "SELECT name, data FROM volumes ORDER BY created DESC, name",
        )
    }

    pub(crate) fn volume_opt(&self, name: &str) -> Result<Option<Volume>> {
        let d: Option<String> = self.store.read(|c| {
            c.query_row("SELECT data FROM volumes WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
        })?;
        d.map(|d| super::error::decode("volume", name, &d))
            .transpose()
    }

    /// Volumes are looked up by exact name.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        if name.is_empty() {
            return Err(Error::EmptyIdent { kind: "volume" });
        }
        self.volume_opt(name)?.ok_or_else(|| Error::NotFound {
            kind: "volume",
            ident: name.to_string(),
        })
    }

    /// Create a volume; an existing one is returned as it is (as Docker and
    /// kleened do; one whose directory an interrupted create left unmade
    /// gets it now). The row is written first, then the directory made: a
    /// crash in between leaves a row without a directory, which the next
    /// command using it or `system check --repair` makes.
    pub fn volume_create(&mut self, name: &str) -> Result<Volume> {
        id::check_name("volume name", name)?;
        if let Some(v) = self.volume_opt(name)? {
            if self.platform.volume_exists(&self.root, name) {
                return Ok(v);
            }
        }
        let _lock = self.lock_object("volume", name)?;
        self.ensure_volume_locked(name).map(|(v, _)| v)
    }

    /// Make volume `name` whole: its row, then its storage, whichever is
    /// missing (the caller holds its lock). Says whether the row is new.
    pub(crate) fn ensure_volume_locked(&mut self, name: &str) -> Result<(Volume, bool)> {
        if let Some(v) = self.volume_opt(name)? {
            if !self.platform.volume_exists(&self.root, name) {
                self.platform.create_volume(&self.root, name)?;
            }
            return Ok((v, false));
        }
        let v = self
            .insert_volume_row(name)?
            .expect("no row while we hold the volume's lock");
        if let Err(e) = self.platform.create_volume(&self.root, name) {
            let spath = self.store.path().to_path_buf();
            let _ = self.store.write(|tx| {
                tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                    .map_err(|e| store_err(&spath, e))
            });
            return Err(e.into());
        }
        Ok((v, true))
    }

    /// Write volume `name`'s row (the caller holds its lock); `None` when
    /// there is one already.
    pub(crate) fn insert_volume_row(&mut self, name: &str) -> Result<Option<Volume>> {
        let v = Volume {
            name: name.to_string(),
            created: time::now(),
            mountpoint: self
                .platform
                .volume_path(&self.root, name)
                .display()
                .to_string(),
        };
        let data = serde_json::to_string(&v).expect("volume serialises");
        let spath = self.store.path().to_path_buf();
        let inserted = self.store.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO volumes (name, created, data) VALUES (?1, ?2, ?3)",
                params![v.name, v.created, data],
            )
            .map_err(|e| store_err(&spath, e))
        })?;
        Ok((inserted > 0).then_some(v))
    }

    /// Make whatever of volumes `names` is missing (a create that was
    /// interrupted, a host that lost them): what a container about to
    /// mount them needs.
    pub(crate) fn ensure_volumes<'a>(
        &mut self,
        names: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<()> {
        let missing = names
            .clone()
            .any(|n| !self.platform.volume_exists(&self.root, n));
        if !missing {
            return Ok(());
        }
        let _locks = self.lock_objects("volume", names.clone())?;
        for n in names {
            self.ensure_volume_locked(n)?;
        }
        Ok(())
    }

    /// Names of containers whose mounts use the volume.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .containers(true)?
            .into_iter()
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == name)
            })
            .map(|c| c.name)
            .collect())
    }

    /// Remove a volume no container uses. Its storage is first moved aside
    /// (into `tmp/` under this process's name, one rename), then its row
    /// deleted, then the data: a crash leaves the volume whole, or a row
    /// whose removal `system check` finishes, or debris it removes — never
    /// a half-emptied volume that looks whole.
    pub fn volume_remove(&mut self, name: &str) -> Result<Volume> {
        let v = self.volume(name)?;
        let _lock = self.lock_object("volume", name)?;
        if self.volume_opt(name)?.is_none() {
            return Err(Error::NotFound {
                kind: "volume",
                ident: name.to_string(),
            });
        }
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::InUse(format!(
                "cannot remove volume '{name}': it is in use by containers: {}",
                users.join(", ")
            )));
        }
        let trash = self.platform.trash_volume(&self.root, name)?;
        if trash.is_none() {
            self.platform.destroy_volume(&self.root, name)?;
        }
        crate::platform::failpoint::check("volume.remove.row")?;
        let spath = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(|e| store_err(&spath, e))
        })?;
        if let Some(t) = trash {
            self.platform.remove_scratch(&self.root, &t)?;
        }
        Ok(v)
    }

    /// Remove every volume no container uses.
    pub fn volume_prune(&mut self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for v in self.volumes()? {
            if self.volume_users(&v.name)?.is_empty() {
                match self.volume_remove(&v.name) {
                    Ok(_) => removed.push(v.name),
                    // Removed or put to use by someone else meanwhile.
                    Err(Error::NotFound { .. }) | Err(Error::InUse(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}
