//! Changing a container's configuration: rename and update (including
//! the limits of a running container).

use super::container::{dedup_env, RestartPolicy};
use super::error::Result;
use super::limits::LimitOptions;
use super::{id, Container, Engine};

impl Engine {
    pub fn container_rename(&mut self, ident: &str, new_name: &str) -> Result<Container> {
        id::check_name("container name", new_name)?;
        let mut c = self.container(ident)?;
        c.name = new_name.trim_start_matches('/').to_string();
        self.save_container(&c)?;
        Ok(c)
    }

    /// Change what the next start uses; only the fields given change.
    pub fn container_update(&mut self, ident: &str, u: &ContainerUpdate) -> Result<Container> {
        let mut c = self.container(ident)?;
        if let Some(n) = &u.name {
            id::check_name("container name", n)?;
            c.name = n.trim_start_matches('/').to_string();
        }
        if let Some(user) = &u.user {
            c.user = user.clone();
        }
        if !u.env.is_empty() {
            let mut env = c.env.clone();
            env.extend(u.env.iter().cloned());
            c.env = dedup_env(&env);
        }
        if !u.cmd.is_empty() {
            c.cmd = u.cmd.clone();
        }
        if !u.jail_param.is_empty() {
            // Checked like at create; a running jail takes the new
            // parameters now; if it refuses, nothing is saved (kleened's rule).
            c.security.confinement(&u.jail_param, c.fly)?;
            self.platform.check_jail_params(&u.jail_param)?;
            c.jail_param = u.jail_param.clone();
            if c.status.is_running() {
                self.platform.update_params(&c.id, &c.jail_param)?;
            }
        }
        if !u.limits.is_empty() {
            let new = c.limits.merged(&u.limits.parse_update()?);
            self.platform.check_limits(&new)?;
            // A running container gets them at once; if the kernel refuses
            // (e.g. memory below what it uses), nothing is saved.
            if c.status.is_running() {
                self.platform.update_limits(&c.id, &c.limits, &new)?;
            }
            c.limits = new;
        }
        if let Some(p) = u.persist {
            c.persist = p;
        }
        if let Some(r) = u.restart_policy {
            c.restart_policy = r;
        }
        self.save_container(&c)?;
        Ok(c)
    }
}

/// Fields of `update`; `None`/empty leaves the stored value alone (kleened
/// reset absent fields to defaults — a known bug not carried over).
#[derive(Debug, Clone, Default)]
pub struct ContainerUpdate {
    pub name: Option<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub jail_param: Vec<String>,
    pub persist: Option<bool>,
    pub restart_policy: Option<RestartPolicy>,
    /// Limits to change (`0`/`-1` removes one).
    pub limits: LimitOptions,
}
