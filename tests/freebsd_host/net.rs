//! ifconfig(8), pfctl(8), sysctl(8), rctl(8), pkill(1) of the model.

use kleene::platform::cmd::Output;

use super::*;

impl State {
    // ---- interfaces ----
    pub(super) fn ifconfig(&mut self, a: &[&str], in_jail: Option<&str>) -> Output {
        let visible = |i: &Iface| i.jail.as_deref() == in_jail;
        match a {
            ["-l"] => ok(&(self
                .ifaces
                .iter()
                .filter(|(_, i)| visible(i))
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
                + "\n")),
            ["epair", "create"] => {
                let n = self.next_epair;
                self.next_epair += 1;
                for end in ["a", "b"] {
                    self.ifaces.insert(
                        format!("epair{n}{end}"),
                        Iface {
                            cloned: true,
                            ..Default::default()
                        },
                    );
                }
                ok(&format!("epair{n}a\n"))
            }
            [cloner, "create", "name", name] => {
                if self.ifaces.contains_key(*name) {
                    return fail(1, "ifconfig: SIOCSIFNAME (set name): File exists");
                }
                let _ = cloner;
                self.ifaces.insert(
                    name.to_string(),
                    Iface {
                        cloned: true,
                        ..Default::default()
                    },
                );
                ok("")
            }
            [name] => match self.ifaces.get(*name) {
                Some(i) if visible(i) => ok(&format!("{name}: flags=8843<UP>\n")),
                _ => fail(1, &format!("ifconfig: interface {name} does not exist")),
            },
            [name, rest @ ..] => {
                let Some(iface) = self.ifaces.get(*name).cloned() else {
                    return fail(1, &format!("ifconfig: interface {name} does not exist"));
                };
                if !visible(&iface) {
                    // Moving back from a jail is asked on the host.
                    if let (None, ["-vnet", j]) = (in_jail, rest) {
                        if iface.jail.as_deref() == Some(*j) {
                            let f = self.ifaces.get_mut(*name).unwrap();
                            f.jail = None;
                            f.addrs.clear();
                            return ok("");
                        }
                    }
                    return fail(1, &format!("ifconfig: interface {name} does not exist"));
                }
                match rest {
                    ["vnet", j] if in_jail.is_none() => match self.jails.get(*j) {
                        Some(jail) if jail.vnet => {
                            self.ifaces.get_mut(*name).unwrap().jail = Some(j.to_string());
                            ok("")
                        }
                        Some(_) => fail(1, "ifconfig: SIOCSIFVNET: Invalid argument"),
                        None => fail(1, &format!("ifconfig: jail \"{j}\" not found")),
                    },
                    ["destroy"] => {
                        if let Some(base) = name
                            .strip_suffix('a')
                            .or(name.strip_suffix('b'))
                            .filter(|b| b.starts_with("epair"))
                        {
                            self.ifaces.remove(&format!("{base}a"));
                            self.ifaces.remove(&format!("{base}b"));
                        } else {
                            self.ifaces.remove(*name);
                        }
                        for i in self.ifaces.values_mut() {
                            i.members
                                .retain(|m| !m.starts_with(name.trim_end_matches(['a', 'b'])));
                        }
                        ok("")
                    }
                    ["addm", m] => {
                        if self.ifaces.get(*m).is_none_or(|i| i.jail.is_some()) {
                            return fail(
                                1,
                                &format!("ifconfig: BRDGADD {m}: No such file or directory"),
                            );
                        }
                        self.ifaces
                            .get_mut(*name)
                            .unwrap()
                            .members
                            .push(m.to_string());
                        ok("")
                    }
                    ["deletem", m] => {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        match f.members.iter().position(|x| x == m) {
                            Some(p) => {
                                f.members.remove(p);
                                ok("")
                            }
                            None => fail(1, &format!("ifconfig: BRDGDEL {m}: Invalid argument")),
                        }
                    }
                    ["up"] => {
                        self.ifaces.get_mut(*name).unwrap().up = true;
                        ok("")
                    }
                    [fam, addr, "alias"] | [fam, addr, "up"]
                        if *fam == "inet" || *fam == "inet6" =>
                    {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        f.addrs.push(addr.split('/').next().unwrap().to_string());
                        f.up |= rest[2] == "up";
                        ok("")
                    }
                    [fam, addr, "-alias"] if *fam == "inet" || *fam == "inet6" => {
                        let f = self.ifaces.get_mut(*name).unwrap();
                        match f.addrs.iter().position(|x| x == addr) {
                            Some(p) => {
                                f.addrs.remove(p);
                                ok("")
                            }
                            None => fail(
                                1,
                                "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address",
                            ),
                        }
                    }
                    _ => {
                        self.unknown.push(format!("ifconfig {}", a.join(" ")));
                        fail(1, "model: ifconfig form not modelled")
                    }
                }
            }
            [] => fail(64, "usage: ifconfig"),
        }
    }

