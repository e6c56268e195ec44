//! The soak: concurrent `klee` processes and kleened API clients doing
//! mixed operations on their own objects (volumes, containers, `run --rm`,
//! lists) while `system check` runs alongside. Every operation must
//! succeed (no 500, no lost or duplicated object), every check made during
//! the load must be clean (work in progress is never taken for debris), and
//! so must the one after. Shared by `bench/soak.sh` (the example) and
//! `tests/soak.rs` (a short run).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Config {
    pub klee: PathBuf,
    pub root: PathBuf,
    /// kleened's socket.
    pub socket: PathBuf,
    /// An image that has `/bin/true` (busybox).
    pub image: String,
    /// Clients of each kind (CLI and API).
    pub clients: usize,
    /// Operations per client.
    pub ops: usize,
}

#[derive(Debug, Default)]
pub struct Report {
    pub ops: usize,
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    /// Checks made while the load ran.
    pub checks: usize,
    /// What went wrong (empty: the soak passed).
    pub errors: Vec<String>,
    /// Operations done, by kind.
    pub kinds: std::collections::BTreeMap<&'static str, usize>,
}

impl Report {
    /// The `p`th latency percentile.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

/// xorshift64: reproducible mixes per client.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a client made and still has.
#[derive(Default)]
struct Held {
    volumes: Vec<String>,
    containers: Vec<String>,
}

fn klee(cfg: &Config, args: &[&str]) -> Result<String, String> {
    let o = Command::new(&cfg.klee)
        .args(args)
        .env("KLEENE_ROOT", &cfg.root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run klee: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "klee {} failed ({:?}): {}{}",
            args.join(" "),
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// One request, one connection (as klee does); the status and body.
fn http(cfg: &Config, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut s = UnixStream::connect(&cfg.socket).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("{method} {path}: read: {e}"))?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{method} {path}: no response"))?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((code, body.to_string()))
}

fn expect(cfg: &Config, method: &str, path: &str, body: &str, want: u16) -> Result<String, String> {
    let (code, b) = http(cfg, method, path, body)?;
    if code == want {
        Ok(b)
    } else {
        Err(format!(
            "{method} {path} {body}: {code} (wanted {want}): {b}"
        ))
    }
}

/// One operation of client `who` (`api`: through kleened).
fn op(
    cfg: &Config,
    api: bool,
    who: &str,
    n: usize,
    rng: &mut Rng,
    held: &mut Held,
) -> Result<&'static str, String> {
    let name = format!("{who}-{n}");
    match rng.next(9) {
        0 | 1 => {
            if api {
                expect(
                    cfg,
                    "POST",
                    "/volumes/create",
                    &format!("{{\"name\":\"{name}\"}}"),
                    201,
                )?;
            } else {
                klee(cfg, &["volume", "create", &name])?;
            }
            held.volumes.push(name);
            Ok("volume create")
        }
        2 if !held.volumes.is_empty() => {
            let v = held
                .volumes
                .remove(rng.next(held.volumes.len() as u64) as usize);
            if api {
                expect(cfg, "DELETE", &format!("/volumes/{v}"), "", 200)?;
            } else {
                klee(cfg, &["volume", "rm", &v])?;
            }
            Ok("volume rm")
        }
        3 | 4 => {
            if api {
                let body = format!(
                    "{{\"name\":\"{name}\",\"image\":\"{}\",\"cmd\":[\"/bin/true\"]}}",
                    cfg.image
                );
                expect(cfg, "POST", "/containers/create", &body, 201)?;
            } else {
                klee(cfg, &["create", "--name", &name, &cfg.image, "/bin/true"])?;
            }
            held.containers.push(name);
            Ok("container create")
        }
        5 if !held.containers.is_empty() => {
            let c = held
                .containers
                .remove(rng.next(held.containers.len() as u64) as usize);
            if api {
                expect(cfg, "DELETE", &format!("/containers/{c}"), "", 200)?;
            } else {
                klee(cfg, &["rm", &c])?;
            }
            Ok("container rm")
        }
        6 if !api => {
            klee(cfg, &["run", "--rm", &cfg.image, "/bin/true"])?;
            Ok("run --rm")
        }
        7 if !api => {
            // A build (RUN and COPY layers, leased while it runs) and the
            // removal of what it made.
            let ctx = cfg.root.join("soak-ctx");
            let tag = format!("{name}:soak");
            klee(
                cfg,
                &[
                    "build",
                    "--no-cache",
                    "-q",
                    "-t",
                    &tag,
                    ctx.to_str().unwrap_or("."),
                ],
            )?;
            klee(cfg, &["image", "rm", &tag])?;
            Ok("build + image rm")
        }
        _ => {
            if api {
                expect(cfg, "GET", "/containers/list?all=true", "", 200)?;
            } else {
                klee(cfg, &["volume", "ls"])?;
            }
            Ok("list")
        }
    }
}

fn names(cfg: &Config, args: &[&str], field: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value = serde_json::from_str(&klee(cfg, args)?)
        .map_err(|e| format!("klee {}: {e}", args.join(" ")))?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[field].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Run the soak; the report says what went wrong, if anything.
pub fn run(cfg: &Config) -> Report {
    let mut report = Report::default();
    let ctx = cfg.root.join("soak-ctx");
    let made = std::fs::create_dir_all(&ctx)
        .and_then(|_| std::fs::write(ctx.join("a"), "a"))
        .and_then(|_| {
            std::fs::write(
                ctx.join("Dockerfile"),
                format!("FROM {}\nRUN echo x > /f\nCOPY a /a\n", cfg.image),
            )
        });
    if let Err(e) = made {
        report
            .errors
            .push(format!("cannot make the build context: {e}"));
        return report;
    }
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let (results, checks) = std::thread::scope(|sc| {
        let clients: Vec<_> = (0..cfg.clients * 2)
            .map(|i| {
                let api = i % 2 == 1;
                sc.spawn(move || {
                    let who = format!("{}{}", if api { "a" } else { "c" }, i / 2);
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) * 7919));
                    let mut held = Held::default();
                    let mut lat = Vec::with_capacity(cfg.ops);
                    let mut errors = Vec::new();
                    let mut kinds = std::collections::BTreeMap::new();
                    for n in 0..cfg.ops {
                        let t = Instant::now();
                        match op(cfg, api, &who, n, &mut rng, &mut held) {
                            Ok(k) => *kinds.entry(k).or_insert(0) += 1,
                            Err(e) => errors.push(format!("{who} op {n}: {e}")),
                        }
                        lat.push(t.elapsed());
                    }
                    (held, lat, errors, kinds)
                })
            })
            .collect();
        // `system check` alongside: it must never take work in progress
        // for debris.
        let checker = sc.spawn(|| {
            let mut n = 0;
            let mut errors = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Err(e) = klee(cfg, &["system", "check"]) {
                    errors.push(format!("check during the load: {e}"));
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            (n, errors)
        });
        let results: Vec<_> = clients.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        (results, checker.join().unwrap())
    });
    report.wall = start.elapsed();
    report.checks = checks.0;
    report.errors.extend(checks.1);
    let mut want_volumes = BTreeSet::new();
    let mut want_containers = BTreeSet::new();
    for (held, lat, errors, kinds) in results {
        for (k, n) in kinds {
            *report.kinds.entry(k).or_insert(0) += n;
        }
        report.ops += lat.len();
        report.latencies.extend(lat);
        report.errors.extend(errors);
        want_volumes.extend(held.volumes);
        want_containers.extend(held.containers);
    }
    // Nothing lost, nothing duplicated, nothing left over.
    for (kind, args, want) in [
        (
            "volumes",
            &["volume", "ls", "--format", "json"][..],
            &want_volumes,
        ),
        (
            "containers",
            &["container", "ls", "-a", "--format", "json"][..],
            &want_containers,
        ),
    ] {
        match names(cfg, args, "name") {
            Ok(v) => {
                let got: BTreeSet<String> = v.iter().cloned().collect();
                if got.len() != v.len() || &got != want {
                    report.errors.push(format!(
                        "{kind}: expected {} ({want:?}), found {} ({v:?})",
                        want.len(),
                        v.len()
                    ));
                }
            }
            Err(e) => report.errors.push(e),
        }
    }
    if let Err(e) = klee(cfg, &["system", "check"]) {
        report.errors.push(format!("check after the load: {e}"));
    }
    report
}
