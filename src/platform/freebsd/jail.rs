//! Jails: `jail -c` to start (kleened's parameters and defaults), `jexec`
//! to run more, `jail -r` to stop, nullfs for mounts.

use std::path::Path;

use super::{dataset, FreeBsd};
use crate::platform::{fsutil, Attachment, Error, ExecSpec, Result, RunSpec, Started, Stdio};

/// kleened's defaults, each prepended unless a given parameter starts with
/// one of its prefixes (§4.2).
fn with_defaults(id: &str, user: &str, given: &[String]) -> Vec<String> {
    let user = if user.is_empty() { "root" } else { user };
    let defaults: [(String, &[&str]); 5] = [
        (format!("host.hostname={id}"), &["host.hostname"]),
        (format!("exec.jail_user={user}"), &["exec.jail_user"]),
        ("exec.clean=true".into(), &["exec.clean", "exec.noclean"]),
        (
            "exec.stop=\"/bin/sh /etc/rc.shutdown\"".into(),
            &["exec.stop", "exec.nostop"],
        ),
        ("mount.devfs=true".into(), &["mount.devfs", "mount.nodevfs"]),
    ];
    let mut out: Vec<String> = defaults
        .into_iter()
        .filter(|(_, prefixes)| {
            !given
                .iter()
                .any(|g| prefixes.iter().any(|p| g.starts_with(p)))
        })
        .map(|(d, _)| d)
        .collect();
    out.extend(given.iter().cloned());
    out
}

/// The network parameters of a jail (§4.2), with kleened's bugs fixed:
/// IPv6 addresses go to `ip6.addr`, never `ip4.addr`, and each family's
/// addresses form one comma-separated parameter.
fn network_params(driver: &str, attachments: &[Attachment]) -> Result<Vec<String>> {
    match driver {
        "" | "disabled" => Ok(vec!["ip4=disable".into(), "ip6=disable".into()]),
        "host" => Ok(vec!["ip4=inherit".into(), "ip6=inherit".into()]),
        "ipnet" => {
            let mut out = Vec::new();
            for a in attachments {
                if !a.ip.is_empty() {
                    out.push(format!(
                        "exec.prestart=ifconfig {} inet {}/32 alias",
                        a.interface, a.ip
                    ));
                }
                if !a.ip6.is_empty() {
                    out.push(format!(
                        "exec.prestart=ifconfig {} inet6 {}/128 alias",
                        a.interface, a.ip6
                    ));
                }
            }
            let v4: Vec<&str> = attachments
                .iter()
                .map(|a| a.ip.as_str())
                .filter(|s| !s.is_empty())
                .collect();
            let v6: Vec<&str> = attachments
                .iter()
                .map(|a| a.ip6.as_str())
                .filter(|s| !s.is_empty())
                .collect();
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
                let e = a.epair.as_ref().ok_or_else(|| {
                    Error::Failed(format!(
                        "no epair was made for the attachment to {}",
                        a.interface
                    ))
                })?;
                out.push(format!("vnet.interface={e}b"));
                out.push(format!("exec.prestart=ifconfig {} addm {e}a", a.interface));
                out.push(format!("exec.prestart=ifconfig {e}a up"));
                if !a.ip.is_empty() {
                    out.push(format!(
                        "exec.start=ifconfig {e}b inet {}/{}",
                        a.ip, a.prefix
                    ));
                    if !a.gateway.is_empty() {
                        out.push(format!("exec.start=route add -inet default {}", a.gateway));
                    }
                }
                if !a.ip6.is_empty() {
                    out.push(format!(
                        "exec.start=ifconfig {e}b inet6 {}/{}",
                        a.ip6, a.prefix6
                    ));
                    if !a.gateway6.is_empty() {
                        out.push(format!(
                            "exec.start=route add -inet6 default {}",
                            a.gateway6
                        ));
                    }
                }
            }
            Ok(out)
        }
        other => Err(Error::Failed(format!("unknown network driver '{other}'"))),
    }
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

