//! Variable interpolation in compose files, in Rust (no shell is ever
//! run): `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`, `${VAR+other}`, `$$`
//! for a literal `$`; defaults may hold interpolations themselves. And the
//! `.env` file that supplies variables the environment does not.

use std::collections::BTreeMap;

/// Where variables come from: the environment over `.env`.
pub type Vars = BTreeMap<String, String>;

/// What went wrong, and at which byte of the text.
#[derive(Debug, PartialEq)]
pub struct InterpolateError {
    pub message: String,
    pub at: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `text` with its variables replaced.
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, InterpolateError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or('\0');
        if c != '$' {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing(text, i + 2).ok_or_else(|| InterpolateError {
                    message: "an unclosed '${'".into(),
                    at: i,
                })?;
                out.push_str(&braced(&text[i + 2..end], vars, i)?);
                i = end + 1;
            }
            Some(&n) if is_name_start(n as char) => {
                let len = text[i + 1..]
                    .find(|c: char| !is_name(c))
                    .unwrap_or(text.len() - i - 1);
                let name = &text[i + 1..i + 1 + len];
                out.push_str(vars.get(name).map_or("", String::as_str));
                i += 1 + len;
            }
            _ => {
                return Err(InterpolateError {
                    message:
                        "a '$' that is neither a variable nor '$$' (write '$$' for a literal '$')"
                            .into(),
                    at: i,
                })
            }
        }
    }
    Ok(out)
}

/// The index of the `}` closing a `${` whose body starts at `from`.
fn closing(text: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    let b = text.as_bytes();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The variables `text` uses bare (`$NAME`, `${NAME}`: no default, no
/// message) that `vars` does not set: each becomes an empty string, which
/// deserves a warning (a typo, or a forgotten `.env`).
pub fn unset(text: &str, vars: &Vars) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        let (name, bare) = match rest.strip_prefix('{') {
            Some(r) => {
                let len = r.find(|c: char| !is_name(c)).unwrap_or(r.len());
                (&r[..len], r[len..].starts_with('}'))
            }
            None if rest.starts_with('$') => {
                i += 2;
                continue;
            }
            None => {
                let len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
                (&rest[..len], true)
            }
        };
        if bare && name.starts_with(is_name_start) && !vars.contains_key(name) {
            out.push(name.to_string());
        }
        i += 1;
    }
    out
}

/// The value of `${body}` (at byte `at` of its text).
fn braced(body: &str, vars: &Vars, at: usize) -> Result<String, InterpolateError> {
    let len = body.find(|c: char| !is_name(c)).unwrap_or(body.len());
    let (name, rest) = body.split_at(len);
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(InterpolateError {
            message: format!("'${{{body}}}' does not start with a variable name"),
            at,
        });
    }
    let value = vars.get(name);
    let set = value.is_some();
    let nonempty = value.is_some_and(|v| !v.is_empty());
    let own = || value.cloned().unwrap_or_default();
    let (op, arg) = match rest {
        "" => return Ok(own()),
        r if r.starts_with(":-") || r.starts_with(":?") || r.starts_with(":+") => r.split_at(2),
        r if r.starts_with('-') || r.starts_with('?') || r.starts_with('+') => r.split_at(1),
        r => {
            return Err(InterpolateError {
                message: format!(
                    "'${{{body}}}': unknown modifier '{r}' (use :-, -, :?, ?, :+ or +)"
                ),
                at,
            })
        }
    };
    // Nested interpolation in the default, the message, the replacement.
    let arg = || interpolate(arg, vars).map_err(|e| InterpolateError { at: at + e.at, ..e });
    Ok(match op {
        ":-" if !nonempty => arg()?,
        "-" if !set => arg()?,
        ":?" | "?" if (op == ":?" && !nonempty) || (op == "?" && !set) => {
            let why = arg()?;
            return Err(InterpolateError {
                message: if why.is_empty() {
                    format!(
                        "required variable {name} is {}",
                        if set { "empty" } else { "not set" }
                    )
                } else {
                    format!("required variable {name}: {why}")
                },
                at,
            });
        }
        ":+" => {
            if nonempty {
                arg()?
            } else {
                String::new()
            }
        }
        "+" => {
            if set {
                arg()?
            } else {
                String::new()
            }
        }
        _ => own(),
    })
}

