//! Leases: the layers a live process is making or using that no row refers
//! to yet. A layer is leased before it is made and released in the same
//! transaction as the row that refers to it is written (an image) or once
//! it is destroyed, so at every instant a layer is referred to by a row, the
//! build cache, or a lease; a layer that is none of these, or whose lease
//! holder is dead, is debris (`system check`).

use std::collections::HashSet;

use rusqlite::{params, Transaction};

use super::error::Result;
use super::store::store_err;
use super::{time, Engine};
use crate::platform::owner::Owner;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub layer: String,
    pub owner: Owner,
}

impl Engine {
    /// Lease `layers` to this process (before making them).
    pub(crate) fn lease_layers(&mut self, layers: &[String]) -> Result<()> {
        let me = Owner::me();
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            for l in layers {
                tx.execute(
                    "INSERT OR IGNORE INTO leases (layer, pid, pid_start, created) VALUES (?1, ?2, ?3, ?4)",
                    params![l, me.pid, me.start as i64, time::now()],
                )
                .map_err(|e| store_err(&path, e))?;
            }
            Ok(())
        })
    }

    /// Release this process's leases on `layers`.
    pub(crate) fn release_layers(&mut self, layers: &[String]) -> Result<()> {
        self.store.write(|tx| release_tx(tx, layers))
    }

    /// Every lease, with its holder.
    pub(crate) fn leases(&self) -> Result<Vec<Lease>> {
        self.store.read(|c| {
            let mut st = c.prepare("SELECT layer, pid, pid_start FROM leases ORDER BY created")?;
            let rows = st.query_map([], |r| {
                Ok(Lease {
                    layer: r.get(0)?,
                    owner: Owner {
                        pid: r.get(1)?,
                        start: r.get::<_, i64>(2)? as u64,
                    },
                })
            })?;
            rows.collect()
        })
    }

    /// Layers leased by live processes.
    pub(crate) fn live_leases(&self) -> Result<HashSet<String>> {
        Ok(self
            .leases()?
            .into_iter()
            .filter(|l| l.owner.alive())
            .map(|l| l.layer)
            .collect())
    }

    /// Forget the leases of a dead holder.
    pub(crate) fn drop_leases_of(&mut self, owner: Owner) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute(
                "DELETE FROM leases WHERE pid = ?1 AND pid_start = ?2",
                params![owner.pid, owner.start as i64],
            )
            .map_err(|e| store_err(&path, e))
            .map(drop)
        })
    }
}

/// Release this process's leases on `layers` inside a transaction (the one
/// that writes the row now referring to them, or after destroying them). A
/// dead process's leases on them go too: they are referred to now, or gone,
/// or (a failure's) left to `system check` as layers nothing refers to; a
/// pull killed, then done again, would otherwise still be reported.
pub(crate) fn release_tx(tx: &Transaction, layers: &[String]) -> Result<()> {
    let err = |e| store_err(std::path::Path::new("metadata.sqlite"), e);
    let me = Owner::me();
    for l in layers {
        let holders: Vec<Owner> = {
            let mut st = tx
                .prepare("SELECT pid, pid_start FROM leases WHERE layer = ?1")
                .map_err(err)?;
            let rows = st
                .query_map([l], |r| {
                    Ok(Owner {
                        pid: r.get(0)?,
                        start: r.get::<_, i64>(1)? as u64,
                    })
                })
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        for o in holders.into_iter().filter(|o| *o == me || !o.alive()) {
            tx.execute(
                "DELETE FROM leases WHERE layer = ?1 AND pid = ?2 AND pid_start = ?3",
                params![l, o.pid, o.start as i64],
            )
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Of `candidates`, the layers nothing else uses (no image, no container,
/// no live lease but this process's own), leased to this process in the
/// transaction that decides: nobody can start using them meanwhile, and a
/// crash while destroying them leaves a dead lease, which `system check`
/// turns into its layers' removal. The caller destroys them (top first) and
/// then releases them.
pub(crate) fn claim_unused_tx(
    tx: &Transaction,
    platform: &dyn crate::platform::Platform,
    candidates: &[String],
) -> Result<Vec<String>> {
    let err = |e| store_err(std::path::Path::new("metadata.sqlite"), e);
    let me = Owner::me();
    let mut used: HashSet<String> = HashSet::new();
    for (table, kind) in [("images", "image"), ("containers", "container")] {
        let mut st = tx
            .prepare(&format!("SELECT id, data FROM {table}"))
            .map_err(err)?;
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(err)?;
        for (id, data) in rows {
            #[derive(serde::Deserialize)]
            struct Layers {
                #[serde(default)]
                layers: Vec<String>,
            }
            let l: Layers = super::error::decode(kind, &id, &data)?;
            used.extend(l.layers);
        }
    }
    let mut st = tx
        .prepare("SELECT layer, pid, pid_start FROM leases")
        .map_err(err)?;
    let leases: Vec<(String, i32, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|r| r.collect())
        .map_err(err)?;
    for (layer, pid, start) in leases {
        let mine = pid == me.pid && start as u64 == me.start;
        if !mine && platform.alive(pid, start as u64) {
            used.insert(layer);
        }
    }
    let victims: Vec<String> = candidates
        .iter()
        .filter(|l| !used.contains(*l))
        .cloned()
        .collect();
    for l in &victims {
        tx.execute(
            "INSERT OR IGNORE INTO leases (layer, pid, pid_start, created) VALUES (?1, ?2, ?3, ?4)",
            params![l, me.pid, me.start as i64, time::now()],
        )
        .map_err(err)?;
        tx.execute("DELETE FROM build_cache WHERE layer = ?1", [l])
            .map_err(err)?;
    }
    Ok(victims)
}
