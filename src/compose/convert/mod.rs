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
use super::model::{Attachment, Network, Project, Service, Volume};
use super::yaml::{Node, Value};

mod parts;
mod words;

use words::normalize;
pub use words::split_words;

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
