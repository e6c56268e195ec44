//! Jails: `jail -c` to start (kleened's parameters and defaults), `jexec`
//! to run more, `jail -r` to stop, nullfs for mounts.

use std::path::Path;

use super::{spec_dataset, FreeBsd};
use crate::platform::{fsutil, Attachment, Error, ExecSpec, Result, RunSpec, Started, Stdio};

/// Defaults, each prepended unless a given parameter starts with one of
/// its prefixes. Every jail is made `persist` with no `command`: its
/// command then runs as a `jexec` child kleene waits on (jail(8) exits 1
/// for any failing command and takes the signals meant for it), and the
/// jail lives until that command and every process it left are gone.
/// `exec.stop` is kleene's to run (`jail -r` of a jail made on the command
/// line knows none) and `exec.jail_user`/`exec.clean` concern `command=`,
/// which is not used: those are left out of `jail -c`.
fn with_defaults(hostname: &str, given: &[String]) -> Vec<String> {
    let defaults: [(String, &[&str]); 2] = [
        (format!("host.hostname={hostname}"), &["host.hostname"]),
        ("mount.devfs".into(), &["mount.devfs", "mount.nodevfs"]),
    ];
    let mut out: Vec<String> = vec!["persist".into()];
    out.extend(
        defaults
            .into_iter()
            .filter(|(_, prefixes)| {
                !given
                    .iter()
                    .any(|g| prefixes.iter().any(|p| g.starts_with(p)))
            })
            .map(|(d, _)| d),
    );
    out.extend(given.iter().filter(|g| !kleenes_own(g)).cloned());
    out
}

/// jail(8)'s own parameters, which the kernel does not list
/// (usr.sbin/jail/config.c, `intparams`).
const JAIL8_PARAMS: &[&str] = &[
    "allow.dying",
    "command",
    "depend",
    "exec.clean",
    "exec.consolelog",
    "exec.fib",
    "exec.jail_user",
    "exec.system_jail_user",
    "exec.system_user",
    "exec.timeout",
    "exec.prepare",
    "exec.prestart",
    "exec.created",
    "exec.start",
    "exec.poststart",
    "exec.prestop",
    "exec.stop",
    "exec.poststop",
    "exec.release",
    "interface",
    "ip_hostname",
    "mount",
    "mount.devfs",
    "mount.fdescfs",
    "mount.procfs",
    "mount.fstab",
    "stop.timeout",
    "vnet.interface",
    "zfs.dataset",
];

/// The parameter a `-J` entry names: `allow.noraw_sockets=…` →
/// `allow.raw_sockets`, `nopersist` → `persist` (booleans take a `no`).
fn param_name(entry: &str) -> (String, String) {
    let name = entry.split('=').next().unwrap_or(entry).to_string();
    let positive = match name.rsplit_once('.') {
        Some((head, last)) => match last.strip_prefix("no").filter(|r| !r.is_empty()) {
            Some(rest) => format!("{head}.{rest}"),
            None => name.clone(),
        },
        None => name
            .strip_prefix("no")
            .filter(|r| !r.is_empty())
            .unwrap_or(&name)
            .to_string(),
    };
    (name, positive)
}

/// Refuse parameters neither this host's kernel (`sysctl -N
/// security.jail.param`) nor jail(8) knows, naming the first.
pub fn check_params(fb: &FreeBsd, params: &[String]) -> Result<()> {
    if params.is_empty() {
        return Ok(());
    }
    let out = fb.run(&["/sbin/sysctl", "-N", "security.jail.param"])?;
    let known: std::collections::HashSet<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("security.jail.param."))
        .map(|n| n.trim_end_matches('.'))
        .chain(JAIL8_PARAMS.iter().copied())
        .collect();
    for p in params {
        let (name, positive) = param_name(p);
        if !known.contains(name.as_str()) && !known.contains(positive.as_str()) {
            return Err(Error::Failed(format!(
                "unknown jail parameter '{name}' in -J '{p}': this host's kernel (sysctl security.jail.param) and jail(8) do not know it"
            )));
        }
    }
    Ok(())
}

/// Parameters kleene carries out itself instead of passing to `jail -c`.
fn kleenes_own(param: &str) -> bool {
    let name = param.split('=').next().unwrap_or(param);
    matches!(
        name,
        "exec.stop"
            | "exec.nostop"
            | "exec.jail_user"
            | "exec.clean"
            | "exec.noclean"
            | "persist"
            | "nopersist"
            | "command"
    )
}

