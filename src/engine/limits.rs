//! Resource limits as users write them (`--memory 64m`, `--cpus 0.5`,
//! `--pids-limit 100`), parsed into [`Limits`] with Docker's conventions.

use super::error::{Error, Result};
pub use crate::platform::security::human_bytes;
use crate::platform::security::{Limits, LimitsUpdate};

/// A size for people, in binary units as `docker stats` and the progress
/// bars show them: `512B`, `1.5KiB`, `12.3MiB`.
pub fn size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", units[u])
    }
}

/// Docker's floor: smaller limits only make a container die at start.
pub const MIN_MEMORY: u64 = 6 << 20;

/// Bytes from `64m`, `1.5g`, `512MiB`, `1048576` (binary multiples, as
/// Docker: b, k, m, g, t with optional `i` and `b`).
pub fn parse_memory(s: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid("memory limit", s, why.to_string());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad(
            "expected a number with an optional unit (b, k, m, g, t), e.g. 64m",
        ));
    }
    let n: f64 = num
        .parse()
        .map_err(|_| bad("expected a number with an optional unit (b, k, m, g, t), e.g. 64m"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(bad(
                "unknown unit; expected b, k, m, g or t (binary multiples), e.g. 64m",
            ))
        }
    };
    let bytes = n * mult as f64;
    // The kernel takes a signed 64-bit byte count.
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(bad("too large; the largest limit is 8388607t"));
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY {
        return Err(bad("the minimum memory limit is 6m"));
    }
    Ok(bytes)
}

/// CPUs from `0.5`, `2`: between 0.01 and the number of CPUs of the host.
pub fn parse_cpus(s: &str) -> Result<f64> {
    let host = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| Error::invalid("cpus", s, "expected a number of CPUs such as 0.5 or 2"))?;
    if !v.is_finite() || !(0.01..=host as f64).contains(&v) {
        return Err(Error::invalid(
            "cpus",
            s,
            format!("the range is 0.01 to {host}.00: this host has {host} CPU(s)"),
        ));
    }
    Ok((v * 1000.0).round() / 1000.0)
}

/// A process limit from `100`; `0` and `-1` mean unlimited (`None`).
pub fn parse_pids(s: &str) -> Result<Option<u64>> {
    let v: i64 = s.trim().parse().map_err(|_| {
        Error::invalid(
            "pids limit",
            s,
            "expected a whole number of processes (-1 or 0 for no limit)",
        )
    })?;
    match v {
        -1 | 0 => Ok(None),
        n if n > 0 => Ok(Some(n as u64)),
        _ => Err(Error::invalid(
            "pids limit",
            s,
            "expected a positive number of processes (-1 or 0 for no limit)",
        )),
    }
}

/// Limits as front ends get them: strings, each optional.
#[derive(Debug, Clone, Default)]
pub struct LimitOptions {
    pub memory: Option<String>,
    pub cpus: Option<String>,
    pub pids: Option<String>,
}

impl LimitOptions {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none() && self.pids.is_none()
    }

    /// The limits of a new container.
    pub fn parse(&self) -> Result<Limits> {
        let u = self.parse_update()?;
        Ok(Limits::default().merged(&u))
    }

    /// A change of limits; `0` (and `-1` for pids, as Docker) removes one.
    pub fn parse_update(&self) -> Result<LimitsUpdate> {
        let zero = |s: &String| s.trim() == "0";
        Ok(LimitsUpdate {
            memory: self
                .memory
                .as_ref()
                .map(|m| {
                    if zero(m) {
                        Ok(None)
                    } else {
                        parse_memory(m).map(Some)
                    }
                })
                .transpose()?,
            cpus: self
                .cpus
                .as_ref()
                .map(|c| {
                    if zero(c) {
                        Ok(None)
                    } else {
                        parse_cpus(c).map(Some)
                    }
                })
                .transpose()?,
            pids: self.pids.as_ref().map(|p| parse_pids(p)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory() {
        assert_eq!(parse_memory("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("64M").unwrap(), 64 << 20);
        assert_eq!(parse_memory("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_memory("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_memory("10485760").unwrap(), 10 << 20);
        assert_eq!(
            parse_memory("12parsecs").unwrap_err().to_string(),
            "invalid memory limit '12parsecs': unknown unit; expected b, k, m, g or t (binary multiples), e.g. 64m"
        );
        assert_eq!(
            parse_memory("1m").unwrap_err().to_string(),
            "invalid memory limit '1m': the minimum memory limit is 6m"
        );
        assert!(parse_memory("").is_err());
        assert_eq!(
            parse_memory("9223372036854775807").unwrap_err().to_string(),
            "invalid memory limit '9223372036854775807': too large; the largest limit is 8388607t"
        );
        assert!(parse_memory("8388608t").is_err());
        assert!(parse_memory("-5m").is_err());
        assert_eq!(human_bytes(64 << 20), "64m");
        assert_eq!(human_bytes(1000), "1000b");
    }

    #[test]
    fn cpus_and_pids() {
        assert_eq!(parse_cpus("0.5").unwrap(), 0.5);
        let e = parse_cpus("-1").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid cpus '-1': the range is 0.01 to "),
            "{e}"
        );
        assert!(parse_cpus("lots").is_err());
        assert!(parse_cpus("100000").is_err());
        assert_eq!(parse_pids("100").unwrap(), Some(100));
        assert_eq!(parse_pids("-1").unwrap(), None);
        assert!(parse_pids("-5").is_err());
        assert!(parse_pids("ten").is_err());
    }

    #[test]
    fn updates() {
        let o = LimitOptions {
            cpus: Some("-1".into()),
            ..Default::default()
        };
        assert!(o.parse_update().is_err());
        let o = LimitOptions {
            memory: Some("0".into()),
            cpus: None,
            pids: Some("50".into()),
        };
        let u = o.parse_update().unwrap();
        assert_eq!(u.memory, Some(None));
        assert_eq!(u.cpus, None);
        assert_eq!(u.pids, Some(Some(50)));
    }
}
