//! The soak (`bench/soak.sh`): concurrent `klee` and kleened clients doing
//! mixed operations with `system check` alongside; prints operations per
//! second and latency percentiles, and exits 1 if anything went wrong.
//!
//!   cargo run --release --example soak -- KLEE ROOT SOCKET IMAGE [CLIENTS_PER_KIND] [OPS]

mod driver;

fn main() -> std::process::ExitCode {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: soak KLEE ROOT SOCKET IMAGE [CLIENTS_PER_KIND] [OPS]");
        return std::process::ExitCode::from(2);
    }
    let cfg = driver::Config {
        klee: a[1].clone().into(),
        root: a[2].clone().into(),
        socket: a[3].clone().into(),
        image: a[4].clone(),
        clients: a.get(5).and_then(|s| s.parse().ok()).unwrap_or(4),
        ops: a.get(6).and_then(|s| s.parse().ok()).unwrap_or(500),
    };
    let r = driver::run(&cfg);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} clients ({} klee, {} API) x {} operations: {} in {:.1} s, {:.1} ops/s",
        cfg.clients * 2,
        cfg.clients,
        cfg.clients,
        cfg.ops,
        r.ops,
        r.wall.as_secs_f64(),
        r.ops as f64 / r.wall.as_secs_f64()
    );
    println!(
        "latency p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms; {} checks during the load",
        ms(r.percentile(0.5)),
        ms(r.percentile(0.99)),
        ms(r.percentile(1.0)),
        r.checks
    );
    println!(
        "{}",
        r.kinds
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if r.errors.is_empty() {
        println!("no errors; system check clean");
        std::process::ExitCode::SUCCESS
    } else {
        for e in &r.errors {
            eprintln!("error: {e}");
        }
        eprintln!("{} errors", r.errors.len());
        std::process::ExitCode::from(1)
    }
}
