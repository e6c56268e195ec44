//! Signal names as users type them (`KILL`, `SIGKILL`, `kill`, `9`), for
//! `klee kill -s` and the API.

use super::error::{Error, Result};

/// The signals a container may be sent, by name (without `SIG`).
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
];

/// `KILL`, `SIGKILL`, `kill` or a number from 1 to 64.
pub fn parse(s: &str) -> Result<i32> {
    let bad = |why: &str| Error::invalid("signal", s, why.to_string());
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad("a signal number is 1 to 64"))
        };
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| bad("not a signal name (KILL, TERM, HUP, USR1, ... or a number)"))
}

/// The name of signal `n` (`SIGKILL`), or its number.
pub fn name(n: i32) -> String {
    NAMES
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(s, _)| format!("SIG{s}"))
        .unwrap_or_else(|| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse("sigterm").unwrap(), libc::SIGTERM);
        assert_eq!(parse("hup").unwrap(), libc::SIGHUP);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(name(libc::SIGUSR1), "SIGUSR1");
        let e = parse("NOPE").unwrap_err().to_string();
        assert!(e.contains("invalid signal 'NOPE'"), "{e}");
        assert!(parse("0").is_err() && parse("65").is_err());
    }
}
