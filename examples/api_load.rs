//! Load generator for kleened's UNIX socket: N clients, each sending M
//! `GET PATH` requests one connection at a time (as klee does); prints the
//! latency percentiles in milliseconds as `p50 p90 p99 max requests/s`.
//!
//!   cargo run --release --example api_load -- SOCKET [PATH] [CLIENTS] [REQUESTS]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn get(socket: &str, path: &str) -> Duration {
    let t = Instant::now();
    let mut s = UnixStream::connect(socket).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
    t.elapsed()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let socket = a
        .get(1)
        .expect("usage: api_load SOCKET [PATH] [CLIENTS] [REQUESTS]")
        .clone();
    let path = a
        .get(2)
        .cloned()
        .unwrap_or_else(|| "/containers/list?all=true".into());
    let clients: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
    let requests: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(200);
    for _ in 0..10 {
        get(&socket, &path); // warm up
    }
    let start = Instant::now();
    let mut all: Vec<Duration> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..clients)
            .map(|_| {
                sc.spawn(|| {
                    (0..requests)
                        .map(|_| get(&socket, &path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{:.2} {:.2} {:.2} {:.2} {:.0}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        all.last().unwrap().as_secs_f64() * 1000.0,
        all.len() as f64 / wall.as_secs_f64()
    );
}
