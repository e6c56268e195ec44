//! The commands of `kleene-oci`, each a few calls into the platform.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use super::cli::{Cli, Command, CreateArgs};
use super::convert;
use super::running;
use super::state::{self, Record, Status};
use super::OciError;
use crate::platform::{self, Platform, Stdio};

pub fn run(cli: Cli) -> Result<i32, OciError> {
    run_on(cli, platform::native())
}

/// Run `cli` on platform `p` (the FreeBSD back end over a host model, in
/// tests).
pub fn run_on(cli: Cli, p: &'static dyn Platform) -> Result<i32, OciError> {
    if cli.systemd_cgroup {
        return Err(OciError::Invalid(
            "--systemd-cgroup: kleene-oci manages cgroups itself (cgroupfs); configure the caller with SystemdCgroup = false".into(),
        ));
    }
    let root = cli.root;
    match cli.command {
        Command::Create(a) => create(p, &root, &a).map(|_| 0),
        Command::Start { id } => start(p, &root, &id).map(|_| 0),
        Command::Run {
            create: a,
            detach,
            keep,
        } => run_container(p, &root, &a, detach, keep),
        Command::State { id } => {
            let rec = Record::load(&root, &id)?;
            let st = rec.to_state(rec.status(p));
            crate::outln!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
            Ok(0)
        }
        Command::Exec(a) => running::exec(p, &root, &a),
        Command::Pause { id } => running::freeze(p, &root, &id, true).map(|_| 0),
        Command::Resume { id } => running::freeze(p, &root, &id, false).map(|_| 0),
        Command::Ps { id, format } => running::ps(p, &root, &id, &format).map(|_| 0),
        Command::Update(a) => running::update(p, &root, &a).map(|_| 0),
        Command::Events {
            id,
            stats,
            interval,
        } => running::events(p, &root, &id, stats, interval).map(|_| 0),
        Command::Kill { id, signal, all } => kill(p, &root, &id, &signal, all).map(|_| 0),
        Command::Delete { id, force } => delete(p, &root, &id, force).map(|_| 0),
        Command::List { format, quiet } => list(p, &root, &format, quiet).map(|_| 0),
        Command::Spec { bundle, .. } => spec(&bundle).map(|_| 0),
        Command::Init(a) => {
            let umask = match &a.umask {
                Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                    OciError::Invalid(format!("--umask '{m}' is not an octal mode"))
                })?),
                None => None,
            };
            let why =
                crate::platform::freebsd::init::run(&crate::platform::freebsd::init::InitArgs {
                    jid: a.jid,
                    state: a.state,
                    uid: a.uid,
                    gid: a.gid,
                    groups: a.groups,
                    umask,
                    rlimits: a.rlimit,
                    cwd: a.cwd,
                    env: a.env,
                    args: a.args,
                });
            Err(OciError::Invalid(why))
        }
        Command::Features => {
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&features()).unwrap_or_default()
            );
            Ok(0)
        }
    }
}

fn create(p: &dyn Platform, root: &Path, a: &CreateArgs) -> Result<Record, OciError> {
    state::check_id(&a.id)?;
    // Another create (or a delete) of this ID is under way.
    let lock = state::lock(root, &a.id, false)?.ok_or_else(|| OciError::Exists(a.id.clone()))?;
    let r = create_locked(p, root, a);
    if r.is_err() && !state::dir(root, &a.id).exists() {
        let _ = std::fs::remove_file(root.join(".locks").join(&a.id));
    }
    drop(lock);
    r
}

