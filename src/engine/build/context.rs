//! The build context: where COPY and ADD may read from. Sources are relative
//! paths that must stay inside the context (no `..` out, no absolute paths,
//! no symlinks pointing out); `.dockerignore` rules are honoured.

use std::path::{Component, Path, PathBuf};

use super::glob::Pattern;
use crate::engine::error::{Error, Result};

#[derive(Debug, Clone)]
struct Rule {
    parts: Vec<String>,
    negate: bool,
}

/// A directory COPY may read from: the build context, or a view of another
/// stage or image (no ignore rules, absolute paths allowed there).
#[derive(Debug, Clone)]
pub struct Source {
    root: PathBuf,
    ignore: Vec<Rule>,
    /// Sources may be absolute (a stage's or image's filesystem).
    absolute_ok: bool,
}

impl Source {
    /// The build context at `dir`, with its `.dockerignore`.
    pub fn context(dir: &Path) -> Result<Source> {
        let root = dir
            .canonicalize()
            .map_err(|e| Error::io("cannot open build context", dir, e))?;
        if !root.is_dir() {
            return Err(Error::invalid(
                "build context",
                dir.display().to_string(),
                "not a directory",
            ));
        }
        let ignore = match std::fs::read_to_string(root.join(".dockerignore")) {
            Ok(text) => parse_ignore(&text),
            Err(_) => vec![],
        };
        Ok(Source {
            root,
            ignore,
            absolute_ok: false,
        })
    }

    /// Another stage's or image's files.
    pub fn filesystem(root: PathBuf) -> Source {
        Source {
            root,
            ignore: vec![],
            absolute_ok: true,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Is the context-relative path excluded by .dockerignore?
    pub fn ignored(&self, rel: &Path) -> bool {
        let comps: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let mut excluded = false;
        for r in &self.ignore {
            if match_parts(&r.parts, &comps) {
                excluded = !r.negate;
            }
        }
        excluded
    }

    /// Resolve a COPY/ADD source (globs allowed) to context-relative paths.
    pub fn resolve(&self, what: &str, src: &str) -> Result<Vec<PathBuf>> {
        let bad = |why: String| Error::invalid("source", format!("{what} {src}"), why);
        let rel = if src.starts_with('/') {
            if !self.absolute_ok {
                return Err(bad(
                    "an absolute path: sources are relative to the build context".into(),
                ));
            }
            src.trim_start_matches('/')
        } else {
            src
        };
        // Lexically: a path may not climb out of the root.
        let mut parts: Vec<String> = Vec::new();
        for c in Path::new(rel).components() {
            match c {
                Component::ParentDir if parts.pop().is_none() => {
                    return Err(bad("it is outside the build context".into()));
                }
                Component::ParentDir => {}
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                _ => {}
            }
        }
        let mut found = vec![PathBuf::new()];
        for part in &parts {
            let mut next = Vec::new();
            for base in &found {
                if Pattern::is_glob(part) {
                    let pat = Pattern::new(part, '\\');
                    let dir = self.root.join(base);
                    let Ok(rd) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    let mut names: Vec<String> = rd
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    for n in names {
                        if pat.matches_str(&n) && !self.ignored(&base.join(&n)) {
                            next.push(base.join(n));
                        }
                    }
                } else {
                    next.push(base.join(part));
                }
            }
            found = next;
        }
        found.retain(|p| self.root.join(p).symlink_metadata().is_ok() && !self.ignored(p));
        if found.is_empty() {
            return Err(bad("no such file or directory in the build context".into()));
        }
        for p in &found {
            self.check_inside(p, &bad)?;
        }
        Ok(found)
    }

    /// The path, with symlinks followed, must still be inside the root.
    fn check_inside(&self, rel: &Path, bad: &dyn Fn(String) -> Error) -> Result<()> {
        let full = self.root.join(rel);
        if self.absolute_ok {
            return Ok(()); // links inside a filesystem are that filesystem's business
        }
        match full.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(()),
            Ok(real) => Err(bad(format!(
                "'{}' is a symlink to '{}', outside the build context",
                rel.display(),
                real.display()
            ))),
            Err(e) => Err(bad(format!("'{}': {e}", rel.display()))),
        }
    }
}

fn parse_ignore(text: &str) -> Vec<Rule> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (negate, p) = match l.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, l),
            };
            let parts = Path::new(p.trim_start_matches('/'))
                .components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            Rule { parts, negate }
        })
        .filter(|r| !r.parts.is_empty())
        .collect()
}

/// Match pattern components against path components; `**` spans any number
/// of components, and a pattern matching a directory covers what is below.
fn match_parts(pat: &[String], path: &[String]) -> bool {
    match pat.first() {
        None => true, // the pattern matched a parent directory
        Some(p) if p == "**" => (0..=path.len()).any(|k| match_parts(&pat[1..], &path[k..])),
        Some(p) => match path.first() {
            Some(c) if Pattern::new(p, '\\').matches_str(c) => match_parts(&pat[1..], &path[1..]),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let s = Source {
            root: PathBuf::from("/x"),
            ignore: parse_ignore("# c\n*.log\n/build\n**/secret*\n!keep.log\ndocs/**/*.tmp\n"),
            absolute_ok: false,
        };
        let ig = |p: &str| s.ignored(Path::new(p));
        assert!(ig("a.log") && !ig("keep.log") && !ig("sub/a.log"));
        assert!(ig("build") && ig("build/out/x"));
        assert!(ig("secret.txt") && ig("deep/er/secret.key"));
        assert!(ig("docs/a/b/c.tmp") && ig("docs/c.tmp") && !ig("docs/c.txt"));
        assert!(!ig("src/main.rs"));
    }

    #[test]
    fn sources_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let ctx = t.path().join("ctx");
        std::fs::create_dir_all(ctx.join("d")).unwrap();
        std::fs::write(ctx.join("a.txt"), "a").unwrap();
        std::fs::write(ctx.join("b.txt"), "b").unwrap();
        std::fs::write(ctx.join("d/c.txt"), "c").unwrap();
        std::fs::write(t.path().join("outside"), "o").unwrap();
        std::os::unix::fs::symlink(t.path().join("outside"), ctx.join("link")).unwrap();
        std::os::unix::fs::symlink("a.txt", ctx.join("inner")).unwrap();
        let s = Source::context(&ctx).unwrap();
        assert_eq!(
            s.resolve("COPY", "*.txt").unwrap(),
            [PathBuf::from("a.txt"), PathBuf::from("b.txt")]
        );
        assert_eq!(
            s.resolve("COPY", "d/../a.txt").unwrap(),
            [PathBuf::from("a.txt")]
        );
        assert_eq!(
            s.resolve("COPY", "inner").unwrap(),
            [PathBuf::from("inner")]
        );
        let e = s.resolve("COPY", "../outside").unwrap_err().to_string();
        assert!(
            e.contains("'COPY ../outside'") && e.contains("outside the build context"),
            "{e}"
        );
        let e = s.resolve("COPY", "/etc/passwd").unwrap_err().to_string();
        assert!(e.contains("absolute path"), "{e}");
        let e = s.resolve("COPY", "link").unwrap_err().to_string();
        assert!(
            e.contains("is a symlink to") && e.contains("outside the build context"),
            "{e}"
        );
        let e = s.resolve("COPY", "nope*").unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
