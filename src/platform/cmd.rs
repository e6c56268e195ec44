//! One way to run external commands, so a back end that drives command-line
//! tools (FreeBSD's zfs, jail, jexec, jls, pfctl, ifconfig) can be recorded
//! and golden-tested on any OS.

use std::sync::Mutex;

/// What a finished command returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(stdout: &str) -> Output {
        Output {
            status: 0,
            stdout: stdout.to_string(),
            stderr: String::new(),
        }
    }
    pub fn fail(status: i32, stderr: &str) -> Output {
        Output {
            status,
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }
}

pub trait Runner: Send + Sync {
    /// Run to completion and collect the output.
    fn run(&self, argv: &[String]) -> std::io::Result<Output>;
    /// Start a long-running process with these fds as stdin/stdout/stderr
    /// (`None`: inherit); returns its pid.
    fn spawn(&self, argv: &[String], stdio: [Option<i32>; 3]) -> std::io::Result<i32>;
}

/// Runs commands for real.
pub struct System;

impl Runner for System {
    fn run(&self, argv: &[String]) -> std::io::Result<Output> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let o = std::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()?;
        Ok(Output {
            status: o.status.code().unwrap_or(
                128 + std::os::unix::process::ExitStatusExt::signal(&o.status).unwrap_or(0),
            ),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        })
    }

    fn spawn(&self, argv: &[String], stdio: [Option<i32>; 3]) -> std::io::Result<i32> {
        use std::os::fd::FromRawFd;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let mut c = std::process::Command::new(prog);
        c.args(args);
        let dup = |fd: i32| -> std::io::Result<std::process::Stdio> {
            // SAFETY: dup gives an fd the Stdio then owns.
            let d = unsafe { libc::dup(fd) };
            if d < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: d is a fresh fd.
            Ok(unsafe { std::process::Stdio::from_raw_fd(d) })
        };
        if let Some(fd) = stdio[0] {
            c.stdin(dup(fd)?);
        }
        if let Some(fd) = stdio[1] {
            c.stdout(dup(fd)?);
        }
        if let Some(fd) = stdio[2] {
            c.stderr(dup(fd)?);
        }
        // A terminal as stdin becomes the command's controlling terminal
        // in a session of its own (`-t`: job control, ^C reach it).
        // SAFETY: isatty on a caller's fd.
        if stdio[0].is_some_and(|fd| unsafe { libc::isatty(fd) } == 1) {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(|| {
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = c.spawn()?;
        let pid = child.id() as i32;
        // The caller waits for it by pid.
        std::mem::forget(child);
        Ok(pid)
    }
}

/// Records every command line and answers from a script of canned
/// responses (first matching prefix wins; default: success, no output).
/// `spawn` starts a real `/bin/sh -c 'exit N'` so callers can wait on a pid.
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<String>>,
    responses: Mutex<Vec<(String, Output)>>,
    spawn_exit: Mutex<i32>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Answer commands whose line starts with `prefix` with `out` (a prefix
    /// ending in `$` must match the whole line).
    pub fn respond(&self, prefix: &str, out: Output) {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((prefix.to_string(), out));
    }

    /// Forget the canned responses.
    pub fn clear_responses(&self) {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The exit code spawned processes end with.
    pub fn spawn_exit(&self, code: i32) {
        *self.spawn_exit.lock().unwrap_or_else(|p| p.into_inner()) = code;
    }

    /// The command lines so far (arguments joined by spaces).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn record(&self, argv: &[String]) -> String {
        let line = argv.join(" ");
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.clone());
        line
    }
}

impl Runner for Recorder {
    fn run(&self, argv: &[String]) -> std::io::Result<Output> {
        let line = self.record(argv);
        let responses = self.responses.lock().unwrap_or_else(|p| p.into_inner());
        Ok(responses
            .iter()
            .find(|(p, _)| match p.strip_suffix('$') {
                Some(exact) => line == exact,
                None => line.starts_with(p.as_str()),
            })
            .map(|(_, o)| o.clone())
            .unwrap_or_default())
    }

    fn spawn(&self, argv: &[String], _stdio: [Option<i32>; 3]) -> std::io::Result<i32> {
        self.record(argv);
        let code = *self.spawn_exit.lock().unwrap_or_else(|p| p.into_inner());
        System.spawn(
            &["/bin/sh".into(), "-c".into(), format!("exit {code}")],
            [None, None, None],
        )
    }
}

/// Replace 12-hex-digit IDs with `<1>`, `<2>`, … in order of first
/// appearance, so recorded command lines can be compared with goldens.
pub fn normalise_ids(lines: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    // This process's owner tag (scratch names, build containers' IDs).
    let me = super::owner::Owner::me().tag();
    lines
        .iter()
        .map(|l| l.replace(&me, "<owner>"))
        .map(|l| {
            let mut out = String::new();
            let b = l.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let is_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                let boundary = |j: usize| j >= b.len() || !b[j].is_ascii_alphanumeric();
                if (i == 0 || !b[i - 1].is_ascii_alphanumeric())
                    && i + 12 <= b.len()
                    && b[i..i + 12].iter().all(|c| is_hex(*c))
                    && boundary(i + 12)
                {
                    let id = &l[i..i + 12];
                    let n = match seen.iter().position(|s| s == id) {
                        Some(n) => n,
                        None => {
                            seen.push(id.to_string());
                            seen.len() - 1
                        }
                    };
                    out.push_str(&format!("<{}>", n + 1));
                    i += 12;
                } else {
                    out.push(b[i] as char);
                    i += 1;
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_records_and_answers() {
        let r = Recorder::new();
        r.respond("zfs list", Output::ok("/a\n"));
        let o = r.run(&["zfs".into(), "list".into(), "-H".into()]).unwrap();
        assert_eq!(o.stdout, "/a\n");
        assert_eq!(r.run(&["jls".into()]).unwrap(), Output::default());
        assert_eq!(r.calls(), ["zfs list -H", "jls"]);
    }

    #[test]
    fn ids_are_normalised() {
        let l = vec![
            "zfs clone z/image/abcdef012345@image z/container/0123456789ab".to_string(),
            "jail -r 0123456789ab".to_string(),
        ];
        assert_eq!(
            normalise_ids(&l),
            ["zfs clone z/image/<1>@image z/container/<2>", "jail -r <2>"]
        );
    }
}
