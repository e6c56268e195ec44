//! Standard output that never panics.
//!
//! `println!` panics when standard output fails (`klee ps > /dev/full`, a
//! closed pipe under `klee ps | head -1`). Commands print after their work
//! is done, so a failed write must neither abort the work that remains
//! (the other names of `rm a b c`) nor go unnoticed: the first failure is
//! remembered and the front end turns it into an error at exit.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

/// The first failure: its kind and, when the OS gave one, its errno (for
/// the OS's own wording).
static FAILED: Mutex<Option<(io::ErrorKind, Option<i32>)>> = Mutex::new(None);

/// Write `args` and a newline to standard output.
pub fn line(args: fmt::Arguments<'_>) {
    write(format_args!("{args}\n"));
}

/// Write `args` to standard output (flushed: output interleaves with a
/// container's own).
pub fn write(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert((e.kind(), e.raw_os_error()));
    }
}

/// The first write that failed, if any. A closed pipe is the reader's
/// choice (`| head`), not an error worth reporting, so it is left out.
pub fn failure() -> Option<io::Error> {
    let failed = *FAILED.lock().unwrap_or_else(|p| p.into_inner());
    failed
        .filter(|(kind, _)| *kind != io::ErrorKind::BrokenPipe)
        .map(|(kind, errno)| errno.map_or_else(|| kind.into(), io::Error::from_raw_os_error))
}

/// `println!` that does not panic; see the module documentation.
#[macro_export]
macro_rules! outln {
    () => { $crate::stdout::line(format_args!("")) };
    ($($t:tt)*) => { $crate::stdout::line(format_args!($($t)*)) };
}

/// `print!` that does not panic; see the module documentation.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::stdout::write(format_args!($($t)*)) };
}