fn create_locked(p: &dyn Platform, root: &Path, a: &CreateArgs) -> Result<Record, OciError> {
    let dir = state::dir(root, &a.id);
    if dir.join("state.json").exists() {
        return Err(OciError::Exists(a.id.clone()));
    }
    // A directory without a record: a create that died half-way.
    state::clear_leftover(p, root, &a.id);
    let bundle = std::fs::canonicalize(&a.bundle)
        .map_err(|e| OciError::Invalid(format!("bundle '{}': {e}", a.bundle.display())))?;
    let spec = convert::load(&bundle)?;
    let fifo = state::fifo(root, &a.id);
    let mut run = convert::run_spec(p, &a.id, &bundle, &spec, Some(fifo.clone()), a.no_pivot)?;
    if let Some(x) = run.process.exact.as_mut() {
        x.preserve_fds = a.preserve_fds;
    }
    if run.process.tty && a.console_socket.is_none() {
        return Err(OciError::Invalid(
            "process.terminal is true: --console-socket is required".into(),
        ));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| OciError::Io(format!("create '{}': {e}", dir.display())))?;
    let made = (|| {
        state::Intent {
            cgroup: run.cgroup_key(),
            rootfs: run
                .bundle
                .as_ref()
                .map(|b| b.rootfs.clone())
                .unwrap_or_default(),
        }
        .save(root, &a.id)?;
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(|e| OciError::Io(format!("mkfifo '{}': {e}", fifo.display())))?;
        // In a user namespace the container's root must be able to open
        // it: it belongs to whoever that root is on the host.
        if let Some(b) = run.bundle.as_ref().filter(|b| b.new_user_namespace()) {
            let _ = std::os::unix::fs::chown(&fifo, b.root_uid(), b.root_gid());
        }
        let stdio = if run.process.tty {
            Stdio::Pty
        } else {
            Stdio::Inherit { stdin: true }
        };
        let started = p.start(&run, &stdio)?;
        let rec = Record {
            id: a.id.clone(),
            pid: started.pid,
            start_time: p.start_time(started.pid),
            bundle: bundle.clone(),
            rootfs: run
                .bundle
                .as_ref()
                .map(|b| b.rootfs.clone())
                .unwrap_or_default(),
            created: crate::engine::time::now(),
            cgroup: run.cgroup_key(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            started: false,
            limits: run.limits,
        };
        let sent = match (&started.pty_master, &a.console_socket) {
            (Some(m), Some(sock)) => send_console(sock, m),
            _ => Ok(()),
        };
        if let Err(e) = sent.and_then(|_| rec.save(root)) {
            let _ = p.signal(started.pid, libc::SIGKILL);
            let _ = p.wait(started.pid);
            let _ = p.after_exit(&run);
            return Err(e);
        }
        Ok(rec)
    })();
    let rec = match made {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    if let Some(pf) = &a.pid_file {
        state::write_atomic(pf, rec.pid.to_string().as_bytes())?;
    }
    Ok(rec)
}

/// The pty master to whoever listens on `sock` (containerd's shim,
/// Podman's conmon), as runc does: one message with the fd in SCM_RIGHTS.
pub(super) fn send_console(sock: &Path, master: &OwnedFd) -> Result<(), OciError> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let bad = |e: &dyn std::fmt::Display| {
        OciError::Io(format!("console socket '{}': {e}", sock.display()))
    };
    let s = std::os::unix::net::UnixStream::connect(sock).map_err(|e| bad(&e))?;
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"/dev/ptmx")];
    sendmsg::<UnixAddr>(
        s.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| bad(&e))?;
    Ok(())
}

