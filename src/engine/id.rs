//! Object identifiers and the lookup rules shared by every object kind.
//!
//! IDs are 12 lowercase hex characters that are never all digits (kleened's
//! rule: jail(8) would take an all-digit name for a JID).

use std::io::Read;

/// A fresh 12-hex-character ID, never all digits.
pub fn new_id() -> String {
    loop {
        let mut buf = [0u8; 6];
        // /dev/urandom never blocks after boot; a failure here means no /dev at all.
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .is_err()
        {
            fallback_random(&mut buf);
        }
        let id: String = buf.iter().map(|b| format!("{b:02x}")).collect();
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// Is `s` an ID as [`new_id`] makes them (12 lowercase hex, not all digits)?
pub fn valid_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !s.bytes().all(|b| b.is_ascii_digit())
}

fn fallback_random(buf: &mut [u8]) {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let v = h.finish().to_le_bytes();
    buf.copy_from_slice(&v[..buf.len()]);
}

/// True when `s` could be an object name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an
/// optional leading `/` as kleened allows.
pub fn valid_name(s: &str) -> bool {
    let s = s.strip_prefix('/').unwrap_or(s);
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    let rest = chars.as_str();
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The longest object name: a volume's is a directory's (or dataset's)
/// name, and longer names are refused for every kind alike.
pub const MAX_NAME: usize = 255;

/// Check an object name (`what`: "volume name", …), with an error that
/// says what is wrong with it.
pub fn check_name(what: &'static str, name: &str) -> super::error::Result<()> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.len() > MAX_NAME {
        let shown: String = bare.chars().take(40).collect();
        return Err(super::error::Error::invalid(
            what,
            format!("{shown}…"),
            format!(
                "it is {} characters long, at most {MAX_NAME} are allowed",
                bare.len()
            ),
        ));
    }
    if !valid_name(name) {
        return Err(super::error::Error::invalid(
            what,
            name,
            "it must match [a-zA-Z0-9][a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// The outcome of matching an identifier against (id, name) pairs.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<'a> {
    One(&'a str),
    None,
    Ambiguous(Vec<String>),
}

/// Resolve `ident` against candidates `(id, display_name)`: an exact ID wins,
/// then an exact name, then a unique ID prefix. An empty identifier never matches.
pub fn resolve<'a>(ident: &str, candidates: &'a [(String, String)]) -> Match<'a> {
    if ident.is_empty() {
        return Match::None;
    }
    if let Some((id, _)) = candidates.iter().find(|(id, _)| id == ident) {
        return Match::One(id);
    }
    if let Some((id, _)) = candidates.iter().find(|(_, name)| name == ident) {
        return Match::One(id);
    }
    let prefixed: Vec<&(String, String)> = candidates
        .iter()
        .filter(|(id, _)| id.starts_with(ident))
        .collect();
    match prefixed.as_slice() {
        [] => Match::None,
        [(id, _)] => Match::One(id),
        many => Match::Ambiguous(
            many.iter()
                .map(|(id, name)| {
                    if name.is_empty() {
                        id.clone()
                    } else {
                        format!("{id} ({name})")
                    }
                })
                .collect(),
        ),
    }
}

/// Split `name[:tag][@snapshot]` into its parts; a missing tag is `latest`.
pub fn parse_image_ref(s: &str) -> (String, String, Option<String>) {
    let (base, snap) = match s.split_once('@') {
        Some((b, snap)) => (b, Some(snap.to_string())),
        None => (s, None),
    };
    // A ':' after the last '/' separates the tag (registry ports never reach us).
    match base.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string(), snap),
        _ => (base.to_string(), "latest".to_string(), snap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_12_hex_and_not_all_digits() {
        for _ in 0..200 {
            let id = new_id();
            assert_eq!(id.len(), 12);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(!id.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("/web-1.a_b"));
        assert!(!valid_name("w"));
        assert!(!valid_name(""));
        assert!(!valid_name("-web"));
        assert!(!valid_name("we b"));
        assert!(!valid_name("wé"));
        assert!(check_name("volume name", &"v".repeat(255)).is_ok());
        let long = check_name("volume name", &"v".repeat(300))
            .unwrap_err()
            .to_string();
        assert!(long.contains("300 characters long, at most 255"), "{long}");
    }

    fn cands() -> Vec<(String, String)> {
        vec![
            ("abc123456789".into(), "web".into()),
            ("abd123456789".into(), "db".into()),
            ("fff000000000".into(), "abc".into()),
        ]
    }

    #[test]
    fn resolve_rules() {
        let c = cands();
        assert_eq!(resolve("", &c), Match::None);
        assert_eq!(resolve("web", &c), Match::One("abc123456789"));
        // an exact name beats an ID prefix
        assert_eq!(resolve("abc", &c), Match::One("fff000000000"));
        assert_eq!(resolve("abd", &c), Match::One("abd123456789"));
        match resolve("ab", &c) {
            Match::Ambiguous(v) => {
                assert_eq!(v, vec!["abc123456789 (web)", "abd123456789 (db)"])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(resolve("zzz", &c), Match::None);
    }

    #[test]
    fn image_refs() {
        assert_eq!(
            parse_image_ref("base"),
            ("base".into(), "latest".into(), None)
        );
        assert_eq!(parse_image_ref("base:1"), ("base".into(), "1".into(), None));
        assert_eq!(
            parse_image_ref("base:1@ab12"),
            ("base".into(), "1".into(), Some("ab12".into()))
        );
        assert_eq!(
            parse_image_ref("base@ab12"),
            ("base".into(), "latest".into(), Some("ab12".into()))
        );
    }
}
