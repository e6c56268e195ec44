//! The engine's error type: every message names the object and the value.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such {kind} '{ident}'")]
    NotFound { kind: &'static str, ident: String },

    #[error("{kind} identifier '{ident}' is ambiguous; it matches: {}", candidates.join(", "))]
    Ambiguous {
        kind: &'static str,
        ident: String,
        candidates: Vec<String>,
    },

    #[error("empty {kind} identifier")]
    EmptyIdent { kind: &'static str },

    #[error("invalid {what} '{value}': {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("{0}")]
    Conflict(String),

    #[error("{0}")]
    InUse(String),

    #[error("{0}")]
    State(String),

    #[error("could not start container '{container}': {reason}")]
    Start { container: String, reason: String },

    #[error("could not run command in container '{container}': {reason}")]
    Exec { container: String, reason: String },

    #[error("{context} '{}': {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("metadata store '{}': {source}", path.display())]
    Store {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error("corrupt metadata for {kind} '{id}': {source}")]
    Corrupt {
        kind: &'static str,
        id: String,
        source: serde_json::Error,
    },

    /// A registry, a reference in it or what it sent (the message names
    /// the reference or blob and the reason).
    #[error("{0}")]
    Registry(String),

    #[error(transparent)]
    Platform(#[from] crate::platform::Error),
}

impl Error {
    /// A short machine-readable kind, for scripts and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Ambiguous { .. } => "ambiguous",
            Error::EmptyIdent { .. } | Error::Invalid { .. } => "invalid",
            Error::Conflict(_) => "conflict",
            Error::InUse(_) => "in_use",
            Error::State(_) => "state",
            Error::Start { .. } => "start",
            Error::Exec { .. } => "exec",
            Error::Platform(crate::platform::Error::Unsupported(_)) => "unsupported",
            Error::Io { .. } | Error::Platform(_) => "os",
            Error::Store { .. } | Error::Corrupt { .. } => "store",
            Error::Registry(_) => "registry",
        }
    }

    pub fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }

    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// A stored object's JSON, or a `Corrupt` error naming its kind and key.
pub fn decode<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    id: &str,
    data: &str,
) -> Result<T> {
    serde_json::from_str(data).map_err(|source| Error::Corrupt {
        kind,
        id: id.to_string(),
        source,
    })
}
