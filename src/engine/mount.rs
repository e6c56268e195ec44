//! Mounts as users write them (`SOURCE:DEST[:ro|rw]`).

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::id;

/// A mount as the user asked for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountConfig {
    /// `volume` or `bind` (kleened's `nullfs`).
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub read_only: bool,
}

impl MountConfig {
    /// Parse klee's `SOURCE:DEST[:ro|rw]`; a source starting with `/` is a
    /// host path, anything else a volume name.
    pub fn parse(s: &str) -> Result<MountConfig> {
        let bad = |why: &str| Error::invalid("mount", s, why);
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, ro) = match parts.as_slice() {
            [src, dst] => (*src, *dst, false),
            [src, dst, "ro"] => (*src, *dst, true),
            [src, dst, "rw"] => (*src, *dst, false),
            [_, _, mode] => return Err(bad(&format!("mode '{mode}' is not 'ro' or 'rw'"))),
            _ => return Err(bad("expected SOURCE:DEST[:ro|rw]")),
        };
        if src.is_empty() || dst.is_empty() {
            return Err(bad("expected SOURCE:DEST[:ro|rw]"));
        }
        if !dst.starts_with('/') {
            return Err(bad("the destination must be an absolute path"));
        }
        if dst.split('/').any(|c| c == "..") {
            return Err(bad("the destination cannot contain '..'"));
        }
        let kind = if src.starts_with('/') {
            "bind"
        } else {
            "volume"
        };
        if kind == "volume" && !id::valid_name(src) {
            return Err(bad("a volume name must match [a-zA-Z0-9][a-zA-Z0-9_.-]+"));
        }
        if kind == "volume" && src.len() > id::MAX_NAME {
            return Err(bad(&format!(
                "a volume name has at most {} characters",
                id::MAX_NAME
            )));
        }
        Ok(MountConfig {
            kind: kind.into(),
            source: src.into(),
            destination: dst.into(),
            read_only: ro,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse() {
        let m = MountConfig::parse("/host:/in:ro").unwrap();
        assert_eq!((m.kind.as_str(), m.read_only), ("bind", true));
        let v = MountConfig::parse("data:/var/data").unwrap();
        assert_eq!((v.kind.as_str(), v.read_only), ("volume", false));
        assert_eq!(
            MountConfig::parse("a:b:c:d").unwrap_err().to_string(),
            "invalid mount 'a:b:c:d': expected SOURCE:DEST[:ro|rw]"
        );
        assert_eq!(
            MountConfig::parse("a:/b:rx").unwrap_err().to_string(),
            "invalid mount 'a:/b:rx': mode 'rx' is not 'ro' or 'rw'"
        );
        assert!(MountConfig::parse("vol:relative").is_err());
        assert!(MountConfig::parse("vol:/a/../b").is_err());
    }
}
