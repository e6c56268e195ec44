//! HEALTHCHECK: a command run in a running container at an interval; its
//! results make the container `starting`, `healthy` or `unhealthy`
//! (Docker's rules). The process that supervises the container (the
//! monitor of a detached one, `klee run` of an attached one) runs the
//! probes in a thread of its own, with its own store connection; each
//! result is written to the container's row (`health`, a JSON document),
//! which `ps`, `inspect` and the DSL read.
//!
//! Rules: a probe that exits 0 makes the container healthy and resets the
//! failing streak; one that fails or exceeds its timeout adds to the
//! streak, and `retries` in a row make it unhealthy; failures during the
//! start period do not count until a probe has succeeded. Probes run every
//! `start_interval` during the start period, every `interval` after.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::exec::ExecConfig;
use super::Engine;

/// What to run and when, from the image's HEALTHCHECK (or `--health-*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// Docker's form: `["CMD", prog, args…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub start_interval_ms: u64,
    pub retries: u32,
    /// The image's SHELL, for CMD-SHELL (empty: `/bin/sh -c`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
}

impl HealthConfig {
    /// Docker's defaults: every 30 s, 30 s timeout, 3 retries, no start period.
    pub fn new(test: Vec<String>) -> HealthConfig {
        HealthConfig {
            test,
            interval_ms: 30_000,
            timeout_ms: 30_000,
            start_period_ms: 0,
            start_interval_ms: 5_000,
            retries: 3,
            shell: vec![],
        }
    }

    /// From an image's stored HEALTHCHECK: `--flag=value`s, then `CMD …`,
    /// `CMD-SHELL cmd` or `NONE` (None: no check).
    pub fn from_image(words: &[String]) -> Result<Option<HealthConfig>> {
        let flags: Vec<&String> = words.iter().take_while(|w| w.starts_with("--")).collect();
        let rest = &words[flags.len()..];
        let Some(kind) = rest.first() else {
            return Ok(None);
        };
        let test = match kind.to_ascii_uppercase().as_str() {
            "NONE" => return Ok(None),
            "CMD" | "CMD-SHELL" if rest.len() > 1 => {
                let mut t = vec![kind.to_ascii_uppercase()];
                t.extend(rest[1..].iter().cloned());
                t
            }
            _ => {
                return Err(Error::invalid(
                    "image HEALTHCHECK",
                    words.join(" "),
                    "expected CMD followed by a command, or NONE",
                ))
            }
        };
        let mut cfg = HealthConfig::new(test);
        for f in flags {
            let (name, value) = f[2..].split_once('=').unwrap_or((&f[2..], ""));
            cfg.set(name, value)?;
        }
        Ok(Some(cfg))
    }

    /// One option by its Dockerfile/Docker name (`interval`, `timeout`,
    /// `start-period`, `start-interval`, `retries`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let bad = |what: &str| {
            Error::invalid(
                "health check option",
                format!("--{name}={value}"),
                format!("expected {what}"),
            )
        };
        // As Docker's: 0 means the default; a day at most between probes.
        let defaults = HealthConfig::new(vec![]);
        let ms = |default: u64| -> Result<u64> {
            let secs = crate::dockerfile::validate::duration(value)
                .ok_or_else(|| bad("a duration such as 30s, 1m30s or 500ms"))?;
            if secs == 0.0 {
                return Ok(default);
            }
            if !(0.001..=86_400.0).contains(&secs) {
                return Err(bad("a duration from 1ms to 24h (0: the default)"));
            }
            Ok((secs * 1000.0).round() as u64)
        };
        match name {
            "interval" => self.interval_ms = ms(defaults.interval_ms)?,
            "timeout" => self.timeout_ms = ms(defaults.timeout_ms)?,
            "start-period" => self.start_period_ms = ms(defaults.start_period_ms)?,
            "start-interval" => self.start_interval_ms = ms(defaults.start_interval_ms)?,
            "retries" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| bad("a whole number (0: the default, 3)"))?;
                self.retries = if n == 0 { defaults.retries } else { n };
            }
            _ => {
                return Err(Error::invalid(
                    "health check option",
                    name,
                    "expected interval, timeout, start-period, start-interval or retries",
                ))
            }
        }
        Ok(())
    }

    /// The command to exec: CMD-SHELL through the image's shell.
    fn command(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => {
                let mut c = if self.shell.is_empty() {
                    vec!["/bin/sh".to_string(), "-c".to_string()]
                } else {
                    self.shell.clone()
                };
                c.push(self.test[1..].join(" "));
                c
            }
            _ => self.test[1..].to_vec(),
        }
    }
}

/// `starting`, `healthy` or `unhealthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub start: String,
    pub end: String,
    /// -1: it exceeded its timeout (or could not run).
    pub exit_code: i32,
    /// Its output, stdout then stderr, at most 4 KiB.
    pub output: String,
}

/// A running container's health, as its row keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last five probes, oldest first.
    pub log: Vec<Probe>,
    /// A probe has succeeded since the start (the start period is over).
    #[serde(default)]
    pub started: bool,
}

