//! A merged compose file (YAML nodes) into the normalized [`Project`]:
//! each key checked where it is (errors point at it), written in kleene's
//! terms, and the keys kleene does not honour noted for one warning.

use std::collections::BTreeMap;
use std::path::Path;

use super::interpolate::Vars;
use super::keys::{
    suggest, SERVICE_KEYS, SERVICE_REFUSED, SPEC_SERVICE_KEYS, SPEC_TOP_KEYS, TOP_KEYS,
};
use super::load::{ComposeError, Sources};
use super::model::{Attachment, Build, Health, Network, Project, Service, Volume};
use super::yaml::{Node, Value};

type R<T> = Result<T, ComposeError>;

pub struct Converter<'a> {
    sources: &'a Sources,
    dir: &'a Path,
    name: &'a str,
    vars: &'a Vars,
    pub warnings: Vec<String>,
}

impl<'a> Converter<'a> {
    pub fn new(
        sources: &'a Sources,
        dir: &'a Path,
        name: &'a str,
        vars: &'a Vars,
    ) -> Converter<'a> {
        Converter {
            sources,
            dir,
            name,
            vars,
            warnings: Vec::new(),
        }
    }

    fn err(&self, n: &Node, msg: impl Into<String>) -> ComposeError {
        ComposeError::at(self.sources, n, msg, "here")
    }

    fn warn(&mut self, path: &str, n: &Node) {
        let at = ComposeError::at(self.sources, n, "", "")
            .location()
            .unwrap_or_default();
        self.warnings.push(format!("{path} ({at})"));
    }

    fn map<'n>(&self, n: &'n Node, what: &str) -> R<&'n [(Node, Node)]> {
        n.as_map()
            .ok_or_else(|| self.err(n, format!("{what} must be a mapping, not {}", n.kind())))
    }

    fn string(&self, n: &Node, what: &str) -> R<String> {
        match &n.value {
            Value::Scalar { text, .. } if !n.is_null() => Ok(text.clone()),
            _ => Err(self.err(n, format!("{what} must be a string, not {}", n.kind()))),
        }
    }

    fn bool(&self, n: &Node, what: &str) -> R<bool> {
        match n.as_str() {
            Some("true" | "True" | "TRUE" | "yes") => Ok(true),
            Some("false" | "False" | "FALSE" | "no") => Ok(false),
            _ => Err(self.err(n, format!("{what} must be true or false"))),
        }
    }

    fn int(&self, n: &Node, what: &str) -> R<i64> {
        n.as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.err(n, format!("{what} must be a whole number")))
    }

    /// A list of strings (a single string is a list of one).
    fn strings(&self, n: &Node, what: &str) -> R<Vec<String>> {
        match &n.value {
            Value::Seq(items) => items.iter().map(|i| self.string(i, what)).collect(),
            Value::Scalar { .. } if !n.is_null() => Ok(vec![self.string(n, what)?]),
            _ => Err(self.err(
                n,
                format!("{what} must be a list of strings, not {}", n.kind()),
            )),
        }
    }

    /// A command: a list, or a string split as a shell would (no shell runs).
    fn command(&self, n: &Node, what: &str) -> R<Vec<String>> {
        match &n.value {
            Value::Scalar { text, .. } if !n.is_null() => {
                split_words(text).map_err(|why| self.err(n, format!("{what}: {why}")))
            }
            _ => self.strings(n, what),
        }
    }

    /// A `K=V` list or a mapping, as a map (`K` alone: from the variables,
    /// left out when unset, as Compose does for environment).
    fn key_values(&self, n: &Node, what: &str) -> R<BTreeMap<String, Option<String>>> {
        let mut out = BTreeMap::new();
        match &n.value {
            Value::Seq(items) => {
                for i in items {
                    let s = self.string(i, what)?;
                    match s.split_once('=') {
                        Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                        None => out.insert(s, None),
                    };
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    let key = self.string(k, what)?;
                    let value = if v.is_null() {
                        None
                    } else {
                        Some(self.string(v, what)?)
                    };
                    out.insert(key, value);
                }
            }
            _ => {
                return Err(self.err(
                    n,
                    format!("{what} must be a mapping or a list of KEY=VALUE"),
                ))
            }
        }
        Ok(out)
    }

    /// A path in the file, absolute (relative ones from the project's
    /// directory; `~` is the user's home).
    fn path(&self, p: &str) -> String {
        if let Some(rest) = p.strip_prefix("~/") {
            if let Some(home) = self.vars.get("HOME") {
                return format!("{home}/{rest}");
            }
        }
        let joined = if Path::new(p).is_absolute() {
            Path::new(p).to_path_buf()
        } else {
            self.dir.join(p)
        };
        normalize(&joined)
    }

    pub fn project(&mut self, root: &Node) -> R<Project> {
        let mut p = Project {
            name: self.name.to_string(),
            dir: self.dir.display().to_string(),
            ..Default::default()
        };
        for (k, v) in self.map(root, "a compose file")? {
            let key = k.as_str().unwrap_or("");
            match key {
                "secrets" | "configs" => {
                    return Err(self.err(k, format!("top-level {key}: are not supported (kleene has no secret or config store); mount files with volumes: instead")))
                }
                _ if key.starts_with("x-") => {}
                "include" => {
                    return Err(self.err(k, "include: is not supported; merge files with -f instead"))
                }
                _ if !SPEC_TOP_KEYS.contains(&key) => {
                    return Err(self.err(
                        k,
                        format!("{key}: not a Compose top-level key{}", suggest(key, SPEC_TOP_KEYS)),
                    ))
                }
                _ if !TOP_KEYS.contains(&key) => self.warn(key, k),
                _ => {}
            }
            let _ = v;
        }
        if let Some(nets) = root.get("networks").filter(|n| !n.is_null()) {
            for (k, v) in self.map(nets, "networks")? {
                let key = self.string(k, "a network's name")?;
                p.networks.insert(key.clone(), self.network(&key, v)?);
            }
        }
        if let Some(vols) = root.get("volumes").filter(|n| !n.is_null()) {
            for (k, v) in self.map(vols, "volumes")? {
                let key = self.string(k, "a volume's name")?;
                let mut vol = Volume {
                    name: format!("{}_{key}", self.name),
                    external: false,
                };
                if !v.is_null() {
                    for (vk, vv) in self.map(v, &format!("volume {key}"))? {
                        match vk.as_str().unwrap_or("") {
                            "name" => vol.name = self.string(vv, "name")?,
                            "external" => vol.external = self.bool(vv, "external")?,
                            "driver" if vv.as_str() == Some("local") => {}
                            other => self.warn(&format!("volumes.{key}.{other}"), vk),
                        }
                    }
                    if vol.external && v.get("name").is_none() {
                        vol.name = key.clone();
                    }
                }
                p.volumes.insert(key, vol);
            }
        }
        let services = root
            .get("services")
            .ok_or_else(|| self.err(root, "no services: in the compose file"))?;
        for (k, v) in self.map(services, "services")? {
            let name = self.string(k, "a service's name")?;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(self.err(
                    k,
                    format!(
                        "service name '{name}' may hold only letters, digits, '.', '_' and '-'"
                    ),
                ));
            }
            let s = self.service(&name, v, &p)?;
            p.services.insert(name, s);
        }
        // The default network, if a service is on it.
        let on_default = p
            .services
            .values()
            .any(|s| s.networks.contains_key("default"));
        if on_default && !p.networks.contains_key("default") {
            p.networks.insert(
                "default".into(),
                Network {
                    name: format!("{}_default", self.name),
                    ..Default::default()
                },
            );
        }
        self.check_dependencies(services, &p)?;
        Ok(p)
    }

    fn network(&mut self, key: &str, v: &Node) -> R<Network> {
        let mut net = Network {
            name: format!("{}_{key}", self.name),
            ..Default::default()
        };
        if v.is_null() {
            return Ok(net);
        }
        for (nk, nv) in self.map(v, &format!("network {key}"))? {
            match nk.as_str().unwrap_or("") {
                "name" => net.name = self.string(nv, "name")?,
                "external" => net.external = self.bool(nv, "external")?,
                "internal" => net.internal = self.bool(nv, "internal")?,
                "driver" if nv.as_str() == Some("bridge") => {}
                "ipam" => {
                    for (ik, iv) in self.map(nv, "ipam")? {
                        match ik.as_str().unwrap_or("") {
                            "driver" if iv.as_str() == Some("default") => {}
                            "config" => {
                                let configs = iv
                                    .as_seq()
                                    .ok_or_else(|| self.err(iv, "ipam.config must be a list"))?;
                                for (i, c) in configs.iter().enumerate() {
                                    for (ck, cv) in self.map(c, "an ipam config")? {
                                        match ck.as_str().unwrap_or("") {
                                            "subnet" if i == 0 => {
                                                let s = self.string(cv, "subnet")?;
                                                s.parse::<crate::engine::ipnet::Subnet>().map_err(
                                                    |why| {
                                                        self.err(cv, format!("subnet '{s}': {why}"))
                                                    },
                                                )?;
                                                net.subnet = s;
                                            }
                                            "gateway" if i == 0 => {
                                                net.gateway = self.string(cv, "gateway")?
                                            }
                                            other => self.warn(
                                                &format!("networks.{key}.ipam.config[{i}].{other}"),
                                                ck,
                                            ),
                                        }
                                    }
                                }
                            }
                            other => self.warn(&format!("networks.{key}.ipam.{other}"), ik),
                        }
                    }
                }
                other => self.warn(&format!("networks.{key}.{other}"), nk),
            }
        }
        if net.external && v.get("name").is_none() {
            net.name = key.to_string();
        }
        Ok(net)
    }

    /// A limit (`mem_limit`, `cpus`, `pids_limit`, or the same under
    /// `deploy.resources.limits`), checked as `klee run` would.
    fn limit(&mut self, kind: &str, n: &Node, what: &str, s: &mut Service) -> R<()> {
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

    fn service(&mut self, name: &str, v: &Node, p: &Project) -> R<Service> {
        let mut s = Service {
            replicas: 1,
            ..Default::default()
        };
        let entries = self.map(v, &format!("service {name}"))?;
        for (k, val) in entries {
            let key = k.as_str().unwrap_or("");
            if let Some((_, why)) = SERVICE_REFUSED.iter().find(|(r, _)| *r == key) {
                return Err(self.err(k, format!("services.{name}.{key}: {why}")));
            }
            if !SPEC_SERVICE_KEYS.contains(&key) && !key.starts_with("x-") {
                return Err(self.err(
                    k,
                    format!(
                        "services.{name}.{key}: not a Compose service key{}",
                        suggest(key, SPEC_SERVICE_KEYS)
                    ),
                ));
            }
            if !SERVICE_KEYS.contains(&key) && !key.starts_with("x-") {
                self.warn(&format!("services.{name}.{key}"), k);
                continue;
            }
            let what = format!("services.{name}.{key}");
            match key {
                "image" => s.image = self.string(val, &what)?,
                "build" => s.build = Some(self.build(name, val)?),
                "command" => s.command = self.command(val, &what)?,
                "entrypoint" => s.entrypoint = Some(self.command(val, &what)?),
                "environment" | "env_file" => {}
                "ports" => {
                    let items = val.as_seq().ok_or_else(|| self.err(val, format!("{what} must be a list")))?;
                    for i in items {
                        s.ports.push(self.port(name, i)?);
                    }
                }
                "expose" => {}
                "volumes" => {
                    let items = val.as_seq().ok_or_else(|| self.err(val, format!("{what} must be a list")))?;
                    for i in items {
                        if let Some(m) = self.mount(name, i, p)? {
                            s.mounts.push(m);
                        }
                    }
                }
                "networks" => s.networks = self.service_networks(name, val, p)?,
                "network_mode" => {
                    s.driver = match self.string(val, &what)?.as_str() {
                        "host" => "host".into(),
                        "none" => "disabled".into(),
                        "bridge" => String::new(),
                        other => return Err(self.err(val, format!("{what}: '{other}' is not supported (host, none or bridge)"))),
                    }
                }
                "depends_on" => s.depends_on = self.depends_on(name, val)?,
                "healthcheck" => s.health = Some(self.health(name, val)?),
                "restart" => {
                    s.restart = match self.string(val, &what)?.as_str() {
                        "no" => "no".into(),
                        "always" | "unless-stopped" => {
                            self.warn(&format!("{what}: kleene restarts containers when its daemon starts, not when they exit ('on-startup')"), val);
                            "on-startup".into()
                        }
                        r if r == "on-failure" || r.starts_with("on-failure:") => {
                            self.warn(&format!("{what}: {r}"), val);
                            "no".into()
                        }
                        other => return Err(self.err(val, format!("{what}: '{other}' is not a restart policy (no, always, on-failure, unless-stopped)"))),
                    }
                }
                "user" => s.user = self.string(val, &what)?,
                "working_dir" => s.workdir = self.string(val, &what)?,
                "hostname" => s.hostname = self.string(val, &what)?,
                "container_name" => s.container_name = self.string(val, &what)?,
                "labels" => {
                    for (lk, lv) in self.key_values(val, &what)? {
                        s.labels.insert(lk, lv.unwrap_or_default());
                    }
                }
                "init" => s.init = self.bool(val, &what)?,
                "read_only" => s.read_only = self.bool(val, &what)?,
                "privileged" => s.privileged = self.bool(val, &what)?,
                "cap_add" => s.cap_add = self.strings(val, &what)?,
                "cap_drop" => s.cap_drop = self.strings(val, &what)?,
                "dns" => s.dns = self.strings(val, &what)?,
                "extra_hosts" => {
                    s.extra_hosts = match &val.value {
                        Value::Map(_) => self
                            .key_values(val, &what)?
                            .into_iter()
                            .map(|(h, ip)| format!("{h}:{}", ip.unwrap_or_default()))
                            .collect(),
                        _ => self
                            .strings(val, &what)?
                            .into_iter()
                            .map(|e| e.replacen('=', ":", 1))
                            .collect(),
                    }
                }
                "deploy" => self.deploy(name, val, &mut s)?,
                "scale" => s.replicas = self.int(val, &what)?,
                "mem_limit" | "cpus" | "pids_limit" => self.limit(key, val, &what, &mut s)?,
                "profiles" => s.profiles = self.strings(val, &what)?,
                _ => {}
            }
        }
        s.env = self.environment(name, v)?;
        if s.image.is_empty() && s.build.is_none() {
            return Err(self.err(v, format!("service {name} has neither image: nor build:")));
        }
        if s.replicas < 0 {
            return Err(self.err(
                v.get("scale").or(v.get("deploy")).unwrap_or(v),
                format!("services.{name}: replicas cannot be negative"),
            ));
        }
        if s.networks.is_empty() && s.driver.is_empty() {
            s.networks.insert("default".into(), Attachment::default());
        }
        if !s.container_name.is_empty() && s.replicas > 1 {
            return Err(self.err(
                v.get("container_name").unwrap_or(v),
                format!(
                    "services.{name}: container_name cannot be used with more than one replica"
                ),
            ));
        }
        Ok(s)
    }

    fn build(&mut self, name: &str, v: &Node) -> R<Build> {
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
    fn environment(&mut self, name: &str, v: &Node) -> R<Vec<String>> {
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
                        let vars = super::interpolate::dotenv(&text, self.vars).map_err(
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
    fn port(&mut self, service: &str, n: &Node) -> R<String> {
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
    fn mount(&mut self, service: &str, n: &Node, p: &Project) -> R<Option<String>> {
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

    fn service_networks(
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

    fn depends_on(&mut self, service: &str, v: &Node) -> R<BTreeMap<String, String>> {
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

    fn health(&mut self, service: &str, v: &Node) -> R<Health> {
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

    fn deploy(&mut self, service: &str, v: &Node, s: &mut Service) -> R<()> {
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

    /// Every `depends_on` names a service, and there is no cycle.
    fn check_dependencies(&self, services: &Node, p: &Project) -> R<()> {
        for (k, v) in services.as_map().unwrap_or_default() {
            let name = k.as_str().unwrap_or("");
            let Some(deps) = v.get("depends_on") else {
                continue;
            };
            let nodes: Vec<&Node> = match &deps.value {
                Value::Seq(items) => items.iter().collect(),
                Value::Map(entries) => entries.iter().map(|(k, _)| k).collect(),
                _ => vec![],
            };
            for d in nodes {
                let dep = d.as_str().unwrap_or("");
                if !p.services.contains_key(dep) {
                    return Err(self.err(
                        d,
                        format!("services.{name}.depends_on: unknown service '{dep}'"),
                    ));
                }
                if dep == name {
                    return Err(self.err(
                        d,
                        format!("services.{name}.depends_on: a service cannot depend on itself"),
                    ));
                }
            }
        }
        // A cycle: what remains once everything that can start has.
        let mut done: Vec<&str> = Vec::new();
        loop {
            let before = done.len();
            for (n, s) in &p.services {
                if !done.contains(&n.as_str())
                    && s.depends_on.keys().all(|d| done.contains(&d.as_str()))
                {
                    done.push(n);
                }
            }
            if done.len() == p.services.len() {
                return Ok(());
            }
            if done.len() == before {
                let stuck: Vec<&String> = p
                    .services
                    .keys()
                    .filter(|n| !done.contains(&n.as_str()))
                    .collect();
                let first = services
                    .get(stuck[0])
                    .and_then(|s| s.get("depends_on"))
                    .unwrap_or(services);
                return Err(self.err(
                    first,
                    format!(
                        "a dependency cycle among services {}",
                        stuck
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
}

/// `p` without `.` and `..` components (no filesystem access).
fn normalize(p: &Path) -> String {
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out.display().to_string()
}

/// Words as a POSIX shell splits them: whitespace, single and double
/// quotes, backslash escapes. Nothing is expanded.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("an unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("an unclosed double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("an unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `w` quoted for a POSIX shell when it needs to be.
fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}
