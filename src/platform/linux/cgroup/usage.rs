//! What a container's cgroup says it uses (`klee stats`) and which
//! processes are in it (`klee top`), v1 and v2 alike.

use std::path::Path;

use super::{dirs, layout, read};
use crate::platform::{ProcessInfo, Usage};

/// The first of `files` found in any of the group's directories, as a number.
fn number(id: &str, files: &[&str]) -> Option<u64> {
    let dirs = dirs(layout(), id);
    files.iter().find_map(|f| {
        dirs.iter()
            .find_map(|d| read(&d.join(f)).trim().parse::<u64>().ok())
    })
}

/// A value from a `key value` stat file.
fn stat(id: &str, file: &str, key: &str) -> Option<u64> {
    dirs(layout(), id).iter().find_map(|d| {
        read(&d.join(file)).lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
    })
}

pub fn usage(id: &str) -> Usage {
    // v2: cpu.stat usage_usec; v1: cpuacct.usage (ns), where mounted.
    // Where no accounting controller holds the group (cpuacct mounted on
    // its own on a v1 host), the CPU time of the processes it holds now.
    let cpu_ns = stat(id, "cpu.stat", "usage_usec")
        .map(|us| us * 1000)
        .or_else(|| number(id, &["cpuacct.usage"]))
        .or_else(|| {
            // SAFETY: sysconf has no side effects.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            let ticks: u64 = pids(id).into_iter().filter_map(cpu_ticks).sum();
            Some(ticks * 1_000_000_000 / hz)
        });
    let limit = number(id, &["memory.max", "memory.limit_in_bytes"])
        // v1's "no limit" is a huge page-rounded number.
        .filter(|l| *l < (1 << 62));
    Usage {
        cpu_ns,
        memory: number(id, &["memory.current", "memory.usage_in_bytes"]),
        memory_limit: limit,
        pids: number(id, &["pids.current"]),
    }
}

/// The processes in the group, with their parent, user, CPU time and command line.
pub fn processes(id: &str) -> Vec<ProcessInfo> {
    pids(id).into_iter().filter_map(process).collect()
}

/// user + system time of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The pids the group holds.
fn pids(id: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = dirs(layout(), id)
        .iter()
        .flat_map(|d| {
            read(&d.join("cgroup.procs"))
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

fn process(pid: i32) -> Option<ProcessInfo> {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    // Fields after the command's closing parenthesis: state ppid ... utime stime.
    let (name, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = cpu_ticks(pid)?;
    // SAFETY: sysconf has no side effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let uid: u32 = std::fs::read_to_string(proc_dir.join("status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())?;
    let cmdline: Vec<String> = std::fs::read(proc_dir.join("cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let command = if cmdline.is_empty() {
        format!("[{}]", name.split_once('(').map_or(name, |(_, n)| n))
    } else {
        cmdline.join(" ")
    };
    // The name the container's own /etc/passwd gives the uid (seen
    // through the process's root), else the number.
    let user = std::fs::read_to_string(proc_dir.join("root/etc/passwd"))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string());
    Some(ProcessInfo {
        pid,
        ppid,
        user,
        cpu_seconds: ticks / hz,
        command,
    })
}