/// The `exec.stop` command `klee stop` runs in the jail before removing it:
/// the user's (`-J exec.stop=…`), none (`-J exec.nostop`), or kleened's
/// default, `/bin/sh /etc/rc.shutdown`.
pub fn stop_command(params: &[String]) -> Option<Vec<String>> {
    let mut cmd = Some(vec!["/bin/sh".to_string(), "/etc/rc.shutdown".to_string()]);
    for p in params {
        if p == "exec.nostop" {
            cmd = None;
        } else if let Some(v) = p.strip_prefix("exec.stop=") {
            let v = v.trim_matches('"');
            cmd = (!v.is_empty()).then(|| vec!["/bin/sh".into(), "-c".into(), v.to_string()]);
        }
    }
    cmd
}

/// The network parameters of `jail -c` (§4.2), with kleened's bugs fixed:
/// IPv6 addresses go to `ip6.addr`, never `ip4.addr`, and each family's
/// addresses form one comma-separated parameter. The host-side links are
/// made by [`host_links`] and the inside of a vnet jail by
/// [`vnet_commands`], as root, never by `exec.*` hooks (those run as
/// `exec.jail_user`, and a non-root user cannot configure interfaces).
fn network_params(driver: &str, attachments: &[Attachment]) -> Result<Vec<String>> {
    match driver {
        "" | "disabled" => Ok(vec!["ip4=disable".into(), "ip6=disable".into()]),
        "host" => Ok(vec!["ip4=inherit".into(), "ip6=inherit".into()]),
        "ipnet" => {
            let mut out = Vec::new();
            let (v4, v6) = addresses(attachments);
            if !v4.is_empty() {
                out.push(format!("ip4.addr={}", v4.join(",")));
            }
            if !v6.is_empty() {
                out.push(format!("ip6.addr={}", v6.join(",")));
            }
            Ok(out)
        }
        "vnet" => {
            let mut out = vec!["vnet".to_string()];
            for a in attachments {
                out.push(format!("vnet.interface={}b", epair(a)?));
            }
            Ok(out)
        }
        other => Err(Error::Failed(format!("unknown network driver '{other}'"))),
    }
}

/// The IPv4 and IPv6 addresses of the attachments.
fn addresses(attachments: &[Attachment]) -> (Vec<&str>, Vec<&str>) {
    let pick = |f: fn(&Attachment) -> &str| -> Vec<&str> {
        attachments
            .iter()
            .map(f)
            .filter(|s| !s.is_empty())
            .collect()
    };
    (pick(|a| a.ip.as_str()), pick(|a| a.ip6.as_str()))
}

fn epair(a: &Attachment) -> Result<&str> {
    a.epair.as_deref().ok_or_else(|| {
        Error::Failed(format!(
            "no epair was made for the attachment to {}",
            a.interface
        ))
    })
}

