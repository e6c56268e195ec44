//! `system check --repair`: each repair checks again, under the object's
//! lock or claim, that what was found still holds (a live process may have
//! finished the job meanwhile), then finishes or rolls back what a dead one
//! left. Repairs never touch a running container or the data in a volume.

use rusqlite::params;

use super::{Finding, Repair};
use crate::engine::container::status_of;
use crate::engine::error::{Error, Result};
use crate::engine::store::store_err;
use crate::engine::Engine;
use crate::platform::owner;

impl Engine {
    /// Apply the repair of `f` (one of [`Engine::system_check`]'s findings).
    pub fn system_repair(&mut self, f: &Finding) -> Result<()> {
        match &f.repair {
            Repair::Unmount(p) => Ok(self.platform.unmount(p)?),
            // Another repair may be at it: wait for it, or find it done.
            Repair::FinishRemoval(id) => match self.container(id) {
                Ok(c) => self.remove_found(&c, false),
                Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            },
            Repair::FinishStart(id) => self.finish_start(id),
            Repair::FinishRun(id, pid) => {
                let c = self.container(id)?;
                match self.run_state(id)? {
                    Some(rs)
                        if rs.state == "running"
                            && rs.pid == Some(*pid)
                            && !status_of(self.platform, &rs).is_running()
                            && !rs.monitored() =>
                    {
                        self.finish_unsupervised(&c, *pid)
                    }
                    _ => Ok(()),
                }
            }
            Repair::RemoveExited(id) => match self.container(id) {
                Ok(c) if !c.status.is_running() => self.remove_found(&c, false),
                Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            },
            Repair::MakeContainerFs(id) => {
                let _lock = self.lock_object("container", id)?;
                match self.container(id) {
                    Ok(c) if c.status != super::super::Status::Removing => {
                        if !self.platform.container_fs_exists(&self.root, id) {
                            self.make_container_fs(&c)?;
                        }
                        Ok(())
                    }
                    Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Repair::DestroyContainerFs(name) => {
                if self.run_state(name)?.is_some() {
                    return Ok(());
                }
                self.platform.forget_container(name)?;
                Ok(self.platform.destroy_container_fs(&self.root, name)?)
            }
            Repair::RemoveJail(name) => Ok(self.platform.remove_jail(name)?),
            Repair::ForgetGroup(name) => {
                if owner::transient_owner(name).is_some() {
                    return Ok(self.platform.forget_container(name)?);
                }
                // Under the container's lock, which a start takes to claim
                // it: it cannot start between our look and the removal.
                let _lock = self.lock_object("container", name)?;
                match self.run_state(name)? {
                    Some(rs) if self.may_run(&rs) => Ok(()),
                    _ => Ok(self.platform.forget_container(name)?),
                }
            }
            Repair::DropLeases(o) => self.drop_leases_of(*o),
            Repair::DestroyLayer(l) => {
                if self.layer_referenced(l)? {
                    return Ok(());
                }
                self.cache_forget_layer(l)?;
                self.platform.destroy_layer(&self.root, l)?;
                crate::engine::registry::origin::forget(&self.root, l);
                Ok(())
            }
            Repair::DropCache(l) => {
                if self.platform.layer_exists(&self.root, l) {
                    return Ok(());
                }
                self.cache_forget_layer(l)
            }
            Repair::RemoveScratch(name) => Ok(self.platform.remove_scratch(&self.root, name)?),
            Repair::RemoveBlob(name) => {
                // Not while a pull has started meanwhile (it may need it).
                if !self.live_leases()?.is_empty() {
                    return Ok(());
                }
                Ok(crate::platform::fsutil::remove_tree(
                    &self.root.join("blobs").join(name),
                )?)
            }
            Repair::ForgetOrigin(id) => {
                if !self.platform.layer_exists(&self.root, id) && !self.live_leases()?.contains(id)
                {
                    crate::engine::registry::origin::forget(&self.root, id);
                }
                Ok(())
            }
            Repair::RemoveBlobPart(name) => {
                let hex = name.trim_end_matches(".part");
                let blobs = self.root.join("blobs");
                // Not while a pull has taken it up again meanwhile.
                let Some(_lock) = crate::platform::fsutil::try_lock_file(
                    &blobs.join("locks").join(format!("blob-{hex}")),
                )?
                else {
                    return Ok(());
                };
                Ok(crate::platform::fsutil::remove_tree(&blobs.join(name))?)
            }
            Repair::MakeVolume(name) => {
                let _lock = self.lock_object("volume", name)?;
                if self.volume_opt(name)?.is_some()
                    && !self.platform.volume_exists(&self.root, name)
                {
                    self.platform.create_volume(&self.root, name)?;
                }
                Ok(())
            }
            Repair::AdoptVolume(name) => self.adopt_volume(name),
            Repair::FinishVolumeRemoval(name) => {
                let _lock = self.lock_object("volume", name)?;
                if !self.platform.volume_exists(&self.root, name) {
                    let path = self.store.path().to_path_buf();
                    self.store.write(|tx| {
                        tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                            .map_err(|e| store_err(&path, e))
                            .map(drop)
                    })?;
                }
                Ok(())
            }
            Repair::MakeLink(id) => {
                let _lock = self.lock_object("network", id)?;
                match self.networks()?.into_iter().find(|n| &n.id == id) {
                    Some(n) if !self.platform.interface_exists(&n.interface) => {
                        Ok(self.platform.create_network(&n.spec())?)
                    }
                    _ => Ok(()),
                }
            }
            Repair::RemoveLink(name) => Ok(self.platform.remove_link(name)?),
            Repair::ReloadFirewall => {
                let fw = self.firewall()?;
                Ok(self.platform.reload_firewall(&self.root, &fw)?)
            }
            Repair::None => Err(Error::State(format!(
                "{} {}: cannot be repaired automatically: {}",
                f.kind, f.subject, f.action
            ))),
        }
    }

    /// Check and repair everything; returns each finding with the error its
    /// repair met, if any.
    pub fn system_check_repair(&mut self) -> Result<Vec<(Finding, Option<Error>)>> {
        let found = self.system_check()?;
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            let r = self.system_repair(&f).err();
            out.push((f, r));
        }
        Ok(out)
    }

    /// A start whose claimer died: undo what it set up (cgroup, links,
    /// firewall rules), put the row back to stopped, and remove an `--rm`
    /// container.
    fn finish_start(&mut self, id: &str) -> Result<()> {
        let path = self.store.path().to_path_buf();
        let platform = self.platform;
        let taken = self.store.write(|tx| {
            let sql = format!("{} WHERE id = ?1", crate::engine::container::SELECT);
            let rs = match tx.query_row(&sql, [id], crate::engine::container::row) {
                Ok((_, _, rs)) => rs,
                Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(false),
                Err(e) => return Err(store_err(&path, e)),
            };
            if rs.state != "starting" || rs.claimer_alive(platform) {
                return Ok(false);
            }
            let state = if rs.started.is_some() {
                "exited"
            } else {
                "created"
            };
            tx.execute(
                "UPDATE containers SET state = ?2, pid = NULL, pid_start = NULL WHERE id = ?1",
                params![id, state],
            )
            .map_err(|e| store_err(&path, e))?;
            Ok(true)
        })?;
        if !taken {
            return Ok(());
        }
        let c = self.container(id)?;
        if let Ok(spec) = self.run_spec(&c, false) {
            self.finish_run(&spec);
        }
        if c.auto_remove {
            self.remove_exited(&c, true)?;
        } else if !self.platform.container_fs_exists(&self.root, id) {
            // Killed before its filesystem was made (`run`).
            self.make_container_fs(&c)?;
        }
        Ok(())
    }

    /// Does an image, a container, the build cache or a live lease refer
    /// to layer `l`?
    pub(super) fn layer_referenced(&self, l: &str) -> Result<bool> {
        if self.layers_in_use()?.contains(l) {
            return Ok(true);
        }
        let cached: i64 = self.store.read(|c| {
            c.query_row(
                "SELECT count(*) FROM build_cache WHERE layer = ?1",
                [l],
                |r| r.get(0),
            )
        })?;
        Ok(cached > 0)
    }

    /// Give a volume directory without a row its row back (its data is
    /// never touched).
    fn adopt_volume(&mut self, name: &str) -> Result<()> {
        let _lock = self.lock_object("volume", name)?;
        if self.volume_opt(name)?.is_some() || !self.platform.volume_exists(&self.root, name) {
            return Ok(());
        }
        self.insert_volume_row(name).map(drop)
    }
}
