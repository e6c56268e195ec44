//! Starting, supervising, stopping and removing containers.
//!
//! Attached, the calling process supervises: it waits for the container's
//! init and records the exit. Detached, a small monitor process (a fork of
//! this binary, daemonised) does the same, so no daemon is needed.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::params;

use super::container::{status_of, Container, ContainerConfig, RunState, Status};
use super::error::{Error, Result};
use super::store::store_err;
use super::{time, Engine};
use crate::platform::failpoint;
use crate::platform::owner::Owner;
use crate::platform::{term, ExecSpec, ExitDetails, MountSpec, RunSpec, Started, Stdio};

/// How a start relates to the caller's terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Wait for the process, with our stdio (or a pty) connected.
    Attached { tty: bool, stdin: bool },
    /// Return once it runs; output goes to the container's log.
    Detached,
}

impl Attach {
    pub(crate) fn stdio(self) -> Stdio {
        match self {
            Attach::Attached { tty: true, .. } => Stdio::Pty,
            Attach::Attached { stdin, .. } => Stdio::Inherit { stdin },
            Attach::Detached => Stdio::Inherit { stdin: false },
        }
    }
}

impl Engine {
    pub(crate) fn run_spec(&self, c: &Container, tty: bool) -> Result<RunSpec> {
        let conf = c.security.confinement(&c.jail_param, c.fly)?;
        let attachments = self.attachments(&c.id).unwrap_or_default();
        // Peers only on a network: no second endpoint read on the common,
        // unnetworked start.
        let peers = if attachments.is_empty() {
            Vec::new()
        } else {
            self.peers(&c.id)
        };
        Ok(RunSpec {
            id: c.id.clone(),
            name: c.name.clone(),
            hostname: conf.hostname.unwrap_or_else(|| c.id.clone()),
            layers: c
                .layers
                .iter()
                .map(|l| self.platform.layer_path(&self.root, l))
                .collect(),
            container_dir: self.platform.container_dir(&self.root, &c.id),
            mounts: c
                .mounts
                .iter()
                .map(|m| MountSpec {
                    source: if m.kind == "volume" {
                        self.platform.volume_path(&self.root, &m.source)
                    } else {
                        PathBuf::from(&m.source)
                    },
                    destination: m.destination.clone(),
                    read_only: m.read_only,
                    populate: m.kind == "volume",
                })
                .collect(),
            process: ExecSpec {
                container: c.id.clone(),
                cmd: c.cmd.clone(),
                env: c.env.clone(),
                user: c.user.clone(),
                workdir: c.workdir.clone(),
                tty,
                profile: conf.profile,
                exact: None,
            },
            fly: c.fly,
            ephemeral: c.auto_remove,
            jail_params: c.jail_param.clone(),
            network_driver: c.network_driver.clone(),
            attachments,
            dns: c.dns.clone(),
            limits: c.limits,
            die_with_caller: false,
            extra_hosts: [c.extra_hosts.clone(), peers].concat(),
            bundle: None,
        })
    }

    /// `NAME:IP` lines for the other containers on this container's
    /// networks (their names and IDs at their addresses there), so
    /// containers reach each other by name. Written at start: a container
    /// sees the peers connected by then (in a compose-like order, the
    /// services it depends on).
    fn peers(&self, id: &str) -> Vec<String> {
        let (Ok(endpoints), Ok(containers)) = (self.endpoints(), self.container_configs()) else {
            return Vec::new();
        };
        super::hosts::peers_in(id, &endpoints, &containers)
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.platform.log_path(&self.root, id)
    }

