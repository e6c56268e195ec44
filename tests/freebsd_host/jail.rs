//! jail(8), jexec(8), jls(8) of the model.

use std::path::{Path, PathBuf};

use kleene::platform::cmd::Output;

use super::*;

impl State {
    // ---- jails ----
    pub(super) fn jail(&mut self, a: &[&str]) -> Output {
        match a {
            ["-c", params @ ..] => self.jail_create(params),
            ["-m", params @ ..] => {
                let Some(name) = params.iter().find_map(|p| p.strip_prefix("name=")) else {
                    return fail(1, "jail: no jail specified");
                };
                if !self.jails.contains_key(name) {
                    return fail(1, &format!("jail: \"{name}\" not found"));
                }
                for p in params.iter().filter(|p| !p.starts_with("name=")) {
                    let k = p.split('=').next().unwrap();
                    if !KERNEL_PARAMS.contains(&base_name(k).as_str())
                        && !KERNEL_PARAMS.contains(&k)
                    {
                        return fail(1, &format!("jail: unknown parameter: {k}"));
                    }
                }
                let j = self.jails.get_mut(name).unwrap();
                for p in params.iter().filter(|p| !p.starts_with("name=")) {
                    match *p {
                        "nopersist" => j.persist = false,
                        "persist" => j.persist = true,
                        p => {
                            let (k, v) = p.split_once('=').unwrap_or((p, ""));
                            j.params.insert(k.into(), v.into());
                        }
                    }
                }
                self.reap();
                ok("")
            }
            ["-r", name] => {
                if !self.jails.contains_key(*name) {
                    return fail(1, &format!("jail: \"{name}\" not found"));
                }
                // SIGTERM to its processes; the model's daemons obey.
                self.remove_jail(name);
                ok("")
            }
            _ => {
                self.unknown.push(format!("jail {}", a.join(" ")));
                fail(64, "usage: jail")
            }
        }
    }

