//! Volumes: named directories (datasets on FreeBSD) mounted into containers.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::store::{is_unique_violation, store_err};
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
    /// kleened do).
    pub fn volume_create(&mut self, name: &str) -> Result<Volume> {
        if !id::valid_name(name) {
            return Err(Error::invalid(
                "volume name",
                name,
                "it must match [a-zA-Z0-9][a-zA-Z0-9_.-]+",
            ));
        }
        if let Some(v) = self.volume_opt(name)? {
            return Ok(v);
        }
        let path = self.platform.create_volume(&self.root, name)?;
        let v = Volume {
            name: name.to_string(),
            created: time::now(),
            mountpoint: path.display().to_string(),
        };
        let data = serde_json::to_string(&v).expect("volume serialises");
        let spath = self.store.path().to_path_buf();
        let r = self.store.write(|tx| {
            tx.execute(
                "INSERT INTO volumes (name, created, data) VALUES (?1, ?2, ?3)",
                params![v.name, v.created, data],
            )
            .map_err(|e| store_err(&spath, e))
        });
        match r {
            Ok(_) => Ok(v),
            // Another process made it meanwhile: theirs stands, the directory is shared.
            Err(Error::Store { source, .. }) if is_unique_violation(&source) => self.volume(name),
            Err(e) => {
                let _ = self.platform.destroy_volume(&self.root, name);
                Err(e)
            }
        }
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

    pub fn volume_remove(&mut self, name: &str) -> Result<Volume> {
        let v = self.volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::InUse(format!(
                "cannot remove volume '{name}': it is in use by containers: {}",
                users.join(", ")
            )));
        }
        let spath = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(|e| store_err(&spath, e))
        })?;
        self.platform.destroy_volume(&self.root, name)?;
        Ok(v)
    }

    /// Remove every volume no container uses.
    pub fn volume_prune(&mut self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for v in self.volumes()? {
            if self.volume_users(&v.name)?.is_empty() {
                self.volume_remove(&v.name)?;
                removed.push(v.name);
            }
        }
        Ok(removed)
    }
}
