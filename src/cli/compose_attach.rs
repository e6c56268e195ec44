//! The services' output, each line after `SERVICE-N |` (as Docker
//! Compose): `klee compose logs [-f]`, and `klee compose up` without `-d`,
//! which follows until every container has stopped (Ctrl-C: the caller
//! stops the project).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::compose::model::Project;
use crate::engine::{Engine, Error};

/// Set by SIGINT/SIGTERM while attached.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// How following ended.
pub enum Ended {
    /// Every container stopped.
    AllStopped,
    /// Ctrl-C (or SIGTERM): the caller stops the project.
    Interrupted,
    /// With `--abort-on-container-exit`: this container stopped first,
    /// with this exit code.
    Exited(String, i32),
}

/// How long to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// What the logs hold now.
    No,
    /// `logs -f`: until every container has stopped.
    UntilStopped,
    /// `up`: until every container has stopped or Ctrl-C, saying how each
    /// ended.
    Attached,
    /// `up --abort-on-container-exit`: until the first one stops.
    UntilOneStops,
}

/// One container followed.
struct Followed {
    id: String,
    prefix: String,
    pos: u64,
    /// The start of a line not yet ended by a newline.
    partial: Vec<u8>,
    done: bool,
}

/// Where the log of each of the project's existing containers ends now
/// (by ID): `up` shows what they print from then on, not their history.
pub fn log_marks(e: &Engine, project: &Project) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for svc in project.services.keys() {
        for name in project.container_names(svc) {
            if let Ok(c) = e.container(&name) {
                let len = std::fs::metadata(e.log_path(&c.id)).map_or(0, |m| m.len());
                out.insert(c.id, len);
            }
        }
    }
    out
}

/// The containers of `services` (all of the project's when empty), with
/// their prefixes padded to one width; each log read from its mark.
fn followed(
    e: &mut Engine,
    project: &Project,
    services: &[String],
    marks: &HashMap<String, u64>,
) -> Vec<Followed> {
    let mut out = Vec::new();
    for (svc, s) in &project.services {
        if !services.is_empty() && !services.contains(svc) {
            continue;
        }
        for (i, name) in project.container_names(svc).iter().enumerate() {
            let Ok(c) = e.container(name) else { continue };
            let prefix = if s.container_name.is_empty() {
                format!("{svc}-{}", i + 1)
            } else {
                name.clone()
            };
            out.push(Followed {
                pos: marks.get(&c.id).copied().unwrap_or(0),
                id: c.id,
                prefix,
                partial: Vec::new(),
                done: false,
            });
        }
    }
    let width = out.iter().map(|f| f.prefix.len()).max().unwrap_or(0);
    for f in &mut out {
        f.prefix = format!("{:width$} | ", f.prefix);
    }
    out
}

/// Print the output of the services' containers, as long as `how` says.
pub fn follow(
    e: &mut Engine,
    project: &Project,
    services: &[String],
    how: Follow,
    marks: &HashMap<String, u64>,
) -> Result<Ended, Error> {
    let mut all = followed(e, project, services, marks);
    let attached = matches!(how, Follow::Attached | Follow::UntilOneStops);
    if attached {
        // SAFETY: handlers that only set an atomic flag.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
            libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        }
    }
    let mut out = std::io::stdout().lock();
    loop {
        let mut quiet = true;
        for f in all.iter_mut().filter(|f| !f.done) {
            // Whether it runs is read before the log, so what it wrote
            // before it stopped is printed before it counts as stopped.
            let c = e.container(&f.id)?;
            let running = c.status.is_running();
            let more = read_from(&e.log_path(&f.id), &mut f.pos);
            if !more.is_empty() {
                quiet = false;
                f.partial.extend_from_slice(&more);
                let end = f
                    .partial
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let lines: Vec<u8> = f.partial.drain(..end).collect();
                if !print_lines(&mut out, &f.prefix, &lines) {
                    return Ok(Ended::Interrupted);
                }
            }
            if how == Follow::No || (!running && more.is_empty()) {
                if !f.partial.is_empty() {
                    let mut rest = std::mem::take(&mut f.partial);
                    rest.push(b'\n');
                    print_lines(&mut out, &f.prefix, &rest);
                }
                f.done = true;
                if !attached {
                    continue;
                }
                // The engine's wait: the code its supervisor may still be
                // writing.
                let code = e
                    .container_wait(&f.id, Some(Duration::from_secs(5)))
                    .ok()
                    .flatten()
                    .unwrap_or(-1);
                let name = f.prefix.trim_end_matches(" | ").trim_end();
                let _ = writeln!(out, "{name} exited with code {code}");
                let _ = out.flush();
                if how == Follow::UntilOneStops {
                    return Ok(Ended::Exited(c.name, code));
                }
            }
        }
        if all.iter().all(|f| f.done) {
            return Ok(Ended::AllStopped);
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Ok(Ended::Interrupted);
        }
        if quiet {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Put SIGINT and SIGTERM back to their defaults (a second Ctrl-C while
/// the project stops then ends klee at once).
pub fn default_signals() {
    // SAFETY: restoring the default dispositions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
}

/// What the log at `path` grew by since `pos` (moved past it).
fn read_from(path: &std::path::Path, pos: &mut u64) -> Vec<u8> {
    let mut more = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.seek(SeekFrom::Start(*pos)).is_ok() && f.read_to_end(&mut more).is_ok() {
            *pos += more.len() as u64;
        }
    }
    more
}

/// Write whole `lines`, each after `prefix`; false when the reader went
/// away.
fn print_lines(out: &mut impl Write, prefix: &str, lines: &[u8]) -> bool {
    let mut buf = Vec::with_capacity(lines.len() + prefix.len() * 4);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        buf.extend_from_slice(prefix.as_bytes());
        buf.extend_from_slice(line);
    }
    out.write_all(&buf).and_then(|_| out.flush()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::print_lines;

    #[test]
    fn lines_get_the_prefix() {
        let mut out = Vec::new();
        assert!(print_lines(&mut out, "web-1 | ", b"a\nb\n"));
        assert_eq!(out, b"web-1 | a\nweb-1 | b\n");
    }
}
