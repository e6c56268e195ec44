//! `klee logs [-f] [--tail N] C`: a detached container's output.

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
