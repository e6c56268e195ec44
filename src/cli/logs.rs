//! `klee logs [-f] [--tail N] [-t] [--since T] [--until T] C`: a detached
//! container's output.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use clap::Args;

use super::{CmdResult, Outcome};
use crate::engine::{Engine, Error};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until the container stops
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines ("all" for everything)
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    tail: String,
    /// Each line with the time it was written (RFC 3339, nanoseconds)
    #[arg(short, long)]
    timestamps: bool,
    /// Lines written since a time (2026-12-01T10:00:00Z, 2026-12-01, Unix seconds) or a duration ago (10m, 1h30m)
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Lines written before a time or a duration ago (as --since)
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// Container name, ID or unique ID prefix
    container: String,
}

/// The offset where the last `n` lines of `data` start.
fn tail_start(data: &[u8], n: usize) -> usize {
    if n == 0 {
        return data.len();
    }
    // A final newline ends the last line; it does not start another.
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

pub fn logs(e: &mut Engine, a: LogsArgs) -> CmdResult {
    let c = e.container(&a.container)?;
    let tail = match a.tail.as_str() {
        "all" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| Error::invalid("--tail", n, "a number of lines, or all"))?,
        ),
    };
    if a.timestamps || a.since.is_some() || a.until.is_some() {
        return timed(e, &c.id, &a, tail);
    }
    let data = e.container_logs(&c.id)?;
    let start = tail.map_or(0, |n| tail_start(&data, n));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&data[start..]);
    let _ = out.flush();
    if !a.follow {
        return Ok(Outcome::Ok);
    }
    // Follow: read what the log grows by until the container has stopped
    // and nothing more came.
    let path = e.log_path(&c.id);
    let mut pos = data.len() as u64;
    loop {
        let running = e
            .container(&c.id)
            .map(|c| c.status.is_running())
            .unwrap_or(false);
        if let Ok(mut f) = std::fs::File::open(&path) {
            if f.seek(SeekFrom::Start(pos)).is_ok() {
                let mut more = Vec::new();
                if f.read_to_end(&mut more).is_ok() && !more.is_empty() {
                    pos += more.len() as u64;
                    if out.write_all(&more).and_then(|_| out.flush()).is_err() {
                        // The reader went away (| head): done.
                        return Ok(Outcome::Ok);
                    }
                    continue;
                }
            }
        }
        if !running {
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `logs` with times: `--timestamps`, `--since`, `--until` (then
/// `--tail`), following by whole lines.
fn timed(e: &mut Engine, id: &str, a: &LogsArgs, tail: Option<usize>) -> CmdResult {
    use crate::engine::logtimes;
    let point = |flag: &'static str, v: &Option<String>| -> Result<Option<u128>, Error> {
        v.as_deref()
            .map(|s| {
                logtimes::parse_point(s).ok_or_else(|| {
                    Error::invalid(
                        flag,
                        s,
                        "a time (2026-12-01T10:00:00Z, 2026-12-01), Unix seconds, or a duration ago (10m)",
                    )
                })
            })
            .transpose()
    };
    let (since, until) = (point("--since", &a.since)?, point("--until", &a.until)?);
    let keep = |t: u128| since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u);
    let mut out = std::io::stdout().lock();
    let mut print = |data: &[u8], l: &logtimes::TimedLine| -> bool {
        let mut line = Vec::new();
        if a.timestamps {
            line.extend_from_slice(logtimes::format(l.2).as_bytes());
            line.push(b' ');
        }
        line.extend_from_slice(&data[l.0..l.1]);
        out.write_all(&line).and_then(|_| out.flush()).is_ok()
    };
    let (data, lines) = e.container_logs_timed(id, 0)?;
    // Following: only whole lines, so a line read in two parts gets one time.
    let whole = |data: &[u8], l: &logtimes::TimedLine| data[..l.1].ends_with(b"\n");
    let mut shown: Vec<&logtimes::TimedLine> = lines
        .iter()
        .filter(|l| keep(l.2) && (!a.follow || whole(&data, l)))
        .collect();
    if let Some(n) = tail {
        shown.drain(..shown.len().saturating_sub(n));
    }
    for l in shown {
        if !print(&data, l) {
            return Ok(Outcome::Ok);
        }
    }
    if !a.follow {
        return Ok(Outcome::Ok);
    }
    // Where the next poll reads from: after the last whole line shown.
    let mut pos = lines
        .iter()
        .take_while(|l| whole(&data, l))
        .last()
        .map_or(0, |l| l.1 as u64);
    loop {
        let running = e
            .container(id)
            .map(|c| c.status.is_running())
            .unwrap_or(false);
        let (data, lines) = e.container_logs_timed(id, pos)?;
        let mut read = 0;
        for l in &lines {
            if !whole(&data, l) && running {
                break;
            }
            if keep(l.2) && !print(&data, l) {
                return Ok(Outcome::Ok);
            }
            read = l.1;
        }
        pos += read as u64;
        if !running {
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::tail_start;

    #[test]
    fn last_lines() {
        let d = b"a\nb\nc\n";
        assert_eq!(&d[tail_start(d, 1)..], b"c\n");
        assert_eq!(&d[tail_start(d, 2)..], b"b\nc\n");
        assert_eq!(&d[tail_start(d, 9)..], d);
        assert_eq!(&d[tail_start(d, 0)..], b"");
        let d = b"a\nb";
        assert_eq!(&d[tail_start(d, 1)..], b"b");
    }
}