/// A `.env` file's variables: `KEY=VALUE` lines, `#` comments, an optional
/// `export `, values unquoted (a ` #` starts a comment; interpolated from
/// the lines above and `vars`), in double quotes (escapes `\n`, `\t`,
/// `\"`, `\\`; interpolated) or single quotes (as written). Errors name
/// the line.
pub fn dotenv(text: &str, vars: &Vars) -> Result<Vars, (usize, String)> {
    let mut out = Vars::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err((n + 1, format!("'{line}' is not KEY=VALUE")));
        };
        let key = key.trim();
        if key.is_empty() || !key.starts_with(is_name_start) || !key.chars().all(is_name) {
            return Err((n + 1, format!("'{key}' is not a variable name")));
        }
        let value = value.trim();
        let scope: Vars = vars
            .iter()
            .chain(out.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let expand = |s: &str| interpolate(s, &scope).map_err(|e| (n + 1, e.message));
        let v = if let Some(q) = value.strip_prefix('\'') {
            q.strip_suffix('\'')
                .ok_or((n + 1, "an unclosed single quote".to_string()))?
                .to_string()
        } else if let Some(q) = value.strip_prefix('"') {
            let inner = q
                .strip_suffix('"')
                .ok_or((n + 1, "an unclosed double quote".to_string()))?;
            let mut s = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(o) => s.push(o),
                        None => s.push('\\'),
                    }
                } else {
                    s.push(c);
                }
            }
            expand(&s)?
        } else {
            let bare = match value.find(" #") {
                Some(i) => value[..i].trim_end(),
                None => value,
            };
            expand(bare)?
        };
        out.insert(key.to_string(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "1"), ("EMPTY", ""), ("NAME", "web")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unset_variables_are_found() {
        let vars: Vars = [("SET".to_string(), "1".to_string())].into();
        assert_eq!(
            unset("$A ${B} ${C:-x} ${SET} $$D $SET ${E?m}", &vars),
            ["A", "B"]
        );
    }

    #[test]
    fn the_specs_forms() {
        let v = vars();
        let ok = |s: &str| interpolate(s, &v).unwrap();
        assert_eq!(ok("$A ${A} x$${A}"), "1 1 x${A}");
        assert_eq!(
            ok("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-d}"),
            "d  d d"
        );
        assert_eq!(
            ok("${A:+yes} ${EMPTY:+yes} ${EMPTY+yes} ${UNSET+yes}."),
            "yes  yes ."
        );
        assert_eq!(ok("${UNSET:-${NAME}-${A}}"), "web-1");
        assert_eq!(ok("no vars"), "no vars");
        let e = interpolate("port ${PORT:?set PORT to the web port}", &v).unwrap_err();
        assert_eq!(
            e.message,
            "required variable PORT: set PORT to the web port"
        );
        assert_eq!(e.at, 5);
        assert!(interpolate("${EMPTY:?}", &v)
            .unwrap_err()
            .message
            .contains("is empty"));
        assert!(interpolate("${A", &v)
            .unwrap_err()
            .message
            .contains("unclosed"));
        assert!(interpolate("${A!x}", &v)
            .unwrap_err()
            .message
            .contains("modifier"));
        assert!(interpolate("cost: $5", &v).is_err());
    }

    #[test]
    fn dotenv_files() {
        let text = "# comment\nexport TAG=1.2\nIMAGE=app:${TAG} # a comment\nQ='${TAG} as is'\nD=\"a\\nb\"\n\n";
        let got = dotenv(text, &Vars::new()).unwrap();
        assert_eq!(got["TAG"], "1.2");
        assert_eq!(got["IMAGE"], "app:1.2");
        assert_eq!(got["Q"], "${TAG} as is");
        assert_eq!(got["D"], "a\nb");
        assert_eq!(dotenv("A=1\nnot a line\n", &Vars::new()).unwrap_err().0, 2);
    }
}
