//! OCI bundles on jails (`kleene-oci` on FreeBSD), as runj and ocijail run
//! them: the caller's root filesystem, its mounts made on the host
//! (nullfs for binds, devfs with its ruleset, fdescfs, tmpfs, …), a
//! persistent jail from the `freebsd` section, interfaces moved into a new
//! vnet, then the process: `kleene-oci init` (see [`super::init`]), which
//! attaches to the jail, waits for `start` on the FIFO and becomes the
//! program with the exact identity of `process.user`. Its pid is the
//! container's from create to exit. Everything is undone by
//! [`release`], which also finishes what a killed create left.

use std::path::{Path, PathBuf};

use super::FreeBsd;
use crate::platform::bundle::{BundleSpec, GenericMount};
use crate::platform::bundle_freebsd::FreeBsdSection;
use crate::platform::{fsutil, Error, ExecSpec, Result, RunSpec, Started, Stdio};

/// Files the init leaves in the container's state directory (the start
/// FIFO's): `init.ready` once attached and checked, `init.error` with the
/// reason it could not be; the start hooks it runs are in `start-hooks.json`.
pub const READY: &str = "init.ready";
pub const FAILED: &str = "init.error";
pub const START_HOOKS: &str = "start-hooks.json";

/// The program that becomes the container's process: this binary's hidden
/// `init` command.
fn init_program() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/local/bin/kleene-oci".into())
}

/// `kleene-oci init …` for `spec` in jail `jid`; `state`: the container's
/// state directory (a created container waits on its FIFO there).
pub fn init_argv(jid: &str, state: Option<&Path>, spec: &ExecSpec) -> Vec<String> {
    let mut v = vec![init_program(), "init".into(), "--jid".into(), jid.into()];
    if let Some(s) = state {
        v.extend(["--state".into(), s.display().to_string()]);
    }
    if let Some(x) = &spec.exact {
        let id = &x.identity;
        v.extend([
            "--uid".into(),
            id.uid.to_string(),
            "--gid".into(),
            id.gid.to_string(),
        ]);
        if !id.groups.is_empty() {
            let g: Vec<String> = id.groups.iter().map(u32::to_string).collect();
            v.extend(["--groups".into(), g.join(",")]);
        }
        if let Some(m) = id.umask {
            v.extend(["--umask".into(), format!("{m:o}")]);
        }
        for r in &x.rlimits {
            v.extend([
                "--rlimit".into(),
                format!("{}={}:{}", r.kind, r.soft, r.hard),
            ]);
        }
    }
    if !spec.workdir.is_empty() {
        v.extend(["--cwd".into(), spec.workdir.clone()]);
    }
    for e in &spec.env {
        v.extend(["--env".into(), e.clone()]);
    }
    v.push("--".into());
    v.extend(spec.cmd.iter().cloned());
    v
}

/// What a start made, undone in reverse if a later step fails.
#[derive(Default)]
struct Made {
    jail: bool,
    init: Option<i32>,
}

