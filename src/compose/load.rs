//! Loading a project: the compose files (found, or given with `-f`, merged
//! in order), `.env` and the environment for interpolation, then the
//! normalized [`Project`]. Errors point at the file, line and column of the
//! offending key or value; keys kleene does not honour are collected as
//! warnings, keys it cannot run without are errors.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::convert;
use super::interpolate::{dotenv, interpolate, Vars};
use super::model::Project;
use super::yaml::{self, Node, Value};

/// The files a project is read from, for positioned messages.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<(String, String)>,
}

/// A compose error: what, and where (file, byte span) when it is in a file.
#[derive(Debug, Clone)]
pub struct ComposeError {
    pub message: String,
    pub at: Option<(String, String, Range<usize>)>,
    pub label: String,
}

impl ComposeError {
    pub fn plain(message: impl Into<String>) -> ComposeError {
        ComposeError {
            message: message.into(),
            at: None,
            label: String::new(),
        }
    }

    /// An error at `node` of `sources`.
    pub fn at(
        sources: &Sources,
        node: &Node,
        message: impl Into<String>,
        label: &str,
    ) -> ComposeError {
        let at = sources
            .files
            .get(node.file)
            .map(|(name, text)| (name.clone(), text.clone(), node.span.clone()));
        ComposeError {
            message: message.into(),
            at,
            label: label.into(),
        }
    }

    /// `file:line:col` of the error, if it has a place.
    pub fn location(&self) -> Option<String> {
        let (name, text, span) = self.at.as_ref()?;
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some(format!("{name}:{line}:{col}"))
    }
}

impl std::fmt::Display for ComposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some((name, text, span)) => f.write_str(&crate::dockerfile::render_diagnostic(
                name,
                text,
                &self.message,
                span.clone(),
                if self.label.is_empty() {
                    "here"
                } else {
                    &self.label
                },
            )),
            None => write!(f, "error: {}", self.message),
        }
    }
}

impl std::error::Error for ComposeError {}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order; empty: the first of the default names in `dir`.
    pub files: Vec<PathBuf>,
    /// `-p`; else `name:`, `COMPOSE_PROJECT_NAME`, the directory's name.
    pub project_name: Option<String>,
    /// Where to look when no file is given (the working directory).
    pub dir: PathBuf,
    /// The environment (the process's, given so tests can choose).
    pub env: Vars,
}

/// A project, and what of its files kleene does not honour.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
    /// Variables used without a default that are not set (read as empty).
    pub unset: Vec<String>,
    pub sources: Sources,
}

/// The names looked for, in order, as Docker Compose does.
pub const DEFAULT_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Override files merged over the default one when no `-f` is given.
pub const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

