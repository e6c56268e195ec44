//! `config.json` → the run spec kleene's runtime starts: every field the
//! runtime honours is carried over; what it cannot honour is refused with
//! the field named, never silently dropped.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::OciError;
use crate::platform::bundle::{
    BundleSpec, CapSets, DeviceNode, DeviceRule, ExactProcess, ExtraResources, GenericMount, Hook,
    Identity, Namespace, NamespaceKind, Rlimit, StartHooks,
};
use crate::platform::seccomp::Profile;
use crate::platform::security::{CapSet, SeccompPolicy, SecurityProfile};
use crate::platform::{ExecSpec, Limits, RunSpec};

/// Read `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec, OciError> {
    load_raw(bundle).map(|(s, _)| s)
}

/// `<bundle>/config.json`, typed and as JSON (for the sections the typed
/// spec does not know, such as `freebsd`).
pub fn load_raw(bundle: &Path) -> Result<(Spec, serde_json::Value), OciError> {
    let path = bundle.join("config.json");
    if !path.exists() {
        return Err(OciError::Invalid(format!(
            "config.json not found in bundle '{}'",
            bundle.display()
        )));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| OciError::Invalid(format!("{}: {e}", path.display())))?;
    // serde_json's own error names the line, column and field.
    let raw: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| OciError::Invalid(format!("{}: {e}", path.display())))?;
    // Checked on the file itself: fields the typed spec does not know
    // would otherwise vanish unseen.
    refuse_unsupported(&raw)?;
    check_capability_names(&raw)?;
    // Typed from the text again: a type error then names its field and
    // its line and column (`process.user.uid: invalid type … at line 5`).
    let mut de = serde_json::Deserializer::from_str(&text);
    let spec = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        OciError::Invalid(format!("{}: {}: {}", path.display(), e.path(), e.inner()))
    })?;
    Ok((spec, raw))
}

/// Capability names, checked before the typed parse, whose own message
/// for an unknown one ("no variant for CAP_FOO (converted to FOO)")
/// names neither the set nor the rule.
fn check_capability_names(v: &serde_json::Value) -> Result<(), OciError> {
    let Some(sets) = v
        .pointer("/process/capabilities")
        .and_then(|c| c.as_object())
    else {
        return Ok(());
    };
    for (set, names) in sets {
        for (i, n) in names.as_array().into_iter().flatten().enumerate() {
            let name = n.as_str().unwrap_or_default();
            if CapSet::number(name).is_none() {
                return Err(OciError::Invalid(format!(
                    "process.capabilities.{set}[{i}]: unknown capability '{}' (CAP_CHOWN, CAP_NET_ADMIN, …)",
                    n.as_str().map_or_else(|| n.to_string(), str::to_string)
                )));
            }
        }
    }
    Ok(())
}

/// `root` and the root filesystem's absolute path, which must be a
/// directory.
pub(super) fn root_of<'a>(
    bundle: &Path,
    spec: &'a Spec,
) -> Result<(&'a oci_spec::runtime::Root, PathBuf), OciError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| OciError::Invalid("config.json has no root".into()))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        let what = if rootfs.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(OciError::Invalid(format!(
            "root.path: rootfs '{}' {what}",
            rootfs.display()
        )));
    }
    Ok((root, rootfs))
}

/// `mounts`, in order; a relative bind source is the bundle's.
pub(super) fn mounts_of(bundle: &Path, spec: &Spec) -> Vec<GenericMount> {
    let mut mounts = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let options = m.options().clone().unwrap_or_default();
        let fstype = m.typ().clone().unwrap_or_default();
        let is_bind = fstype == "bind"
            || fstype == "nullfs"
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let source = match m.source() {
            Some(s) if is_bind && s.is_relative() => bundle.join(s),
            Some(s) => s.clone(),
            None => PathBuf::from(if fstype.is_empty() { "none" } else { &fstype }),
        };
        mounts.push(GenericMount {
            destination: m.destination().display().to_string(),
            fstype,
            source: source.display().to_string(),
            options,
        });
    }
    mounts
}

