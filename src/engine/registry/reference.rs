//! A reference to an image in a registry, by Docker's rules: `alpine` is
//! `docker.io/library/alpine:latest`; the first component is a registry
//! when it has a `.` or a `:` or is `localhost`; `@sha256:…` pins a
//! digest. Docker Hub's API lives at `registry-1.docker.io`.

use crate::engine::error::{Error, Result};
use crate::engine::reference::{check_name, check_tag};

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// As written in references (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// The repository path (`library/alpine`).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

/// `sha256:` and 64 lowercase hex digits, the only digests kleene takes
/// (the image spec's form of a sha256 digest; it also names blob files).
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |why: &str| Err(Error::invalid("image reference", s, why));
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !is_sha256_digest(d) {
                    return bad("a digest is sha256: and 64 lowercase hex digits");
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())),
            _ => (rest, None),
        };
        if name.is_empty() {
            return bad("it names no repository");
        }
        if let Some(t) = &tag {
            check_tag(t)?;
        }
        check_name(name)?;
        let first = name.split('/').next().unwrap_or("");
        let has_registry = name.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        let (registry, mut repository) = if has_registry {
            let (r, p) = name.split_once('/').unwrap_or((name, ""));
            (r.to_string(), p.to_string())
        } else {
            (DOCKER_HUB.to_string(), name.to_string())
        };
        if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            return Reference::parse(&s.replacen(&registry, DOCKER_HUB, 1));
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What the manifest is asked for by: the digest, else the tag
    /// (`latest` when none was given).
    pub fn target(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".into())
    }

    /// The host the API is on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The short name kleene stores (Docker's familiar form: `alpine`,
    /// `user/app`, `localhost:5000/app`).
    pub fn local_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// The tag kleene stores: the given one, `latest`, or for a pull by
    /// digest alone `sha256-` and its first 12 digits.
    pub fn local_tag(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => format!("sha256-{}", &d[7..19]),
            (None, None) => "latest".into(),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_short_names_registries_tags_and_digests() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/alpine")
        );
        assert_eq!(
            (r.target(), r.local_name(), r.local_tag()),
            ("latest".into(), "alpine".into(), "latest".into())
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("user/app:1.2").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.local_name().as_str()),
            ("user/app", "user/app")
        );
        let r = Reference::parse("localhost:5000/team/app:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "team/app")
        );
        assert_eq!(r.local_name(), "localhost:5000/team/app");
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("quay.io/x/y@{d}")).unwrap();
        assert_eq!(
            (r.target(), r.local_tag()),
            (d.clone(), "sha256-abababababab".into())
        );
        assert_eq!(
            Reference::parse("index.docker.io/library/busybox:1")
                .unwrap()
                .local_name(),
            "busybox"
        );
        assert_eq!(r.to_string(), format!("quay.io/x/y@{d}"));
    }

    #[test]
    fn bad_references_say_why() {
        for (s, says) in [
            ("", "no repository"),
            ("Alpine", "uppercase"),
            ("a@sha256:12", "64 lowercase hex"),
            ("a:-x", "tag"),
        ] {
            let e = Reference::parse(s).unwrap_err().to_string();
            assert!(e.contains(says), "{s}: {e}");
        }
    }
}
