//! `klee version` and `klee info`: what this kleene is and what it holds.

use serde::Serialize;

use super::error::Result;
use super::Engine;

/// The build: kleene's version, the OS and architecture it was built for.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
    /// The kleened API version this build serves.
    pub api_version: &'static str,
}

pub fn version() -> Version {
    Version {
        version: env!("CARGO_PKG_VERSION"),
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        api_version: crate::api::API_VERSION,
    }
}

/// An installation: its root, store, objects and host.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    #[serde(flatten)]
    pub version: Version,
    pub root: String,
    pub store: String,
    pub schema: i64,
    pub containers: usize,
    pub running: usize,
    pub stopped: usize,
    pub images: usize,
    pub volumes: usize,
    pub networks: usize,
    /// Host facts from the platform (kernel, isolation, cgroups, ...), in
    /// its order; a JSON object.
    #[serde(serialize_with = "as_object")]
    pub host: Vec<(String, String)>,
}

/// Pairs as a JSON object, keeping their order.
fn as_object<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

impl Engine {
    pub fn info(&self) -> Result<Info> {
        let containers = self.containers(true)?;
        Ok(Info {
            version: version(),
            root: self.root.display().to_string(),
            store: self.store.path().display().to_string(),
            schema: self.store.user_version()?,
            running: containers.iter().filter(|c| c.status.is_running()).count(),
            stopped: containers.iter().filter(|c| !c.status.is_running()).count(),
            containers: containers.len(),
            images: self.images()?.len(),
            volumes: self.volumes()?.len(),
            networks: self.networks()?.len(),
            host: self
                .platform
                .describe()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
    }
}