    /// Mark the container as starting, claimed by this process; refuse if it
    /// runs. Returns the previous state, to put back if the start fails.
    fn claim_start(&mut self, c: &Container) -> Result<RunState> {
        let platform = self.platform;
        let path = self.store.path().to_path_buf();
        let crate::platform::owner::Owner {
            pid: me,
            start: my_start,
        } = crate::platform::owner::Owner::me();
        self.store.write(|tx| {
            let sql = format!("{} WHERE id = ?1", super::container::SELECT);
            let (_, _, rs) =
                tx.query_row(&sql, [&c.id], super::container::row)
                    .map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Error::NotFound {
                            kind: "container",
                            ident: c.id.clone(),
                        },
                        e => store_err(&path, e),
                    })?;
            let status = status_of(platform, &rs);
            if !status.can_start() {
                return Err(cannot_start(c, &status));
            }
            tx.execute(
                "UPDATE containers SET state = 'starting', pid = ?2, pid_start = ?3 WHERE id = ?1",
                params![c.id, me, my_start as i64],
            )
            .map_err(|e| store_err(&path, e))?;
            Ok(rs)
        })
    }

    /// The monitor takes over the start its caller claimed: from here on
    /// the caller may die without the start looking abandoned.
    fn transfer_claim(&mut self, id: &str) -> Result<()> {
        let me = Owner::me();
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET pid = ?2, pid_start = ?3 WHERE id = ?1 AND state = 'starting'",
                params![id, me.pid, me.start as i64],
            )
            .map_err(|e| store_err(&path, e))
            .map(drop)
        })
    }

    fn restore_state(&mut self, id: &str, rs: &RunState) {
        let path = self.store.path().to_path_buf();
        let state = if rs.state == "starting" || rs.state == "running" {
            "exited"
        } else {
            rs.state.as_str()
        };
        let _ = self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET state = ?2, pid = ?3, pid_start = ?4, exit_code = ?5, started = ?6, finished = ?7 WHERE id = ?1",
                params![id, state, rs.pid, rs.pid_start, rs.exit_code, rs.started, rs.finished],
            )
            .map_err(|e| store_err(&path, e))
        });
    }

    fn record_running(&mut self, id: &str, pid: i32) -> Result<()> {
        let path = self.store.path().to_path_buf();
        let start_time = self.platform.start_time(pid);
        self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET state = 'running', pid = ?2, pid_start = ?3, started = ?4, exit_code = NULL, finished = NULL, monitor = ?5 WHERE id = ?1",
                params![id, pid, start_time as i64, time::now(), Owner::me().tag()],
            )
            .map_err(|e| store_err(&path, e))
            .map(drop)
        })
    }

    fn record_exit(
        &mut self,
        id: &str,
        pid: i32,
        code: Option<i32>,
        details: ExitDetails,
    ) -> Result<()> {
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET state = 'exited', exit_code = ?3, finished = ?4, oom_killed = ?5 WHERE id = ?1 AND pid = ?2 AND state = 'running'",
                params![id, pid, code, time::now(), details.oom_killed],
            )
            .map_err(|e| store_err(&path, e))
            .map(drop)
        })
    }

    /// Start a container. Attached, returns the process's exit code (128+N
    /// for signal N); detached, returns `None` once it runs.
    pub fn container_start(&mut self, ident: &str, attach: Attach) -> Result<Option<i32>> {
        let c = self.container(ident)?;
        if !c.status.can_start() {
            return Err(cannot_start(&c, &c.status));
        }
        self.check_ports_reachable(&c)?;
        self.ensure_container_parts(&c)?;
        // Claimed under the container's lock, which `system check` takes
        // before it removes the cgroup of a container that is not running.
        let prev = {
            let _lock = self.lock_object("container", &c.id)?;
            self.claim_start(&c)?
        };
        match attach {
            Attach::Attached { tty, stdin } => self.start_attached(&c, prev, tty, stdin).map(Some),
            Attach::Detached => self.start_detached(&c, prev).map(|_| None),
        }
    }

    /// Create and start in one go. If the start fails, the container is
    /// removed again: a failed `run` leaves nothing behind.
    pub fn container_run(
        &mut self,
        cfg: &ContainerConfig,
        attach: Attach,
    ) -> Result<(Container, Option<i32>)> {
        let c = self.create_claimed(cfg, true)?;
        crate::platform::trace::mark("container created");
        let created = RunState {
            state: "created".into(),
            ..Default::default()
        };
        if let Err(e) = self.check_ports_reachable(&c) {
            // Still claimed for its start: released, then removed.
            self.restore_state(&c.id, &created);
            let _ = self.container_remove(&c.id, true);
            return Err(e);
        }
        let r = match attach {
            Attach::Attached { tty, stdin } => {
                self.start_attached(&c, created, tty, stdin).map(Some)
            }
            Attach::Detached => self.start_detached(&c, created).map(|_| None),
        };
        match r {
            Ok(code) => Ok((c, code)),
            Err(e) => {
                let _ = self.container_remove(&c.id, true);
                Err(e)
            }
        }
    }

    /// What a container about to start needs and an interrupted operation
    /// may have left unmade: its filesystem, its volumes' directories.
    fn ensure_container_parts(&mut self, c: &Container) -> Result<()> {
        if !self.platform.container_fs_exists(&self.root, &c.id) {
            self.make_container_fs(c)?;
        }
        let volumes: Vec<String> = c
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.source.clone())
            .collect();
        self.ensure_volumes(volumes.iter().map(String::as_str))
    }

    /// Links and firewall for a container about to start; the spec gets
    /// the links' names.
    fn prepare_start(&mut self, spec: &mut RunSpec) -> Result<()> {
        if spec.attachments.is_empty() {
            return Ok(());
        }
        self.platform.prepare_links(spec)?;
        self.save_links(&spec.attachments, false)?;
        // pf must know the new links before the jail starts (kleened's order).
        self.reload_firewall()
    }

    /// After the init ended (or the start failed): mounts, links and the
    /// cgroup go; says whether the OOM killer struck.
    pub(crate) fn finish_run(&mut self, spec: &RunSpec) -> ExitDetails {
        let details = self.platform.after_exit(spec).unwrap_or_default();
        if !spec.attachments.is_empty() {
            let _ = self.save_links(&spec.attachments, true);
            let _ = self.reload_firewall();
        }
        details
    }

    fn start_attached(
        &mut self,
        c: &Container,
        prev: RunState,
        tty: bool,
        stdin: bool,
    ) -> Result<i32> {
        let mut spec = match self.run_spec(c, tty) {
            Ok(s) => s,
            Err(e) => {
                self.restore_state(&c.id, &prev);
                return Err(Error::Start {
                    container: c.name.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let started = self
            .prepare_start(&mut spec)
            .and_then(|_| self.start_recorded(c, &spec, &Attach::Attached { tty, stdin }.stdio()));
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                self.finish_run(&spec);
                self.restore_state(&c.id, &prev);
                return Err(Error::Start {
                    container: c.name.clone(),
                    reason: e.to_string(),
                });
            }
        };
        self.supervise(c, started, stdin, &spec)
    }

    /// Start the init and record it running. The record is written as soon
    /// as the process exists, while it still sets itself up (so the two
    /// overlap; it shows as running a moment early). If it cannot be
    /// written, the process is killed.
    fn start_recorded(&mut self, c: &Container, spec: &RunSpec, stdio: &Stdio) -> Result<Started> {
        let platform = self.platform;
        let mut recorded = None;
        let started = platform.start_with(spec, stdio, &mut |pid| {
            recorded = Some(self.record_running(&c.id, pid));
        })?;
        match recorded.unwrap_or_else(|| self.record_running(&c.id, started.pid)) {
            Ok(()) => {
                if !spec.attachments.is_empty() {
                    // Its peers learn its names (and it theirs, at start).
                    self.refresh_hosts(&self.hosts_concerned(&c.id));
                }
                Ok(started)
            }
            Err(e) => {
                let _ = self.platform.signal(started.pid, libc::SIGKILL);
                let _ = self.platform.wait(started.pid);
                Err(e)
            }
        }
    }

    /// Wait for the container's init, with signals forwarded and the pty
    /// relayed, then record how it ended.
    fn supervise(
        &mut self,
        c: &Container,
        started: Started,
        stdin: bool,
        spec: &RunSpec,
    ) -> Result<i32> {
        term::forward_signals_to(started.pid);
        // A crash here leaves the container running with nobody to record
        // its end (as kill -9 of an attached `klee run`).
        let _ = crate::platform::failpoint::check("container.supervise");
        let prober = self.start_health_checks(c);
        if let Some(master) = &started.pty_master {
            term::relay_pty(master, stdin);
        }
        let status = self.platform.wait_container(spec, started.pid);
        drop(prober);
        let status = status?;
        crate::platform::trace::mark("exited");
        term::forward_signals_to(0);
        if c.auto_remove && spec.attachments.is_empty() {
            // Nobody reads how it ended: its cgroup goes while its row and
            // directory do (the cgroup's rmdirs are slow syscalls).
            let platform = self.platform;
            std::thread::scope(|s| {
                let cg = s.spawn(|| {
                    let r = platform.after_exit(spec);
                    crate::platform::trace::mark("cgroup removed");
                    r
                });
                let r = self.remove_ephemeral(c);
                crate::platform::trace::mark("row and directory removed");
                let _ = cg.join();
                r
            })?;
            return Ok(status.code());
        }
        let details = self.finish_run(spec);
        if c.auto_remove {
            // It has just been reaped: remove it without recording an exit
            // nobody will read (finish_run already took its cgroup); its
            // peers forget its names.
            let concerned = self.hosts_concerned(&c.id);
            self.remove_exited(c, false)?;
            self.refresh_hosts(&concerned);
        } else {
            self.record_exit(&c.id, started.pid, Some(status.code()), details)?;
        }
        Ok(status.code())
    }

    fn start_detached(&mut self, c: &Container, prev: RunState) -> Result<()> {
        let log_path = self.log_path(&c.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("cannot open container log", &log_path, e));
        let log = match log {
            Ok(l) => l,
            Err(e) => {
                self.restore_state(&c.id, &prev);
                return Err(e);
            }
        };
        let report = self.with_store_closed(|this| {
            crate::platform::daemonize(|report| {
                // In the monitor: its own store connection, stdio off the caller's.
                if this.reopen_store().is_err() || this.transfer_claim(&c.id).is_err() {
                    report(b"Ecannot open the metadata store in the monitor");
                    return;
                }
                let mut spec = match this.run_spec(c, false) {
                    Ok(s) => s,
                    Err(e) => {
                        this.restore_state(&c.id, &prev);
                        report(format!("E{e}").as_bytes());
                        return;
                    }
                };
                // The output goes through us to the log, each line's time
                // beside it (`logs --timestamps`); straight to the log if
                // the relay cannot be made.
                let relay = super::logtimes::relay_output(&log_path, &log);
                let fd = match &relay {
                    Some(r) => r.writer.as_raw_fd(),
                    None => log.as_raw_fd(),
                };
                let started = this.prepare_start(&mut spec).and_then(|_| {
                    this.start_recorded(c, &spec, &Stdio::Files { out: fd, err: fd })
                });
                // The thread starts once the container was cloned (a clone
                // wants a single-threaded caller; the pipe holds the output
                // meanwhile), and the container has its own write ends.
                let relay = relay.and_then(super::logtimes::Relay::spawn);
                match started {
                    Err(e) => {
                        this.finish_run(&spec);
                        this.restore_state(&c.id, &prev);
                        report(format!("E{e}").as_bytes());
                        if let Some(t) = relay {
                            let _ = t.join();
                        }
                    }
                    Ok(started) => {
                        drop(log);
                        // Its health is `starting` before the caller returns.
                        let prober = this.start_health_checks(c);
                        report(b"OK");
                        let _ = failpoint::check("container.monitor");
                        let code = this
                            .platform
                            .wait_container(&spec, started.pid)
                            .map(|s| s.code())
                            .ok();
                        drop(prober);
                        // Every process of the container is gone: the rest
                        // of its output is in the pipe.
                        if let Some(t) = relay {
                            let _ = t.join();
                        }
                        let details = this.finish_run(&spec);
                        let _ = this.record_exit(&c.id, started.pid, code, details);
                        if c.auto_remove {
                            let _ = this.container_remove(&c.id, false);
                        }
                    }
                }
            })
        })??;
        match report.as_slice() {
            b"OK" => Ok(()),
            [b'E', msg @ ..] => Err(Error::Start {
                container: c.name.clone(),
                reason: String::from_utf8_lossy(msg).into_owned(),
            }),
            _ => {
                self.restore_state(&c.id, &prev);
                Err(Error::Start {
                    container: c.name.clone(),
                    reason: "the monitor process died before the container started".into(),
                })
            }
        }
    }

    /// SIGTERM, then SIGKILL after `timeout`; returns once the process is gone.
    pub fn container_stop(&mut self, ident: &str, timeout: Duration) -> Result<Container> {
        let c = self.container(ident)?;
        let Status::Running { pid, .. } = c.status else {
            return Err(Error::State(format!(
                "container '{}' ({}) is not running",
                c.name, c.id
            )));
        };
        let pid = if pid == 0 {
            self.wait_for_pid(&c.id)?
        } else {
            pid
        };
        self.kill_and_wait(&c, pid, timeout)?;
        self.container(&c.id)
    }

    /// A container in the middle of starting: wait for its init's pid.
    fn wait_for_pid(&self, id: &str) -> Result<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(rs) = self.run_state(id)? {
                match (rs.state.as_str(), rs.pid) {
                    ("running", Some(p)) => return Ok(p),
                    ("starting", _) => {}
                    _ => break,
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(Error::State(format!(
            "container '{id}' did not finish starting"
        )))
    }

    fn kill_and_wait(&mut self, c: &Container, pid: i32, timeout: Duration) -> Result<()> {
        let start_time = self
            .run_state(&c.id)?
            .and_then(|r| r.pid_start)
            .unwrap_or(0) as u64;
        let gone = |e: &Engine, within: Duration| {
            let deadline = Instant::now() + within;
            loop {
                // (A jail outlives its command while daemons run in it.)
                if !e.platform.container_running(&c.id, pid, start_time) {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        if !timeout.is_zero() {
            self.platform
                .stop_container(&c.id, pid, libc::SIGTERM, &c.jail_param)?;
        }
        if !gone(self, timeout) {
            self.platform
                .stop_container(&c.id, pid, libc::SIGKILL, &c.jail_param)?;
            if !gone(self, Duration::from_secs(10)) {
                return Err(Error::State(format!(
                    "container '{}' ({}) did not die after SIGKILL",
                    c.name, c.id
                )));
            }
        }
        // Give the supervisor a moment to record the exit code; if there is
        // none (it was killed), finish the run for it, the code unknown.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.run_state(&c.id)? {
                Some(rs) if rs.state == "running" && rs.pid == Some(pid) && rs.monitored() => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Some(rs) if rs.state == "running" && rs.pid == Some(pid) => break,
                _ => return Ok(()),
            }
        }
        self.finish_unsupervised(c, pid)
    }

    /// Record the end of a run nobody supervises any more (its supervisor
    /// was killed) and undo what its start set up: its cgroup, links and
    /// firewall rules; an `--rm` container is removed.
    pub(crate) fn finish_unsupervised(&mut self, c: &Container, pid: i32) -> Result<()> {
        let details = match self.run_spec(c, false) {
            Ok(spec) => self.finish_run(&spec),
            Err(_) => ExitDetails::default(),
        };
        self.record_exit(&c.id, pid, None, details)?;
        if c.auto_remove {
            self.remove_exited(c, true)?;
        }
        Ok(())
    }

    pub fn container_restart(&mut self, ident: &str, timeout: Duration) -> Result<Container> {
        let c = self.container(ident)?;
        if c.status.is_running() {
            self.container_stop(&c.id, timeout)?;
        }
        self.container_start(&c.id, Attach::Detached)?;
        self.container(&c.id)
    }

    /// Remove a container; with `force` a running one is killed first. A
    /// container that goes meanwhile (its `--rm` supervisor removed it) is
    /// removed, as asked.
    pub fn container_remove(&mut self, ident: &str, force: bool) -> Result<Container> {
        let c = self.container(ident)?;
        let concerned = self.hosts_concerned(&c.id);
        let r = match self.remove_found(&c, force) {
            Err(Error::NotFound { .. }) => Ok(c),
            other => other.map(|_| c),
        };
        if r.is_ok() {
            self.refresh_hosts(&concerned);
        }
        r
    }

    pub(super) fn remove_found(&mut self, c: &Container, force: bool) -> Result<()> {
        if c.status == Status::Removing {
            // Someone removes it now: wait for them to finish.
            let deadline = Instant::now() + Duration::from_secs(30);
            while let Some(rs) = self.run_state(&c.id)? {
                if rs.state != "removing" || !rs.claimer_alive(self.platform) {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(Error::State(format!(
                        "container '{}' ({}) is being removed by process {}",
                        c.name,
                        c.id,
                        rs.pid.unwrap_or(0)
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if self.run_state(&c.id)?.is_none() {
                return Ok(());
            }
        }
        if let Status::Running { pid, .. } = c.status {
            if !force {
                return Err(Error::State(format!(
                    "cannot remove running container '{}' ({}): stop it first or use --force",
                    c.name, c.id
                )));
            }
            let pid = if pid == 0 {
                self.wait_for_pid(&c.id)?
            } else {
                pid
            };
            self.kill_and_wait(c, pid, Duration::ZERO)?;
        }
        let attached = !self.attachments(&c.id)?.is_empty();
        self.remove_exited(c, true)?;
        if attached {
            // Its addresses and published ports leave the firewall now.
            self.reload_firewall()?;
        }
        Ok(())
    }

    /// The end of a `--rm` container without networks that this process
    /// ran in the foreground: its row goes in one write, then its
    /// directory — an empty mount point, since its files lived in a tmpfs
    /// of its own mount namespace. A crash in between leaves an empty
    /// directory no row names, which `system check --repair` removes. (The
    /// general removal marks the row first: it has files to lose.)
    fn remove_ephemeral(&mut self, c: &Container) -> Result<()> {
        let platform = self.platform;
        let path = self.store.path().to_path_buf();
        let me = Owner::me();
        self.store.write(|tx| {
            let sql = format!("{} WHERE id = ?1", super::container::SELECT);
            let (_, _, rs) = tx
                .query_row(&sql, [&c.id], super::container::row)
                .map_err(|e| store_err(&path, e))?;
            if status_of(platform, &rs).is_running()
                || (rs.state == "removing" && rs.claimer_alive(platform) && rs.pid != Some(me.pid))
            {
                return Err(Error::State(format!(
                    "container '{}' ({}) was started or is being removed meanwhile",
                    c.name, c.id
                )));
            }
            Engine::forget_endpoints(tx, &c.id).map_err(|e| store_err(&path, e))?;
            tx.execute("DELETE FROM containers WHERE id = ?1", [&c.id])
                .map_err(|e| store_err(&path, e))
                .map(drop)
        })?;
        failpoint::check("container.remove.fs")?;
        Ok(self.platform.destroy_container_fs(&self.root, &c.id)?)
    }

    /// Remove a container that is not running: its row is marked
    /// `removing` (claimed by this process), its filesystem destroyed, then
    /// the row deleted. A crash in between leaves a `removing` row, which
    /// `rm` or `system check --repair` finishes; if the filesystem cannot
    /// go, the row is put back as it was. `forget`: also what a supervisor
    /// that did not see the end would have removed (the cgroup).
    pub(crate) fn remove_exited(&mut self, c: &Container, forget: bool) -> Result<()> {
        let ident = c.id.as_str();
        let platform = self.platform;
        let path = self.store.path().to_path_buf();
        let me = Owner::me();
        let rs = self.store.write(|tx| {
            let sql = format!("{} WHERE id = ?1", super::container::SELECT);
            let (_, _, rs) =
                tx.query_row(&sql, [&c.id], super::container::row)
                    .map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Error::NotFound {
                            kind: "container",
                            ident: ident.to_string(),
                        },
                        e => store_err(&path, e),
                    })?;
            if status_of(platform, &rs).is_running() {
                return Err(Error::State(format!(
                    "cannot remove running container '{}' ({}): it was started meanwhile",
                    c.name, c.id
                )));
            }
            if rs.state == "removing" && rs.claimer_alive(platform) && rs.pid != Some(me.pid) {
                return Err(Error::State(format!(
                    "container '{}' ({}) is being removed by process {}",
                    c.name,
                    c.id,
                    rs.pid.unwrap_or(0)
                )));
            }
            tx.execute(
                "UPDATE containers SET state = 'removing', pid = ?2, pid_start = ?3 WHERE id = ?1",
                params![c.id, me.pid, me.start as i64],
            )
            .map_err(|e| store_err(&path, e))?;
            Ok(rs)
        })?;
        if forget {
            // A group its supervisor did not live to remove.
            let _ = self.platform.forget_container(&c.id);
        }
        if let Err(e) = self.platform.destroy_container_fs(&self.root, &c.id) {
            // Put the state back: the container stays whole, and rm can be retried.
            let state = if rs.state == "removing" {
                "exited"
            } else {
                rs.state.as_str()
            };
            self.store.write(|tx| {
                tx.execute(
                    "UPDATE containers SET state = ?2, pid = ?3, pid_start = ?4 WHERE id = ?1",
                    params![c.id, state, rs.pid, rs.pid_start],
                )
                .map_err(|e| store_err(&path, e))
            })?;
            return Err(e.into());
        }
        failpoint::check("container.remove.row")?;
        self.delete_container_row(&c.id)
    }

    /// Remove every stopped container that is not marked persistent.
    pub fn container_prune(&mut self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.containers(true)? {
            if !c.status.is_running() && !c.persist {
                match self.container_remove(&c.id, false) {
                    Ok(_) => removed.push(c.id),
                    // Started or removed by someone else meanwhile: not ours to prune.
                    Err(Error::State(_)) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// The log from byte `from` on, and each of its lines' time (its byte
    /// range in what is returned, Unix nanoseconds; lines from before times
    /// were kept get the container's creation time).
    pub fn container_logs_timed(
        &self,
        ident: &str,
        from: u64,
    ) -> Result<(Vec<u8>, Vec<super::logtimes::TimedLine>)> {
        let c = self.container(ident)?;
        let p = self.log_path(&c.id);
        let data = read_log(&p, from)?;
        let records = super::logtimes::read(&super::logtimes::times_path(&p));
        let created = super::time::parse_time(&c.created)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let lines = super::logtimes::lines(&data, from, &records, created);
        Ok((data, lines))
    }

    /// The output of a detached container so far.
    pub fn container_logs(&self, ident: &str) -> Result<Vec<u8>> {
        let c = self.container(ident)?;
        read_log(&self.log_path(&c.id), 0)
    }
}

impl Engine {
    /// Published ports need an address to forward to (a container on no
    /// network, or on networks without a subnet, would publish nothing) and
    /// host ports no program on the host holds.
    fn check_ports_reachable(&self, c: &Container) -> Result<()> {
        if c.public_ports.is_empty() {
            return Ok(());
        }
        let reachable = self.endpoints()?.iter().any(|ep| {
            ep.container_id == c.id && !(ep.ip_address.is_empty() && ep.ip_address6.is_empty())
        });
        if reachable {
            // A host program listening on a published port would lose its
            // connections to the container without a word.
            for p in &c.public_ports {
                if let Some(port) = p.held_on_host() {
                    return Err(Error::Conflict(format!(
                        "container '{}' ({}) publishes {} but a program on the host is using port {port}/{}: stop it or publish another port",
                        c.name,
                        c.id,
                        p.describe(),
                        p.protocol
                    )));
                }
            }
            return Ok(());
        }
        let ports: Vec<String> = c.public_ports.iter().map(|p| p.describe()).collect();
        Err(Error::State(format!(
            "container '{}' ({}) publishes {} but has no address on any network to forward to: connect it to a network with a subnet (klee network connect NETWORK {}), or create it with -n NETWORK",
            c.name,
            c.id,
            ports.join(", "),
            c.name
        )))
    }
}

/// Why a container in `status` cannot start.
fn cannot_start(c: &Container, status: &Status) -> Error {
    let why = match status {
        Status::Removing => {
            "is being removed (if its removal was interrupted, `klee rm` finishes it)"
        }
        _ => "is already running",
    };
    Error::State(format!("container '{}' ({}) {why}", c.name, c.id))
}

/// A container's log from byte `from` on (none yet: empty).
fn read_log(p: &std::path::Path, from: u64) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut data = Vec::new();
    match std::fs::File::open(p) {
        Ok(mut f) => f
            .seek(std::io::SeekFrom::Start(from))
            .and_then(|_| f.read_to_end(&mut data))
            .map(drop)
            .map_err(|e| Error::io("cannot read container log", p, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("cannot read container log", p, e)),
    }
    Ok(data)
}
