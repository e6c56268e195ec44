//! Reading request bodies and queries the way klee sends them, leniently:
//! unknown keys are ignored, booleans may be strings (`"true"`), `null`
//! means "not given". Every failure names the field and what was wrong, and
//! the handler picks the status code the endpoint documents.

use serde_json::{Map, Value};

/// A JSON object body; anything else is an error naming what it was.
pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "invalid request body: expected a JSON object, got {}",
            kind(&other)
        )),
        Err(e) => Err(format!("invalid json: {e}")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong(field: &str, want: &str, got: &Value) -> String {
    format!("invalid {field}: expected {want}, got {}", kind(got))
}

/// An optional string field.
pub fn opt_str(m: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong(field, "a string", other)),
    }
}

/// An optional string, or a number given for it (`"memory": "64m"` or
/// `"cpus": 0.5`).
pub fn opt_scalar(m: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match m.get(field) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => opt_str(m, field),
    }
}

/// A required string field.
pub fn req_str(m: &Map<String, Value>, field: &str) -> Result<String, String> {
    opt_str(m, field)?.ok_or_else(|| format!("missing field: {field}"))
}

/// An optional boolean; `"true"`/`"false"` strings count.
pub fn opt_bool(m: &Map<String, Value>, field: &str) -> Result<Option<bool>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => parse_bool(s)
            .map(Some)
            .ok_or_else(|| format!("invalid {field}: '{s}' is not true or false")),
        Some(other) => Err(wrong(field, "a boolean", other)),
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// An optional list of strings.
pub fn opt_strs(m: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(field, "a list of strings", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(wrong(field, "a list of strings", other)),
    }
}

/// An optional list of objects.
pub fn opt_objects(m: &Map<String, Value>, field: &str) -> Result<Vec<Map<String, Value>>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::Object(o) => Ok(o.clone()),
                other => Err(wrong(field, "a list of objects", other)),
            })
            .collect(),
        Some(other) => Err(wrong(field, "a list of objects", other)),
    }
}

/// The query string's parameters (`a=1&b=x%3Ay`), percent-decoded.
pub fn query(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// A `true`/`false` query parameter (`None` when absent); anything else is
/// refused with `status`, naming the parameter and the value.
pub fn query_flag(
    q: &[(String, String)],
    key: &str,
    status: u16,
) -> Result<Option<bool>, crate::api::ApiError> {
    match query_get(q, key) {
        None => Ok(None),
        Some(v) => parse_bool(v).map(Some).ok_or_else(|| {
            crate::api::ApiError::new(
                status,
                format!("invalid query parameter {key}: '{v}' is not true or false"),
            )
        }),
    }
}

pub fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn decode(s: &str) -> String {
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16)).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(b.get(i + 1)), hex(b.get(i + 2))) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields() {
        let m = object(br#"{"a": "true", "b": false, "c": ["x"], "d": null, "zz": 1}"#).unwrap();
        assert_eq!(opt_bool(&m, "a").unwrap(), Some(true));
        assert_eq!(opt_bool(&m, "b").unwrap(), Some(false));
        assert_eq!(opt_bool(&m, "d").unwrap(), None);
        assert_eq!(opt_strs(&m, "c").unwrap(), Some(vec!["x".to_string()]));
        assert_eq!(
            opt_str(&m, "zz").unwrap_err(),
            "invalid zz: expected a string, got a number"
        );
        assert_eq!(req_str(&m, "name").unwrap_err(), "missing field: name");
        assert!(object(b"[1]")
            .unwrap_err()
            .contains("expected a JSON object, got an array"));
        assert!(object(b"{").unwrap_err().starts_with("invalid json"));
        assert!(object(b"").unwrap().is_empty());
    }

    #[test]
    fn queries() {
        let q = query(Some("all=true&nametag=myimg%3A1.0&x"));
        assert_eq!(query_get(&q, "all"), Some("true"));
        assert_eq!(query_get(&q, "nametag"), Some("myimg:1.0"));
        assert_eq!(query_get(&q, "x"), Some(""));
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