pub fn start(fb: &FreeBsd, spec: &RunSpec, stdio: &Stdio) -> Result<Started> {
    let b = spec.bundle.as_deref().expect("a bundle's run spec");
    let section = b.freebsd.clone().unwrap_or_default();
    let name = section.jail_name(&spec.id);
    let state = b
        .start_gate
        .as_deref()
        .and_then(Path::parent)
        .ok_or_else(|| Error::Failed("a bundle's container needs its state directory".into()))?;
    let (fds, _slave, master) = super::jail::stdio_fds(stdio)?;
    let mut made = Made::default();
    let r = (|| {
        prepare_mounts(fb, b)?;
        if let Some(parent) = &section.jail.parent {
            make_room_in(fb, parent)?;
        }
        let mut argv = vec![
            "/usr/sbin/jail".to_string(),
            "-c".into(),
            format!("name={name}"),
            format!("path={}", b.rootfs.display()),
            "persist".into(),
        ];
        argv.extend(section.jail_params(&spec.hostname, &b.domainname));
        fb.run(&refs(&argv))?;
        made.jail = true;
        for i in section.jail.vnet_interfaces.iter().flatten() {
            fb.run(&["/sbin/ifconfig", i, "vnet", &name])?;
        }
        let jid = fb
            .run(&["/usr/sbin/jls", "-j", &name, "jid"])?
            .stdout
            .trim()
            .to_string();
        write_start_hooks(state, b)?;
        let _ = std::fs::remove_file(state.join(READY));
        let _ = std::fs::remove_file(state.join(FAILED));
        let argv = init_argv(&jid, Some(state), &spec.process);
        let pid = fb
            .runner
            .spawn(&argv, fds)
            .map_err(|e| Error::Failed(format!("cannot run '{}': {e}", argv[0])))?;
        made.init = Some(pid);
        wait_ready(state, pid)?;
        // On the host, with the process's pid (the container exists).
        let st = b.hooks.state_for(pid);
        for (kind, hooks) in [
            ("prestart", &b.hooks.prestart),
            ("createRuntime", &b.hooks.runtime),
            ("createContainer", &b.hooks.container),
        ] {
            crate::platform::hook::run_all(hooks, kind, &st).map_err(Error::Failed)?;
        }
        Ok(pid)
    })();
    match r {
        Ok(pid) => Ok(Started {
            pid,
            pty_master: master,
        }),
        Err(e) => {
            if let Some(pid) = made.init {
                let _ = crate::platform::kill_pid(pid, libc::SIGKILL);
                let _ = crate::platform::wait_pid(pid);
            }
            let _ = release(fb, &name, &b.rootfs);
            Err(e)
        }
    }
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Mount points first (a read-only root takes none afterwards), then the
/// read-only alias of the root over itself, then each mount in order.
fn prepare_mounts(fb: &FreeBsd, b: &BundleSpec) -> Result<()> {
    let root = &b.rootfs;
    let mut targets = Vec::new();
    for m in &b.mounts {
        let dest = fsutil::resolve_beneath(root, Path::new(&m.destination))?;
        let file = is_null(m) && Path::new(&m.source).is_file();
        if !dest.exists() {
            if file {
                if let Some(p) = dest.parent() {
                    std::fs::create_dir_all(p)
                        .map_err(|e| Error::io("cannot create mount point", p, e))?;
                }
                std::fs::write(&dest, b"")
                    .map_err(|e| Error::io("cannot create mount point", &dest, e))?;
            } else {
                std::fs::create_dir_all(&dest)
                    .map_err(|e| Error::io("cannot create mount point", &dest, e))?;
            }
        }
        targets.push(dest);
    }
    if b.readonly {
        let r = root.display().to_string();
        fb.run(&["/sbin/mount_nullfs", "-o", "ro", &r, &r])?;
    }
    for (m, dest) in b.mounts.iter().zip(&targets) {
        fb.run(&refs(&mount_argv(m, dest)))?;
    }
    if let Some(section) = &b.freebsd {
        unhide_devices(fb, root, section)?;
    }
    Ok(())
}

fn is_null(m: &GenericMount) -> bool {
    matches!(m.fstype.as_str(), "bind" | "nullfs")
        || (m.fstype.is_empty() && m.options.iter().any(|o| o == "bind" || o == "rbind"))
}

/// The mount(8) command for one of `mounts`: binds are nullfs (`rbind`
/// and propagation words mean nothing to it), the rest by type with their
/// options as `-o`.
pub fn mount_argv(m: &GenericMount, dest: &Path) -> Vec<String> {
    let linux_only = |o: &str| {
        matches!(
            o,
            "bind" | "rbind" | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
        )
    };
    let opts: Vec<&str> = m
        .options
        .iter()
        .map(String::as_str)
        .filter(|o| !linux_only(o))
        .collect();
    let mut v: Vec<String> = if is_null(m) {
        vec!["/sbin/mount_nullfs".into()]
    } else {
        vec!["/sbin/mount".into(), "-t".into(), m.fstype.clone()]
    };
    if !opts.is_empty() {
        v.extend(["-o".into(), opts.join(",")]);
    }
    v.extend([m.source.clone(), dest.display().to_string()]);
    v
}

/// `freebsd.devices`: each unhidden (with its mode) in the devfs at the
/// jail's /dev, beyond what the mount's ruleset shows.
fn unhide_devices(fb: &FreeBsd, root: &Path, section: &FreeBsdSection) -> Result<()> {
    let dev = root.join("dev").display().to_string();
    for d in &section.devices {
        let path = d.path.trim_start_matches('/');
        let mut argv = vec![
            "/sbin/devfs",
            "-m",
            &dev,
            "rule",
            "apply",
            "path",
            path,
            "unhide",
        ];
        let mode = d.mode.map(|m| format!("{m:04o}"));
        if let Some(m) = &mode {
            argv.extend(["mode", m]);
        }
        fb.run(&argv)?;
    }
    Ok(())
}

/// A child jail counts against its parent's `children.max`: raised by one
/// when full (the runtime manages it, as the spec asks).
fn make_room_in(fb: &FreeBsd, parent: &str) -> Result<()> {
    let out = fb.run(&[
        "/usr/sbin/jls",
        "-j",
        parent,
        "children.cur",
        "children.max",
    ])?;
    let n: Vec<u32> = out
        .stdout
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    if let [cur, max] = n[..] {
        if cur >= max {
            fb.run(&[
                "/usr/sbin/jail",
                "-m",
                &format!("name={parent}"),
                &format!("children.max={}", cur + 1),
            ])?;
        }
    }
    Ok(())
}

/// The `startContainer` hooks and their state, for the init to run in the
/// jail once started.
fn write_start_hooks(state: &Path, b: &BundleSpec) -> Result<()> {
    let path = state.join(START_HOOKS);
    if b.hooks.start.is_empty() {
        let _ = std::fs::remove_file(&path);
        return Ok(());
    }
    let v = serde_json::json!({
        "hooks": b.hooks.start,
        "state": crate::platform::bundle::restate(&b.hooks.state, "status", "created".into()),
    });
    std::fs::write(&path, v.to_string()).map_err(|e| Error::io("cannot write", &path, e))
}

/// Until the init says it is attached and its program found, or dies
/// (its reason in `init.error`).
fn wait_ready(state: &Path, pid: i32) -> Result<()> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if state.join(READY).exists() {
            return Ok(());
        }
        // SAFETY: signal 0 only asks whether it exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0 || reaped(pid);
        if gone || std::time::Instant::now() > until {
            let why = std::fs::read_to_string(state.join(FAILED)).unwrap_or_default();
            return Err(Error::Failed(if why.trim().is_empty() {
                "the container's process ended before it was ready".into()
            } else {
                why.trim().to_string()
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Has child `pid` exited (reaped here, so its status is lost: it failed)?
fn reaped(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: a non-blocking wait for our own child.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == pid }
}

/// `kleene-oci exec` into running jail `jail`.
pub fn exec(fb: &FreeBsd, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
    let (fds, _slave, master) = super::jail::stdio_fds(stdio)?;
    let jid = fb
        .run(&["/usr/sbin/jls", "-j", &spec.container, "jid"])?
        .stdout
        .trim()
        .to_string();
    let argv = init_argv(&jid, None, spec);
    let pid = fb
        .runner
        .spawn(&argv, fds)
        .map_err(|e| Error::Failed(format!("cannot run '{}': {e}", argv[0])))?;
    Ok(Started {
        pid,
        pty_master: master,
    })
}

/// Remove jail `name` (with every process and child jail in it; its vnet
/// interfaces return to the host) and every mount at or under `rootfs`,
/// deepest and latest first. What is already gone is fine: this also
/// finishes a create that was killed half-way.
pub fn release(fb: &FreeBsd, name: &str, rootfs: &Path) -> Result<()> {
    if super::jail::exists(fb, name) {
        fb.run(&["/usr/sbin/jail", "-r", name])?;
    }
    if rootfs.as_os_str().is_empty() {
        return Ok(());
    }
    let out = fb.run(&["/sbin/mount", "-p"])?;
    // Beneath the root, and the root itself only where it is our
    // read-only alias (nullfs of itself onto itself): the caller may have
    // mounted the root (containerd's snapshot), and that stays.
    let mut found: Vec<(usize, PathBuf)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let on = Path::new(f.get(1)?);
            let ours = on.starts_with(rootfs) && (on != rootfs || Path::new(f[0]) == rootfs);
            ours.then(|| on.to_path_buf())
        })
        .enumerate()
        .collect();
    found.sort_by_key(|(i, m)| std::cmp::Reverse((m.components().count(), *i)));
    for (_, m) in found {
        fb.run(&["/sbin/umount", "-f", &m.display().to_string()])?;
    }
    Ok(())
}
