//! Network links (`ifconfig`), the host gateway (`netstat`), and loading
//! the generated pf ruleset (`pfctl -f`).

use std::path::{Path, PathBuf};

use super::{pf, FreeBsd};
use crate::platform::{Error, Firewall, NetworkSpec, Result};

/// The default route's interface from `netstat --libxo json -rn` (IPv4).
pub fn default_route_interface(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let families = v["statistics"]["route-information"]["route-table"]["rt-family"].as_array()?;
    families
        .iter()
        .filter(|f| {
            f["address-family"]
                .as_str()
                .is_some_and(|a| a.starts_with("Internet") && !a.contains('6'))
        })
        .flat_map(|f| f["rt-entry"].as_array().cloned().unwrap_or_default())
        .find(|e| e["destination"] == "default")
        .and_then(|e| e["interface-name"].as_str().map(str::to_string))
}

/// Where the generated pf.conf goes (`KLEENE_PF_CONF`, default `<root>/pf.conf`).
fn pf_conf_path(root: &Path) -> PathBuf {
    std::env::var_os("KLEENE_PF_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("pf.conf"))
}

/// The template (`KLEENE_PF_TEMPLATE`, default the built-in one).
fn pf_template() -> Result<String> {
    match std::env::var_os("KLEENE_PF_TEMPLATE") {
        Some(p) => {
            std::fs::read_to_string(&p).map_err(|e| Error::io("cannot read pf template", &p, e))
        }
        None => Ok(pf::TEMPLATE.to_string()),
    }
}

/// Is the pf.conf kleene loaded last the one `fw` generates?
pub fn pf_conf_current(root: &Path, fw: &Firewall) -> bool {
    let Ok(template) = pf_template() else {
        return false;
    };
    match std::fs::read_to_string(pf_conf_path(root)) {
        Ok(t) => t == pf::render(&template, fw),
        // Never loaded: right while there is nothing to load.
        Err(_) => fw.networks.is_empty() && fw.ports.is_empty(),
    }
}

impl FreeBsd {
    pub(super) fn interface_exists_impl(&self, name: &str) -> bool {
        self.succeeds(&["/sbin/ifconfig", name])
    }

    pub(super) fn host_gateway_impl(&self) -> Option<String> {
        let out = self
            .run(&["/usr/bin/netstat", "--libxo", "json", "-rn"])
            .ok()?;
        default_route_interface(&out.stdout)
    }

    pub(super) fn create_network_impl(&self, net: &NetworkSpec) -> Result<()> {
        let cloner = match net.kind.as_str() {
            "loopback" => "lo",
            "bridge" => "bridge",
            other => {
                return Err(Error::Failed(format!(
                    "cannot create an interface for a '{other}' network"
                )))
            }
        };
        self.run(&["/sbin/ifconfig", cloner, "create", "name", &net.interface])?;
        let mut aliases = Vec::new();
        if !net.gateway.is_empty() {
            aliases.push(("inet", net.gateway.as_str()));
        }
        if !net.gateway6.is_empty() {
            aliases.push(("inet6", net.gateway6.as_str()));
        }
        for (family, addr) in aliases {
            if let Err(e) = self.run(&["/sbin/ifconfig", &net.interface, family, addr, "alias"]) {
                let _ = self.run(&["/sbin/ifconfig", &net.interface, "destroy"]);
                return Err(e);
            }
        }
        Ok(())
    }

    pub(super) fn destroy_network_impl(&self, net: &NetworkSpec, members: &[String]) -> Result<()> {
        for m in members {
            let _ = self.run(&["/sbin/ifconfig", &net.interface, "deletem", m]);
        }
        self.run(&["/sbin/ifconfig", &net.interface, "destroy"])
            .map(drop)
    }

    pub(super) fn apply_firewall_impl(&self, root: &Path, fw: &Firewall) -> Result<()> {
        let path = pf_conf_path(root);
        let text = pf::render(&pf_template()?, fw);
        std::fs::write(&path, text)
            .map_err(|e| Error::io("cannot write pf configuration", &path, e))?;
        self.run(&["/sbin/pfctl", "-f", &path.display().to_string()])
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_route() {
        let j = r#"{"statistics": {"route-information": {"route-table": {"rt-family": [
            {"address-family": "Internet", "rt-entry": [
                {"destination": "10.0.0.0/24", "interface-name": "em1"},
                {"destination": "default", "gateway": "10.0.0.1", "interface-name": "em0"}]},
            {"address-family": "Internet6", "rt-entry": [{"destination": "default", "interface-name": "em9"}]}
        ]}}}}"#;
        assert_eq!(super::default_route_interface(j).as_deref(), Some("em0"));
        assert_eq!(super::default_route_interface("{}"), None);
    }
}