impl Health {
    pub fn new() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: vec![],
            started: false,
        }
    }

    /// Docker's rules (module comment); `in_start_period`: the start
    /// period has not elapsed.
    pub fn record(&mut self, p: Probe, retries: u32, in_start_period: bool) {
        if p.exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
            self.started = true;
        } else if !in_start_period || self.started {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(p);
        if self.log.len() > 5 {
            self.log.remove(0);
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

/// The probing thread of one container; stops (and is joined) when dropped.
pub struct Prober {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Engine {
    /// Start probing running container `c` if it has a health check: its
    /// health is `starting` from now. (Nothing to read or write without.)
    pub(crate) fn start_health_checks(&mut self, c: &super::Container) -> Option<Prober> {
        let cfg = c.healthcheck.clone()?;
        let id = c.id.as_str();
        self.write_health(id, Some(&Health::new())).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (root, platform, id) = (self.root.clone(), self.platform, id.to_string());
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                let Ok(mut e) = Engine::open_on(root, platform) else {
                    return;
                };
                e.probe_loop(&id, &cfg, &flag);
            })
            .ok()?;
        Some(Prober {
            stop,
            thread: Some(thread),
        })
    }

    fn probe_loop(&mut self, id: &str, cfg: &HealthConfig, stop: &AtomicBool) {
        let began = Instant::now();
        let mut health = Health::new();
        let start_period = Duration::from_millis(cfg.start_period_ms);
        loop {
            let in_start = began.elapsed() < start_period;
            let wait = if in_start && !health.started {
                cfg.start_interval_ms.min(cfg.interval_ms)
            } else {
                cfg.interval_ms
            };
            let until = Instant::now() + Duration::from_millis(wait);
            while Instant::now() < until {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
            }
            let start = super::time::now();
            let exec = ExecConfig {
                cmd: cfg.command(),
                ..Default::default()
            };
            let timeout = Duration::from_millis(cfg.timeout_ms);
            let (code, output) = match self.container_exec_within(id, &exec, timeout, stop) {
                Ok((Some(code), out)) => (code, out),
                Ok((None, _)) => (
                    -1,
                    format!(
                        "health check exceeded its timeout ({} ms)",
                        timeout.as_millis()
                    ),
                ),
                // Not running any more, or gone: the supervisor is ending.
                Err(Error::State(_)) | Err(Error::NotFound { .. }) => return,
                Err(e) => (-1, e.to_string()),
            };
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let probe = Probe {
                start,
                end: super::time::now(),
                exit_code: code,
                output,
            };
            health.record(probe, cfg.retries, began.elapsed() < start_period);
            if self.write_health(id, Some(&health)).is_err() {
                return;
            }
        }
    }

    /// Keep a container's health in its row (None: it has none).
    pub(crate) fn write_health(&mut self, id: &str, h: Option<&Health>) -> Result<()> {
        let data = h.map(|h| serde_json::to_string(h).expect("health serialises"));
        let path = self.store.path().to_path_buf();
        self.store.write(|tx| {
            tx.execute(
                "UPDATE containers SET health = ?2 WHERE id = ?1",
                rusqlite::params![id, data],
            )
            .map(drop)
            .map_err(|e| super::store::store_err(&path, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn image_forms_and_options() {
        let c = HealthConfig::from_image(&w(&[
            "--interval=5s",
            "--retries=2",
            "CMD-SHELL",
            "curl -f x",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((c.interval_ms, c.retries, c.timeout_ms), (5000, 2, 30_000));
        assert_eq!(c.command(), w(&["/bin/sh", "-c", "curl -f x"]));
        let mut bash = c.clone();
        bash.shell = w(&["/bin/bash", "-ec"]);
        assert_eq!(bash.command(), w(&["/bin/bash", "-ec", "curl -f x"]));
        let c = HealthConfig::from_image(&w(&["CMD", "test", "-f", "/ok"]))
            .unwrap()
            .unwrap();
        assert_eq!(c.command(), w(&["test", "-f", "/ok"]));
        assert_eq!(HealthConfig::from_image(&w(&["NONE"])).unwrap(), None);
        assert_eq!(HealthConfig::from_image(&[]).unwrap(), None);
        let e = HealthConfig::from_image(&w(&["--interval=soon", "CMD", "true"])).unwrap_err();
        assert!(e.to_string().contains("'--interval=soon'"), "{e}");
        let mut c = HealthConfig::new(w(&["CMD", "true"]));
        // 0 is the default (Docker's); out of range and junk are refused.
        c.set("retries", "0").unwrap();
        c.set("interval", "0s").unwrap();
        assert_eq!((c.retries, c.interval_ms), (3, 30_000));
        assert!(c.set("retries", "-1").is_err());
        assert!(c.set("interval", "99999999h").is_err());
        assert!(c
            .set("bogus", "1")
            .unwrap_err()
            .to_string()
            .contains("bogus"));
        c.set("start-period", "1m30s").unwrap();
        assert_eq!(c.start_period_ms, 90_000);
    }

    #[test]
    fn dockers_rules_for_the_status() {
        let p = |code| Probe {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        };
        let mut h = Health::new();
        // Failures in the start period do not count...
        h.record(p(1), 2, true);
        h.record(p(1), 2, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        // ... until a probe succeeded.
        h.record(p(0), 2, true);
        assert_eq!(h.status, HealthStatus::Healthy);
        h.record(p(1), 2, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 1));
        h.record(p(-1), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 2));
        h.record(p(0), 2, false);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        for _ in 0..4 {
            h.record(p(0), 2, false);
        }
        assert_eq!(h.log.len(), 5);
    }
}
