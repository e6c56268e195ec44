//! Commands on a running container: `exec`, `pause`/`resume`, `ps`,
//! `update`.

use std::path::{Path, PathBuf};

use super::cli::{ExecArgs, UpdateArgs};
use super::commands::send_console;
use super::convert;
use super::state::{Record, Status};
use super::OciError;
use crate::platform::{Platform, Stdio};

/// `exec`: the container's own process (from its config.json) with what
/// the command line changes, or a whole `--process` JSON, as runc.
pub fn exec(p: &dyn Platform, root: &Path, a: &ExecArgs) -> Result<i32, OciError> {
    use oci_spec::runtime::Process;
    let rec = Record::load(root, &a.id)?;
    match rec.status(p) {
        Status::Running => {}
        Status::Paused => return Err(OciError::State("cannot exec in a paused container".into())),
        Status::Created => {
            return Err(OciError::State(
                "cannot exec in a container that has not been started".into(),
            ))
        }
        Status::Stopped => {
            return Err(OciError::State("cannot exec in a stopped container".into()))
        }
    }
    let spec = convert::load(&rec.bundle)?;
    let process: Process = match &a.process {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| OciError::Invalid(format!("process '{}': {e}", f.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| OciError::Invalid(format!("process '{}': {e}", f.display())))?
        }
        None => {
            if a.command.is_empty() {
                return Err(OciError::Invalid(
                    "exec needs a command or --process".into(),
                ));
            }
            let mut pr = spec.process().clone().unwrap_or_default();
            pr.set_args(Some(a.command.clone()));
            pr.set_terminal(Some(a.tty));
            let mut env = pr.env().clone().unwrap_or_default();
            env.extend(a.env.iter().cloned());
            pr.set_env(Some(env));
            if let Some(cwd) = &a.cwd {
                if !cwd.starts_with('/') {
                    return Err(OciError::Invalid(format!(
                        "--cwd '{cwd}' is not an absolute path"
                    )));
                }
                pr.set_cwd(PathBuf::from(cwd));
            }
            let mut user = pr.user().clone();
            if let Some(u) = &a.user {
                let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
                let num = |s: &str| {
                    s.parse::<u32>().map_err(|_| {
                        OciError::Invalid(format!("--user '{u}': use UID[:GID] (numbers)"))
                    })
                };
                user.set_uid(num(uid)?);
                user.set_gid(num(gid)?);
            }
            if !a.additional_gids.is_empty() {
                user.set_additional_gids(Some(a.additional_gids.clone()));
            }
            pr.set_user(user);
            if a.no_new_privs {
                pr.set_no_new_privileges(Some(true));
            }
            if !a.cap.is_empty() {
                let mut caps = pr.capabilities().clone().unwrap_or_default();
                for name in &a.cap {
                    let c: oci_spec::runtime::Capability = name
                        .trim_start_matches("CAP_")
                        .parse()
                        .map_err(|_| OciError::Invalid(format!("unknown capability '{name}'")))?;
                    let with = |set: &Option<oci_spec::runtime::Capabilities>| {
                        let mut s = set.clone().unwrap_or_default();
                        s.insert(c);
                        Some(s)
                    };
                    let (b, e, p) = (
                        with(caps.bounding()),
                        with(caps.effective()),
                        with(caps.permitted()),
                    );
                    caps.set_bounding(b).set_effective(e).set_permitted(p);
                }
                pr.set_capabilities(Some(caps));
            }
            pr
        }
    };
    let linux = spec.linux().clone().unwrap_or_default();
    // The exec'd process joins the container's group by its key.
    let mut ex = convert::process_spec(&rec.cgroup, &process, &linux)?;
    ex.tty = a.tty || process.terminal().unwrap_or(false);
    if let Some(x) = ex.exact.as_mut() {
        x.preserve_fds = a.preserve_fds;
    }
    if ex.tty && a.console_socket.is_none() {
        return Err(OciError::Invalid(
            "a terminal was asked for: --console-socket is required".into(),
        ));
    }
    let stdio = if ex.tty {
        Stdio::Pty
    } else {
        Stdio::Inherit { stdin: true }
    };
    let started = p.exec(rec.pid, &ex, &stdio)?;
    if let (Some(m), Some(sock)) = (&started.pty_master, &a.console_socket) {
        send_console(sock, m)?;
    }
    if let Some(pf) = &a.pid_file {
        super::state::write_atomic(pf, started.pid.to_string().as_bytes())?;
    }
    if a.detach {
        return Ok(0);
    }
    Ok(p.wait(started.pid).map(|s| s.code()).unwrap_or(255))
}

