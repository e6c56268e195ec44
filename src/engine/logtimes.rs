//! When each line of a detached container's log was written, for
//! `logs --timestamps/--since/--until`.
//!
//! The log itself stays the container's raw output (kleened's API and
//! `logs` read it as is). Its supervisor relays the output through a pipe
//! and, beside each chunk it appends to the log, appends to `<log>.times`
//! one record per line that starts in the chunk: `OFFSET NANOS\n` (the
//! line's offset in the log, the Unix time it was read in nanoseconds).
//! Output written to the log by others (a detached `exec`) has no records
//! of its own: such lines take the time of the record before them.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A line of the log: its byte range (newline included) and its time in
/// Unix nanoseconds.
pub type TimedLine = (usize, usize, u128);

/// The times file of a log.
pub fn times_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".times");
    PathBuf::from(p)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// Relay: copy `from` into `log` (opened for appending) until end of file,
/// recording line starts in `times`.
pub fn relay(mut from: impl Read, mut log: File, mut times: File) {
    let mut offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    // A line starts at the first byte unless the log ends mid-line.
    let mut at_line_start = offset == 0 || ends_with_newline(&log);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let chunk = &buf[..n];
        let t = now_nanos();
        let mut records = String::new();
        for (i, b) in chunk.iter().enumerate() {
            if at_line_start {
                records.push_str(&format!("{} {t}\n", offset + i as u64));
            }
            at_line_start = *b == b'\n';
        }
        if log.write_all(chunk).is_err() {
            return;
        }
        let _ = times.write_all(records.as_bytes());
        offset += n as u64;
    }
}

fn ends_with_newline(f: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut b = [0u8; 1];
    len > 0 && f.read_exact_at(&mut b, len - 1).is_ok() && b[0] == b'\n'
}

/// The records of a times file, by offset (missing file: none).
pub fn read(path: &Path) -> Vec<(u64, u128)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut v: Vec<(u64, u128)> = text
        .lines()
        .filter_map(|l| {
            let (o, t) = l.split_once(' ')?;
            Some((o.parse().ok()?, t.parse().ok()?))
        })
        .collect();
    v.sort();
    v
}

/// Each line of `log` (its byte range, the newline included) with its time:
/// its record's, else the one before it, else `fallback`. `log` is the log
/// from offset `base` on (records carry offsets in the whole log).
pub fn lines(log: &[u8], base: u64, records: &[(u64, u128)], fallback: u128) -> Vec<TimedLine> {
    let mut out = vec![];
    let mut r = 0;
    let mut t = fallback;
    let mut start = 0;
    while start < log.len() {
        let end = log[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(log.len(), |p| start + p + 1);
        while r < records.len() && records[r].0 <= base + start as u64 {
            t = records[r].1;
            r += 1;
        }
        out.push((start, end, t));
        start = end;
    }
    out
}

/// RFC 3339 with nanoseconds, UTC (Docker's `--timestamps` format).
pub fn format(nanos: u128) -> String {
    let secs = (nanos / 1_000_000_000) as u64;
    let t = UNIX_EPOCH + Duration::from_secs(secs);
    let base = super::time::format_time(t);
    // format_time gives `YYYY-MM-DDTHH:MM:SS.micros` and a Z.
    let whole = base.split('.').next().unwrap_or(&base);
    format!("{whole}.{:09}Z", (nanos % 1_000_000_000) as u64)
}

/// Docker's `--since`/`--until` values: a time (`2026-12-01T10:00:00Z`,
/// `2026-12-01`), Unix seconds (`1796119200`, `1796119200.5`), or a
/// duration before now (`10m`, `1h30m`). In nanoseconds since the epoch.
pub fn parse_point(s: &str) -> Option<u128> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs >= 0.0).then_some((secs * 1e9) as u128);
    }
    if let Some(d) = crate::dockerfile::validate::duration(s) {
        return Some(now_nanos().saturating_sub((d * 1e9) as u128));
    }
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let t = super::time::parse_time(&full)?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

/// A pipe whose read end a thread copies into the container's log, with
/// each line's time in `<log>.times` (engine/logtimes.rs). None if it
/// cannot be made (the output then goes straight to the log).
pub(crate) struct Relay {
    reader: std::io::PipeReader,
    pub(crate) writer: std::io::PipeWriter,
    log: std::fs::File,
    times: std::fs::File,
}

pub(crate) fn relay_output(log_path: &std::path::Path, log: &std::fs::File) -> Option<Relay> {
    let (reader, writer) = std::io::pipe().ok()?;
    let times = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(times_path(log_path))
        .ok()?;
    Some(Relay {
        reader,
        writer,
        log: log.try_clone().ok()?,
        times,
    })
}

impl Relay {
    /// Drop our write end and copy until every writer is gone.
    pub(crate) fn spawn(self) -> Option<std::thread::JoinHandle<()>> {
        let Relay {
            reader,
            writer,
            log,
            times,
        } = self;
        drop(writer);
        std::thread::Builder::new()
            .name("log".into())
            .spawn(move || relay(reader, log, times))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_lines_get_their_times() {
        let d = tempfile::tempdir().unwrap();
        let log_p = d.path().join("log");
        std::fs::write(&log_p, "old\npart").unwrap();
        let log = File::options().append(true).open(&log_p).unwrap();
        let times = File::options()
            .create(true)
            .append(true)
            .open(times_path(&log_p))
            .unwrap();
        relay(&b"ial\nnew\nlast"[..], log, times);
        let data = std::fs::read(&log_p).unwrap();
        assert_eq!(data, b"old\npartial\nnew\nlast");
        let rec = read(&times_path(&log_p));
        // "ial" continues a line: records for "new" and "last" only.
        assert_eq!(rec.iter().map(|r| r.0).collect::<Vec<_>>(), [12, 16]);
        let l = lines(&data, 0, &rec, 7);
        assert_eq!(l.len(), 4);
        assert_eq!((l[0].2, l[1].2), (7, 7));
        assert_eq!(l[2].2, rec[0].1);
        assert_eq!(&data[l[3].0..l[3].1], b"last");
        // From an offset on (following): the same lines, the same times.
        let tail = lines(&data[12..], 12, &rec, 7);
        assert_eq!(tail, [(0, 4, rec[0].1), (4, 8, rec[1].1)]);
    }

    #[test]
    fn points_in_time() {
        assert_eq!(parse_point("1796119200"), Some(1_796_119_200_000_000_000));
        assert_eq!(
            parse_point("2026-12-01T10:00:00Z"),
            parse_point("1796119200")
        );
        assert_eq!(parse_point("2026-12-01"), Some(1_796_083_200_000_000_000));
        let ten_min_ago = parse_point("10m").unwrap();
        assert!(now_nanos() - ten_min_ago >= 600_000_000_000);
        assert_eq!(parse_point("soon"), None);
        assert_eq!(
            format(1_796_119_200_000_000_123),
            "2026-12-01T10:00:00.000000123Z"
        );
    }
}
