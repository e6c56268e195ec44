//! Running further commands in a running container (jexec's role).

use super::container::{dedup_env, Status};
use super::error::{Error, Result};
use super::lifecycle::Attach;
use super::Engine;
use crate::platform::{term, ExecSpec, Stdio};

#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    /// Empty: the container's command.
    pub cmd: Vec<String>,
    /// Layered over the container's environment.
    pub env: Vec<String>,
    /// Empty: the container's user.
    pub user: String,
    /// Empty: the container's working directory.
    pub workdir: String,
}

impl Engine {
    /// The running container `ident`, its init's pid and the spec `cfg`
    /// gives inside it.
    fn exec_target(
        &self,
        ident: &str,
        cfg: &ExecConfig,
        tty: bool,
    ) -> Result<(super::Container, i32, ExecSpec)> {
        let c = self.container(ident)?;
        let Status::Running { pid, .. } = c.status else {
            return Err(Error::State(format!(
                "container '{}' ({}) is not running",
                c.name, c.id
            )));
        };
        let mut env = c.env.clone();
        env.extend(cfg.env.iter().cloned());
        let profile = c.security.confinement(&c.jail_param, c.fly)?.profile;
        let spec = ExecSpec {
            container: c.id.clone(),
            cmd: if cfg.cmd.is_empty() {
                c.cmd.clone()
            } else {
                cfg.cmd.clone()
            },
            env: dedup_env(&env),
            user: if cfg.user.is_empty() {
                c.user.clone()
            } else {
                cfg.user.clone()
            },
            workdir: if cfg.workdir.is_empty() {
                c.workdir.clone()
            } else {
                cfg.workdir.clone()
            },
            tty,
            profile,
            exact: None,
        };
        Ok((c, pid, spec))
    }

    /// Run `cfg` in the running container and collect its exit code, stdout
    /// and stderr (for scripts).
    pub fn container_exec_capture(
        &mut self,
        ident: &str,
        cfg: &ExecConfig,
    ) -> Result<(i32, Vec<u8>, Vec<u8>)> {
        let (code, out, err) = self.exec_captured(ident, cfg, None, None)?;
        Ok((code.unwrap_or(-1), out, err))
    }

    /// Run `cfg` for at most `timeout` (a health probe): its exit code
    /// (None: killed at the timeout, or when `stop` was set) and its
    /// output, stdout then stderr, at most 4 KiB.
    pub(crate) fn container_exec_within(
        &mut self,
        ident: &str,
        cfg: &ExecConfig,
        timeout: std::time::Duration,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<(Option<i32>, String)> {
        let (code, mut out, err) = self.exec_captured(ident, cfg, Some(timeout), Some(stop))?;
        out.extend_from_slice(&err);
        out.truncate(4096);
        Ok((code, String::from_utf8_lossy(&out).into_owned()))
    }

    fn exec_captured(
        &mut self,
        ident: &str,
        cfg: &ExecConfig,
        timeout: Option<std::time::Duration>,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<(Option<i32>, Vec<u8>, Vec<u8>)> {
        use std::os::fd::AsRawFd;
        let (c, pid, spec) = self.exec_target(ident, cfg, false)?;
        let tmp = self.root.join("tmp");
        let id = super::id::new_id();
        // Unlinked as soon as made (the fds are enough), so a crash leaves
        // at most a name that carries its dead owner.
        let open = |what: &str| {
            let p = tmp.join(crate::platform::owner::scratch(&format!(
                "exec-{id}.{what}"
            )));
            let f = std::fs::File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&p)
                .map_err(|e| Error::io("cannot create", &p, e));
            let _ = std::fs::remove_file(&p);
            f
        };
        let (mut out, mut err) = (open("out")?, open("err")?);
        let started = self
            .platform
            .exec(
                pid,
                &spec,
                &Stdio::Files {
                    out: out.as_raw_fd(),
                    err: err.as_raw_fd(),
                },
            )
            .map_err(|e| Error::Exec {
                container: c.name.clone(),
                reason: e.to_string(),
            })?;
        let code = match timeout {
            None => Some(self.platform.wait(started.pid)?.code()),
            Some(t) => {
                let deadline = std::time::Instant::now() + t;
                let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst));
                while self.platform.alive(started.pid, 0)
                    && std::time::Instant::now() < deadline
                    && !stopped()
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                let late = self.platform.alive(started.pid, 0);
                if late {
                    let _ = self.platform.signal_tree(started.pid, libc::SIGKILL);
                }
                let status = self.platform.wait(started.pid)?;
                (!late).then(|| status.code())
            }
        };
        let read = |f: &mut std::fs::File| -> Result<Vec<u8>> {
            use std::io::{Read, Seek};
            let mut buf = Vec::new();
            f.seek(std::io::SeekFrom::Start(0))
                .and_then(|_| f.read_to_end(&mut buf))
                .map_err(|e| Error::io("cannot read the output of", &c.name, e))?;
            Ok(buf)
        };
        Ok((code, read(&mut out)?, read(&mut err)?))
    }

    /// Run `cfg` in the running container `ident`. Attached, returns the exit
    /// code; detached, `None` once the command runs (output to the log).
    pub fn container_exec(
        &mut self,
        ident: &str,
        cfg: &ExecConfig,
        attach: Attach,
    ) -> Result<Option<i32>> {
        let tty = matches!(attach, Attach::Attached { tty: true, .. });
        let (c, pid, spec) = self.exec_target(ident, cfg, tty)?;
        let fail = |e: crate::platform::Error| Error::Exec {
            container: c.name.clone(),
            reason: e.to_string(),
        };
        match attach {
            Attach::Attached { stdin, .. } => {
                let started = self
                    .platform
                    .exec(pid, &spec, &attach.stdio())
                    .map_err(fail)?;
                term::forward_signals_to(started.pid);
                if let Some(m) = &started.pty_master {
                    term::relay_pty(m, stdin);
                }
                let status = self.platform.wait(started.pid)?;
                term::forward_signals_to(0);
                Ok(Some(status.code()))
            }
            Attach::Detached => {
                let log_path = self.log_path(&c.id);
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .map_err(|e| Error::io("cannot open container log", &log_path, e))?;
                let platform = self.platform;
                let report = crate::platform::daemonize(|report| {
                    use std::os::fd::AsRawFd;
                    let fd = log.as_raw_fd();
                    match platform.exec(pid, &spec, &Stdio::Files { out: fd, err: fd }) {
                        Ok(s) => {
                            report(b"OK");
                            let _ = platform.wait(s.pid);
                        }
                        Err(e) => report(format!("E{e}").as_bytes()),
                    }
                })?;
                match report.as_slice() {
                    b"OK" => Ok(None),
                    [b'E', msg @ ..] => Err(Error::Exec {
                        container: c.name.clone(),
                        reason: String::from_utf8_lossy(msg).into_owned(),
                    }),
                    _ => Err(Error::Exec {
                        container: c.name.clone(),
                        reason: "the helper process died before the command started".into(),
                    }),
                }
            }
        }
    }
}