pub fn freeze(p: &dyn Platform, root: &Path, id: &str, on: bool) -> Result<(), OciError> {
    let rec = Record::load(root, id)?;
    match (rec.status(p), on) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (_, true) => return Err(OciError::State("container not running".into())),
        (_, false) => return Err(OciError::State("container not paused".into())),
    }
    p.freeze(&rec.cgroup, on)?;
    Ok(())
}

pub fn ps(p: &dyn Platform, root: &Path, id: &str, format: &str) -> Result<(), OciError> {
    let rec = Record::load(root, id)?;
    let procs = if rec.status(p) == Status::Stopped {
        vec![]
    } else {
        p.container_processes(&rec.cgroup, rec.pid)?
    };
    match format {
        "json" => {
            let pids: Vec<i32> = procs.iter().map(|x| x.pid).collect();
            crate::outln!("{}", serde_json::to_string(&pids).unwrap_or_default());
        }
        "table" => {
            crate::outln!("{:<8} {:<8} {:<8} {:>6} CMD", "UID", "PID", "PPID", "TIME");
            for x in procs {
                crate::outln!(
                    "{:<8} {:<8} {:<8} {:>6} {}",
                    x.user,
                    x.pid,
                    x.ppid,
                    x.cpu_seconds,
                    x.command
                );
            }
        }
        f => {
            return Err(OciError::Invalid(format!(
                "invalid format '{f}': use table or json"
            )))
        }
    }
    Ok(())
}

/// `update`: new limits from an OCI resources JSON and/or flags.
pub fn update(p: &dyn Platform, root: &Path, a: &UpdateArgs) -> Result<(), OciError> {
    use oci_spec::runtime::LinuxResources;
    let mut rec = Record::load(root, &a.id)?;
    if rec.status(p) == Status::Stopped {
        return Err(OciError::State("container not running".into()));
    }
    let mut r: LinuxResources = match &a.resources {
        Some(f) => {
            let text = if f.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(f)
            }
            .map_err(|e| OciError::Invalid(format!("resources '{}': {e}", f.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| OciError::Invalid(format!("resources '{}': {e}", f.display())))?
        }
        None => LinuxResources::default(),
    };
    if let Some(m) = a.memory {
        let mut mem = (*r.memory()).unwrap_or_default();
        mem.set_limit(Some(m));
        r.set_memory(Some(mem));
    }
    if a.cpu_quota.is_some() || a.cpu_period.is_some() {
        let mut cpu = r.cpu().clone().unwrap_or_default();
        if let Some(q) = a.cpu_quota {
            cpu.set_quota(Some(q));
        }
        cpu.set_period(Some(a.cpu_period.or(cpu.period()).unwrap_or(100_000)));
        r.set_cpu(Some(cpu));
    }
    if let Some(n) = a.pids_limit {
        let mut pids = (*r.pids()).unwrap_or_default();
        pids.set_limit(n);
        r.set_pids(Some(pids));
    }
    let mut linux = oci_spec::runtime::Linux::default();
    linux.set_resources(Some(r));
    let new = convert::limits(&linux)?;
    // What the update leaves out stays as it is.
    let merged = crate::platform::Limits {
        memory: new.memory.or(rec.limits.memory),
        cpus: new.cpus.or(rec.limits.cpus),
        pids: new.pids.or(rec.limits.pids),
    };
    p.update_limits(&rec.cgroup, &rec.limits, &merged)?;
    rec.limits = merged;
    rec.save(root)?;
    Ok(())
}

/// `events`: the container's usage in runc's event shape (`type`
/// `stats`, `data` with cpu, memory and pids), from its cgroup.
pub fn events(
    p: &dyn Platform,
    root: &Path,
    id: &str,
    once: bool,
    interval: u64,
) -> Result<(), OciError> {
    let rec = Record::load(root, id)?;
    loop {
        if rec.status(p) == Status::Stopped {
            return if once {
                Err(OciError::State("container not running".into()))
            } else {
                Ok(())
            };
        }
        let u = p.container_usage(&rec.cgroup)?;
        let line = serde_json::json!({
            "type": "stats",
            "id": id,
            "data": {
                "cpu": {"usage": {"total": u.cpu_ns}},
                "memory": {"usage": {"usage": u.memory, "limit": u.memory_limit}},
                "pids": {"current": u.pids},
            },
        });
        crate::outln!("{line}");
        if once {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(interval.max(1)));
    }
}