pub fn load(opts: &LoadOptions) -> Result<Loaded, ComposeError> {
    let files: Vec<PathBuf> = if opts.files.is_empty() {
        let found = DEFAULT_NAMES
            .iter()
            .map(|n| opts.dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                ComposeError::plain(format!(
                    "no compose file in '{}' (looked for {}); give one with -f",
                    opts.dir.display(),
                    DEFAULT_NAMES.join(", ")
                ))
            })?;
        // Beside it, an override file is merged over it, as Compose does.
        let over = OVERRIDE_NAMES
            .iter()
            .map(|n| opts.dir.join(n))
            .find(|p| p.is_file());
        std::iter::once(found).chain(over).collect()
    } else {
        opts.files.clone()
    };
    // The project directory: the first file's.
    let dir = files[0]
        .parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut vars = opts.env.clone();
    let env_file = dir.join(".env");
    if let Ok(text) = std::fs::read_to_string(&env_file) {
        let from_file = dotenv(&text, &opts.env).map_err(|(line, why)| {
            ComposeError::plain(format!("{}:{line}: {why}", env_file.display()))
        })?;
        for (k, v) in from_file {
            vars.entry(k).or_insert(v);
        }
    }
    let mut sources = Sources::default();
    let mut merged: Option<Node> = None;
    let mut unset = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let text = if f == Path::new("-") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| ComposeError::plain(format!("cannot read standard input: {e}")))?;
            s
        } else {
            std::fs::read_to_string(f).map_err(|e| {
                ComposeError::plain(format!("cannot read compose file '{}': {e}", f.display()))
            })?
        };
        sources.files.push((f.display().to_string(), text));
        let text = &sources.files[i].1;
        let node = yaml::parse(text, i).map_err(|e| {
            let n = Node::new(Value::Seq(vec![]), i, e.at..e.at + 1);
            ComposeError::at(
                &sources,
                &n,
                format!("not valid YAML: {}", e.message),
                "here",
            )
        })?;
        if node.as_map().is_none() {
            return Err(ComposeError::at(
                &sources,
                &node,
                format!(
                    "a compose file is a mapping (services:, networks:, …), not {}",
                    node.kind()
                ),
                "here",
            ));
        }
        let node = interpolated(node, &vars, &sources, &mut unset)?;
        merged = Some(match merged {
            None => node,
            Some(base) => merge(base, node, ""),
        });
    }
    let root = merged.unwrap_or_else(|| Node::new(Value::Map(vec![]), 0, 0..0));
    let name = opts
        .project_name
        .clone()
        .or_else(|| {
            root.get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
        })
        .or_else(|| vars.get("COMPOSE_PROJECT_NAME").cloned())
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "default".into())
        });
    // A name the user gave must be valid as it is (as Compose: a typo must
    // not silently become another project's name); the directory's name
    // is normalized.
    let given = opts.project_name.is_some()
        || root.get("name").is_some()
        || vars.contains_key("COMPOSE_PROJECT_NAME");
    let checked = if given {
        check_project_name(&name)
    } else {
        project_name(&name)
    };
    let name = checked.map_err(|why| match root.get("name") {
        Some(n) if opts.project_name.is_none() => {
            ComposeError::at(&sources, n, why, "the project's name")
        }
        _ => ComposeError::plain(why),
    })?;
    let mut c = convert::Converter::new(&sources, &dir, &name, &vars);
    let project = c.project(&root)?;
    let warnings = c.warnings;
    Ok(Loaded {
        project,
        warnings,
        unset,
        sources,
    })
}

/// A project name as Compose normalizes it: lowercase letters, digits,
/// `_` and `-`, starting with a letter or digit.
pub fn project_name(raw: &str) -> Result<String, String> {
    let n: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let n = n.trim_start_matches(['_', '-']).to_string();
    if n.is_empty() {
        return Err(format!(
            "project name '{raw}' has no letters or digits: give one with -p or name:"
        ));
    }
    Ok(n)
}

/// A project name given with `-p`, `name:` or COMPOSE_PROJECT_NAME: as
/// Compose, lowercase letters, digits, `_` and `-`, starting with a letter
/// or digit.
pub fn check_project_name(name: &str) -> Result<String, String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "invalid project name '{name}': it must be lowercase letters, digits, '_' and '-', starting with a letter or digit"
        ))
    }
}

/// Every scalar value (not key) interpolated; errors point into it.
fn interpolated(
    node: Node,
    vars: &Vars,
    sources: &Sources,
    unset: &mut Vec<String>,
) -> Result<Node, ComposeError> {
    let Node { value, file, span } = node;
    let value = match value {
        Value::Scalar { text, plain } => {
            for name in super::interpolate::unset(&text, vars) {
                if !unset.contains(&name) {
                    unset.push(name);
                }
            }
            let t = interpolate(&text, vars).map_err(|e| {
                let n = Node::new(
                    Value::Seq(vec![]),
                    file,
                    span.start + e.at..span.start + e.at + 1,
                );
                ComposeError::at(sources, &n, e.message, "in this value")
            })?;
            Value::Scalar { text: t, plain }
        }
        Value::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| interpolated(n, vars, sources, unset))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((k, interpolated(v, vars, sources, unset)?)))
                .collect::<Result<_, ComposeError>>()?,
        ),
    };
    Ok(Node { value, file, span })
}

