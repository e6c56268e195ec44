//! kleened's REST API against the real daemon on a private UNIX socket:
//! shapes and status codes klee relies on, one store shared with `klee`,
//! start-up reconciliation, and malformed input that never gets a 500.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::api::{daemon, Daemon};
use common::{can_run, Root};
use kleene::api::openapi::ROUTES;
use serde_json::json;

#[test]
fn the_socket_is_root_only_and_goes_away_with_the_daemon() {
    let Some(d) = daemon() else { return };
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    let socket = d.socket.clone();
    drop(d);
    assert!(!socket.exists(), "the socket is removed on SIGTERM");
}

#[test]
fn containers_through_the_api_are_klee_containers() {
    let Some(d) = daemon() else { return };
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(
            json!({"image": "bb", "name": "api1", "cmd": ["echo", "hi"], "persist": "true",
                    "env": ["A=1"], "network_driver": "disabled", "unknown_key": 1}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    // The CLI sees it, with what the API asked for.
    let c = d.root.json(&["container", "inspect", "api1"]);
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["persist"], true);
    // An image in use: kleened's words (klee prints them as they come).
    let image_id = c["image_id"].as_str().unwrap().to_string();
    let (code, v) = d.call("DELETE", "/images/bb", None);
    assert_eq!(code, 404);
    assert_eq!(
        v["message"],
        format!("could not remove image {image_id} since it is used for containers:\n{id}")
    );
    // And the API sees what the CLI makes.
    d.root.ok(&["create", "--name", "cli1", "bb", "true"]);
    let (code, list) = d.call("GET", "/containers/list?all=true", None);
    assert_eq!(code, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cli1", "api1"], "newest first");
    for key in [
        "id",
        "name",
        "image_name",
        "image_tag",
        "image_id",
        "cmd",
        "created",
        "restart_policy",
        "running",
        "jid",
    ] {
        assert!(
            list[0].get(key).is_some(),
            "summary lacks {key}: {}",
            list[0]
        );
    }
    assert_eq!(list[1]["image_name"], "bb");
    // Only running ones without all=true.
    assert_eq!(d.call("GET", "/containers/list", None).1, json!([]));

    let (code, v) = d.call("GET", "/containers/api1/inspect", None);
    assert_eq!(code, 200);
    assert_eq!(v["container"]["env"], json!(["A=1"]));
    assert_eq!(v["container_endpoints"], json!([]));

    // rename (klee sends only the name) keeps everything else.
    let (code, _) = d.call(
        "POST",
        "/containers/api1/update",
        Some(json!({"name": "api2"})),
    );
    assert_eq!(code, 201);
    let c = d.root.json(&["container", "inspect", "api2"]);
    assert_eq!(c["cmd"], json!(["echo", "hi"]));

    let (code, v) = d.call("POST", "/containers/api2/stop", None);
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("container not running"))
    );
    let (code, v) = d.call("DELETE", "/containers/api2", None);
    assert_eq!((code, v["id"].as_str()), (200, Some(id.as_str())));
    let (code, v) = d.call("DELETE", "/containers/api2", None);
    assert_eq!(code, 404, "{v}");
    // persist=false containers go with prune.
    let (code, v) = d.call("POST", "/containers/prune", None);
    assert_eq!(code, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn images_volumes_and_their_errors() {
    let Some(d) = daemon() else { return };
    let (code, v) = d.call("GET", "/images/bb/inspect", None);
    assert_eq!(code, 200);
    assert_eq!(
        (v["name"].as_str(), v["tag"].as_str()),
        (Some("bb"), Some("latest"))
    );
    let (code, v) = d.call("POST", "/images/bb/tag?nametag=other%3A1.0", None);
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        d.root.json(&["image", "inspect", "other:1.0"])["tag"],
        "1.0"
    );
    let (code, v) = d.call("POST", "/images/bb/tag", None);
    assert_eq!(code, 404, "{v}");
    let (code, v) = d.call("DELETE", "/images/nosuch", None);
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("Error: No such image: nosuch\n"))
    );
    let (code, v) = d.call("GET", "/images/nosuch/inspect", None);
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("image not found"))
    );

    let (code, v) = d.call("POST", "/volumes/create", Some(json!({"name": "data"})));
    assert_eq!((code, v["id"].as_str()), (201, Some("data")));
    // Idempotent.
    assert_eq!(
        d.call("POST", "/volumes/create", Some(json!({"name": "data"})))
            .0,
        201
    );
    d.root.ok(&[
        "create",
        "--name",
        "user",
        "-m",
        "data:/data",
        "other:1.0",
        "true",
    ]);
    let (code, v) = d.call("GET", "/volumes/data/inspect", None);
    assert_eq!(code, 200);
    assert_eq!(v["mountpoints"][0]["type"], "volume");
    assert_eq!(v["mountpoints"][0]["destination"], "/data");
    let (code, v) = d.call("DELETE", "/volumes/data", None);
    assert_eq!(code, 404, "in use: {v}");
    assert!(v["message"].as_str().unwrap().contains("user"), "{v}");
    let (code, v) = d.call("DELETE", "/volumes/nosuch", None);
    assert_eq!((code, v["message"].as_str()), (404, Some("No such volume")));
    d.root.ok(&["rm", "user"]);
    let (code, v) = d.call("POST", "/volumes/prune", None);
    assert_eq!((code, v), (200, json!(["data"])));
}

