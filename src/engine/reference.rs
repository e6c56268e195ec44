//! Image names and tags, by Docker's reference grammar (distribution's
//! `reference` package): a name is path components separated by `/`, each
//! lowercase letters and digits joined by one `.`, one or two `_`, or any
//! number of `-`, optionally after a registry host (`localhost`, or a name
//! with a `.` or a `:port`); a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
//! So `..`, `/x`, `A` and 300-character names are refused up front, with
//! what is wrong with them.

use super::error::{Error, Result};

/// The longest name (host and path), as Docker's.
pub const MAX_NAME: usize = 255;
/// The longest tag.
pub const MAX_TAG: usize = 128;

/// Check an image name (without its tag).
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: String| Err(Error::invalid("image name", shorten(name), why));
    if name.is_empty() {
        return bad("it is empty".into());
    }
    if name.len() > MAX_NAME {
        return bad(format!(
            "it is {} characters long, at most {MAX_NAME} are allowed",
            name.len()
        ));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && is_domain(parts[0]) {
        check_domain(name, parts[0])?;
        parts.remove(0);
    }
    for p in parts {
        if p.is_empty() {
            return bad(
                "it has an empty path component (a leading, trailing or double '/')".into(),
            );
        }
        if p.bytes().any(|b| b.is_ascii_uppercase()) {
            return bad(format!(
                "'{p}' has uppercase letters; repository names are lowercase"
            ));
        }
        if !component_ok(p) {
            return bad(format!(
                "'{p}' is not lowercase letters and digits joined by '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

/// Check a tag.
pub fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= MAX_TAG
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && matches!(b, b'.' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "image tag",
            shorten(tag),
            "a tag is a letter, digit or '_', then up to 127 of those, '.' or '-'",
        ))
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Docker's rule: the first component is a registry when it has a `.` or
/// a `:`, or is `localhost`.
fn is_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn check_domain(name: &str, d: &str) -> Result<()> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host.split('.').all(label_ok) && port_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "image name",
            shorten(name),
            format!("'{d}' is not a registry host[:port]"),
        ))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn component_ok(p: &str) -> bool {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run, then an alphanumeric.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let fine = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !fine {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_grammar() {
        for ok in [
            "web",
            "my-app",
            "a.b",
            "a__b",
            "a---b",
            "library/ubuntu",
            "localhost/x",
            "localhost:5000/team/app",
            "registry.example.com/x/y",
            "0",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("..", "is not lowercase letters"),
            ("a/../b", "'..' is not"),
            ("/x", "empty path component"),
            ("x/", "empty path component"),
            ("Web", "uppercase"),
            ("a___b", "is not lowercase"),
            ("-a", "is not lowercase"),
            ("a.", "is not lowercase"),
            ("bad_host:x/app", "registry host"),
            ("", "empty"),
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = check_name(&"a".repeat(300)).unwrap_err().to_string();
        assert!(long.contains("300 characters long"), "{long}");
        assert!(long.len() < 200, "the value is shortened: {long}");
    }

    #[test]
    fn tags_follow_dockers_grammar() {
        for ok in ["latest", "1.0", "v1-rc_2", "_x", "A"] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "..", &"t".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
        assert!(check_tag(&"t".repeat(128)).is_ok());
    }
}
