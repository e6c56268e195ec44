//! kleened's WebSocket endpoints, frame by frame: the byte-exact starting
//! frame, Close codes and JSON reasons of at most 123 bytes, and malformed
//! first frames that never crash the daemon.

mod common;

use std::os::unix::net::UnixStream;

use common::api::{daemon, Daemon};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

fn connect(d: &Daemon, endpoint: &str) -> WebSocket<UnixStream> {
    let stream = UnixStream::connect(&d.socket).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let (ws, _) = tungstenite::client(format!("ws://localhost{endpoint}"), stream).unwrap();
    ws
}

/// Everything the server sends until its Close: (frames, close code, reason).
fn converse(d: &Daemon, endpoint: &str, first: Message) -> (Vec<Message>, u16, String) {
    let mut ws = connect(d, endpoint);
    ws.send(first).unwrap();
    let mut frames = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => {
                let code: u16 = f.code.into();
                return (frames, code, f.reason.to_string());
            }
            Ok(Message::Close(None)) => return (frames, 0, String::new()),
            Ok(m) => frames.push(m),
            Err(e) => panic!("{endpoint}: connection ended without a Close: {e}"),
        }
    }
}

fn reason(r: &str) -> Value {
    assert!(r.len() <= 123, "reason too long ({}): {r}", r.len());
    serde_json::from_str(r).unwrap_or_else(|e| panic!("reason is not JSON ({e}): {r:?}"))
}

#[test]
fn exec_start_attached_and_detached() {
    let Some(d) = daemon() else { return };
    let (_, c) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "bb", "cmd": ["echo", "hello"]})),
    );
    let cid = c["id"].as_str().unwrap().to_string();
    let (code, e) = d.call("POST", "/exec/create", Some(json!({"container_id": cid})));
    assert_eq!(code, 201);
    let exec = e["id"].as_str().unwrap();
    let cfg = json!({"exec_id": exec, "attach": true, "start_container": "true"}).to_string();
    let (frames, code, r) = converse(&d, "/exec/start", Message::text(cfg));
    assert_eq!(
        frames[0],
        Message::text(r#"{"data":"","message":"","msg_type":"starting"}"#),
        "the starting frame, byte for byte"
    );
    let out: String = frames[1..]
        .iter()
        .map(|m| m.to_text().unwrap_or(""))
        .collect();
    assert_eq!(out, "hello\n");
    assert_eq!(code, 1000);
    let r = reason(&r);
    assert_eq!(r["msg_type"], "closing");
    assert_eq!(
        r["message"],
        format!("executable {exec} and its container exited with exit-code 0")
    );

    // Detached: no starting frame, Close 1001.
    let (_, e) = d.call("POST", "/exec/create", Some(json!({"container_id": cid})));
    let exec = e["id"].as_str().unwrap();
    let cfg = json!({"exec_id": exec, "attach": false, "start_container": true}).to_string();
    let (frames, code, r) = converse(&d, "/exec/start", Message::text(cfg));
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(code, 1001);
    assert_eq!(
        reason(&r)["message"],
        "succesfully started execution instance in detached mode"
    );
    // An exec that was already started is gone.
    let cfg = json!({"exec_id": exec, "attach": true, "start_container": true}).to_string();
    let (_, code, r) = converse(&d, "/exec/start", Message::text(cfg));
    assert_eq!(code, 1011);
    assert!(reason(&r)["message"]
        .as_str()
        .unwrap()
        .contains("could not find execution instance"));

    // tty: true: a terminal in the container, fed by the client's frames.
    d.root
        .ok(&["run", "-d", "--name", "ttyhost", "bb", "sleep", "30"]);
    let (_, e) = d.call(
        "POST",
        "/exec/create",
        Some(json!({"container_id": "ttyhost", "cmd": ["sh", "-c", "tty; read x; echo got $x"], "tty": true})),
    );
    let exec = e["id"].as_str().unwrap().to_string();
    let mut ws = connect(&d, "/exec/start");
    ws.send(Message::text(
        json!({"exec_id": exec, "attach": true, "start_container": false}).to_string(),
    ))
    .unwrap();
    let mut out = String::new();
    let mut sent = false;
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(m) => {
                out.push_str(m.to_text().unwrap_or(""));
                if !sent && out.contains("/dev/pts/") {
                    ws.send(Message::text("hello\n")).unwrap();
                    sent = true;
                }
            }
        }
    }
    assert!(out.contains("/dev/pts/"), "a terminal: {out:?}");
    assert!(out.contains("got hello"), "input reached it: {out:?}");
    d.root.ok(&["rm", "-f", "ttyhost"]);
}

