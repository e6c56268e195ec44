//! A root shared by the tests of one binary, with an image made from the
//! host's userland (it has python3, which runs tests/probes/confine.py)
//! and a busybox image; and the probe's output as a map.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::Root;

/// The shared root: `host` (python3) and `bb` (busybox) images.
pub fn shared() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let r = Root::new();
        r.ok(&["image", "create", "--no-dns", "-t", "host", "host"]);
        r.busybox_image("bb");
        // Statics are never dropped: remove the root when the process ends.
        let path = r.path().to_path_buf();
        REMOVE.set(path).unwrap();
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(remove_shared) };
        r
    })
}

static REMOVE: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_shared() {
    if let Some(p) = REMOVE.get() {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// Where the probe script is, for `-m DIR:/probes:ro`.
pub fn mount() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes");
    format!("{}:/probes:ro", dir.display())
}

/// Run the probe (`what` like `status`, `syscalls`, `shocker:/vol`) in a
/// `host` container with `opts`; returns its `name=value` lines.
pub fn run(r: &Root, opts: &[&str], what: &[&str]) -> BTreeMap<String, String> {
    let m = mount();
    let mut args = vec!["run", "--rm", "-m", &m];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["host", "python3", "/probes/confine.py"]);
    args.extend_from_slice(what);
    parse(&r.ok(&args))
}

pub fn parse(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A capability mask from /proc/self/status as a number.
pub fn mask(v: &BTreeMap<String, String>, key: &str) -> u64 {
    u64::from_str_radix(
        v.get(key).unwrap_or_else(|| panic!("no {key} in {v:?}")),
        16,
    )
    .unwrap()
}
