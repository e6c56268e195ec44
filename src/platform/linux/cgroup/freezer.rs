//! Freezing a container's processes (`kleene-oci pause`/`resume`): v2's
//! `cgroup.freeze` in its group; on v1 a freezer group of the same path,
//! made on first use (kleene's own starts do not pay for a hierarchy they
//! rarely need) and removed with the container's other groups.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{dirs, layout, read, v1_group, write, Layout};
use crate::platform::{Error, Result};

/// Freeze (`on`) or thaw every process of group `key`, and wait until the
/// kernel says it is done.
pub fn set(key: &str, on: bool) -> Result<()> {
    let l = layout();
    let groups = dirs(l, key);
    let Some(first) = groups.first().filter(|d| d.is_dir()) else {
        return Err(Error::Failed(format!(
            "container group '{key}' does not exist"
        )));
    };
    if let Layout::Unified(_) = l {
        write(&first.join("cgroup.freeze"), if on { "1" } else { "0" })?;
        return wait(&first.join("cgroup.events"), |t| {
            t.lines()
                .any(|x| x == if on { "frozen 1" } else { "frozen 0" })
        });
    }
    let Some(d) = v1_group("freezer", key) else {
        return Err(Error::Failed(
            "this host has no cgroup freezer (v1 'freezer' hierarchy or v2)".into(),
        ));
    };
    if on {
        std::fs::create_dir_all(&d).map_err(|e| Error::io("cannot create cgroup", &d, e))?;
        // Everyone now in the container's group joins the freezer's.
        for pid in read(&first.join("cgroup.procs")).split_whitespace() {
            let _ = write(&d.join("cgroup.procs"), pid);
        }
    } else if !d.is_dir() {
        return Ok(());
    }
    let want = if on { "FROZEN" } else { "THAWED" };
    write(&d.join("freezer.state"), want)?;
    wait(&d.join("freezer.state"), |t| t.trim() == want)
}

/// Is group `key` frozen?
pub fn frozen(key: &str) -> bool {
    let l = layout();
    match l {
        Layout::Unified(_) => dirs(l, key).first().is_some_and(|d| {
            read(&d.join("cgroup.events"))
                .lines()
                .any(|x| x == "frozen 1")
        }),
        _ => v1_group("freezer", key)
            .is_some_and(|d| read(&d.join("freezer.state")).trim() == "FROZEN"),
    }
}

fn wait(file: &Path, done: impl Fn(&str) -> bool) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    while !done(&read(file)) {
        if Instant::now() > until {
            return Err(Error::Failed(format!(
                "'{}' did not change within 10 s",
                file.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
