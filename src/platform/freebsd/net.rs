//! Network links (`ifconfig`), the host gateway (`netstat`), forwarding
//! (`sysctl`), and kleene's pf rules, loaded into the anchor `kleene`
//! (`pfctl -a kleene -f`) so the host's own ruleset stays as it is.

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

/// The anchor kleene's rules live in.
pub const ANCHOR: &str = "kleene";

/// The forwarding sysctls networks need, and where their values from
/// before kleene set them are kept (to restore once no network is left).
const FORWARDING: [&str; 2] = ["net.inet.ip.forwarding", "net.inet6.ip6.forwarding"];

fn forwarding_saved(root: &Path) -> PathBuf {
    root.join("forwarding.saved")
}

/// Does the main ruleset evaluate the anchor? `pfctl -s nat` lists
/// `nat-anchor "kleene" all` and `rdr-anchor "kleene" all`, `pfctl -s rules`
/// `anchor "kleene" all`, when the host's pf.conf has the lines.
pub fn anchors_missing(nat: &str, rules: &str) -> Vec<&'static str> {
    let has = |text: &str, kind: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(&format!("{kind} \"{ANCHOR}\"")))
    };
    let mut missing = Vec::new();
    for (text, kind) in [(nat, "nat-anchor"), (nat, "rdr-anchor"), (rules, "anchor")] {
        if !has(text, kind) {
            missing.push(kind);
        }
    }
    missing
}

/// Is what pf holds in the anchor what `fw` generates? The file kleene
/// loaded last must be `fw`'s, and pf must hold rules while `fw` has
/// any (after a reboot the file is there and the anchor empty).
pub fn pf_conf_current(root: &Path, fw: &Firewall, anchor_rules: Option<&str>) -> bool {
    let Ok(template) = pf_template() else {
        return false;
    };
    let nothing = fw.networks.is_empty() && fw.ports.is_empty();
    let file = match std::fs::read_to_string(pf_conf_path(root)) {
        Ok(t) => t == pf::render(&template, fw),
        // Never loaded: right while there is nothing to load.
        Err(_) => nothing,
    };
    let loaded = nothing || anchor_rules.is_some_and(|r| r.lines().any(|l| !l.trim().is_empty()));
    file && loaded
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

    /// Is kernel module `name` loaded (or compiled in)?
    pub(super) fn module_loaded(&self, name: &str) -> bool {
        self.succeeds(&["/sbin/kldstat", "-q", "-m", name])
    }

    /// The rules pf holds in kleene's anchor (`None` when pf cannot say).
    pub(super) fn anchor_rules(&self) -> Option<String> {
        self.run(&["/sbin/pfctl", "-a", ANCHOR, "-s", "rules"])
            .ok()
            .map(|o| o.stdout)
    }

    pub(super) fn apply_firewall_impl(&self, root: &Path, fw: &Firewall) -> Result<()> {
        let path = pf_conf_path(root);
        let text = pf::render(&pf_template()?, fw);
        let needed = !(fw.networks.is_empty() && fw.ports.is_empty());
        if needed {
            if !self.module_loaded("pf") {
                return Err(Error::Failed(
                    "pf is not loaded: kleene's networks need it (kldload pf, and pf_enable=\"YES\" in /etc/rc.conf)".into(),
                ));
            }
            // "pf already enabled" is exit 1 and no error.
            let _ = self.run(&["/sbin/pfctl", "-e"]);
            let nat = self.run(&["/sbin/pfctl", "-s", "nat"])?.stdout;
            let rules = self.run(&["/sbin/pfctl", "-s", "rules"])?.stdout;
            let missing = anchors_missing(&nat, &rules);
            if !missing.is_empty() {
                return Err(Error::Failed(format!(
                    "pf's ruleset does not evaluate kleene's anchor (missing: {}); in /etc/pf.conf, put 'nat-anchor \"kleene\"' and 'rdr-anchor \"kleene\"' with your translation rules and 'anchor \"kleene\"' among your filter rules (pf wants translation before filtering), then run 'pfctl -f /etc/pf.conf'",
                    missing.join(", ")
                )));
            }
        }
        self.set_forwarding(root, needed)?;
        std::fs::write(&path, text)
            .map_err(|e| Error::io("cannot write pf configuration", &path, e))?;
        if needed || self.module_loaded("pf") {
            self.run(&[
                "/sbin/pfctl",
                "-a",
                ANCHOR,
                "-f",
                &path.display().to_string(),
            ])?;
        }
        Ok(())
    }

    /// Forwarding on while networks need it; the values from before, kept
    /// in `forwarding.saved`, come back when none is left.
    fn set_forwarding(&self, root: &Path, on: bool) -> Result<()> {
        let saved = forwarding_saved(root);
        if on {
            let mut before = String::new();
            let mut off = Vec::new();
            for key in FORWARDING {
                let v = self.run(&["/sbin/sysctl", "-n", key])?.stdout;
                before.push_str(&format!("{key}={}\n", v.trim()));
                if v.trim() != "1" {
                    off.push(key);
                }
            }
            // The values from before kleene first set them, kept across
            // reboots (which reset the sysctls, not the file).
            if !saved.exists() {
                std::fs::write(&saved, &before)
                    .map_err(|e| Error::io("cannot write", &saved, e))?;
            }
            for key in off {
                self.run(&["/sbin/sysctl", &format!("{key}=1")])?;
            }
            return Ok(());
        }
        let Ok(before) = std::fs::read_to_string(&saved) else {
            return Ok(());
        };
        for line in before.lines().filter(|l| l.contains('=')) {
            self.run(&["/sbin/sysctl", line])?;
        }
        let _ = std::fs::remove_file(&saved);
        Ok(())
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

    #[test]
    fn anchors_in_the_main_ruleset() {
        let nat = "nat-anchor \"kleene\" all\nrdr-anchor \"kleene\" all\n";
        assert!(super::anchors_missing(nat, "anchor \"kleene\" all\n").is_empty());
        assert_eq!(
            super::anchors_missing("", "anchor \"other\" all\n"),
            ["nat-anchor", "rdr-anchor", "anchor"]
        );
    }
}
