//! A group's limits: which controllers they need, whether the host has
//! them, and the files that set them on v1 and v2.

use std::path::PathBuf;

use super::{dirs, layout, read, write, Layout};
use crate::platform::security::Limits;
use crate::platform::{Error, Result};

/// CFS period for `--cpus` (Docker's).
const CPU_PERIOD: u64 = 100_000;
/// Which controllers the limits need, by their v2 names.
pub(super) fn needed(l: &Limits) -> Vec<&'static str> {
    let mut v = Vec::new();
    if l.memory.is_some() {
        v.push("memory");
    }
    if l.cpus.is_some() {
        v.push("cpu");
    }
    if l.pids.is_some() {
        v.push("pids");
    }
    v
}

fn flag_for(ctrl: &str) -> &'static str {
    match ctrl {
        "memory" => "--memory",
        "cpu" => "--cpus",
        _ => "--pids-limit",
    }
}

/// Can this host enforce `l`? An error names the limit and what is missing.
pub fn check(l: &Limits) -> Result<()> {
    check_on(layout(), l)
}

pub(super) fn check_on(layout: &Layout, l: &Limits) -> Result<()> {
    for ctrl in needed(l) {
        let why = match layout {
            Layout::None => Some("no cgroup filesystem is mounted".to_string()),
            Layout::Legacy { hierarchies, .. } => {
                if hierarchies.iter().any(|(c, _)| c.iter().any(|x| x == ctrl)) {
                    None
                } else {
                    Some(format!("no cgroup v1 hierarchy has the {ctrl} controller"))
                }
            }
            Layout::Unified(root) => {
                let have = read(&root.join("cgroup.controllers"));
                if have.split_whitespace().any(|c| c == ctrl) {
                    None
                } else {
                    Some(format!(
                        "the cgroup v2 hierarchy at '{}' has no {ctrl} controller (it has: {})",
                        root.display(),
                        if have.trim().is_empty() {
                            "none"
                        } else {
                            have.trim()
                        }
                    ))
                }
            }
        };
        if let Some(why) = why {
            return Err(Error::Failed(format!(
                "cannot enforce {}: {why}",
                flag_for(ctrl)
            )));
        }
    }
    Ok(())
}

pub(crate) fn v1_dir<'a>(layout: &Layout, dirs: &'a [PathBuf], ctrl: &str) -> Option<&'a PathBuf> {
    let Layout::Legacy { hierarchies, .. } = layout else {
        return None;
    };
    hierarchies
        .iter()
        .position(|(c, _)| c.iter().any(|x| x == ctrl))
        .and_then(|i| dirs.get(i))
}

/// Write a memory limit; the kernel refuses one below what the group uses
/// when it cannot reclaim enough (EBUSY): say that, not the raw error.
fn memory(path: &std::path::Path, value: &str) -> Result<()> {
    match std::fs::write(path, value) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let shown = value
                .parse::<u64>()
                .map(crate::platform::security::human_bytes)
                .unwrap_or_else(|_| value.to_string());
            Err(Error::Failed(format!(
                "cannot set --memory to {shown}: the container uses more than that and the kernel could not reclaim enough"
            )))
        }
        Err(_) => write(path, value),
    }
}

/// Write the limits that differ from `old` (all of them for a new group).
pub(super) fn apply(layout: &Layout, dirs: &[PathBuf], l: &Limits, old: &Limits) -> Result<()> {
    let fresh = *old == Limits::default();
    match layout {
        Layout::Unified(_) => {
            let d = &dirs[0];
            if l.memory != old.memory || (fresh && l.memory.is_some()) {
                let v = l.memory.map(|m| m.to_string()).unwrap_or("max".into());
                memory(&d.join("memory.max"), &v)?;
                // The limit covers swap too, as on v1 below.
                let swap = d.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, if l.memory.is_some() { "0" } else { "max" })?;
                }
            }
            if l.cpus != old.cpus || (fresh && l.cpus.is_some()) {
                let v = match l.cpus {
                    Some(c) => format!("{} {CPU_PERIOD}", (c * CPU_PERIOD as f64).round() as u64),
                    None => format!("max {CPU_PERIOD}"),
                };
                write(&d.join("cpu.max"), &v)?;
            }
            if l.pids != old.pids || (fresh && l.pids.is_some()) {
                let v = l.pids.map(|p| p.to_string()).unwrap_or("max".into());
                write(&d.join("pids.max"), &v)?;
            }
        }
        Layout::Legacy { .. } => {
            if l.memory != old.memory || (fresh && l.memory.is_some()) {
                let d = v1_dir(layout, dirs, "memory").expect("checked");
                let v = l.memory.map(|m| m as i64).unwrap_or(-1).to_string();
                let (mem, sw) = (
                    d.join("memory.limit_in_bytes"),
                    d.join("memory.memsw.limit_in_bytes"),
                );
                // memsw >= limit at every moment: raise memsw first, lower it last.
                let raising = match (l.memory, old.memory) {
                    (None, _) => true,
                    (Some(n), Some(o)) => n > o,
                    (Some(_), None) => false,
                };
                if sw.exists() && raising {
                    memory(&sw, &v)?;
                    memory(&mem, &v)?;
                } else {
                    memory(&mem, &v)?;
                    if sw.exists() {
                        memory(&sw, &v)?;
                    }
                }
            }
            if l.cpus != old.cpus || (fresh && l.cpus.is_some()) {
                let d = v1_dir(layout, dirs, "cpu").expect("checked");
                write(&d.join("cpu.cfs_period_us"), &CPU_PERIOD.to_string())?;
                let q = match l.cpus {
                    Some(c) => ((c * CPU_PERIOD as f64).round() as i64).to_string(),
                    None => "-1".into(),
                };
                write(&d.join("cpu.cfs_quota_us"), &q)?;
            }
            if l.pids != old.pids || (fresh && l.pids.is_some()) {
                let d = v1_dir(layout, dirs, "pids").expect("checked");
                let v = l.pids.map(|p| p.to_string()).unwrap_or("max".into());
                write(&d.join("pids.max"), &v)?;
            }
        }
        Layout::None => {}
    }
    Ok(())
}

/// Change a running container's limits from `old` to `new`.
pub fn update(id: &str, old: &Limits, new: &Limits) -> Result<()> {
    let layout = layout();
    check_on(layout, new)?;
    let dirs = dirs(layout, id);
    if dirs.iter().any(|d| !d.is_dir()) {
        return Err(Error::Failed(format!(
            "container {id} has no cgroup (it was started by an older kleene); restart it to apply limits"
        )));
    }
    apply(layout, &dirs, new, old)
}

/// Did the kernel's OOM killer kill a process of the group?
pub fn oom_killed(id: &str) -> bool {
    let layout = layout();
    let dirs = dirs(layout, id);
    let file = match layout {
        Layout::Unified(_) => dirs.first().map(|d| d.join("memory.events")),
        _ => v1_dir(layout, &dirs, "memory").map(|d| d.join("memory.oom_control")),
    };
    file.map(|f| {
        read(&f).lines().any(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    })
    .unwrap_or(false)
}