fn caps(set: &Option<oci_spec::runtime::Capabilities>) -> Result<u64, OciError> {
    let mut out = CapSet::empty();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let n = CapSet::number(&name)
            .ok_or_else(|| OciError::Invalid(format!("unknown capability '{name}'")))?;
        out.insert(n);
    }
    Ok(out.0)
}

fn kind(t: LinuxNamespaceType) -> NamespaceKind {
    match t {
        LinuxNamespaceType::Mount => NamespaceKind::Mount,
        LinuxNamespaceType::Cgroup => NamespaceKind::Cgroup,
        LinuxNamespaceType::Uts => NamespaceKind::Uts,
        LinuxNamespaceType::Ipc => NamespaceKind::Ipc,
        LinuxNamespaceType::User => NamespaceKind::User,
        LinuxNamespaceType::Pid => NamespaceKind::Pid,
        LinuxNamespaceType::Network => NamespaceKind::Network,
        LinuxNamespaceType::Time => NamespaceKind::Time,
    }
}

/// The run spec for container `id` of `bundle`; `gate` is its start FIFO
/// (`None`: run at once).
pub fn run_spec(
    p: &dyn crate::platform::Platform,
    id: &str,
    bundle: &Path,
    spec: &Spec,
    gate: Option<PathBuf>,
    no_pivot: bool,
) -> Result<RunSpec, OciError> {
    if p.oci_section() == "freebsd" {
        return super::convert_freebsd::run_spec(id, bundle, spec, gate);
    }
    let bad = |m: String| OciError::Invalid(m);
    let (root, rootfs) = root_of(bundle, spec)?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad("config.json has no process".into()))?;
    let linux = spec.linux().clone().unwrap_or_default();

    let mut namespaces = Vec::new();
    for n in linux.namespaces().iter().flatten() {
        let k = kind(n.typ());
        if namespaces.iter().any(|m: &Namespace| m.kind == k) {
            return Err(bad(format!(
                "linux.namespaces: the {} namespace is listed twice",
                k.name()
            )));
        }
        namespaces.push(Namespace {
            kind: k,
            path: n.path().clone(),
        });
    }
    let time_offsets = time_offsets(&linux, &namespaces)?;
    let map = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.iter()
            .flatten()
            .map(|x| (x.container_id(), x.host_id(), x.size()))
            .collect()
    };
    let (uid_map, gid_map) = (map(linux.uid_mappings()), map(linux.gid_mappings()));
    match namespaces.iter().find(|n| n.kind == NamespaceKind::User) {
        None if !uid_map.is_empty() || !gid_map.is_empty() => {
            return Err(bad(
                "user namespace mappings specified, but no user namespace in linux.namespaces"
                    .into(),
            ))
        }
        Some(n) if n.path.is_none() && (uid_map.is_empty() || gid_map.is_empty()) => {
            return Err(bad(
                "user namespaces enabled, but no namespace path to join nor uidMappings and gidMappings to apply specified"
                    .into(),
            ))
        }
        _ => {}
    }
    let hostname = spec.hostname().clone().unwrap_or_default();
    if !hostname.is_empty() && !namespaces.iter().any(|n| n.kind == NamespaceKind::Uts) {
        return Err(bad(
            "unable to set hostname without a private UTS namespace".into(),
        ));
    }
    if !namespaces.iter().any(|n| n.kind == NamespaceKind::Mount) {
        return Err(bad(
            "linux.namespaces: a mount namespace is required (the root filesystem is mounted in it)"
                .into(),
        ));
    }

    let mounts = mounts_of(bundle, spec);

    let mut devices = Vec::new();
    for d in linux.devices().iter().flatten() {
        devices.push(DeviceNode {
            path: d.path().display().to_string(),
            kind: match d.typ() {
                oci_spec::runtime::LinuxDeviceType::B => 'b',
                oci_spec::runtime::LinuxDeviceType::P => 'p',
                _ => 'c',
            },
            major: d.major(),
            minor: d.minor(),
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }

    // Deny by default, as runc: the caller's list (often empty, or a
    // deny-all of its own) refines it, and the devices every container
    // needs are appended when the rules are applied.
    let mut device_rules = vec![DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    for r in linux
        .resources()
        .as_ref()
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
    {
        use oci_spec::runtime::LinuxDeviceType as T;
        device_rules.push(DeviceRule {
            allow: r.allow(),
            kind: match r.typ() {
                None | Some(T::A) => 'a',
                Some(T::B) => 'b',
                Some(T::C) | Some(T::U) => 'c',
                Some(T::P) => {
                    return Err(bad(
                        "linux.resources.devices: a rule for type p (FIFOs) is not supported"
                            .into(),
                    ))
                }
            },
            major: r.major(),
            minor: r.minor(),
            access: r.access().clone().unwrap_or_else(|| "rwm".into()),
        });
    }
    let cgroup_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty());
    if let Some(p) = &cgroup_path {
        if p.contains(':') {
            return Err(bad(format!(
                "linux.cgroupsPath '{p}' is a systemd slice: kleene-oci manages cgroups itself (cgroupfs); use a path"
            )));
        }
        if p.split('/').any(|c| c == "..") {
            return Err(bad(format!("linux.cgroupsPath '{p}' contains '..'")));
        }
    }
    let cgroup_path = Some(cgroup_path.unwrap_or_else(|| format!("/kleene-oci/{id}")));

    let limits = limits(&linux)?;

    let mut sysctl: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    for (key, _) in &sysctl {
        check_sysctl(key, &namespaces)?;
    }

    let mut process = process_spec(id, process, &linux)?;
    let unenforced = crate::platform::bundle::devices_restricted(&device_rules)
        && !crate::platform::native().enforces_device_rules();
    if unenforced {
        // No devices cgroup to enforce the allow list: no new device
        // nodes, and those of the root filesystem inert (nodev, below).
        let mknod = 1u64 << CapSet::number("MKNOD").unwrap_or(27);
        if let Some(x) = process.exact.as_mut() {
            for set in [
                &mut x.caps.bounding,
                &mut x.caps.effective,
                &mut x.caps.permitted,
                &mut x.caps.inheritable,
                &mut x.caps.ambient,
            ] {
                *set &= !mknod;
            }
            process.profile.capabilities = CapSet(x.caps.bounding);
        }
    }
    let b = BundleSpec {
        rootfs,
        readonly: root.readonly().unwrap_or(false),
        mounts,
        namespaces,
        devices,
        device_rules,
        uid_map,
        gid_map,
        resources: extra_resources(&linux),
        sysctl,
        domainname: spec.domainname().clone().unwrap_or_default(),
        cgroup_path,
        rootfs_propagation: linux.rootfs_propagation().clone().unwrap_or_default(),
        nodev_root: unenforced,
        no_pivot,
        start_gate: gate,
        hooks: start_hooks(id, bundle, spec),
        freebsd: None,
        time_offsets,
    };
    Ok(bundle_run(id, hostname, process, limits, b))
}

/// The hooks the runtime runs while it starts the container, and the
/// state they read.
pub(super) fn start_hooks(id: &str, bundle: &Path, spec: &Spec) -> StartHooks {
    StartHooks {
        prestart: hooks(spec, |h| h.prestart()),
        runtime: hooks(spec, |h| h.create_runtime()),
        container: hooks(spec, |h| h.create_container()),
        start: hooks(spec, |h| h.start_container()),
        state: state_json(id, bundle, spec, "creating", 0).to_string(),
    }
}

/// A run spec that is all bundle: no image layers, kleene network or
/// volumes of its own.
pub(super) fn bundle_run(
    id: &str,
    hostname: String,
    process: ExecSpec,
    limits: Limits,
    b: BundleSpec,
) -> RunSpec {
    RunSpec {
        id: id.to_string(),
        name: id.to_string(),
        hostname,
        layers: vec![],
        container_dir: b.rootfs.clone(),
        mounts: vec![],
        process,
        fly: false,
        jail_params: vec![],
        network_driver: "bundle".into(),
        attachments: vec![],
        dns: vec![],
        ephemeral: false,
        limits,
        die_with_caller: false,
        extra_hosts: vec![],
        bundle: Some(Box::new(b)),
    }
}

/// A sysctl may only be written where the container has its own copy:
/// IPC ones in its own IPC namespace, `net.*` in its own network
/// namespace, host and domain names in its own UTS namespace; everything
/// else (`vm.*`, most of `kernel.*`) is the host's and refused (runc's
/// rules and messages). A namespace joined by path counts as its own
/// unless it is the host's.
fn check_sysctl(key: &str, namespaces: &[Namespace]) -> Result<(), OciError> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let own = |kind: NamespaceKind, host: &str| {
        namespaces.iter().any(|n| {
            n.kind == kind
                && n.path.as_ref().is_none_or(|p| {
                    let ino = |p: &Path| {
                        std::fs::metadata(p).ok().map(|m| {
                            use std::os::unix::fs::MetadataExt;
                            (m.dev(), m.ino())
                        })
                    };
                    ino(p) != ino(Path::new(host))
                })
        })
    };
    let bad = |m: String| Err(OciError::Invalid(m));
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        if !own(NamespaceKind::Ipc, "/proc/1/ns/ipc") {
            return bad(format!(
                "linux.sysctl: sysctl \"{key}\" is not allowed in the host's ipc namespace"
            ));
        }
    } else if key.starts_with("net.") {
        if !own(NamespaceKind::Network, "/proc/1/ns/net") {
            return bad(format!(
                "linux.sysctl: sysctl \"{key}\" not allowed in host network namespace"
            ));
        }
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        if !own(NamespaceKind::Uts, "/proc/1/ns/uts") {
            return bad(format!(
                "linux.sysctl: sysctl \"{key}\" not allowed in host UTS namespace"
            ));
        }
    } else {
        return bad(format!(
            "linux.sysctl: sysctl \"{key}\" is not in a separate kernel namespace (it would change the host)"
        ));
    }
    Ok(())
}