/// A chunked HTTP/1.1 body, decoded (the save route streams).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

#[test]
fn images_are_saved_and_loaded_through_the_api() {
    let Some(d) = daemon() else { return };
    let (code, body) = d.raw("GET", "/images/bb/save", b"");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let archive = dechunk(&body);
    let mut names = Vec::new();
    for e in tar::Archive::new(&archive[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in ["manifest.json", "index.json", "oci-layout"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let (code, v) = d.call("GET", "/images/nosuch/save", None);
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("image not found"))
    );

    // Into another daemon's empty root, as the body of a load.
    let other = Daemon::start(Root::new());
    let (code, body) = other.raw("POST", "/images/load", &archive);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(code, 200, "{v}");
    assert_eq!(v[0]["name"], "bb", "{v}");
    assert_eq!(
        other.root.ok(&["run", "--rm", "bb", "echo", "loaded"]),
        "loaded\n"
    );
    // A truncated archive and something that is no archive: 400, nothing loaded.
    other.root.ok(&["rmi", "bb"]);
    let (code, v) = other.raw("POST", "/images/load", &archive[..archive.len() / 3]);
    let v: serde_json::Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("the request body"),
        "{v}"
    );
    let (code, v) = other.call("POST", "/images/load", Some(json!({"not": "a tar"})));
    assert_eq!(code, 400, "{v}");
    assert_eq!(
        other.root.json(&["image", "ls", "--format", "json"]),
        json!([])
    );
    assert_eq!(other.root.entries("tmp"), Vec::<String>::new());
}

#[test]
fn errors_are_json_with_documented_codes() {
    let Some(d) = daemon() else { return };
    let (code, v) = d.call("GET", "/no/such/route", None);
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("not found: GET /no/such/route"))
    );
    let (code, v) = d.call("DELETE", "/containers/list", None);
    assert_eq!(code, 405, "{v}");
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "nosuch"})),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("no such image 'nosuch'"))
    );
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "bb", "name": "bad name"})),
    );
    assert_eq!(code, 404, "{v}");
    assert!(v["message"].as_str().unwrap().contains("bad name"), "{v}");
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "bb", "persist": "maybe"})),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("invalid persist: 'maybe' is not true or false"))
    );
    for path in ["/images/prune?all=maybe", "/containers/list?all=maybe"] {
        let method = if path.starts_with("/images") {
            "POST"
        } else {
            "GET"
        };
        let (code, v) = d.call(method, path, None);
        assert_eq!(
            (code, v["message"].as_str()),
            (
                400,
                Some("invalid query parameter all: 'maybe' is not true or false")
            ),
            "{path}"
        );
    }
    let (code, v) = d.raw("POST", "/volumes/create", &vec![b'x'; 2 << 20]);
    assert_eq!(code, 413);
    assert!(String::from_utf8_lossy(&v).contains("request body too large"));
    let (code, v) = d.call("GET", "/networks/nosuch/inspect", None);
    assert_eq!((code, v), (404, json!({"message": "network not found"})));
    let (code, v) = d.call(
        "POST",
        "/exec/create",
        Some(json!({"container_id": "nosuch"})),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("container not found"))
    );
}

