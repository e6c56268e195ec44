//! Talking to running containers: `kill` (a signal), `wait` (for the end).

use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::{Engine, Status};

impl Engine {
    /// A running container, or why not.
    fn running(&self, ident: &str) -> Result<(super::Container, i32)> {
        let c = self.container(ident)?;
        match c.status {
            Status::Running { pid, .. } => Ok((c, pid)),
            _ => Err(Error::State(format!(
                "container '{}' ({}) is not running",
                c.name, c.id
            ))),
        }
    }

    /// The processes of a running container (`klee top`).
    pub fn container_top(&self, ident: &str) -> Result<Vec<crate::platform::ProcessInfo>> {
        let (c, pid) = self.running(ident)?;
        Ok(self.platform.container_processes(&c.id, pid)?)
    }

    /// What a running container uses now (`klee stats`).
    pub fn container_usage(
        &self,
        ident: &str,
    ) -> Result<(super::Container, crate::platform::Usage)> {
        let (c, _) = self.running(ident)?;
        let u = self.platform.container_usage(&c.id)?;
        Ok((c, u))
    }

    /// Send `signal` to a running container (Linux: its init; FreeBSD:
    /// every process in its jail). Unlike `stop`, nothing is waited for.
    pub fn container_kill(&mut self, ident: &str, signal: i32) -> Result<super::Container> {
        let c = self.container(ident)?;
        let Status::Running { pid, .. } = c.status else {
            return Err(Error::State(format!(
                "container '{}' ({}) is not running",
                c.name, c.id
            )));
        };
        self.platform.kill_container(&c.id, pid, signal)?;
        Ok(c)
    }

    /// Wait until a container is no longer running (a removed one counts
    /// as ended); its exit code, when it has one. `timeout` bounds it.
    pub fn container_wait(
        &mut self,
        ident: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<i32>> {
        let id = self.container(ident)?.id;
        let deadline = timeout.map(|t| Instant::now() + t);
        // An exit without a code yet: its supervisor may still be writing
        // it (the row and the process are not read at one instant).
        let mut codeless: Option<Instant> = None;
        loop {
            let c = match self.container(&id) {
                Ok(c) => c,
                Err(Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            match c.status {
                // Its init is gone but its supervisor has not recorded the
                // exit yet (it is about to): wait for the code.
                Status::Exited { code: None, .. } if self.exit_being_recorded(&id)? => {}
                Status::Exited { code: None, .. }
                    if codeless.get_or_insert_with(Instant::now).elapsed()
                        < Duration::from_secs(2) => {}
                Status::Exited { code, .. } => return Ok(code),
                Status::Created => return Ok(None),
                _ => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::State(format!(
                    "container '{}' ({}) is still running",
                    c.name, c.id
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Does the row still say running while its supervisor lives?
    fn exit_being_recorded(&self, id: &str) -> Result<bool> {
        Ok(self
            .run_state(id)?
            .is_some_and(|rs| rs.state == "running" && rs.monitored()))
    }
}