/// Take down what `prepare_links` and the ipnet aliases made.
fn remove_links(fb: &FreeBsd, spec: &RunSpec) -> Result<()> {
    for a in &spec.attachments {
        match spec.network_driver.as_str() {
            "vnet" => {
                if let Some(e) = &a.epair {
                    let _ = fb.run(&["/sbin/ifconfig", &a.interface, "deletem", &format!("{e}a")]);
                    let _ = fb.run(&["/sbin/ifconfig", &format!("{e}a"), "destroy"]);
                }
            }
            "ipnet" => {
                if !a.ip.is_empty() {
                    let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet", &a.ip, "-alias"]);
                }
                if !a.ip6.is_empty() {
                    let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet6", &a.ip6, "-alias"]);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `/usr/bin/env [-C dir] K=V… cmd…`: the environment is passed as kleened
/// does; a working directory uses env(1)'s `-C` (kleened ignored it).
fn env_command(spec: &ExecSpec) -> Vec<String> {
    let mut v = vec!["/usr/bin/env".to_string()];
    if !spec.workdir.is_empty() {
        v.extend(["-C".to_string(), spec.workdir.clone()]);
    }
    v.extend(spec.env.iter().cloned());
    v.extend(spec.cmd.iter().cloned());
    v
}

fn stdio_fds(stdio: &Stdio) -> Result<[Option<i32>; 3]> {
    match *stdio {
        Stdio::Inherit { stdin: true } => Ok([None, None, None]),
        Stdio::Inherit { stdin: false } => Ok([Some(null_fd()?), None, None]),
        Stdio::Files { out, err } => Ok([Some(null_fd()?), Some(out), Some(err)]),
        Stdio::Pty => Err(Error::Unsupported("a terminal (-t) for jails")),
    }
}

fn null_fd() -> Result<i32> {
    // SAFETY: opening /dev/null; the fd is closed by the runner's spawn (it dups).
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io(
            "cannot open",
            "/dev/null",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(fd)
}

/// nullfs mounts into the jail's root before it starts.
fn mount_all(fb: &FreeBsd, root: &Path, spec: &RunSpec) -> Result<()> {
    for m in &spec.mounts {
        let dest = root.join(m.destination.trim_start_matches('/'));
        if m.source.is_dir() {
            std::fs::create_dir_all(&dest)
                .map_err(|e| Error::io("cannot create mount point", &dest, e))?;
            if m.populate && fsutil::dir_is_empty(&m.source) && !fsutil::dir_is_empty(&dest) {
                fsutil::copy_tree(&dest, &m.source, fsutil::Mode::Copy, &|_| false, &mut ())?;
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

/// Undo what `start` set up around the jail: nullfs mounts, devfs, its
/// rctl rules and a read-only root.
pub fn cleanup(fb: &FreeBsd, spec: &RunSpec) -> Result<()> {
    if !spec.limits.is_empty() {
        let _ = fb.remove_limits(&spec.id);
    }
    let ds = dataset(&spec.container_dir);
    if spec.process.profile.read_only_rootfs {
        let _ = fb.run(&["/sbin/zfs", "set", "readonly=off", &ds]);
    }
    let root = fb.mountpoint(&ds)?;
    for m in spec.mounts.iter().rev() {
        let dest = root
            .join(m.destination.trim_start_matches('/'))
            .display()
            .to_string();
        let _ = fb.run(&["/sbin/umount", &dest]);
    }
    let dev = root.join("dev").display().to_string();
    let _ = fb.run(&["/sbin/umount", &dev]);
    remove_links(fb, spec)
}

pub fn start(fb: &FreeBsd, spec: &RunSpec, stdio: &Stdio) -> Result<Started> {
    if spec.fly {
        return Err(Error::Unsupported(
            "--fly (a jail is the lightest isolation FreeBSD has)",
        ));
    }
    let fds = stdio_fds(stdio)?;
    let ds = dataset(&spec.container_dir);
    let root = fb.mountpoint(&ds)?;
    crate::platform::failpoint::check("container.start.mounts")?;
    let prepared = (|| {
        mount_all(fb, &root, spec)?;
        if spec.process.profile.read_only_rootfs {
            fb.run(&["/sbin/zfs", "set", "readonly=on", &ds])?;
        }
        // By the jail's name, before it exists: the kernel applies them
        // from its first process on.
        fb.add_limits(&spec.id, &spec.limits)
    })();
    if let Err(e) = prepared {
        let _ = cleanup(fb, spec);
        return Err(e);
    }
    let mut argv: Vec<String> = vec![
        "/usr/sbin/jail".into(),
        "-c".into(),
        format!("path={}", root.display()),
        format!("name={}", spec.id),
    ];
    argv.extend(network_params(&spec.network_driver, &spec.attachments)?);
    let mut params = super::confine::profile_params(&spec.process.profile, &spec.jail_params);
    params.extend(spec.jail_params.iter().cloned());
    argv.extend(with_defaults(&spec.hostname, &spec.process.user, &params));
    let env = env_command(&spec.process);
    argv.push(format!("command={}", env[0]));
    argv.extend(env[1..].iter().cloned());
    crate::platform::failpoint::check("container.start.exec")?;
    let pid = fb.runner.spawn(&argv, fds).map_err(|e| {
        let _ = cleanup(fb, spec);
        Error::Failed(format!("cannot run '/usr/sbin/jail': {e}"))
    })?;
    Ok(Started {
        pid,
        pty_master: None,
    })
}

pub fn exec(fb: &FreeBsd, spec: &ExecSpec, stdio: &Stdio) -> Result<Started> {
    let fds = stdio_fds(stdio)?;
    let user = if spec.user.is_empty() {
        "root"
    } else {
        spec.user.as_str()
    };
    let mut argv: Vec<String> = vec![
        "/usr/sbin/jexec".into(),
        "-l".into(),
        "-U".into(),
        user.into(),
        spec.container.clone(),
    ];
    argv.extend(env_command(spec));
    let pid = fb
        .runner
        .spawn(&argv, fds)
        .map_err(|e| Error::Failed(format!("cannot run '/usr/sbin/jexec': {e}")))?;
    Ok(Started {
        pid,
        pty_master: None,
    })
}

pub fn stop(fb: &FreeBsd, id: &str) -> Result<()> {
    fb.run(&["/usr/sbin/jail", "-r", id]).map(drop)
}

/// ipnet: add the new aliases, drop the old ones, and tell the jail its
/// addresses (`jail -m`); IPv6 never goes to `ip4.addr` (a kleened bug).
pub fn relink(
    fb: &FreeBsd,
    id: &str,
    driver: &str,
    before: &[Attachment],
    after: &[Attachment],
) -> Result<()> {
    if driver != "ipnet" {
        return Ok(());
    }
    let has = |set: &[Attachment], a: &Attachment| set.iter().any(|b| b.endpoint == a.endpoint);
    for a in after.iter().filter(|a| !has(before, a)) {
        if !a.ip.is_empty() {
            fb.run(&[
                "/sbin/ifconfig",
                &a.interface,
                "inet",
                &format!("{}/32", a.ip),
                "alias",
            ])?;
        }
        if !a.ip6.is_empty() {
            fb.run(&[
                "/sbin/ifconfig",
                &a.interface,
                "inet6",
                &format!("{}/128", a.ip6),
                "alias",
            ])?;
        }
    }
    for a in before.iter().filter(|a| !has(after, a)) {
        if !a.ip.is_empty() {
            let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet", &a.ip, "-alias"]);
        }
        if !a.ip6.is_empty() {
            let _ = fb.run(&["/sbin/ifconfig", &a.interface, "inet6", &a.ip6, "-alias"]);
        }
    }
    let v4: Vec<&str> = after
        .iter()
        .map(|a| a.ip.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let v6: Vec<&str> = after
        .iter()
        .map(|a| a.ip6.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let (p4, p6) = (
        format!("ip4.addr={}", v4.join(",")),
        format!("ip6.addr={}", v6.join(",")),
    );
    fb.run(&["/usr/sbin/jail", "-m", &format!("name={id}"), &p4, &p6])
        .map(drop)
}

/// `jail -m name=<id> <params…>` for a running jail.
pub fn update_params(fb: &FreeBsd, id: &str, params: &[String]) -> Result<()> {
    let name = format!("name={id}");
    let mut argv: Vec<&str> = vec!["/usr/sbin/jail", "-m", &name];
    argv.extend(params.iter().map(String::as_str));
    fb.run(&argv).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_their_suppression() {
        assert_eq!(
            with_defaults("abc", "", &[]),
            [
                "host.hostname=abc",
                "exec.jail_user=root",
                "exec.clean=true",
                "exec.stop=\"/bin/sh /etc/rc.shutdown\"",
                "mount.devfs=true"
            ]
        );
        let given = vec![
            "exec.noclean".to_string(),
            "mount.nodevfs".into(),
            "host.hostname=web".into(),
            "allow.raw_sockets".into(),
        ];
        assert_eq!(
            with_defaults("abc", "www", &given),
            [
                "exec.jail_user=www",
                "exec.stop=\"/bin/sh /etc/rc.shutdown\"",
                "exec.noclean",
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

    #[test]
    fn ipnet_addresses_by_family() {
        let mut b = att("10.1.0.3", "");
        b.interface = "kleene1".into();
        assert_eq!(
            network_params("ipnet", &[att("10.0.0.2", "fd00::2"), b]).unwrap(),
            [
                "exec.prestart=ifconfig kleene0 inet 10.0.0.2/32 alias",
                "exec.prestart=ifconfig kleene0 inet6 fd00::2/128 alias",
                "exec.prestart=ifconfig kleene1 inet 10.1.0.3/32 alias",
                "ip4.addr=10.0.0.2,10.1.0.3",
                "ip6.addr=fd00::2",
            ]
        );
    }

    #[test]
    fn vnet_links_and_routes() {
        assert_eq!(
            network_params("vnet", &[att("10.0.0.2", "fd00::2")]).unwrap(),
            [
                "vnet",
                "vnet.interface=epair4b",
                "exec.prestart=ifconfig kleene0 addm epair4a",
                "exec.prestart=ifconfig epair4a up",
                "exec.start=ifconfig epair4b inet 10.0.0.2/24",
                "exec.start=route add -inet default 10.0.0.1",
                "exec.start=ifconfig epair4b inet6 fd00::2/64",
            ]
        );
    }
}