#[test]
fn every_documented_route_is_served_and_in_the_spec() {
    let Some(d) = daemon() else { return };
    let (code, spec) = d.call("GET", "/openapi.json", None);
    assert_eq!(code, 200);
    assert_eq!(
        ROUTES.len(),
        32,
        "kleened's 26 REST routes, /_ping and /version, kleene's image pull, push, save and load"
    );
    let (code, body) = d.raw("GET", "/_ping", b"");
    assert_eq!((code, &body[..]), (200, &b"OK"[..]));
    let (code, v) = d.call("GET", "/version", None);
    assert_eq!(code, 200);
    assert_eq!(v["api_version"], kleene::api::API_VERSION);
    for (method, path, op, _) in ROUTES {
        assert_eq!(
            spec["paths"][path][method]["operationId"], *op,
            "{method} {path}"
        );
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "nosuch" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let (_, body) = d.raw(&method.to_uppercase(), &concrete, b"{}");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("not found: "),
            "{method} {path} is not routed: {text}"
        );
    }
}

#[test]
fn malformed_input_never_crashes_a_handler() {
    let Some(mut d) = daemon() else { return };
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = [
        "", "{", "}", "[]", "null", "1", "\"x\"", "true", "{\"name\": 1}", "{\"image\": []}",
        "{\"image\": \"bb\", \"cmd\": \"x\"}", "{\"image\": \"bb\", \"mounts\": [1]}",
        "{\"image\": \"bb\", \"mounts\": [{\"type\": \"tmpfs\"}]}",
        "{\"image\": \"bb\", \"public_ports\": [{\"host_port\": 1}]}",
        "{\"image\": \"bb\", \"public_ports\": [{\"host_port\": \"99999\", \"container_port\": \"1\"}]}",
        "{\"image\": \"bb\", \"network_driver\": \"bogus\"}",
        "{\"image\": \"bb\", \"restart_policy\": \"always\"}",
        "{\"name\": \"x\", \"type\": \"bogus\"}", "{\"name\": \"\", \"type\": \"loopback\", \"subnet\": \"300.1.1.1/8\"}",
        "{\"container\": null, \"network\": 5}", "{\"container_id\": {}}",
        "{\"a\": 1e400}", "\u{0}\u{1}\u{2}", "{\"name\": \"\u{263a}\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([deep.into_bytes()])
    .chain((0..20u32).map(|i| (0..(i * 37 % 300)).map(|j| ((i * 7919 + j * 104729) % 256) as u8).collect()))
    .collect();
    for (method, path, _, codes) in ROUTES {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "nosuch" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for b in &bodies {
            let (code, out) = d.raw(&method.to_uppercase(), &concrete, b);
            assert_ne!(
                code,
                500,
                "{method} {path} with {:?}: {}",
                String::from_utf8_lossy(b),
                String::from_utf8_lossy(&out)
            );
            assert!(
                codes.contains(&code) || code == 413,
                "{method} {path}: undocumented {code} for {:?}",
                String::from_utf8_lossy(b)
            );
            // (/_ping answers `OK` in plain text, as Docker's.)
            if !out.is_empty() && *path != "/_ping" {
                serde_json::from_slice::<serde_json::Value>(&out).unwrap_or_else(|_| {
                    panic!(
                        "{method} {path}: not JSON: {}",
                        String::from_utf8_lossy(&out)
                    )
                });
            }
        }
    }
    // Query strings too.
    for q in [
        "all=%ZZ",
        "all=",
        "nametag=%00",
        "&&&",
        "force_stop=maybe&stop_container=true",
    ] {
        for p in [
            "/containers/list",
            "/images/prune",
            "/images/bb/tag",
            "/exec/x/stop",
        ] {
            let m = if p == "/containers/list" {
                "GET"
            } else {
                "POST"
            };
            let (code, _) = d.raw(m, &format!("{p}?{q}"), b"");
            assert_ne!(code, 500, "{p}?{q}");
        }
    }
    assert!(d.alive(), "kleened survived");
}

#[test]
fn on_startup_containers_start_with_the_daemon() {
    if !can_run() {
        return;
    }
    let root = Root::new();
    root.busybox_image("bb");
    root.ok(&[
        "create",
        "--name",
        "boot",
        "--restart",
        "on-startup",
        "bb",
        "sleep",
        "30",
    ]);
    root.ok(&["create", "--name", "plain", "bb", "sleep", "30"]);
    let d = Daemon::start(root);
    assert_eq!(d.root.status("boot")["state"], "running");
    assert_eq!(d.root.status("plain")["state"], "created");
    let (_, list) = d.call("GET", "/containers/list", None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["running"], true);
    d.root.ok(&["rm", "-f", "boot"]);
}

#[test]
fn concurrent_clients_and_klee_share_one_store() {
    let Some(d) = daemon() else { return };
    std::thread::scope(|s| {
        for t in 0..6 {
            let d = &d;
            s.spawn(move || {
                for i in 0..10 {
                    let (code, v) = d.call(
                        "POST",
                        "/containers/create",
                        Some(json!({"image": "bb", "name": format!("c{t}-{i}")})),
                    );
                    assert_eq!(code, 201, "{v}");
                }
            });
        }
        s.spawn(|| {
            for i in 0..10 {
                d.root
                    .ok(&["create", "--name", &format!("k{i}"), "bb", "true"]);
            }
        });
    });
    let (_, list) = d.call("GET", "/containers/list?all=true", None);
    let mut ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 70);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 70, "no duplicate IDs");
    assert_eq!(d.root.container_ids().len(), 70);
}