/// `linux.timeOffsets`: (clock, seconds, nanoseconds) for a new time
/// namespace, which they need (runc's rule); clocks are `monotonic` and
/// `boottime`, the only two a time namespace shifts.
fn time_offsets(
    linux: &oci_spec::runtime::Linux,
    namespaces: &[Namespace],
) -> Result<Vec<(String, i64, u32)>, OciError> {
    let mut out: Vec<(String, i64, u32)> = linux
        .time_offsets()
        .iter()
        .flatten()
        .map(|(clock, o)| {
            (
                clock.clone(),
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Ok(out);
    }
    if !namespaces
        .iter()
        .any(|n| n.kind == NamespaceKind::Time && n.path.is_none())
    {
        return Err(OciError::Invalid(
            "linux.timeOffsets: time offsets need a new time namespace in linux.namespaces".into(),
        ));
    }
    for (clock, _, nanos) in &out {
        if clock != "monotonic" && clock != "boottime" {
            return Err(OciError::Invalid(format!(
                "linux.timeOffsets: '{clock}' is not a clock a time namespace shifts (monotonic, boottime)"
            )));
        }
        if *nanos >= 1_000_000_000 {
            return Err(OciError::Invalid(format!(
                "linux.timeOffsets.{clock}.nanosecs: {nanos} is not below one second"
            )));
        }
    }
    Ok(out)
}

/// An OCI process (`process` of config.json, or `exec --process`) as the
/// runtime runs it, in container `id` with the container's `linux` section
/// (its seccomp filter, masked paths).
pub fn process_spec(
    id: &str,
    process: &oci_spec::runtime::Process,
    linux: &oci_spec::runtime::Linux,
) -> Result<ExecSpec, OciError> {
    let bad = |m: String| OciError::Invalid(m);
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(bad("process.args must not be empty".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(bad(format!(
            "process.cwd '{}' is not an absolute path",
            process.cwd().display()
        )));
    }
    let c = process.capabilities().clone().unwrap_or_default();
    let sets = CapSets {
        bounding: caps(c.bounding())?,
        effective: caps(c.effective())?,
        permitted: caps(c.permitted())?,
        inheritable: caps(c.inheritable())?,
        ambient: caps(c.ambient())?,
    };
    // The kernel refuses an effective capability that is not permitted:
    // said now, not by a process that dies after start.
    let stray = CapSet(sets.effective & !sets.permitted);
    if stray.0 != 0 {
        return Err(bad(format!(
            "process.capabilities: {} effective but not permitted (add to permitted, or drop from effective)",
            stray.names().join(", ")
        )));
    }
    for r in process.rlimits().iter().flatten() {
        if r.soft() > r.hard() {
            return Err(bad(format!(
                "process.rlimits: {} soft limit {} is above its hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            )));
        }
    }
    let seccomp = match linux.seccomp() {
        None => SeccompPolicy::Unconfined,
        Some(s) => {
            let json = serde_json::to_string(s).map_err(|e| bad(format!("linux.seccomp: {e}")))?;
            let p = Profile::parse(&json).map_err(|e| bad(format!("linux.seccomp: {e}")))?;
            SeccompPolicy::Custom(Box::new(p))
        }
    };
    let profile = SecurityProfile {
        privileged: false,
        capabilities: CapSet(sets.bounding),
        seccomp,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        read_only_rootfs: false,
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        proc_debug: true,
        init: false,
    };
    let user = process.user();
    let exact = ExactProcess {
        identity: Identity {
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
        },
        caps: sets,
        rlimits: process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| Rlimit {
                kind: r.typ().to_string(),
                soft: r.soft(),
                hard: r.hard(),
            })
            .collect(),
        oom_score_adj: process.oom_score_adj(),
        apparmor: process.apparmor_profile().clone().filter(|p| !p.is_empty()),
        preserve_fds: 0,
    };
    if let Some(p) = &exact.apparmor {
        if !crate::platform::native().has_lsm("apparmor") {
            return Err(bad(format!(
                "process.apparmorProfile '{p}': AppArmor is not enabled on this host"
            )));
        }
    }
    if process
        .selinux_label()
        .as_deref()
        .is_some_and(|l| !l.is_empty())
        && !crate::platform::native().has_lsm("selinux")
    {
        return Err(bad(
            "selinux label is specified in config, but selinux is disabled or not supported".into(),
        ));
    }
    Ok(ExecSpec {
        container: id.to_string(),
        cmd: args,
        env: process.env().clone().unwrap_or_default(),
        user: format!("{}:{}", user.uid(), user.gid()),
        workdir: process.cwd().display().to_string(),
        tty: process.terminal().unwrap_or(false),
        profile,
        exact: Some(Box::new(exact)),
    })
}

/// Settings kleene's limits do not cover, for the platform to write.
fn extra_resources(linux: &oci_spec::runtime::Linux) -> ExtraResources {
    let r = linux.resources().clone().unwrap_or_default();
    let mem = r.memory().unwrap_or_default();
    let cpu = r.cpu().clone().unwrap_or_default();
    ExtraResources {
        cpu_shares: cpu.shares().filter(|s| *s > 0),
        memory_swap: mem.swap().filter(|s| *s != 0),
        memory_reservation: mem.reservation().filter(|r| *r > 0),
        cpuset_cpus: cpu.cpus().clone().filter(|c| !c.is_empty()),
        cpuset_mems: cpu.mems().clone().filter(|m| !m.is_empty()),
    }
}

/// Fields kleene-oci cannot honour: refused by name rather than ignored,
/// since a container without the limit or policy its caller asked for is
/// worse than no container.
fn refuse_unsupported(v: &serde_json::Value) -> Result<(), OciError> {
    fn meaningful(v: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match v {
            V::Null => false,
            V::Bool(b) => *b,
            V::Number(n) => n.as_f64() != Some(0.0),
            V::String(s) => !s.is_empty(),
            V::Array(a) => !a.is_empty(),
            V::Object(o) => o.values().any(meaningful),
        }
    }
    const UNSUPPORTED: [&str; 19] = [
        "/linux/resources/blockIO",
        "/linux/resources/hugepageLimits",
        "/linux/resources/network",
        "/linux/resources/rdma",
        "/linux/resources/unified",
        "/linux/resources/memory/kernel",
        "/linux/resources/memory/kernelTCP",
        "/linux/resources/memory/swappiness",
        "/linux/resources/memory/disableOOMKiller",
        "/linux/resources/cpu/realtimeRuntime",
        "/linux/resources/cpu/realtimePeriod",
        "/linux/resources/cpu/idle",
        "/linux/resources/cpu/burst",
        "/linux/intelRdt",
        "/linux/personality",
        "/linux/memoryPolicy",
        "/linux/netDevices",
        "/process/scheduler",
        "/process/ioPriority",
    ];
    for ptr in UNSUPPORTED {
        if v.pointer(ptr).is_some_and(meaningful) {
            let field = ptr.trim_start_matches('/').replace('/', ".");
            return Err(OciError::Invalid(format!(
                "{field} is not supported by kleene-oci (refused rather than ignored)"
            )));
        }
    }
    if v.pointer("/process/execCPUAffinity")
        .is_some_and(meaningful)
    {
        return Err(OciError::Invalid(
            "process.execCPUAffinity is not supported by kleene-oci (refused rather than ignored)"
                .into(),
        ));
    }
    if v.pointer("/linux/mountLabel").is_some_and(meaningful)
        && !crate::platform::native().has_lsm("selinux")
    {
        return Err(OciError::Invalid(
            "selinux label is specified in config, but selinux is disabled or not supported".into(),
        ));
    }
    for (i, m) in v
        .pointer("/mounts")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if ["uidMappings", "gidMappings"]
            .iter()
            .any(|k| m.get(k).is_some_and(meaningful))
        {
            return Err(OciError::Invalid(format!(
                "mounts[{i}]: id-mapped mounts are not supported by kleene-oci"
            )));
        }
    }
    Ok(())
}

/// The hooks of one kind (`pick` chooses it from `hooks`), in order.
pub fn hooks(
    spec: &Spec,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>,
) -> Vec<Hook> {
    let Some(h) = spec.hooks() else {
        return vec![];
    };
    pick(h)
        .iter()
        .flatten()
        .map(|h| Hook {
            path: h.path().clone(),
            args: h.args().clone().unwrap_or_default(),
            env: h.env().clone().unwrap_or_default(),
            timeout: h.timeout().filter(|t| *t > 0).map(|t| t as u64),
        })
        .collect()
}

/// The state a hook reads on its stdin.
pub fn state_json(
    id: &str,
    bundle: &Path,
    spec: &Spec,
    status: &str,
    pid: i32,
) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.0.2",
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    })
}

/// `linux.resources` → kleene's limits (memory, CPU quota, pids).
pub fn limits(linux: &oci_spec::runtime::Linux) -> Result<Limits, OciError> {
    let mut l = Limits::default();
    let Some(r) = linux.resources() else {
        return Ok(l);
    };
    if let Some(m) = r.memory() {
        l.memory = m.limit().filter(|v| *v > 0).map(|v| v as u64);
    }
    if let Some(c) = r.cpu() {
        if let (Some(q), Some(p)) = (c.quota(), c.period()) {
            if q > 0 && p > 0 {
                l.cpus = Some(q as f64 / p as f64);
            }
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() > 0 {
            l.pids = Some(p.limit() as u64);
        }
    }
    Ok(l)
}