    pub(super) fn jail_create(&mut self, params: &[&str]) -> Output {
        let mut kv: BTreeMap<String, String> = BTreeMap::new();
        let mut hooks: Vec<(String, String)> = Vec::new();
        let mut command: Option<Vec<String>> = None;
        for (i, p) in params.iter().enumerate() {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if !known_param(k) {
                return fail(1, &format!("jail: unknown parameter: {k}"));
            }
            if k == "command" {
                let mut c = vec![v.to_string()];
                c.extend(params[i + 1..].iter().map(|s| s.to_string()));
                command = Some(c);
                break;
            }
            if k.starts_with("exec.") && !matches!(k, "exec.clean" | "exec.jail_user") {
                hooks.push((k.into(), v.into()));
            } else {
                kv.insert(k.into(), v.into());
            }
        }
        let (Some(name), Some(path)) = (kv.get("name").cloned(), kv.get("path").cloned()) else {
            return fail(1, "jail: create: missing name or path");
        };
        if self.jails.contains_key(&name) {
            return fail(1, &format!("jail: create: {name}: already exists"));
        }
        for (k, v) in &kv {
            let values: &[&str] = match k.as_str() {
                "host" | "vnet" => &["", "new", "inherit"],
                "ip4" | "ip6" | "sysvmsg" | "sysvsem" | "sysvshm" => {
                    &["", "new", "inherit", "disable"]
                }
                _ => continue,
            };
            if !values.contains(&v.as_str()) {
                return fail(1, &format!("jail: {k}: unknown value \"{v}\""));
            }
        }
        if let Some((parent, _)) = name.rsplit_once('.') {
            let Some(pj) = self.jails.get(parent) else {
                return fail(1, &format!("jail: {name}: jail \"{parent}\" not found"));
            };
            let max: usize = pj
                .params
                .get("children.max")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if self.children(parent) >= max {
                return fail(1, "jail: prison limit exceeded");
            }
        }
        let persist = kv.contains_key("persist");
        let attaches = command.is_some()
            || hooks
                .iter()
                .any(|(k, _)| k == "exec.start" || k == "exec.poststart");
        if !persist && !attaches {
            return fail(1, "jail: new jail must persist or attach");
        }
        if !Path::new(&path).is_dir() {
            return fail(1, &format!("jail: {path}: No such file or directory"));
        }
        let hook = |k: &str| -> Vec<String> {
            hooks
                .iter()
                .filter(|(h, _)| h == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        for h in hook("exec.prestart") {
            let argv: Vec<&str> = h.split_whitespace().collect();
            let o = match argv.first() {
                Some(&"/sbin/ifconfig") | Some(&"ifconfig") => self.ifconfig(&argv[1..], None),
                _ => ok(""),
            };
            if o.status != 0 {
                return fail(1, &format!("jail: {name}: exec.prestart {h}: failed"));
            }
        }
        let jid = self.next_jid;
        self.next_jid += 1;
        let vnet = kv.get("vnet").is_some_and(|v| v.is_empty() || v == "new");
        self.jails.insert(
            name.clone(),
            Jail {
                jid,
                path: PathBuf::from(&path),
                persist: true,
                vnet,
                params: kv.clone(),
                ..Default::default()
            },
        );
        if kv.contains_key("mount.devfs") {
            self.mounts.push(Mount {
                kind: "devfs".into(),
                from: "devfs".into(),
                on: Path::new(&path).join("dev"),
            });
        }
        if let Some(i) = kv.get("vnet.interface") {
            match self.ifaces.get_mut(i) {
                Some(f) if f.jail.is_none() => f.jail = Some(name.clone()),
                _ => {
                    self.remove_jail(&name);
                    return fail(
                        1,
                        &format!("jail: {name}: vnet.interface {i}: Device not configured"),
                    );
                }
            }
        }
        // exec.start and command run in the jail as exec.jail_user.
        let user = kv
            .get("exec.jail_user")
            .cloned()
            .unwrap_or_else(|| "root".into());
        let clean = kv.contains_key("exec.clean");
        let mut failed = None;
        let mut runs: Vec<Vec<String>> = hook("exec.start")
            .iter()
            .map(|h| h.split_whitespace().map(str::to_string).collect())
            .collect();
        runs.extend(command.clone());
        for argv in runs {
            let uid = match self.lookup(&name, &user) {
                Some((uid, home)) => {
                    if clean && !Path::new(&path).join(home.trim_start_matches('/')).is_dir() {
                        failed = Some(format!(
                            "jail: {name}: chdir {home}: No such file or directory"
                        ));
                        break;
                    }
                    uid
                }
                None => {
                    failed = Some(format!("jail: {name}: getpwnam {user}: no such user"));
                    break;
                }
            };
            let code = self.in_jail(&name, uid, &argv, clean);
            if code != 0 {
                failed = Some(format!("jail: {name}: {}: failed", argv.join(" ")));
                break;
            }
        }
        if let Some(msg) = failed {
            // jail(8) unwinds: the jail goes, its devfs with it; exit 1.
            self.remove_jail(&name);
            self.mounts
                .retain(|m| !(m.kind == "devfs" && m.on == Path::new(&path).join("dev")));
            return fail(1, &msg);
        }
        if let Some(j) = self.jails.get_mut(&name) {
            j.persist = persist;
        }
        self.reap();
        ok("")
    }

    /// (uid, home) of `user` in the jail's /etc/passwd.
    pub(super) fn lookup(&self, jail: &str, user: &str) -> Option<(u32, String)> {
        let path = &self.jails.get(jail)?.path;
        let text = std::fs::read_to_string(path.join("etc/passwd")).unwrap_or_default();
        if user == "root" && text.is_empty() {
            return Some((0, "/root".into()));
        }
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7 && f[0] == user).then(|| (f[2].parse().unwrap_or(0), f[5].to_string()))
        })
    }

    /// A command run to completion in a jail (hooks, `jexec` run): the
    /// interface tools need root and full paths under exec.clean's PATH.
    pub(super) fn in_jail(&mut self, jail: &str, uid: u32, argv: &[String], clean: bool) -> i32 {
        self.ran.push((jail.into(), uid, argv.join(" ")));
        let prog = argv.first().map(String::as_str).unwrap_or("");
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        match prog {
            "ifconfig" | "route" if clean => 127,
            "/sbin/ifconfig" | "ifconfig" => {
                // Only root in a vnet jail configures interfaces.
                if uid != 0 || !self.jails.get(jail).is_some_and(|j| j.vnet) {
                    return 1;
                }
                // Every vnet has its own lo0, down until configured.
                if a.get(1) == Some(&"lo0") {
                    if let Some(j) = self.jails.get_mut(jail) {
                        j.params.insert("lo0".into(), a[2..].join(" "));
                    }
                    return 0;
                }
                self.ifconfig(&a[1..], Some(jail)).status
            }
            "/sbin/route" | "route" => {
                if uid != 0 {
                    return 1;
                }
                let iface = self
                    .ifaces
                    .iter_mut()
                    .find(|(_, i)| i.jail.as_deref() == Some(jail));
                match iface {
                    Some((_, i)) => {
                        i.routes.push(a[1..].join(" "));
                        0
                    }
                    None => 1,
                }
            }
            _ => {
                let line = argv.join(" ");
                // Only rc.d services with the shutdown keyword stop.
                if line.ends_with("/etc/rc.shutdown") {
                    if let Some(j) = self.jails.get_mut(jail) {
                        j.daemons.retain(|d| !d.starts_with("rc:"));
                    }
                    return 0;
                }
                let p = self.program_for(&line);
                if let Some(j) = self.jails.get_mut(jail) {
                    j.daemons.extend(p.daemons);
                }
                p.exit
            }
        }
    }

    pub(super) fn jexec(&mut self, a: &[&str], spawn: bool) -> (Output, Option<Spawn>) {
        let (mut i, mut user, mut login) = (0, None, false);
        while i < a.len() {
            match a[i] {
                "-l" => login = true,
                "-U" | "-u" => {
                    user = Some(a[i + 1].to_string());
                    i += 1;
                }
                _ => break,
            }
            i += 1;
        }
        let Some(jail) = a.get(i).map(|s| s.to_string()) else {
            return (fail(64, "usage: jexec"), None);
        };
        if !self.jails.contains_key(&jail) {
            return (fail(1, &format!("jexec: jail \"{jail}\" not found")), None);
        }
        let mut uid = 0;
        if let Some(u) = &user {
            match self.lookup(&jail, u) {
                Some((id, home)) => {
                    uid = id;
                    let path = self.jails[&jail].path.clone();
                    if login && !path.join(home.trim_start_matches('/')).is_dir() {
                        return (
                            fail(
                                1,
                                &format!("jexec: chdir: {home}: No such file or directory"),
                            ),
                            None,
                        );
                    }
                }
                None => return (fail(1, &format!("jexec: {u}: no such user")), None),
            }
        }
        let mut cmd: Vec<String> = a[i + 1..].iter().map(|s| s.to_string()).collect();
        // chroot -u UID -g GID [-G G] / …: numeric ids (chroot.c:97-147).
        if cmd.first().map(String::as_str) == Some("/usr/sbin/chroot") {
            let mut j = 1;
            while j < cmd.len() && cmd[j].starts_with('-') {
                if cmd[j] == "-u" {
                    match cmd[j + 1].parse() {
                        Ok(n) => uid = n,
                        Err(_) => return (fail(1, "chroot: no such user"), None),
                    }
                }
                j += 2;
            }
            cmd = cmd[j + 1..].to_vec();
        }
        // env -i K=V… and the working-directory wrapper.
        if cmd.first().map(String::as_str) == Some("/usr/bin/env") {
            let mut j = 1;
            while j < cmd.len() && (cmd[j] == "-i" || cmd[j].contains('=')) {
                j += 1;
            }
            cmd = cmd[j..].to_vec();
        }
        if cmd.len() > 3 && cmd[0] == "/bin/sh" && cmd[1] == "-c" && cmd[2].starts_with("cd --") {
            let dir = &cmd[3];
            let path = self.jails[&jail].path.join(dir.trim_start_matches('/'));
            if !path.is_dir() {
                return (
                    fail(126, &format!("cd: {dir}: No such file or directory")),
                    None,
                );
            }
            cmd = cmd[4..].to_vec();
        }
        if !spawn {
            let code = self.in_jail(&jail, uid, &cmd, false);
            return (
                if code == 0 {
                    ok("")
                } else {
                    fail(code, "failed")
                },
                None,
            );
        }
        let line = cmd.join(" ");
        self.ran.push((jail.clone(), uid, line.clone()));
        let program = if line.ends_with("/etc/rc.shutdown") {
            self.in_jail(&jail, uid, &cmd, false);
            Program::default()
        } else {
            self.program_for(&line)
        };
        (
            ok(""),
            Some(Spawn {
                jail,
                uid,
                program,
                prelude: String::new(),
            }),
        )
    }

    /// Jails made directly in jail `name`.
    pub(super) fn children(&self, name: &str) -> usize {
        self.jails
            .keys()
            .filter(|k| k.rsplit_once('.').is_some_and(|(p, _)| p == name))
            .count()
    }

    /// `kleene-oci init --jid N [--state DIR] [--uid U …] [--cwd D]
    /// [--env K=V]… -- ARGS`: the OCI container's process.
    pub(super) fn oci_init(&mut self, a: &[&str]) -> (Output, Option<Spawn>) {
        let (mut jid, mut state, mut uid, mut cwd, mut env) = (0u32, None, 0u32, "/", vec![]);
        let mut i = 0;
        while i < a.len() && a[i] != "--" {
            let v = a.get(i + 1).copied().unwrap_or("");
            match a[i] {
                "--jid" => jid = v.parse().unwrap_or(0),
                "--state" => state = Some(PathBuf::from(v)),
                "--uid" => uid = v.parse().unwrap_or(0),
                "--cwd" => cwd = v,
                "--env" => env.push(v),
                _ => {}
            }
            i += 2;
        }
        let args: Vec<String> = a[(i + 1).min(a.len())..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let failed = |msg: String| {
            if let Some(d) = &state {
                std::fs::write(d.join("init.error"), &msg).unwrap();
            }
            let program = Program {
                exit: 1,
                ..Default::default()
            };
            (
                ok(""),
                Some(Spawn {
                    jail: String::new(),
                    uid,
                    program,
                    prelude: String::new(),
                }),
            )
        };
        let Some((name, root)) = self
            .jails
            .iter()
            .find(|(_, j)| j.jid == jid)
            .map(|(n, j)| (n.clone(), j.path.clone()))
        else {
            return failed(format!("jail_attach({jid}): Invalid argument"));
        };
        if !root.join(cwd.trim_start_matches('/')).is_dir() {
            return failed(format!(
                "chdir to cwd ('{cwd}') set in config.json: No such file or directory"
            ));
        }
        let prog = args.first().cloned().unwrap_or_default();
        let found = if prog.contains('/') {
            root.join(prog.trim_start_matches('/')).is_file()
        } else {
            let path = env
                .iter()
                .find_map(|e| e.strip_prefix("PATH="))
                .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
            path.split(':')
                .any(|d| root.join(d.trim_start_matches('/')).join(&prog).is_file())
        };
        if !found {
            return failed(format!("executable file '{prog}' not found in $PATH"));
        }
        let prelude = match &state {
            Some(d) => {
                std::fs::write(d.join("init.ready"), "").unwrap();
                format!(
                    "exec 3>'{}'; printf 0 >&3; exec 3>&-; ",
                    d.join("exec.fifo").display()
                )
            }
            None => String::new(),
        };
        let line = args.join(" ");
        self.ran.push((name.clone(), uid, line.clone()));
        let program = self.program_for(&line);
        (
            ok(""),
            Some(Spawn {
                jail: name,
                uid,
                program,
                prelude,
            }),
        )
    }

    pub(super) fn jls(&mut self, a: &[&str]) -> Output {
        match a {
            ["--libxo=json", "-j", name] | ["-j", name] => match self.jails.get(*name) {
                Some(j) => ok(&format!("{{\"jid\":{}}}\n", j.jid)),
                None => fail(1, &format!("jls: jail \"{name}\" not found")),
            },
            ["-j", name, params @ ..] => match self.jails.get(*name) {
                Some(j) => {
                    let vals: Vec<String> = params
                        .iter()
                        .map(|p| match *p {
                            "path" => j.path.display().to_string(),
                            "jid" => j.jid.to_string(),
                            "children.cur" => self.children(name).to_string(),
                            "children.max" => {
                                j.params.get(*p).cloned().unwrap_or_else(|| "0".into())
                            }
                            "host.hostname" => {
                                j.params.get("host.hostname").cloned().unwrap_or_default()
                            }
                            p => j.params.get(p).cloned().unwrap_or_default(),
                        })
                        .collect();
                    ok(&format!("{}\n", vals.join(" ")))
                }
                None => fail(1, &format!("jls: jail \"{name}\" not found")),
            },
            ["name", "path"] => ok(&self
                .jails
                .iter()
                .map(|(n, j)| format!("{n} {}\n", j.path.display()))
                .collect::<String>()),
            _ => {
                self.unknown.push(format!("jls {}", a.join(" ")));
                fail(64, "usage: jls")
            }
        }
    }
}