/// Kleene's extensions of the container configuration: confinement and
/// limits through the API, documented in /openapi.json, checked like the
/// CLI's options.
#[test]
fn confinement_and_limits_through_the_api() {
    let Some(d) = daemon() else { return };
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "bb", "name": "conf1", "cmd": ["true"],
                    "cap_drop": ["ALL"], "cap_add": ["NET_RAW"], "read_only": true,
                    "security_opt": ["no-new-privileges"], "init": "true",
                    "memory": "64m", "cpus": 0.5, "pids_limit": 100,
                    "jail_param": ["allow.sysvipc"]})),
    );
    assert_eq!(code, 201, "{v}");
    let c = d.root.json(&["container", "inspect", "conf1"]);
    assert_eq!(c["confinement"]["capabilities"], json!(["CAP_NET_RAW"]));
    assert_eq!(c["confinement"]["read_only_rootfs"], true);
    assert_eq!(c["confinement"]["no_new_privileges"], true);
    assert_eq!(c["confinement"]["init"], true);
    assert_eq!(c["confinement"]["freebsd_only"], json!(["allow.sysvipc"]));
    assert_eq!(
        c["limits"],
        json!({"memory": 67108864, "cpus": 0.5, "pids": 100})
    );
    // Limits change through update; a bad value is refused and changes nothing.
    let (code, v) = d.call(
        "POST",
        "/containers/conf1/update",
        Some(json!({"memory": "128m", "pids_limit": -1})),
    );
    assert_eq!(code, 201, "{v}");
    let c = d.root.json(&["container", "inspect", "conf1"]);
    assert_eq!(c["limits"], json!({"memory": 134217728, "cpus": 0.5}));
    let (code, v) = d.call(
        "POST",
        "/containers/conf1/update",
        Some(json!({"cpus": "lots"})),
    );
    assert_eq!(code, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("invalid cpus 'lots'"),
        "{v}"
    );
    for (body, want) in [
        (
            json!({"image": "bb", "cap_add": ["CAP_WIZARDRY"]}),
            "invalid capability 'CAP_WIZARDRY'",
        ),
        (
            json!({"image": "bb", "memory": "12parsecs"}),
            "invalid memory limit '12parsecs'",
        ),
        (
            json!({"image": "bb", "security_opt": ["seccomp={\"defaultAction\": 1}"]}),
            "invalid security option",
        ),
    ] {
        let (code, v) = d.call("POST", "/containers/create", Some(body));
        assert_eq!(code, 404, "{v}");
        assert!(v["message"].as_str().unwrap().contains(want), "{v}");
    }
    let (_, spec) = d.call("GET", "/openapi.json", None);
    let props = &spec["components"]["schemas"]["ContainerConfig"]["properties"];
    for f in [
        "privileged",
        "cap_add",
        "cap_drop",
        "read_only",
        "security_opt",
        "init",
        "memory",
        "cpus",
        "pids_limit",
    ] {
        assert!(
            props[f]["description"]
                .as_str()
                .unwrap()
                .contains("kleene extension"),
            "{f}"
        );
    }
    assert_eq!(
        spec["paths"]["/containers/create"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ContainerConfig"
    );
}

