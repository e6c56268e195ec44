//! `config.json` → a run spec for FreeBSD jails: the process, root, mounts
//! and hooks as on Linux, and the `freebsd` section (jail parameters,
//! devfs devices) instead of `linux` (namespaces, cgroups, seccomp), which
//! a jail does not have and which is ignored here as runc ignores the
//! `freebsd` section.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::convert::{bundle_run, load_raw, mounts_of, process_spec, root_of, start_hooks};
use super::OciError;
use crate::platform::bundle::BundleSpec;
use crate::platform::bundle_freebsd::FreeBsdSection;
use crate::platform::{Limits, RunSpec};

/// Filesystems a jail's mounts may be (mount(8) types FreeBSD has; `bind`
/// is nullfs, as runj and ocijail read it).
const FILESYSTEMS: &[&str] = &[
    "nullfs",
    "bind",
    "devfs",
    "fdescfs",
    "procfs",
    "linprocfs",
    "linsysfs",
    "tmpfs",
    "zfs",
    "ufs",
    "unionfs",
];

pub fn run_spec(
    id: &str,
    bundle: &Path,
    spec: &Spec,
    gate: Option<PathBuf>,
) -> Result<RunSpec, OciError> {
    let bad = |m: String| OciError::Invalid(m);
    let (root, rootfs) = root_of(bundle, spec)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad("config.json has no process".into()))?;
    let (_, raw) = load_raw(bundle)?;
    let section = match raw.get("freebsd") {
        Some(v) => FreeBsdSection::parse(v).map_err(bad)?,
        None => FreeBsdSection::default(),
    };
    let name = section.jail_name(id);
    // jail(8) names: the kernel refuses dots other than a parent's, and
    // a name that is all digits is taken for a jid.
    if id.contains('.') || id.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad(format!(
            "container id '{id}' cannot name a jail (no dots, not only digits)"
        )));
    }
    let mounts = mounts_of(bundle, spec);
    for (i, m) in mounts.iter().enumerate() {
        let t = if m.fstype.is_empty() && m.options.iter().any(|o| o == "bind" || o == "rbind") {
            "bind"
        } else {
            m.fstype.as_str()
        };
        if !FILESYSTEMS.contains(&t) {
            return Err(bad(format!(
                "mounts[{i}] ({}): type '{}' is not a FreeBSD filesystem kleene-oci mounts ({})",
                m.destination,
                m.fstype,
                FILESYSTEMS.join(", ")
            )));
        }
    }
    if !section.devices.is_empty()
        && !mounts
            .iter()
            .any(|m| m.fstype == "devfs" && m.destination == "/dev")
    {
        return Err(bad(
            "freebsd.devices: the devices are unhidden in a devfs mounted at /dev; add that mount"
                .into(),
        ));
    }
    let hostname = spec.hostname().clone().unwrap_or_default();
    let domainname = spec.domainname().clone().unwrap_or_default();
    // No `linux` here: the process's capabilities and seccomp filter have
    // no jail meaning; its identity, environment and limits do.
    let mut process = process_spec(&name, process, &Default::default())?;
    process.profile.capabilities = crate::platform::security::CapSet::empty();
    let b = BundleSpec {
        rootfs,
        readonly: root.readonly().unwrap_or(false),
        mounts,
        domainname,
        start_gate: gate,
        hooks: start_hooks(id, bundle, spec),
        freebsd: Some(section),
        ..Default::default()
    };
    Ok(bundle_run(id, hostname, process, Limits::default(), b))
}
