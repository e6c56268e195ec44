//! A short soak (the long one is `bench/soak.sh`): klee processes and
//! kleened clients at once, `system check` alongside; nothing fails, is
//! lost or duplicated, and every check is clean.

mod common;

#[path = "../examples/soak/driver.rs"]
mod driver;

use common::api::daemon;

#[test]
fn concurrent_cli_and_api_clients_with_checks_alongside() {
    let Some(d) = daemon() else { return };
    let r = driver::run(&driver::Config {
        klee: env!("CARGO_BIN_EXE_klee").into(),
        root: d.root.path().to_path_buf(),
        socket: d.socket.clone(),
        image: "bb".into(),
        clients: 4,
        ops: 60,
    });
    eprintln!(
        "{} operations in {:.1} s, p99 {:?}, {} checks",
        r.ops,
        r.wall.as_secs_f64(),
        r.percentile(0.99),
        r.checks
    );
    eprintln!("{:?}", r.kinds);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    for k in [
        "volume create",
        "volume rm",
        "container create",
        "container rm",
        "run --rm",
        "build + image rm",
    ] {
        assert!(
            r.kinds.get(k).is_some_and(|n| *n > 0),
            "no '{k}' in {:?}",
            r.kinds
        );
    }
    assert_eq!(r.ops, 480);
    assert!(r.checks > 0, "no check ran during the load");
}