    // ---- pf, sysctl, rctl, pkill ----
    pub(super) fn pfctl(&mut self, a: &[&str]) -> Output {
        if !self.modules.contains("pf") {
            return fail(1, "pfctl: /dev/pf: No such file or directory");
        }
        match a {
            ["-e"] if self.pf.enabled => fail(1, "pfctl: pf already enabled"),
            ["-e"] => {
                self.pf.enabled = true;
                Output::fail(0, "pf enabled")
            }
            ["-s", "nat"] => ok(&self.pf.main_nat.clone()),
            ["-s", "rules"] => ok(&self.pf.main_rules.clone()),
            ["-a", "kleene", "-s", "rules"] => ok(&self
                .pf
                .anchor
                .as_deref()
                .unwrap_or("")
                .lines()
                .filter(|l| l.starts_with("pass") || l.starts_with("block"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()),
            ["-a", "kleene", "-f", file] => match std::fs::read_to_string(file) {
                Ok(t) => {
                    self.pf.anchor = Some(t);
                    ok("")
                }
                Err(e) => fail(1, &format!("pfctl: {file}: {e}")),
            },
            // The whole main ruleset replaced: the host's own rules go.
            ["-f", file] => match std::fs::read_to_string(file) {
                Ok(t) => {
                    self.pf.main_nat = t
                        .lines()
                        .filter(|l| l.starts_with("nat") || l.starts_with("rdr"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    self.pf.main_rules = t
                        .lines()
                        .filter(|l| {
                            l.starts_with("pass")
                                || l.starts_with("block")
                                || l.starts_with("anchor")
                        })
                        .map(|l| format!("{l}\n"))
                        .collect();
                    ok("")
                }
                Err(e) => fail(1, &format!("pfctl: {file}: {e}")),
            },
            _ => {
                self.unknown.push(format!("pfctl {}", a.join(" ")));
                fail(1, "model: pfctl form not modelled")
            }
        }
    }

    pub(super) fn sysctl(&mut self, a: &[&str]) -> Output {
        match a {
            ["-n", key] => match self.sysctl.get(*key) {
                Some(v) => ok(&format!("{v}\n")),
                None => fail(1, &format!("sysctl: unknown oid '{key}'")),
            },
            // A node (a parameter others hang below) ends in a dot, as
            // `security.jail.param.allow.mount.` (libjail strips it).
            ["-N", "security.jail.param"] => ok(&KERNEL_PARAMS
                .iter()
                .map(|p| {
                    let node = KERNEL_PARAMS
                        .iter()
                        .any(|q| q.starts_with(&format!("{p}.")));
                    format!("security.jail.param.{p}{}\n", if node { "." } else { "" })
                })
                .collect::<String>()),
            [kv] if kv.contains('=') => {
                let (k, v) = kv.split_once('=').unwrap();
                match self.sysctl.get_mut(k) {
                    Some(old) => {
                        let line = format!("{k}: {old} -> {v}\n");
                        *old = v.into();
                        ok(&line)
                    }
                    None => fail(1, &format!("sysctl: unknown oid '{k}'")),
                }
            }
            _ => {
                self.unknown.push(format!("sysctl {}", a.join(" ")));
                fail(1, "model: sysctl form not modelled")
            }
        }
    }

    pub(super) fn rctl(&mut self, a: &[&str]) -> Output {
        match a {
            [] => ok(&self
                .rctl
                .iter()
                .map(|r| format!("{r}\n"))
                .collect::<String>()),
            ["-a", rule] => {
                if self.sysctl.get("kern.racct.enable").map(String::as_str) != Some("1") {
                    return fail(
                        1,
                        "rctl: failed to add rule: RACCT/RCTL present, but disabled",
                    );
                }
                let key: String = rule
                    .rsplit_once(':')
                    .map(|(k, _)| k.into())
                    .unwrap_or_default();
                self.rctl.retain(|r| !r.starts_with(&format!("{key}:")));
                self.rctl.push(rule.to_string());
                ok("")
            }
            ["-r", filter] => {
                self.rctl
                    .retain(|r| !(r == filter || r.starts_with(&format!("{filter}:"))));
                ok("")
            }
            _ => {
                self.unknown.push(format!("rctl {}", a.join(" ")));
                fail(1, "model: rctl form not modelled")
            }
        }
    }

    pub(super) fn pkill(&mut self, a: &[&str]) -> Output {
        let Some(name) = a.last() else {
            return fail(2, "usage: pkill");
        };
        let Some(j) = self.jails.get_mut(*name) else {
            return fail(2, "pkill: Invalid jail ID or name");
        };
        // pkill -SIG -j JAIL: every process in the jail gets SIG; the
        // model's daemons obey TERM and KILL alike.
        let sig = match a.first().and_then(|f| f.strip_prefix('-')) {
            Some("TERM") => libc::SIGTERM,
            Some("KILL") | None => libc::SIGKILL,
            Some(n) => n.parse().unwrap_or(libc::SIGKILL),
        };
        let any = !j.daemons.is_empty() || !j.procs.is_empty();
        j.daemons.clear();
        for (p, _) in &j.procs {
            unsafe { libc::kill(*p, sig) };
        }
        if any {
            ok("")
        } else {
            fail(1, "")
        }
    }
}
