//! Checks over the whole Dockerfile before its first step runs: an option
//! kleene does not support, or a bad HEALTHCHECK timing, fails the build
//! at once, with the instruction's span, not after the steps before it.

use super::parse::{Dockerfile, Instruction};
use super::plan::BuildError;

/// The flags each instruction takes (`--name=value`).
fn allowed(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "run" => &[],
        "copy" => &["from", "chown", "link"],
        "add" => &["chown", "link"],
        "healthcheck" => &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        // FROM --platform and the rest: not checked here.
        _ => return None,
    })
}

fn at(i: &Instruction, message: String) -> BuildError {
    BuildError {
        message,
        span: Some(i.span.clone()),
        kept: None,
    }
}

/// A Go-style duration (`30s`, `1m30s`, `500ms`, `1.5h`), in seconds.
pub fn duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .filter(|n| *n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(total)
}

pub fn check(df: &Dockerfile) -> Result<(), BuildError> {
    for i in &df.instructions {
        let Some(ok) = allowed(&i.name) else {
            continue;
        };
        let upper = i.name.to_uppercase();
        for f in &i.flags {
            let (name, value) = f
                .trim_start_matches('-')
                .split_once('=')
                .unwrap_or((f.trim_start_matches('-'), ""));
            if !ok.contains(&name) {
                let supported = if ok.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("it takes --{}", ok.join(", --"))
                };
                return Err(at(
                    i,
                    format!("flag '{f}' is not supported for {upper}: {supported}"),
                ));
            }
            if i.name == "healthcheck" {
                let good = match name {
                    "retries" => value.parse::<u32>().is_ok(),
                    _ => duration(value).is_some(),
                };
                if !good {
                    let what = if name == "retries" {
                        "a whole number"
                    } else {
                        "a duration such as 30s, 1m30s or 500ms"
                    };
                    return Err(at(
                        i,
                        format!("invalid HEALTHCHECK --{name} '{value}': expected {what}"),
                    ));
                }
            }
        }
        if i.name == "healthcheck" {
            let none = i
                .args
                .first()
                .is_some_and(|a| a.eq_ignore_ascii_case("none"));
            if none && (i.args.len() > 1 || !i.flags.is_empty()) {
                return Err(at(
                    i,
                    "HEALTHCHECK NONE takes no options and no command".into(),
                ));
            }
            if !none
                && !i
                    .args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case("cmd"))
            {
                return Err(at(
                    i,
                    "HEALTHCHECK expects CMD followed by a command, or NONE".into(),
                ));
            }
            if !none && i.args.len() < 2 {
                return Err(at(i, "HEALTHCHECK CMD needs a command".into()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse::parse;

    fn err(text: &str) -> String {
        check(&parse(text).unwrap()).unwrap_err().message
    }

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Some(30.0));
        assert_eq!(duration("1m30s"), Some(90.0));
        assert_eq!(duration("500ms"), Some(0.5));
        assert_eq!(duration("1.5h"), Some(5400.0));
        for bad in ["", "bogus", "10", "5x", "s"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn whole_file_checked_first() {
        assert!(
            check(&parse("FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD true\n").unwrap())
                .is_ok()
        );
        assert!(check(&parse("FROM a\nHEALTHCHECK NONE\n").unwrap()).is_ok());
        assert!(err("FROM a\nRUN true\nCOPY --chmod=644 a b\n").contains(
            "flag '--chmod=644' is not supported for COPY: it takes --from, --chown, --link"
        ));
        assert!(err("FROM a\nHEALTHCHECK --interval=bogus CMD true\n")
            .contains("invalid HEALTHCHECK --interval 'bogus'"));
        assert!(err("FROM a\nHEALTHCHECK --retries=x CMD true\n").contains("whole number"));
        assert!(err("FROM a\nHEALTHCHECK --interval=5s NONE\n").contains("NONE takes no options"));
        assert!(err("FROM a\nHEALTHCHECK true\n").contains("expects CMD"));
        assert!(err("FROM a\nRUN --mount=type=cache,target=/x true\n").contains("it takes none"));
    }
}