/// What a killed `klee` left is repaired when the daemon starts; clients
/// that stall get a 408 or are dropped, never hold a connection forever;
/// over-long and malformed names are refused with what is wrong.
#[test]
fn start_up_repairs_and_stalled_or_bad_requests_never_hang() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};
    if !can_run() {
        return;
    }
    let root = Root::new();
    root.busybox_image("bb");
    root.ok(&["create", "--name", "half", "bb", "true"]);
    let killed = root
        .cmd(&["rm", "half"])
        .env("KLEENE_FAILPOINT", "container.remove.row:crash")
        .status()
        .unwrap();
    assert!(!killed.success());
    assert_eq!(root.status("half")["state"], "removing");
    std::fs::create_dir_all(root.path().join("tmp/999999-1.layer-x")).unwrap();
    let d = Daemon::start_with(root, &["--request-timeout", "2"]);
    assert!(d.root.run(&["container", "inspect", "half"]).status.code() == Some(1));
    assert!(d.root.entries("tmp").is_empty());
    d.root.ok(&["system", "check"]);

    // Bodies shorter than announced: 408 once the timeout passes, and 400
    // when the client closes early.
    let connect = || {
        let s = UnixStream::connect(&d.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    };
    let head = "POST /volumes/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":";
    let t = Instant::now();
    let mut s = connect();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains("not received within 2 s"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(10));
    let mut s = connect();
    s.write_all(head.as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    // 200 clients that never finish their headers are all dropped, and
    // the daemon answers others meanwhile.
    let stalled: Vec<UnixStream> = (0..200)
        .map(|_| {
            let mut s = connect();
            s.write_all(b"GET /volumes/list HTTP/1.1\r\nHost:").unwrap();
            s
        })
        .collect();
    assert_eq!(d.call("GET", "/volumes/list", None).0, 200);
    let t = Instant::now();
    for mut s in stalled {
        let mut buf = Vec::new();
        let n = s.read_to_end(&mut buf).unwrap_or(0);
        assert_eq!(
            n,
            0,
            "a stalled client got {:?}",
            String::from_utf8_lossy(&buf)
        );
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // Names: 300 characters are a 4xx naming the limit, never a 500.
    let long = "v".repeat(300);
    let (code, v) = d.call("POST", "/volumes/create", Some(json!({ "name": long })));
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("at most 255"),
        "{v}"
    );
    let (code, v) = d.call(
        "POST",
        "/networks/create",
        Some(json!({ "name": long, "type": "bridge", "subnet": "10.91.0.0/24" })),
    );
    assert!((400..500).contains(&code), "{code} {v}");
    let (code, v) = d.call(
        "POST",
        "/containers/create",
        Some(json!({ "name": long, "image": "bb", "cmd": ["true"] })),
    );
    assert!((400..500).contains(&code), "{code} {v}");
    assert!(
        v["message"].as_str().unwrap().contains("at most 255"),
        "{v}"
    );
    // Image names and tags follow Docker's grammar: `..` does not rename.
    for bad in ["..", "a/../b", "UPPER", "x:..", &"n".repeat(300)] {
        let (code, v) = d.call("POST", &format!("/images/bb/tag?nametag={bad}"), None);
        assert_eq!(code, 404, "{bad}: {v}");
        assert!(
            v["message"].as_str().unwrap().starts_with("invalid image"),
            "{bad}: {v}"
        );
    }
    assert_eq!(d.call("GET", "/images/bb/inspect", None).0, 200);
    let (code, _) = d.call("POST", "/images/bb/tag?nametag=team/bb:v1.0", None);
    assert_eq!(code, 200);
    d.root.ok(&["system", "check"]);
}