fn start(p: &dyn Platform, root: &Path, id: &str) -> Result<(), OciError> {
    let mut rec = Record::load(root, id)?;
    match rec.status(p) {
        Status::Stopped => {
            return Err(OciError::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running | Status::Paused => {
            return Err(OciError::State(
                "cannot start an already running container".into(),
            ))
        }
        Status::Created => {}
    }
    let fifo = state::fifo(root, id);
    // Non-blocking: the init may die meanwhile, and then nobody would
    // ever write.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| OciError::Io(format!("open '{}': {e}", fifo.display())))?;
    // First the init's byte (it started), then end-of-file: the init
    // holds its end until its exec (or its death) closes it.
    let mut started = false;
    loop {
        let mut b = [0u8; 1];
        match std::io::Read::read(&mut &f, &mut b) {
            Ok(1) => started = true,
            Ok(0) if started => break,
            Ok(_) | Err(_) => {
                if !p.alive(rec.pid, rec.start_time) {
                    if started {
                        break;
                    }
                    return Err(OciError::State(format!(
                        "container '{id}' died before it could start"
                    )));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    rec.started = true;
    rec.save(root)?;
    let _ = std::fs::remove_file(&fifo);
    // poststart: on the host, once the process runs; a failure is a
    // warning (the OCI runtime spec's rule).
    lifecycle_hooks(&rec, "poststart", |h| h.poststart(), "running");
    Ok(())
}

/// Run the bundle's `kind` hooks on the host, warning on failure.
fn lifecycle_hooks(
    rec: &Record,
    kind: &str,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> &Option<Vec<oci_spec::runtime::Hook>>,
    status: &str,
) {
    let Ok(spec) = convert::load(&rec.bundle) else {
        return;
    };
    let hooks = convert::hooks(&spec, pick);
    if hooks.is_empty() {
        return;
    }
    let state = convert::state_json(&rec.id, &rec.bundle, &spec, status, rec.pid).to_string();
    if let Err(e) = crate::platform::hook::run_all(&hooks, kind, &state) {
        eprintln!("kleene-oci: warning: {e}");
    }
}

use std::os::unix::fs::OpenOptionsExt;

fn run_container(
    p: &'static dyn Platform,
    root: &Path,
    a: &CreateArgs,
    detach: bool,
    keep: bool,
) -> Result<i32, OciError> {
    let rec = create(p, root, a)?;
    if let Err(e) = start(p, root, &a.id) {
        let _ = delete(p, root, &a.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    forward_signals(p, rec.pid);
    let code = p.wait(rec.pid).map(|s| s.code()).unwrap_or(255);
    if !keep {
        delete(p, root, &a.id, true)?;
    }
    Ok(code)
}

/// A foreground `run` passes the signals it gets to the container's
/// process (as runc does): Ctrl-C or a `kill` of the runtime reaches the
/// program, which ends, and `run` cleans up after it.
fn forward_signals(p: &'static dyn Platform, pid: i32) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            let _ = p.signal(pid, sig as i32);
        }
    });
}

fn kill(p: &dyn Platform, root: &Path, id: &str, sig: &str, all: bool) -> Result<(), OciError> {
    let rec = Record::load(root, id)?;
    // 0 only asks whether the process exists (runc accepts it).
    let n = if sig.trim() == "0" {
        0
    } else {
        crate::engine::signal::parse(sig).map_err(|e| OciError::Invalid(e.to_string()))?
    };
    if !rec.status(p).can_kill() {
        return Err(OciError::State("container not running".into()));
    }
    if all {
        p.signal_all(&rec.cgroup, rec.pid, n)?;
    } else {
        p.signal(rec.pid, n)?;
    }
    Ok(())
}

fn delete(p: &dyn Platform, root: &Path, id: &str, force: bool) -> Result<(), OciError> {
    state::check_id(id)?;
    // Waits for a create of it still under way.
    let lock = state::lock(root, id, true)?;
    let r = delete_locked(p, root, id, force);
    if !state::dir(root, id).exists() {
        // Nothing left to guard: the lock file goes too (a host that runs
        // many short containers would otherwise collect them).
        let _ = std::fs::remove_file(root.join(".locks").join(id));
    }
    drop(lock);
    r
}

fn delete_locked(p: &dyn Platform, root: &Path, id: &str, force: bool) -> Result<(), OciError> {
    let dir = state::dir(root, id);
    let rec = match Record::load(root, id) {
        Ok(r) => r,
        Err(OciError::NotFound(_)) if dir.is_dir() => {
            // A create that died before its record.
            state::clear_leftover(p, root, id);
            return Ok(());
        }
        // Gone already is what --force wants (runc's rule; shims rely on it).
        Err(OciError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = rec.status(p);
    if status != Status::Stopped {
        if !force && !status.can_delete() {
            return Err(OciError::State(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.name()
            )));
        }
        let _ = p.signal_all(&rec.cgroup, rec.pid, libc::SIGKILL);
        if status == Status::Paused {
            // Frozen processes die only once thawed.
            let _ = p.freeze(&rec.cgroup, false);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while p.alive(rec.pid, rec.start_time) {
            if Instant::now() > until {
                return Err(OciError::State(format!(
                    "container {id} (pid {}) did not die after SIGKILL",
                    rec.pid
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Its groups, by the key they were made with (and anything still in
    // them), as for a create that died half-way.
    p.forget_container(&rec.cgroup)?;
    p.release_bundle(&rec.cgroup, &rec.rootfs)?;
    std::fs::remove_dir_all(&dir)
        .map_err(|e| OciError::Io(format!("remove '{}': {e}", dir.display())))?;
    lifecycle_hooks(&rec, "poststop", |h| h.poststop(), "stopped");
    Ok(())
}

fn list(p: &dyn Platform, root: &Path, format: &str, quiet: bool) -> Result<(), OciError> {
    let recs: Vec<(Record, Status)> = state::list(root)
        .iter()
        .filter_map(|id| Record::load(root, id).ok())
        .map(|r| {
            let s = r.status(p);
            (r, s)
        })
        .collect();
    if quiet {
        for (r, _) in &recs {
            crate::outln!("{}", r.id);
        }
        return Ok(());
    }
    match format {
        "json" => {
            let v: Vec<_> = recs.iter().map(|(r, s)| r.to_state(*s)).collect();
            crate::outln!("{}", serde_json::to_string(&v).unwrap_or_default());
        }
        "table" => {
            crate::outln!(
                "{:<20} {:<8} {:<10} {:<40} {}",
                "ID",
                "PID",
                "STATUS",
                "BUNDLE",
                "CREATED"
            );
            for (r, s) in &recs {
                let pid = if *s == Status::Stopped { 0 } else { r.pid };
                crate::outln!(
                    "{:<20} {:<8} {:<10} {:<40} {}",
                    r.id,
                    pid,
                    s.name(),
                    r.bundle.display(),
                    r.created
                );
            }
        }
        f => {
            return Err(OciError::Invalid(format!(
                "invalid format '{f}': use table or json"
            )))
        }
    }
    Ok(())
}

fn spec(bundle: &Path) -> Result<(), OciError> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(OciError::Invalid(format!(
            "file '{}' exists: remove it first",
            path.display()
        )));
    }
    // oci-spec's defaults, with runc's hostname and device rule (deny
    // all; the standard devices are allowed whatever the list says).
    let mut v = serde_json::to_value(oci_spec::runtime::Spec::default())
        .map_err(|e| OciError::Io(e.to_string()))?;
    v["hostname"] = serde_json::json!("kleene");
    v["linux"]["resources"]["devices"] = serde_json::json!([{"allow": false, "access": "rwm"}]);
    let text = serde_json::to_string_pretty(&v).map_err(|e| OciError::Io(e.to_string()))?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| OciError::Io(format!("write '{}': {e}", path.display())))
}

fn features() -> serde_json::Value {
    let caps = crate::platform::security::CapSet::all().names();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
            "poststart", "poststop"],
        "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
            "sync", "async", "dirsync", "remount", "mand", "nomand", "atime", "noatime",
            "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
            "bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave",
            "unbindable", "runbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_TRAP", "SCMP_ACT_TRACE"],
                "operators": ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"],
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": false},
        },
        "annotations": {"org.kleene.runtime": "kleene-oci"},
    })
}
