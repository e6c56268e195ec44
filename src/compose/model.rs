//! The normalized compose model: what kleene runs, in kleene's own terms
//! (env as `K=V`, ports and mounts as `klee run` writes them, limits as the
//! confinement options), serialised as the map `stack.rhai` takes, the
//! YAML `klee compose config` prints and the map `compose::load` returns.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Project {
    pub name: String,
    /// The directory relative paths were resolved against.
    pub dir: String,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
}

impl Project {
    /// The containers of service `svc`, one per replica: its
    /// `container_name`, or `<project>_<service>_<n>` (the names
    /// `stack.rhai` gives them).
    pub fn container_names(&self, svc: &str) -> Vec<String> {
        match self.services.get(svc) {
            Some(s) if !s.container_name.is_empty() => vec![s.container_name.clone()],
            Some(s) => (1..=s.replicas)
                .map(|n| format!("{}_{svc}_{n}", self.name))
                .collect(),
            None => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Build {
    pub context: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Health {
    /// A shell command (`CMD` forms are quoted into one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cmd: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interval: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_period: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_interval: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Attachment {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Service {
    /// The image to run (and the tag a build makes); empty: built as
    /// `<project>_<service>`.
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// Empty: the image's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// `SOURCE:DEST[:ro]`: volumes by their kleene names, host paths absolute.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<String>,
    /// The project's networks it joins (by their key), first the one it is
    /// created on.
    pub networks: BTreeMap<String, Attachment>,
    /// Service → `service_started`, `service_healthy` or
    /// `service_completed_successfully`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub restart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workdir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub memory: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cpus: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// `network_mode`: `host` or `none` (`disabled`); empty: networks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub replicas: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Network {
    /// The kleene network's name (`<project>_<key>`, or `name:`).
    pub name: String,
    /// Empty: a free /24 is picked when it is created.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Made elsewhere: must exist, never created or removed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}
