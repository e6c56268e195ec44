//! The parts of a service that take more than a line to read: its build,
//! environment, ports, volumes, networks, dependencies, healthcheck,
//! deploy section and limits.

use std::collections::BTreeMap;

use super::words::shell_quote;
use super::{Converter, R};
use crate::compose::model::{Attachment, Build, Health, Project, Service};
use crate::compose::yaml::{Node, Value};

impl Converter<'_> {
    /// A limit (`mem_limit`, `cpus`, `pids_limit`, or the same under
    /// `deploy.resources.limits`), checked as `klee run` would.
    pub(super) fn limit(&mut self, kind: &str, n: &Node, what: &str, s: &mut Service) -> R<()> {
        match kind {
            "mem_limit" => {
                let m = self.string(n, what)?;
                crate::engine::limits::parse_memory(&m)
                    .map_err(|e| self.err(n, format!("{what}: {e}")))?;
                s.memory = m;
            }
            "cpus" => {
                let c = self.string(n, what)?;
                crate::engine::limits::parse_cpus(&c)
                    .map_err(|e| self.err(n, format!("{what}: {e}")))?;
                s.cpus = c;
            }
            _ => s.pids_limit = Some(self.int(n, what)?),
        }
        Ok(())
    }

    pub(super) fn build(&mut self, name: &str, v: &Node) -> R<Build> {
        if let Some(ctx) = v.as_str().filter(|_| !v.is_null()) {
            return Ok(Build {
                context: self.path(ctx),
                ..Default::default()
            });
        }
        let mut b = Build {
            context: self.path("."),
            ..Default::default()
        };
        for (k, val) in self.map(v, &format!("services.{name}.build"))? {
            let what = format!("services.{name}.build.{}", k.as_str().unwrap_or(""));
            match k.as_str().unwrap_or("") {
                "context" => b.context = self.path(&self.string(val, &what)?),
                "dockerfile" => b.dockerfile = self.string(val, &what)?,
                "target" => b.target = self.string(val, &what)?,
                "args" => {
                    for (ak, av) in self.key_values(val, &what)? {
                        let value = av.or_else(|| self.vars.get(&ak).cloned());
                        if let Some(value) = value {
                            b.args.insert(ak, value);
                        }
                    }
                }
                _ => self.warn(&what, k),
            }
        }
        Ok(b)
    }

    /// `environment` over `env_file`s, as `K=V`.
    pub(super) fn environment(&mut self, name: &str, v: &Node) -> R<Vec<String>> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Some(files) = v.get("env_file") {
            let entries: Vec<(String, bool, &Node)> = match &files.value {
                Value::Seq(items) => items
                    .iter()
                    .map(|i| match i.as_map() {
                        Some(_) => Ok((
                            self.string(i.get("path").unwrap_or(i), "env_file path")?,
                            i.get("required")
                                .map(|r| self.bool(r, "required"))
                                .transpose()?
                                .unwrap_or(true),
                            i,
                        )),
                        None => Ok((self.string(i, "env_file")?, true, i)),
                    })
                    .collect::<R<_>>()?,
                _ => vec![(self.string(files, "env_file")?, true, files)],
            };
            for (path, required, node) in entries {
                let p = self.path(&path);
                match std::fs::read_to_string(&p) {
                    Ok(text) => {
                        let vars = crate::compose::interpolate::dotenv(&text, self.vars).map_err(
                            |(line, why)| self.err(node, format!("env_file {p}:{line}: {why}")),
                        )?;
                        env.extend(vars);
                    }
                    Err(_) if !required => {}
                    Err(e) => {
                        return Err(self.err(
                            node,
                            format!("services.{name}.env_file: cannot read '{p}': {e}"),
                        ))
                    }
                }
            }
        }
        if let Some(e) = v.get("environment") {
            for (k, val) in self.key_values(e, &format!("services.{name}.environment"))? {
                match val.or_else(|| self.vars.get(&k).cloned()) {
                    Some(val) => {
                        env.insert(k, val);
                    }
                    None => {
                        env.remove(&k);
                    }
                }
            }
        }
        Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
    }

    /// A port, short (`[IP:][HOST:]CONTAINER[/PROTO]`) or long, as
    /// `klee run -p` takes it.
    pub(super) fn port(&mut self, service: &str, n: &Node) -> R<String> {
        let spec = match &n.value {
            Value::Map(_) => {
                let get = |k: &str| n.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let target = get("target").ok_or_else(|| self.err(n, "a port needs target:"))?;
                // No published port: a free one, as Compose.
                let published = get("published").unwrap_or_else(|| "0".into());
                let proto = get("protocol").map(|p| format!("/{p}")).unwrap_or_default();
                match get("host_ip") {
                    Some(ip) => format!("{ip}:{published}:{target}{proto}"),
                    None => format!("{published}:{target}{proto}"),
                }
            }
            _ => {
                let s = self.string(n, &format!("services.{service}.ports"))?;
                let (body, proto) = match s.rsplit_once('/') {
                    Some((b, p)) => (b.to_string(), format!("/{p}")),
                    None => (s.clone(), String::new()),
                };
                // Compose's form has no interface names (klee's `IF:HOST`):
                // before the ports comes an IP address or nothing.
                let ports_part = match body.strip_prefix('[') {
                    Some(rest) => rest.split_once("]:").map_or(body.as_str(), |(_, p)| p),
                    None => match body.split_once(':') {
                        Some((ip, rest)) if rest.contains(':') => {
                            if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
                                return Err(self.err(n, format!("services.{service}.ports: '{s}': '{ip}' is not an IP address")));
                            }
                            rest
                        }
                        _ => body.as_str(),
                    },
                };
                if let Some(bad) = ports_part
                    .split([':', '-'])
                    .find(|p| !p.is_empty() && !p.chars().all(|c| c.is_ascii_digit()))
                {
                    return Err(self.err(
                        n,
                        format!("services.{service}.ports: '{s}': '{bad}' is not a port number"),
                    ));
                }
                if let Some((ip, container)) = body.split_once("::") {
                    // IP::CONTAINER: a free host port on that address.
                    format!("{ip}:0:{container}{proto}")
                } else if body.contains(':') {
                    s
                } else if body.contains('-') {
                    // A lone container range: Compose picks a free host
                    // port for each; kleene publishes the same ports.
                    self.warnings.push(format!(
                        "services.{service}.ports: '{s}' is published on host ports {body} (kleene picks free host ports for single ports only)"
                    ));
                    format!("{body}:{body}{proto}")
                } else {
                    // A lone container port: a free host port.
                    format!("0:{body}{proto}")
                }
            }
        };
        crate::engine::ports::PublishedPort::parse(&spec)
            .map_err(|e| self.err(n, format!("services.{service}.ports: {e}")))?;
        Ok(spec)
    }

    /// A volume as `SOURCE:DEST[:ro]` (named volumes by their kleene
    /// names); `None` for what is skipped with a warning.
    pub(super) fn mount(&mut self, service: &str, n: &Node, p: &Project) -> R<Option<String>> {
        let what = format!("services.{service}.volumes");
        let (kind, source, target, ro) = match &n.value {
            Value::Map(_) => {
                let get = |k: &str| n.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let ro = n
                    .get("read_only")
                    .map(|r| self.bool(r, "read_only"))
                    .transpose()?
                    .unwrap_or(false);
                (get("type"), get("source"), get("target"), ro)
            }
            _ => {
                let s = self.string(n, &what)?;
                let parts: Vec<&str> = s.split(':').collect();
                let (src, dst, mode) = match parts.as_slice() {
                    [dst] => ("", *dst, ""),
                    [src, dst] => (*src, *dst, ""),
                    [src, dst, mode] => (*src, *dst, *mode),
                    _ => {
                        return Err(
                            self.err(n, format!("{what}: '{s}' is not SOURCE:TARGET[:MODE]"))
                        )
                    }
                };
                let ro = mode.split(',').any(|m| m == "ro");
                let kind = if src.is_empty() {
                    "volume"
                } else if src.starts_with(['.', '/', '~']) {
                    "bind"
                } else {
                    "volume"
                };
                (kind.to_string(), src.to_string(), dst.to_string(), ro)
            }
        };
        if !target.starts_with('/') {
            return Err(self.err(
                n,
                format!("{what}: the target '{target}' must be an absolute path"),
            ));
        }
        let source = match kind.as_str() {
            "bind" => self.path(&source),
            "volume" if source.is_empty() => {
                self.warnings.push(format!(
                    "{what}: the anonymous volume at {target} is not made (name it)"
                ));
                return Ok(None);
            }
            "volume" => match p.volumes.get(&source) {
                Some(v) => v.name.clone(),
                None => {
                    return Err(self.err(
                        n,
                        format!(
                            "{what}: volume '{source}' is not declared in the top-level volumes:"
                        ),
                    ))
                }
            },
            other => {
                self.warn(&format!("{what}: type {other}"), n);
                return Ok(None);
            }
        };
        Ok(Some(format!(
            "{source}:{target}{}",
            if ro { ":ro" } else { "" }
        )))
    }

    pub(super) fn service_networks(
        &mut self,
        service: &str,
        v: &Node,
        p: &Project,
    ) -> R<BTreeMap<String, Attachment>> {
        let mut out = BTreeMap::new();
        let known = |k: &str| k == "default" || p.networks.contains_key(k);
        match &v.value {
            Value::Seq(items) => {
                for i in items {
                    let k = self.string(i, "a network")?;
                    if !known(&k) {
                        return Err(self.err(i, format!("services.{service}.networks: network '{k}' is not declared in the top-level networks:")));
                    }
                    out.insert(k, Attachment::default());
                }
            }
            Value::Map(entries) => {
                for (k, val) in entries {
                    let key = self.string(k, "a network")?;
                    if !known(&key) {
                        return Err(self.err(k, format!("services.{service}.networks: network '{key}' is not declared in the top-level networks:")));
                    }
                    let mut a = Attachment::default();
                    if !val.is_null() {
                        for (ak, av) in self.map(val, "a service's network")? {
                            match ak.as_str().unwrap_or("") {
                                "aliases" => a.aliases = self.strings(av, "aliases")?,
                                other => self.warn(
                                    &format!("services.{service}.networks.{key}.{other}"),
                                    ak,
                                ),
                            }
                        }
                    }
                    out.insert(key, a);
                }
            }
            _ => {
                return Err(self.err(
                    v,
                    format!("services.{service}.networks must be a list or a mapping"),
                ))
            }
        }
        Ok(out)
    }

    pub(super) fn depends_on(&mut self, service: &str, v: &Node) -> R<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        match &v.value {
            Value::Seq(items) => {
                for i in items {
                    out.insert(self.string(i, "depends_on")?, "service_started".to_string());
                }
            }
            Value::Map(entries) => {
                for (k, val) in entries {
                    let dep = self.string(k, "depends_on")?;
                    let mut cond = "service_started".to_string();
                    if !val.is_null() {
                        for (ck, cv) in self.map(val, "a dependency")? {
                            match ck.as_str().unwrap_or("") {
                                "condition" => {
                                    cond = self.string(cv, "condition")?;
                                    if ![
                                        "service_started",
                                        "service_healthy",
                                        "service_completed_successfully",
                                    ]
                                    .contains(&cond.as_str())
                                    {
                                        return Err(self.err(cv, format!("services.{service}.depends_on.{dep}.condition: '{cond}' is not service_started, service_healthy or service_completed_successfully")));
                                    }
                                }
                                other => self.warn(
                                    &format!("services.{service}.depends_on.{dep}.{other}"),
                                    ck,
                                ),
                            }
                        }
                    }
                    out.insert(dep, cond);
                }
            }
            _ => {
                return Err(self.err(
                    v,
                    format!("services.{service}.depends_on must be a list or a mapping"),
                ))
            }
        }
        Ok(out)
    }

    pub(super) fn health(&mut self, service: &str, v: &Node) -> R<Health> {
        let mut h = Health::default();
        for (k, val) in self.map(v, &format!("services.{service}.healthcheck"))? {
            let what = format!(
                "services.{service}.healthcheck.{}",
                k.as_str().unwrap_or("")
            );
            match k.as_str().unwrap_or("") {
                "test" => {
                    let words = match &val.value {
                        Value::Scalar { .. } => {
                            vec!["CMD-SHELL".to_string(), self.string(val, &what)?]
                        }
                        _ => self.strings(val, &what)?,
                    };
                    match words.split_first() {
                        Some((first, rest)) if first == "CMD-SHELL" => h.cmd = rest.join(" "),
                        Some((first, rest)) if first == "CMD" => {
                            h.cmd = rest
                                .iter()
                                .map(|w| shell_quote(w))
                                .collect::<Vec<_>>()
                                .join(" ")
                        }
                        Some((first, _)) if first == "NONE" => h.disable = true,
                        _ => {
                            return Err(self.err(
                                val,
                                format!("{what}: a list starts with CMD, CMD-SHELL or NONE"),
                            ))
                        }
                    }
                }
                "interval" => h.interval = self.string(val, &what)?,
                "timeout" => h.timeout = self.string(val, &what)?,
                "start_period" => h.start_period = self.string(val, &what)?,
                "start_interval" => h.start_interval = self.string(val, &what)?,
                "retries" => h.retries = Some(self.int(val, &what)?),
                "disable" => h.disable = self.bool(val, &what)?,
                _ => self.warn(&what, k),
            }
        }
        Ok(h)
    }

    pub(super) fn deploy(&mut self, service: &str, v: &Node, s: &mut Service) -> R<()> {
        for (k, val) in self.map(v, &format!("services.{service}.deploy"))? {
            let what = format!("services.{service}.deploy.{}", k.as_str().unwrap_or(""));
            match k.as_str().unwrap_or("") {
                "replicas" => s.replicas = self.int(val, &what)?,
                "resources" => {
                    for (rk, rv) in self.map(val, &what)? {
                        let what = format!("{what}.{}", rk.as_str().unwrap_or(""));
                        if rk.as_str() != Some("limits") {
                            self.warn(&what, rk);
                            continue;
                        }
                        for (lk, lv) in self.map(rv, &what)? {
                            let what = format!("{what}.{}", lk.as_str().unwrap_or(""));
                            match lk.as_str().unwrap_or("") {
                                "memory" => self.limit("mem_limit", lv, &what, s)?,
                                "cpus" => self.limit("cpus", lv, &what, s)?,
                                "pids" => self.limit("pids_limit", lv, &what, s)?,
                                _ => self.warn(&what, lk),
                            }
                        }
                    }
                }
                _ => self.warn(&what, k),
            }
        }
        Ok(())
    }
}
