//! Networking on Linux, the objects: address allocation and its errors,
//! cleanup (the host is as before), failure injection, the DSL module. Each
//! test runs in its own lab (see `common/lab.rs`).

mod common;

use common::lab::{eventually, lab};
use common::stderr;

#[test]
fn auto_addresses_exhaust_a_slash_30_and_bad_addresses_are_refused() {
    let Some(lab) = lab() else { return };
    lab.k("network create -t bridge --subnet 10.9.0.0/30 --gw <auto> tiny");
    // A /30 has two hosts; the gateway takes one.
    lab.k("create --name first -l vnet -n tiny bb true");
    let e = lab.fails("create --name second -l vnet -n tiny bb true", 1);
    assert!(e.contains("no more inet IP's left in the network"), "{e}");
    assert!(
        !lab.k("container ls -a").contains("second"),
        "the failed container is not kept"
    );
    let e = lab.fails("network create -t bridge --subnet 10.9.0.0/24 overlap", 1);
    assert!(e.contains("overlaps 10.9.0.0/30"), "{e}");
    let e = lab.fails("network create -t bridge --subnet 10.10.0.0/24 tiny", 1);
    assert!(e.contains("network name is already taken"), "{e}");
    lab.k("network create -t bridge --subnet 10.11.0.0/24 wide");
    let e = lab.fails("network connect --ip 10.12.0.1 wide first", 1);
    assert!(
        e.contains("10.12.0.1") && e.contains("not a host address"),
        "{e}"
    );
    lab.k("network connect --ip 10.11.0.7 wide first");
    lab.k("create --name third -l vnet bb true");
    let e = lab.fails("network connect --ip 10.11.0.7 wide third", 1);
    assert!(e.contains("address 10.11.0.7 is already in use"), "{e}");
}

#[test]
fn removing_everything_leaves_the_host_as_it_was() {
    let Some(lab) = lab() else { return };
    let before = lab.snapshot();
    lab.k("network create -t bridge --subnet 10.12.0.0/24 --subnet6 fd12::/64 --gw <auto> --gw6 <auto> --icc=false n1");
    lab.k("network create -t loopback --subnet 10.13.0.0/24 n2");
    lab.serve("vv", "-l vnet -n n1 -p 8080:80", "80");
    lab.serve("ii", "-l ipnet -n n2 -p 8081:80", "80");
    lab.k("network connect n1 ii");
    assert!(eventually(|| lab.outside_reaches(
        "192.0.2.1",
        "8080",
        "vv"
    )));
    assert!(lab.outside_reaches("192.0.2.1", "8081", "ii"));
    assert_ne!(lab.snapshot(), before);
    lab.k("rm -f vv ii");
    lab.k("network rm n1 n2");
    // A veth goes when the kernel has torn its namespace down: wait for it.
    let mut after = String::new();
    assert!(
        eventually(|| {
            after = lab.snapshot();
            after == before
        }),
        "host changed:\nbefore: {before}\nafter: {after}"
    );
    assert!(!lab.root.path().join("sysctl.saved").exists());
}

#[test]
fn a_failed_network_create_leaves_nothing() {
    let Some(lab) = lab() else { return };
    let before = lab.snapshot();
    for fp in ["network.create.link", "network.firewall"] {
        let o = lab
            .root
            .cmd(&[
                "network",
                "create",
                "-t",
                "bridge",
                "--subnet",
                "10.14.0.0/24",
                "--gw",
                "<auto>",
                "doomed",
            ])
            .env("KLEENE_FAILPOINT", fp)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{fp}");
        assert!(stderr(&o).contains(fp), "{fp}: {}", stderr(&o));
        assert_eq!(lab.snapshot(), before, "{fp}");
        assert!(!lab.k("network ls").contains("doomed"), "{fp}");
    }
    // A start that fails while making its links leaves no link behind.
    lab.k("network create -t bridge --subnet 10.14.0.0/24 --gw <auto> ok");
    let with_net = lab.links();
    let o = lab
        .root
        .cmd(&[
            "run", "--name", "nolink", "-l", "vnet", "-n", "ok", "bb", "true",
        ])
        .env("KLEENE_FAILPOINT", "container.start.exec")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let mut now = String::new();
    assert!(
        eventually(|| {
            now = lab.links();
            now == with_net
        }),
        "{now}"
    );
}

#[test]
fn the_dsl_network_module_works_for_real() {
    let Some(lab) = lab() else { return };
    let script = lab.root.path().join("net.rhai");
    std::fs::write(
        &script,
        r#"
let net = network::create("dslnet", #{type: "bridge", subnet: "10.30.0.0/24", gateway: "<auto>"});
print(net.interface);
let srv = container::run("bb", ["nc", "-ll", "-p", "80", "-e", "echo", "hello dsl"], #{driver: "vnet", network: "dslnet", name: "dslsrv", detach: true});
print(srv.ip);
let out = "";
for i in 0..50 {
    let c = container::run("bb", ["timeout", "3", "nc", "-w", "1", srv.ip, "80"], #{driver: "vnet", network: "dslnet", detach: true});
    c.wait();
    out = c.logs();
    c.remove();
    if out.contains("hello dsl") { break; }
}
out.trim();
print(out);
try { network::create("other", #{type: "bridge", subnet: "10.30.0.0/16"}); } catch (e) { print(`${e.kind}: ${e.message}`); }
srv.remove(true);
print(network::remove("dslnet") == net.id);
"#,
    )
    .unwrap();
    let o = lab.klee(&["script", script.to_str().unwrap()]);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(lines[0], "kleene0", "{o}");
    assert_eq!(lines[1], "10.30.0.2", "{o}");
    assert_eq!(lines[2], "hello dsl", "{o}");
    assert!(
        lines[3].starts_with("conflict: subnet 10.30.0.0/16 overlaps"),
        "{o}"
    );
    assert_eq!(lines[4], "true", "{o}");
    assert!(!lab.links().contains("kleene0"), "{o}");
}

#[test]
fn concurrent_network_creates_get_distinct_interfaces() {
    let Some(lab) = lab() else { return };
    std::thread::scope(|s| {
        for i in 0..4 {
            let lab = &lab;
            s.spawn(move || {
                lab.k(&format!(
                    "network create -t bridge --subnet 10.{}.0.0/24 race{i}",
                    70 + i
                ))
            });
        }
    });
    let mut ifs: Vec<String> = (0..4)
        .map(|i| {
            lab.root.json(&["network", "inspect", &format!("race{i}")])["network"]["interface"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ifs.sort();
    ifs.dedup();
    assert_eq!(ifs.len(), 4, "{ifs:?}");
    // vnet links follow the order of connection: eth0 is the first network.
    lab.k("create --name multi -l vnet -n race2 bb ip -o -4 addr");
    lab.k("network connect race0 multi");
    let o = lab.k("start multi");
    let eth0 = o.lines().find(|l| l.contains("eth0")).unwrap_or_default();
    let eth1 = o.lines().find(|l| l.contains("eth1")).unwrap_or_default();
    assert!(
        eth0.contains("10.72.0.") && eth1.contains("10.70.0."),
        "{o}"
    );
}