/// Keys whose lists a later file replaces rather than extends.
const REPLACED: [&str; 5] = ["command", "entrypoint", "test", "profiles", "dns"];
/// Keys that are maps however they are written (`K=V` lists become maps
/// before merging, so a later file overrides one key).
const AS_MAP: [&str; 3] = ["environment", "labels", "args"];

/// `over` merged into `base` (the Compose Specification's rules, in
/// short): mappings key by key, scalars replaced, most lists extended
/// (without repeating an entry), command-like lists replaced.
pub fn merge(base: Node, over: Node, key: &str) -> Node {
    let (base, over) = if AS_MAP.contains(&key) {
        (as_map(base), as_map(over))
    } else {
        (base, over)
    };
    match (base.value, over.value) {
        (Value::Map(mut b), Value::Map(o)) => {
            for (k, v) in o {
                match b.iter().position(|(bk, _)| bk.as_str() == k.as_str()) {
                    Some(i) => {
                        let (bk, bv) = b.remove(i);
                        let name = k.as_str().unwrap_or("").to_string();
                        b.insert(i, (bk, merge(bv, v, &name)));
                    }
                    None => b.push((k, v)),
                }
            }
            Node::new(Value::Map(b), over.file, over.span)
        }
        (Value::Seq(mut b), Value::Seq(o)) if !REPLACED.contains(&key) => {
            for n in o {
                if !b.iter().any(|x| x.value == n.value) {
                    b.push(n);
                }
            }
            Node::new(Value::Seq(b), over.file, over.span)
        }
        (_, o) => Node::new(o, over.file, over.span),
    }
}

/// A `K=V` list as a mapping (a `K` alone maps to null).
fn as_map(n: Node) -> Node {
    let Value::Seq(items) = n.value else { return n };
    let entries = items
        .into_iter()
        .map(|i| {
            let text = i.as_str().unwrap_or("").to_string();
            let (k, v) = match text.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (text, None),
            };
            let key = Node::new(
                Value::Scalar {
                    text: k,
                    plain: false,
                },
                i.file,
                i.span.clone(),
            );
            let value = Node::new(
                match v {
                    Some(v) => Value::Scalar {
                        text: v,
                        plain: false,
                    },
                    None => Value::Scalar {
                        text: String::new(),
                        plain: true,
                    },
                },
                i.file,
                i.span.clone(),
            );
            (key, value)
        })
        .collect();
    Node::new(Value::Map(entries), n.file, n.span)
}

/// Variables from the process environment.
pub fn process_env() -> Vars {
    std::env::vars().collect::<BTreeMap<_, _>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
        load(&LoadOptions {
            dir: dir.path().to_path_buf(),
            project_name: Some("p".into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn ports_as_compose_writes_them() {
        let l = loaded(
            "services:\n  web:\n    image: x\n    ports:\n      - \"8080:80\"\n      - \"81\"\n      - \"127.0.0.1::82/udp\"\n      - {target: 83}\n      - {target: 84, published: \"8084\", host_ip: 127.0.0.1}\n      - \"3000-3001\"\n",
        );
        assert_eq!(
            l.project.services["web"].ports,
            [
                "8080:80",
                "0:81",
                "127.0.0.1:0:82/udp",
                "0:83",
                "127.0.0.1:8084:84",
                "3000-3001:3000-3001"
            ]
        );
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        for (bad, says) in [
            ("abc:80", "'abc' is not a port number"),
            ("em0:80:80", "'em0' is not an IP address"),
            ("1.2.3.4:x:80", "'x' is not a port number"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let text = format!("services:\n  web:\n    image: x\n    ports: [\"{bad}\"]\n");
            std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
            let e = load(&LoadOptions {
                dir: dir.path().to_path_buf(),
                ..Default::default()
            })
            .unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        assert!(l.warnings[0].contains("'3000-3001'"), "{:?}", l.warnings);
    }
}