#[test]
fn malformed_first_frames_close_cleanly() {
    let Some(mut d) = daemon() else { return };
    let firsts: Vec<Message> = vec![
        Message::text("not json"),
        Message::text("[]"),
        Message::text("{}"),
        Message::text(r#"{"exec_id": 1, "attach": true, "start_container": true}"#),
        Message::text(r#"{"exec_id": "x", "attach": "maybe", "start_container": true}"#),
        Message::text(r#"{"exec_id": "x", "attach": true}"#),
        Message::text(r#"{"method": 5}"#),
        Message::text(r#"{"method": "bogus"}"#),
        Message::text(r#"{"context": 1}"#),
        Message::text(r#"{"context": "/nonexistent", "buildargs": []}"#),
        Message::text(r#"{"context": "/nonexistent"}"#),
        Message::binary(vec![0xff, 0x00, 0x13, 0x37]),
        Message::text("x".repeat(100_000)),
    ];
    for endpoint in ["/exec/start", "/images/create", "/images/build"] {
        for first in &firsts {
            let (_, code, r) = converse(&d, endpoint, first.clone());
            assert!(
                matches!(code, 1002 | 1011),
                "{endpoint} {first:?}: close code {code}"
            );
            assert_eq!(reason(&r)["msg_type"], "error", "{endpoint} {first:?}");
        }
    }
    assert!(d.alive());
    // A client that goes away without a frame does not hurt either.
    for endpoint in ["/exec/start", "/images/create", "/images/build"] {
        drop(connect(&d, endpoint));
    }
    assert_eq!(d.call("GET", "/images/list", None).0, 200);
    let _ = CloseCode::Normal;
}

#[test]
fn image_create_and_build_over_websockets() {
    let Some(d) = daemon() else { return };
    let rootfs = d.root.path().join("rootfs-bb");
    let cfg = json!({"method": "zfs-copy", "zfs_dataset": rootfs, "tag": "copied", "dns": false, "localtime": "false"});
    let (frames, code, r) = converse(&d, "/images/create", Message::text(cfg.to_string()));
    assert_eq!(code, 1000, "{frames:?} {r}");
    assert_eq!(
        frames[0],
        Message::text(r#"{"data":"","message":"","msg_type":"starting"}"#)
    );
    let r = reason(&r);
    assert_eq!(r["message"], "image created");
    let id = r["data"].as_str().unwrap();
    assert_eq!(d.root.json(&["image", "inspect", "copied"])["id"], id);

    let ctx = d.root.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM copied\nRUN echo x > /x\n").unwrap();
    let cfg = json!({"context": ctx, "dockerfile": "Dockerfile", "tag": "wsbuilt", "quiet": "false", "cleanup": true, "buildargs": {}});
    let (frames, code, r) = converse(&d, "/images/build", Message::text(cfg.to_string()));
    let start: Value = serde_json::from_str(frames[0].to_text().unwrap()).unwrap();
    let announced = start["data"].as_str().unwrap().to_string();
    assert_eq!(start["msg_type"], "starting");
    let texts: Vec<&str> = frames[1..].iter().map(|m| m.to_text().unwrap()).collect();
    assert!(texts.contains(&"Step 2/2 : RUN echo x > /x"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("--> Snapshot created: @") && !t.ends_with('\n')),
        "{texts:?}"
    );
    assert_eq!(code, 1000);
    let r = reason(&r);
    assert_eq!(
        r["data"],
        announced.as_str(),
        "the announced ID is the image's"
    );
    assert_eq!(
        d.root.json(&["image", "inspect", "wsbuilt"])["id"],
        announced.as_str()
    );
    // Quiet: no steps, no output, but the snapshots still (kleened's rule).
    std::fs::write(ctx.join("Dockerfile"), "FROM copied\nRUN echo quiet > /q\n").unwrap();
    let cfg = json!({"context": ctx, "dockerfile": "Dockerfile", "tag": "wsquiet", "quiet": true, "cleanup": true, "buildargs": {}});
    let (frames, code, r) = converse(&d, "/images/build", Message::text(cfg.to_string()));
    assert_eq!(code, 1000, "{frames:?} {r}");
    let texts: Vec<&str> = frames[1..].iter().map(|m| m.to_text().unwrap()).collect();
    assert!(!texts.iter().any(|t| t.starts_with("Step ")), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("--> Snapshot created: @")),
        "{texts:?}"
    );
    assert_eq!(
        reason(&r)["data"],
        d.root.json(&["image", "inspect", "wsquiet"])["id"]
    );
}

#[test]
fn a_running_exec_is_stopped_through_the_api() {
    let Some(d) = daemon() else { return };
    let (_, c) = d.call(
        "POST",
        "/containers/create",
        Some(json!({"image": "bb", "cmd": ["sleep", "60"], "network_driver": "disabled"})),
    );
    let cid = c["id"].as_str().unwrap().to_string();
    d.root.ok(&["start", "-d", &cid]);
    for (force, want) in [(false, 143), (true, 137)] {
        let (_, e) = d.call(
            "POST",
            "/exec/create",
            Some(json!({"container_id": cid, "cmd": ["sleep", "60"]})),
        );
        let exec = e["id"].as_str().unwrap().to_string();
        let mut ws = connect(&d, "/exec/start");
        ws.send(Message::text(
            json!({"exec_id": exec, "attach": true, "start_container": false}).to_string(),
        ))
        .unwrap();
        assert!(ws.read().unwrap().to_text().unwrap().contains("starting"));
        // Stop it from another client once it runs.
        let path = format!("/exec/{exec}/stop?force_stop={force}&stop_container=false");
        let mut stopped = false;
        for _ in 0..100 {
            let (code, _) = d.call("POST", &path, None);
            if code == 200 {
                stopped = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(stopped, "the exec was never known as running");
        let close = loop {
            match ws.read().unwrap() {
                Message::Close(Some(f)) => break f,
                _ => continue,
            }
        };
        assert_eq!(u16::from(close.code), 1000);
        let r = reason(&close.reason);
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .ends_with(&format!("exit-code {want}")),
            "force={force}: {r}"
        );
        // Finished: not running any more; it cannot be stopped again.
        let (code, v) = d.call("POST", &path, None);
        assert_eq!(code, 404);
        assert!(
            v["message"].as_str().unwrap().contains("is not running"),
            "{v}"
        );
    }
    // ... but its container can still be stopped through it (kleened's
    // stop_container on a finished exec).
    let (_, e) = d.call(
        "POST",
        "/exec/create",
        Some(json!({"container_id": cid, "cmd": ["true"]})),
    );
    let exec = e["id"].as_str().unwrap().to_string();
    let mut ws = connect(&d, "/exec/start");
    ws.send(Message::text(
        json!({"exec_id": exec, "attach": true, "start_container": false}).to_string(),
    ))
    .unwrap();
    while !matches!(ws.read(), Ok(Message::Close(_)) | Err(_)) {}
    let (code, v) = d.call(
        "POST",
        &format!("/exec/{exec}/stop?force_stop=true&stop_container=true"),
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(d.root.status(&cid)["state"], "exited");
    let (code, _) = d.call(
        "POST",
        "/exec/nosuch/stop?force_stop=true&stop_container=true",
        None,
    );
    assert_eq!(code, 404);
    d.root.ok(&["rm", "-f", &cid]);
}
