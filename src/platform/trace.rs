//! `KLEENE_TRACE=1`: where a command's time goes. Each mark prints the
//! microseconds since the command began and what was just done, on
//! stderr (a container's child marks go where its stderr goes).
//! `bench/phases.sh` turns them into the cost of each part of a start.
//! Off, a mark is one load of an initialised cell.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

/// Begin timing (the first mark does too); call before any fork so the
/// children count from the same moment.
pub fn begin() {
    START.get_or_init(|| std::env::var_os("KLEENE_TRACE").map(|_| Instant::now()));
}

/// Note that `what` is done.
pub fn mark(what: &str) {
    begin();
    if let Some(Some(t0)) = START.get() {
        // One write per line: a container's child writes to the same
        // stderr at the same time.
        let line = format!("kleene-trace {:>7} {what}\n", t0.elapsed().as_micros());
        // SAFETY: writing a buffer we own to fd 2.
        unsafe { libc::write(2, line.as_ptr() as *const libc::c_void, line.len()) };
    }
}
