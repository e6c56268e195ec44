//! Running one OCI hook: its program with its arguments and environment,
//! the container's state JSON on stdin, within its timeout. Its output
//! goes where ours does (a runtime's stderr is its caller's log).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::bundle::Hook;

/// Run `h` (a `kind` hook: "prestart", …) with `state` on its stdin.
pub fn run(h: &Hook, kind: &str, state: &str) -> Result<(), String> {
    let name = h.path.display();
    let mut c = Command::new(&h.path);
    if let Some((first, rest)) = h.args.split_first() {
        c.arg0(first).args(rest);
    }
    c.env_clear();
    for e in &h.env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        c.env(k, v);
    }
    // Our stdout may be the container's (a foreground run): hooks talk on
    // stderr.
    c.stdin(Stdio::piped()).stdout(std::io::stderr());
    let mut child = c
        .spawn()
        .map_err(|e| format!("{kind} hook '{name}': {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is no failure.
        let _ = stdin.write_all(state.as_bytes());
    }
    let until = h.timeout.map(|t| Instant::now() + Duration::from_secs(t));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("{kind} hook '{name}': {e}")),
        }
        if until.is_some_and(|u| Instant::now() > u) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{kind} hook '{name}' timed out after {}s",
                h.timeout.unwrap_or(0)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{kind} hook '{name}' failed: {status}"))
    }
}

/// Run `hooks` in order; the first failure stops them.
pub fn run_all(hooks: &[Hook], kind: &str, state: &str) -> Result<(), String> {
    hooks.iter().try_for_each(|h| run(h, kind, state))
}
