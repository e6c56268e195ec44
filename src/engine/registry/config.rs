//! Where registries are and how to reach them: kleene's registry file
//! (`/etc/kleene/registries.toml`, or `KLEENE_CONFIG`) for plain-HTTP
//! ("insecure") registries, CA certificates and mirrors, and Docker's
//! `config.json` for credentials (what `docker login` and `klee login`
//! write), so existing logins work.
//!
//! ```toml
//! [[registry]]
//! host = "registry.example:5000"
//! insecure = false             # plain HTTP (always for localhost and 127.0.0.0/8)
//! ca = "/etc/kleene/certs/example.pem"
//! mirrors = ["mirror.example"] # tried first, for pulls
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::error::{Error, Result};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub host: String,
    #[serde(default)]
    pub insecure: bool,
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "registry")]
    pub registries: Vec<RegistryConfig>,
}

impl Config {
    /// The file named by `KLEENE_CONFIG`, else `/etc/kleene/registries.toml`;
    /// none is an empty configuration, a bad one an error naming the file.
    /// A file named explicitly (`--config`, `KLEENE_CONFIG`) must exist: a
    /// typo would otherwise silently drop its mirrors and CAs.
    pub fn load() -> Result<Config> {
        match std::env::var_os("KLEENE_CONFIG").filter(|p| !p.is_empty()) {
            Some(p) => {
                let path = PathBuf::from(p);
                if !path.exists() {
                    return Err(Error::invalid(
                        "registry configuration",
                        path.display().to_string(),
                        "no such file (given with --config or KLEENE_CONFIG)",
                    ));
                }
                Config::load_from(&path)
            }
            None => Config::load_from(Path::new("/etc/kleene/registries.toml")),
        }
    }

    pub fn load_from(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Error::io("cannot read registry configuration", path, e)),
        };
        toml::from_str(&text).map_err(|e| {
            Error::invalid(
                "registry configuration",
                path.display().to_string(),
                e.to_string(),
            )
        })
    }

    pub fn registry(&self, host: &str) -> RegistryConfig {
        self.registries
            .iter()
            .find(|r| r.host == host)
            .cloned()
            .unwrap_or_else(|| RegistryConfig {
                host: host.into(),
                ..Default::default()
            })
    }

    /// Plain HTTP: loopback hosts always, others when configured so.
    pub fn insecure(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        name == "localhost"
            || name == "[::1]"
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| a.is_loopback())
            || self.registry(host).insecure
    }
}

/// Docker's credentials file: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn credentials_file() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".docker/config.json"),
    }
}

/// The user and password stored for `host` (Docker Hub's under its index
/// URL, as Docker writes it).
pub fn credentials(host: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(credentials_file()).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let keys: Vec<String> = if host == super::reference::DOCKER_HUB {
        vec![
            "https://index.docker.io/v1/".into(),
            "docker.io".into(),
            "index.docker.io".into(),
        ]
    } else {
        vec![
            host.into(),
            format!("https://{host}"),
            format!("http://{host}"),
        ]
    };
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let auth = entry.get("auth")?.as_str()?;
    let raw = base64_decode(auth)?;
    let (u, p) = String::from_utf8(raw)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some((u, p))
}

/// Store `user`/`password` for `host` in Docker's format (mode 0600),
/// keeping everything else in the file.
pub fn save_credentials(host: &str, user: &str, password: &str) -> Result<PathBuf> {
    let path = credentials_file();
    let mut v = existing_credentials(&path)?;
    let key = if host == super::reference::DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    };
    v["auths"][key] =
        serde_json::json!({"auth": base64_encode(format!("{user}:{password}").as_bytes())});
    write_private(&path, &v)?;
    Ok(path)
}

/// Forget `host`'s credentials; false when there were none.
pub fn remove_credentials(host: &str) -> Result<bool> {
    let path = credentials_file();
    if !path.exists() {
        return Ok(false);
    }
    let mut v = existing_credentials(&path)?;
    let key = if host == super::reference::DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        host
    };
    let gone = v
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(key))
        .is_some();
    if gone {
        write_private(&path, &v)?;
    }
    Ok(gone)
}

/// The credentials file as it is, to be changed and written back: none is
/// an empty one; one that is not a JSON object is an error, never replaced
/// (it holds other registries' credentials and the user's settings).
fn existing_credentials(path: &Path) -> Result<serde_json::Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(serde_json::json!({})),
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v.is_object() && v.get("auths").is_none_or(|a| a.is_object()) => Ok(v),
        Ok(_) => Err(Error::invalid(
            "credentials file",
            path.display().to_string(),
            "not a JSON object with an \"auths\" object: fix it by hand (it is left as it is)",
        )),
        Err(e) => Err(Error::invalid(
            "credentials file",
            path.display().to_string(),
            format!("not valid JSON ({e}): fix it by hand (it is left as it is)"),
        )),
    }
}

fn write_private(path: &Path, v: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io("cannot create", d, e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io("cannot write", &tmp, e))?;
    f.write_all(
        serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(|e| Error::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("cannot write", path, e))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes().filter(|c| *c != b'=') {
        let v = B64.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_loopback_is_plain_http() {
        for s in ["", "a", "ab", "abc", "user:pa ss:w"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        let c = Config::default();
        assert!(
            c.insecure("localhost:5000") && c.insecure("127.0.0.1:5000") && c.insecure("localhost")
        );
        assert!(!c.insecure("registry.example:5000"));
        let c: Config =
            toml::from_str("[[registry]]\nhost = \"r.example\"\ninsecure = true\n").unwrap();
        assert!(c.insecure("r.example"));
    }
}