/// Host-side commands before `jail -c`: an ipnet jail's addresses as
/// aliases on its networks' interfaces; a vnet jail's epair host ends
/// added to their bridges and brought up.
fn host_links(driver: &str, attachments: &[Attachment]) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for a in attachments {
        let i = a.interface.clone();
        match driver {
            "ipnet" => {
                if !a.ip.is_empty() {
                    out.push(argv(&[
                        "/sbin/ifconfig",
                        &i,
                        "inet",
                        &format!("{}/32", a.ip),
                        "alias",
                    ]));
                }
                if !a.ip6.is_empty() {
                    out.push(argv(&[
                        "/sbin/ifconfig",
                        &i,
                        "inet6",
                        &format!("{}/128", a.ip6),
                        "alias",
                    ]));
                }
            }
            "vnet" => {
                let e = epair(a)?;
                out.push(argv(&["/sbin/ifconfig", &i, "addm", &format!("{e}a")]));
                out.push(argv(&["/sbin/ifconfig", &format!("{e}a"), "up"]));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Inside a vnet jail, as root (`jexec <id>`, full paths): its ends of the
/// epairs addressed and up, and the default routes.
fn vnet_commands(id: &str, attachments: &[Attachment]) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let jexec = |rest: &[&str]| {
        let mut v = argv(&["/usr/sbin/jexec", id]);
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    // A new vnet's loopback is down and has no address (rc.d/netif would
    // set it up; a plain command does not run it).
    out.push(jexec(&[
        "/sbin/ifconfig",
        "lo0",
        "inet",
        "127.0.0.1/8",
        "up",
    ]));
    for a in attachments {
        let b = format!("{}b", epair(a)?);
        for (family, flag, ip, prefix, gateway) in [
            ("inet", "-inet", &a.ip, a.prefix, &a.gateway),
            ("inet6", "-inet6", &a.ip6, a.prefix6, &a.gateway6),
        ] {
            if ip.is_empty() {
                continue;
            }
            let addr = format!("{ip}/{prefix}");
            out.push(jexec(&["/sbin/ifconfig", &b, family, &addr, "up"]));
            if !gateway.is_empty() {
                out.push(jexec(&["/sbin/route", "add", flag, "default", gateway]));
            }
        }
    }
    Ok(out)
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// vnet: one epair per attachment (`ifconfig epair create` prints `epairNa`).
pub fn prepare_links(fb: &FreeBsd, spec: &mut RunSpec) -> Result<()> {
    if spec.network_driver != "vnet" {
        return Ok(());
    }
    for i in 0..spec.attachments.len() {
        let out = match fb.run(&["/sbin/ifconfig", "epair", "create"]) {
            Ok(o) => o,
            Err(e) => {
                let _ = remove_links(fb, spec);
                return Err(e);
            }
        };
        let name = out.stdout.trim().trim_end_matches('a').to_string();
        spec.attachments[i].epair = Some(name);
    }
    Ok(())
}

/// Take down what `prepare_links` and [`host_links`] made.
fn remove_links(fb: &FreeBsd, spec: &RunSpec) -> Result<()> {
    for a in &spec.attachments {
        match spec.network_driver.as_str() {
            "vnet" => {
                if let Some(e) = &a.epair {
                    let _ = fb.run(&["/sbin/ifconfig", &a.interface, "deletem", &format!("{e}a")]);
                    // Destroying one end destroys both.
                    let _ = fb.run(&["/sbin/ifconfig", &format!("{e}a"), "destroy"]);
                }
            }
            "ipnet" => remove_aliases(fb, a),
            _ => {}
        }
    }
    Ok(())
}

fn remove_aliases(fb: &FreeBsd, a: &Attachment) {
    if !a.ip.is_empty() {
        let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet", &a.ip, "-alias"]);
    }
    if !a.ip6.is_empty() {
        let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet6", &a.ip6, "-alias"]);
    }
}

/// Standard streams for a spawned command. `/dev/null` or a pty slave is
/// opened here and closed when the returned file drops (the runner dups
/// what it uses); with `-t`, the pty's master comes back too, for the
/// engine to relay (the slave becomes the command's controlling terminal).
type Streams = (
    [Option<i32>; 3],
    Option<std::fs::File>,
    Option<std::os::fd::OwnedFd>,
);

pub(super) fn stdio_fds(stdio: &Stdio) -> Result<Streams> {
    use std::os::fd::AsRawFd;
    let null =
        || std::fs::File::open("/dev/null").map_err(|e| Error::io("cannot open", "/dev/null", e));
    match *stdio {
        Stdio::Inherit { stdin: true } => Ok(([None, None, None], None, None)),
        Stdio::Inherit { stdin: false } => {
            let n = null()?;
            Ok(([Some(n.as_raw_fd()), None, None], Some(n), None))
        }
        Stdio::Files { out, err } => {
            let n = null()?;
            Ok(([Some(n.as_raw_fd()), Some(out), Some(err)], Some(n), None))
        }
        Stdio::Pty => {
            let (master, slave) = open_pty()?;
            let fd = slave.as_raw_fd();
            Ok(([Some(fd); 3], Some(slave), Some(master)))
        }
    }
}

/// A new pty pair on the host: (master, slave).
fn open_pty() -> Result<(std::os::fd::OwnedFd, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty fills two fds; no name, termios or size is given.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            // (*mut on FreeBSD, *const on Linux: null_mut fits both.)
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(Error::io(
            "cannot open",
            "a pty",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: both fds are fresh and ours.
    unsafe {
        libc::fcntl(m, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(s, libc::F_SETFD, libc::FD_CLOEXEC);
        Ok((
            std::os::fd::OwnedFd::from_raw_fd(m),
            std::fs::File::from_raw_fd(s),
        ))
    }
}

/// Mounts under `root` (from `mount -p`), deepest first: what an earlier
/// run that was killed left there.
fn mounts_under(fb: &FreeBsd, root: &Path) -> Vec<std::path::PathBuf> {
    let Ok(out) = fb.run(&["/sbin/mount", "-p"]) else {
        return Vec::new();
    };
    let mut found = super::inventory::mounts_in(&out.stdout, &[root.to_path_buf()]);
    found.retain(|m| m != root);
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found
}

/// nullfs mounts into the jail's root before it starts, after removing
/// whatever a killed earlier run left mounted there.
fn mount_all(fb: &FreeBsd, root: &Path, spec: &RunSpec) -> Result<()> {
    for stale in mounts_under(fb, root) {
        fb.run(&["/sbin/umount", "-f", &stale.display().to_string()])?;
    }
    for m in &spec.mounts {
        // Symlinks in the image resolve inside the jail's root, never on
        // the host (an image's `/data -> /etc` is the jail's /etc).
        let dest = fsutil::resolve_beneath(root, Path::new(&m.destination))?;
        if m.source.is_dir() {
            std::fs::create_dir_all(&dest)
                .map_err(|e| Error::io("cannot create mount point", &dest, e))?;
            if m.populate && fsutil::dir_is_empty(&m.source) {
                // A fresh volume takes the owner, mode and content of the
                // image's directory (as Docker).
                if let Ok(md) = std::fs::metadata(&dest) {
                    use std::os::unix::fs::{MetadataExt, PermissionsExt};
                    let _ = std::os::unix::fs::chown(&m.source, Some(md.uid()), Some(md.gid()));
                    let _ = std::fs::set_permissions(
                        &m.source,
                        std::fs::Permissions::from_mode(md.mode() & 0o7777),
                    );
                }
                if !fsutil::dir_is_empty(&dest) {
                    fsutil::copy_tree(&dest, &m.source, fsutil::Mode::Copy, &|_| false, &mut ())?;
                }
            }
        } else {
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|e| Error::io("cannot create mount point", p, e))?;
            }
            if !dest.exists() {
                std::fs::write(&dest, b"")
                    .map_err(|e| Error::io("cannot create mount point", &dest, e))?;
            }
        }
        let (src, dst) = (m.source.display().to_string(), dest.display().to_string());
        let mut argv = vec!["/sbin/mount_nullfs"];
        if m.read_only {
            argv.extend(["-o", "ro"]);
        }
        argv.extend([src.as_str(), dst.as_str()]);
        fb.run(&argv)?;
    }
    Ok(())
}

/// Undo what `start` set up around the jail, once it is gone: nullfs
/// mounts, devfs, its rctl rules, a read-only root, its links.
pub fn cleanup(fb: &FreeBsd, spec: &RunSpec) -> Result<()> {
    if !spec.limits.is_empty() {
        let _ = fb.remove_limits(&spec.id);
    }
    let ds = spec_dataset(spec);
    if spec.process.profile.read_only_rootfs {
        let _ = fb.run(&["/sbin/zfs", "set", "readonly=off", &ds]);
    }
    let root = fb.mountpoint(&ds)?;
    for m in spec.mounts.iter().rev() {
        if let Ok(dest) = fsutil::resolve_beneath(&root, Path::new(&m.destination)) {
            let _ = fb.run(&["/sbin/umount", &dest.display().to_string()]);
        }
    }
    // jail(8) mounted devfs at the jail's /dev (checked by its check_path);
    // unmounted here by the same rule.
    if let Ok(dev) = fsutil::resolve_beneath(&root, Path::new("/dev")) {
        let _ = fb.run(&["/sbin/umount", &dev.display().to_string()]);
    }
    remove_links(fb, spec)
}

/// Does jail `id` exist? (kleened's check: `jls -j` exits 0.)
pub fn exists(fb: &FreeBsd, id: &str) -> bool {
    fb.succeeds(&["/usr/sbin/jls", "--libxo=json", "-j", id])
}

fn run_all(fb: &FreeBsd, commands: &[Vec<String>]) -> Result<()> {
    for c in commands {
        let c: Vec<&str> = c.iter().map(String::as_str).collect();
        fb.run(&c)?;
    }
    Ok(())
}

pub fn start(fb: &FreeBsd, spec: &RunSpec, stdio: &Stdio) -> Result<Started> {
    if spec.fly {
        return Err(Error::Unsupported(
            "--fly (a jail is the lightest isolation FreeBSD has)",
        ));
    }
    if spec.bundle.is_some() {
        return super::oci::start(fb, spec, stdio);
    }
    let (fds, _slave, master) = stdio_fds(stdio)?;
    let ds = spec_dataset(spec);
    let root = fb.mountpoint(&ds)?;
    crate::platform::failpoint::check("container.start.mounts")?;
    let mut created = false;
    let started = (|| {
        mount_all(fb, &root, spec)?;
        if spec.process.profile.read_only_rootfs {
            fb.run(&["/sbin/zfs", "set", "readonly=on", &ds])?;
        }
        // By the jail's name, before it exists: the kernel applies them
        // from its first process on.
        fb.add_limits(&spec.id, &spec.limits)?;
        run_all(fb, &host_links(&spec.network_driver, &spec.attachments)?)?;
        let mut argv: Vec<String> = vec![
            "/usr/sbin/jail".into(),
            "-c".into(),
            format!("path={}", root.display()),
            format!("name={}", spec.id),
        ];
        argv.extend(network_params(&spec.network_driver, &spec.attachments)?);
        let mut params = super::confine::profile_params(&spec.process.profile, &spec.jail_params);
        params.extend(spec.jail_params.iter().cloned());
        argv.extend(with_defaults(&spec.hostname, &params));
        let argv_ref: Vec<&str> = argv.iter().map(String::as_str).collect();
        fb.run(&argv_ref)?;
        created = true;
        if spec.network_driver == "vnet" {
            run_all(fb, &vnet_commands(&spec.id, &spec.attachments)?)?;
        }
        let cmd = super::run_as::argv(&spec.id, &root, &spec.hostname, &spec.process)?;
        crate::platform::failpoint::check("container.start.exec")?;
        fb.runner
            .spawn(&cmd, fds)
            .map_err(|e| Error::Failed(format!("cannot run '/usr/sbin/jexec': {e}")))
    })();
    match started {
        Ok(pid) => Ok(Started {
            pid,
            pty_master: master,
        }),
        Err(e) => {
            if created {
                let _ = fb.run(&["/usr/sbin/jail", "-r", &spec.id]);
            }
            let _ = cleanup(fb, spec);
            Err(e)
        }
    }
}

/// Wait for the jail's command, then for the jail: `nopersist` lets the
/// kernel remove it once the daemons the command left (a thin VM's
/// `/etc/rc`) are gone too; until then the container runs. A build step's
/// jail goes at once, with whatever its command left running.
pub fn wait(fb: &FreeBsd, spec: &RunSpec, pid: i32) -> Result<crate::platform::ExitStatus> {
    let status = crate::platform::wait_pid(pid)?;
    // Its pid is reaped and may be reused: no signal may go there now.
    crate::platform::term::forward_signals_to(0);
    let linger = !spec.die_with_caller
        && fb
            .run(&[
                "/usr/sbin/jail",
                "-m",
                &format!("name={}", spec.id),
                "nopersist",
            ])
            .is_ok();
    if !linger && exists(fb, &spec.id) {
        let _ = stop(fb, &spec.id, libc::SIGKILL, &[]);
    }
    while exists(fb, &spec.id) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(status)
}

pub fn exec(fb: &FreeBsd, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
    if spec.exact.is_some() {
        // kleene-oci's exec: the exact identity, no lookups in the jail.
        return super::oci::exec(fb, spec, stdio);
    }
    let (fds, _slave, master) = stdio_fds(stdio)?;
    let out = fb.run(&[
        "/usr/sbin/jls",
        "-j",
        &spec.container,
        "path",
        "host.hostname",
    ])?;
    let mut fields = out.stdout.split_whitespace();
    let (root, hostname) = (fields.next().unwrap_or("/"), fields.next().unwrap_or(""));
    let argv = super::run_as::argv(&spec.container, Path::new(root), hostname, spec)?;
    let pid = fb
        .runner
        .spawn(&argv, fds)
        .map_err(|e| Error::Failed(format!("cannot run '/usr/sbin/jexec': {e}")))?;
    Ok(Started {
        pid,
        pty_master: master,
    })
}

/// SIGTERM: the jail's `exec.stop` (by default `/bin/sh /etc/rc.shutdown`,
/// which stops the rc.d services a thin VM runs), and SIGTERM to every
/// process in the jail (`pkill -TERM -j`, as `jail -r` would: the command
/// may be gone and its pid reused); the caller waits for the jail to go.
/// SIGKILL: every process killed (`jail -r` alone would SIGTERM them and
/// wait up to `stop.timeout`, 10 s), then `jail -r`, which may find the
/// jail already gone with its last process.
pub fn stop(fb: &FreeBsd, id: &str, signal: i32, params: &[String]) -> Result<()> {
    if signal != libc::SIGTERM {
        if exists(fb, id) {
            // Exit 1 when nothing was left to kill.
            let _ = fb.run(&["/bin/pkill", "-KILL", "-j", id]);
            if let Err(e) = fb.run(&["/usr/sbin/jail", "-r", id]) {
                if exists(fb, id) {
                    return Err(e);
                }
            }
        }
        return Ok(());
    }
    if let Some(cmd) = stop_command(params) {
        let mut argv = vec!["/usr/sbin/jexec".to_string(), id.to_string()];
        argv.extend(cmd);
        // Not waited for here: the stop timeout bounds it, and `jail -r`
        // ends it if it hangs; its output goes nowhere. Reaped by a thread.
        let (fds, _null, _) = stdio_fds(&Stdio::Inherit { stdin: false })?;
        let null = fds[0];
        if let Ok(p) = fb.runner.spawn(&argv, [null, null, null]) {
            std::thread::spawn(move || crate::platform::wait_pid(p));
        }
    }
    let _ = fb.run(&["/bin/pkill", "-TERM", "-j", id]);
    Ok(())
}

/// A running container joins or leaves networks. ipnet: add the new
/// aliases, drop the old ones, tell the jail its addresses (`jail -m`).
/// vnet: an epair leaves the jail (`ifconfig epairNb -vnet <id>`) and is
/// destroyed; joining needs a restart (a vnet jail gets its interfaces
/// when it is made).
pub fn relink(
    fb: &FreeBsd,
    id: &str,
    driver: &str,
    before: &[Attachment],
    after: &[Attachment],
) -> Result<()> {
    let has = |set: &[Attachment], a: &Attachment| set.iter().any(|b| b.endpoint == a.endpoint);
    let added: Vec<Attachment> = after.iter().filter(|a| !has(before, a)).cloned().collect();
    let removed: Vec<&Attachment> = before.iter().filter(|a| !has(after, a)).collect();
    match driver {
        "ipnet" => {
            run_all(fb, &host_links(driver, &added)?)?;
            for a in removed {
                remove_aliases(fb, a);
            }
            // Only the families the jail had or gets: an empty ip6.addr
            // on a jail that never had IPv6 is a change nobody asked for.
            let (v4, v6) = addresses(after);
            let (b4, b6) = addresses(before);
            let name = format!("name={id}");
            let mut argv = vec!["/usr/sbin/jail".to_string(), "-m".into(), name];
            if !v4.is_empty() || !b4.is_empty() {
                argv.push(format!("ip4.addr={}", v4.join(",")));
            }
            if !v6.is_empty() || !b6.is_empty() {
                argv.push(format!("ip6.addr={}", v6.join(",")));
            }
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            fb.run(&argv).map(drop)
        }
        "vnet" => {
            if !added.is_empty() {
                return Err(Error::Unsupported(
                    "connecting a running vnet container (stop it, connect, start it)",
                ));
            }
            for a in removed {
                let e = epair(a)?;
                fb.run(&["/sbin/ifconfig", &format!("{e}b"), "-vnet", id])?;
                let _ = fb.run(&["/sbin/ifconfig", &a.interface, "deletem", &format!("{e}a")]);
                fb.run(&["/sbin/ifconfig", &format!("{e}a"), "destroy"])?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `jail -m name=<id> <params…>` for a running jail: the kernel's
/// parameters only (jail(8)'s own, `exec.*`, `mount.*`, …, act when a jail
/// is made or removed, and kleene carries some out itself).
pub fn update_params(fb: &FreeBsd, id: &str, params: &[String]) -> Result<()> {
    let name = format!("name={id}");
    let mut argv: Vec<&str> = vec!["/usr/sbin/jail", "-m", &name];
    argv.extend(
        params
            .iter()
            .filter(|p| {
                let (name, positive) = param_name(p);
                !kleenes_own(p)
                    && !JAIL8_PARAMS.contains(&name.as_str())
                    && !JAIL8_PARAMS.contains(&positive.as_str())
            })
            .map(String::as_str),
    );
    if argv.len() == 3 {
        return Ok(());
    }
    fb.run(&argv).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_their_suppression() {
        assert_eq!(
            with_defaults("abc", &[]),
            ["persist", "host.hostname=abc", "mount.devfs"]
        );
        let given = vec![
            "exec.noclean".to_string(),
            "mount.nodevfs".into(),
            "host.hostname=web".into(),
            "allow.raw_sockets".into(),
            "exec.stop=/bin/true".into(),
        ];
        assert_eq!(
            with_defaults("abc", &given),
            [
                "persist",
                "mount.nodevfs",
                "host.hostname=web",
                "allow.raw_sockets"
            ]
        );
        assert_eq!(
            network_params("disabled", &[]).unwrap(),
            ["ip4=disable", "ip6=disable"]
        );
        assert_eq!(
            network_params("host", &[]).unwrap(),
            ["ip4=inherit", "ip6=inherit"]
        );
        assert!(network_params("bogus", &[]).is_err());
    }

    #[test]
    fn exec_stop_is_kleenes_to_run() {
        let rc = Some(vec!["/bin/sh".to_string(), "/etc/rc.shutdown".to_string()]);
        assert_eq!(stop_command(&[]), rc);
        assert_eq!(stop_command(&["exec.nostop".into()]), None);
        // Quoted as kleened wrote it, or not: one shell command either way.
        assert_eq!(
            stop_command(&["exec.stop=\"/bin/sh /etc/rc.shutdown\"".into()]),
            Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "/bin/sh /etc/rc.shutdown".into()
            ])
        );
    }

    fn att(ip: &str, ip6: &str) -> Attachment {
        Attachment {
            endpoint: "e".into(),
            interface: "kleene0".into(),
            ip: ip.into(),
            ip6: ip6.into(),
            prefix: 24,
            prefix6: 64,
            gateway: "10.0.0.1".into(),
            gateway6: String::new(),
            epair: Some("epair4".into()),
            isolated: false,
        }
    }

    fn lines(v: Vec<Vec<String>>) -> Vec<String> {
        v.into_iter().map(|a| a.join(" ")).collect()
    }

    #[test]
    fn ipnet_addresses_by_family() {
        let mut b = att("10.1.0.3", "");
        b.interface = "kleene1".into();
        let atts = [att("10.0.0.2", "fd00::2"), b];
        assert_eq!(
            network_params("ipnet", &atts).unwrap(),
            ["ip4.addr=10.0.0.2,10.1.0.3", "ip6.addr=fd00::2"]
        );
        assert_eq!(
            lines(host_links("ipnet", &atts).unwrap()),
            [
                "/sbin/ifconfig kleene0 inet 10.0.0.2/32 alias",
                "/sbin/ifconfig kleene0 inet6 fd00::2/128 alias",
                "/sbin/ifconfig kleene1 inet 10.1.0.3/32 alias",
            ]
        );
    }

    #[test]
    fn vnet_links_and_routes_as_root() {
        let atts = [att("10.0.0.2", "fd00::2")];
        assert_eq!(
            network_params("vnet", &atts).unwrap(),
            ["vnet", "vnet.interface=epair4b"]
        );
        assert_eq!(
            lines(host_links("vnet", &atts).unwrap()),
            [
                "/sbin/ifconfig kleene0 addm epair4a",
                "/sbin/ifconfig epair4a up"
            ]
        );
        assert_eq!(
            lines(vnet_commands("c1", &atts).unwrap()),
            [
                "/usr/sbin/jexec c1 /sbin/ifconfig lo0 inet 127.0.0.1/8 up",
                "/usr/sbin/jexec c1 /sbin/ifconfig epair4b inet 10.0.0.2/24 up",
                "/usr/sbin/jexec c1 /sbin/route add -inet default 10.0.0.1",
                "/usr/sbin/jexec c1 /sbin/ifconfig epair4b inet6 fd00::2/64 up",
            ]
        );
    }
}
