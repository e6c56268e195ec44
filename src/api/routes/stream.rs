//! The WebSocket endpoints: `/exec/start`, `/images/create`,
//! `/images/build`. Each reads its config frame, runs `klee` (see `ws.rs`)
//! and closes with kleened's codes: 1000 done, 1001 detached, 1002 bad
//! config, 1011 failure — always with a JSON reason klee can parse.

use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::State as Axum;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::api::body::{opt_bool, opt_str, opt_strs, req_str};
use crate::api::ws::{self, close, relay, starting, Framing};
use crate::api::{with_engine, State};

fn required_bool(m: &Map<String, Value>, field: &str) -> Result<bool, String> {
    opt_bool(m, field)?.ok_or_else(|| format!("missing field: {field}"))
}

pub async fn exec_start(up: WebSocketUpgrade, Axum(s): Axum<Arc<State>>) -> Response {
    up.on_upgrade(move |socket| exec_session(socket, s))
}

async fn exec_session(mut socket: WebSocket, s: Arc<State>) {
    let Some(cfg) = ws::config_or_close(&mut socket).await else {
        return;
    };
    let parsed = (|| {
        Ok::<_, String>((
            req_str(&cfg, "exec_id")?,
            required_bool(&cfg, "attach")?,
            required_bool(&cfg, "start_container")?,
        ))
    })();
    let Some((exec_id, attach, start_container)) = ws::params_or_close(&mut socket, parsed).await
    else {
        return;
    };
    let pending = s
        .execs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&exec_id);
    let Some(p) = pending else {
        let msg = format!("could not find execution instance matching '{exec_id}'");
        return close(&mut socket, 1011, "error", &msg, "").await;
    };
    let cid = p.container.clone();
    let running = with_engine(&s, move |e| {
        e.container(&cid)
            .map(|c| c.status.is_running())
            .map_err(|_| crate::api::ApiError::new(404, "container not found"))
    })
    .await;
    let running = match running {
        Ok(r) => r,
        Err(e) => return close(&mut socket, 1011, "error", &e.message, "").await,
    };
    let mut args: Vec<String> = Vec::new();
    if running {
        args.push("exec".into());
        if !attach {
            args.push("-d".into());
        } else if p.tty {
            // A terminal in the container, its input the client's frames.
            args.extend(["-t".into(), "-i".into()]);
        }
        for e in &p.env {
            args.extend(["-e".to_string(), e.clone()]);
        }
        if !p.user.is_empty() {
            args.extend(["-u".to_string(), p.user.clone()]);
        }
        args.push(p.container.clone());
        args.extend(p.cmd.iter().cloned());
    } else if start_container {
        args.push("start".into());
        if !attach {
            args.push("-d".into());
        }
        args.push(p.container.clone());
    } else {
        let msg = "cannot start container when 'start_container' is false.";
        return close(&mut socket, 1011, "error", msg, "").await;
    }
    // klee sends stdin frames only in interactive mode, which it runs with
    // a tty: forward them then.
    let stdin = attach && p.tty;
    if !attach {
        let out = relay(&mut socket, &s.root, &args, false, Framing::Silent, |_| {}).await;
        return match out {
            Ok(o) if o.code == 0 => {
                let msg = "succesfully started execution instance in detached mode";
                close(&mut socket, 1001, "closing", msg, "").await
            }
            Ok(o) => {
                let why = o.tail.last().cloned().unwrap_or_default();
                close(&mut socket, 1011, "error", &why, "").await
            }
            Err(e) => close(&mut socket, 1011, "error", &e.to_string(), "").await,
        };
    }
    if !starting(&mut socket, "").await {
        return;
    }
    // Known to `/exec/{id}/stop` while it runs.
    let (state, id) = (s.clone(), exec_id.clone());
    let container = p.container.clone();
    let out = relay(
        &mut socket,
        &s.root,
        &args,
        stdin,
        Framing::Chunks,
        move |pid| {
            state
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, (pid, container));
        },
    )
    .await;
    s.running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&exec_id);
    {
        // Remembered for a later stop; bounded (a long-lived daemon).
        let mut done = s.finished.lock().unwrap_or_else(|e| e.into_inner());
        if done.len() >= 1024 {
            done.clear();
        }
        done.insert(exec_id.clone(), p.container.clone());
    }
    let cid = p.container.clone();
    let still = with_engine(&s, move |e| {
        Ok(e.container(&cid)
            .map(|c| c.status.is_running())
            .unwrap_or(false))
    })
    .await
    .unwrap_or(false);
    match out {
        Ok(o) if o.abandoned => {}
        Ok(o) => {
            let msg = if still {
                format!("{exec_id} has exited with exit-code {}", o.code)
            } else {
                format!(
                    "executable {exec_id} and its container exited with exit-code {}",
                    o.code
                )
            };
            close(&mut socket, 1000, "closing", &msg, "").await
        }
        Err(e) => close(&mut socket, 1011, "error", &e.to_string(), "").await,
    }
}

pub async fn image_create(up: WebSocketUpgrade, Axum(s): Axum<Arc<State>>) -> Response {
    up.on_upgrade(move |socket| create_session(socket, s))
}

async fn create_session(mut socket: WebSocket, s: Arc<State>) {
    let Some(cfg) = ws::config_or_close(&mut socket).await else {
        return;
    };
    let parsed = (|| {
        let method = req_str(&cfg, "method")?;
        let source = match method.as_str() {
            "fetch" => opt_str(&cfg, "url")?,
            "zfs-copy" | "zfs-clone" => opt_str(&cfg, "zfs_dataset")?,
            _ => opt_str(&cfg, "source")?,
        }
        .unwrap_or_default();
        let mut args = vec!["image".to_string(), "create".to_string()];
        if let Some(t) = opt_str(&cfg, "tag")?.filter(|t| !t.is_empty()) {
            args.extend(["-t".to_string(), t]);
        }
        let flag = |v: bool, yes: &str, no: &str| if v { yes.to_string() } else { no.to_string() };
        args.push(flag(
            opt_bool(&cfg, "dns")?.unwrap_or(true),
            "--dns",
            "--no-dns",
        ));
        args.push(flag(
            opt_bool(&cfg, "localtime")?.unwrap_or(true),
            "--localtime",
            "--no-localtime",
        ));
        if opt_bool(&cfg, "update")?.unwrap_or(false) {
            args.push("--update".into());
        }
        Ok::<_, String>((args, method, source))
    })();
    let Some((mut args, method, source)) = ws::params_or_close(&mut socket, parsed).await else {
        return;
    };
    // klee offers FreeBSD's methods only; the platform says what they
    // mean here (on Linux, fetch-auto is the host's userland).
    let (method, source) = crate::platform::native().base_method_for_api(&method, &source);
    args.push(method);
    if !source.is_empty() {
        args.push(source);
    }
    if !starting(&mut socket, "").await {
        return;
    }
    match relay(&mut socket, &s.root, &args, false, Framing::Chunks, |_| {}).await {
        Ok(o) if o.code == 0 => {
            let id = o
                .tail
                .last()
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            close(&mut socket, 1000, "closing", "image created", &id).await
        }
        Ok(o) => {
            let why = o.tail.last().cloned().unwrap_or_default();
            let msg = format!("image creation failed: {why}");
            close(&mut socket, 1011, "error", &msg, "").await
        }
        Err(e) => close(&mut socket, 1011, "error", &e.to_string(), "").await,
    }
}

pub async fn image_build(up: WebSocketUpgrade, Axum(s): Axum<Arc<State>>) -> Response {
    up.on_upgrade(move |socket| build_session(socket, s))
}

async fn build_session(mut socket: WebSocket, s: Arc<State>) {
    // Announced in the starting frame, as kleened does; klee needs it to
    // report a failed build.
    let image_id = crate::engine::id::new_id();
    let Some(cfg) = ws::config_or_close(&mut socket).await else {
        return;
    };
    let parsed = (|| {
        let context = req_str(&cfg, "context")?;
        let dockerfile = opt_str(&cfg, "dockerfile")?.unwrap_or_else(|| "Dockerfile".into());
        let cleanup = opt_bool(&cfg, "cleanup")?.unwrap_or(true);
        let mut args = vec!["build".to_string(), "--id".to_string(), image_id.clone()];
        if let Some(t) = opt_str(&cfg, "tag")?.filter(|t| !t.is_empty()) {
            args.extend(["-t".to_string(), t]);
        }
        let file = std::path::Path::new(&context).join(&dockerfile);
        args.extend(["-f".to_string(), file.display().to_string()]);
        match cfg.get("buildargs") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .ok_or_else(|| format!("invalid buildargs: '{k}' is not a string"))?;
                    args.extend(["--build-arg".to_string(), format!("{k}={v}")]);
                }
            }
            Some(_) => return Err("invalid buildargs: expected an object".to_string()),
        }
        if opt_bool(&cfg, "quiet")?.unwrap_or(false) {
            // Quiet, but the snapshots are still reported (kleened's rule).
            args.extend(["-q".into(), "--snapshots".into()]);
        }
        args.push(if cleanup { "--rm" } else { "--no-rm" }.into());
        if let Some(Value::Object(cc)) = cfg.get("container_config") {
            if let Some(from) = opt_str(cc, "image")?.filter(|i| !i.is_empty()) {
                args.extend(["--from".to_string(), from]);
            }
            // klee's default driver for builds is `host`: RUN steps share
            // the host's network, as in kleened.
            if opt_str(cc, "network_driver")?.as_deref() == Some("host") {
                args.extend(["--network".to_string(), "host".to_string()]);
            }
            let _ = opt_strs(cc, "env")?;
        }
        args.push(context);
        Ok::<_, String>((args, cleanup))
    })();
    let Some((args, cleanup)) = ws::params_or_close(&mut socket, parsed).await else {
        return;
    };
    if !starting(&mut socket, &image_id).await {
        return;
    }
    match relay(&mut socket, &s.root, &args, false, Framing::Lines, |_| {}).await {
        Ok(o) if o.abandoned => {}
        Ok(o) if o.code == 0 => {
            let id = o
                .tail
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix("Successfully built "))
                .or_else(|| o.tail.last().map(String::as_str))
                .unwrap_or("")
                .trim()
                .to_string();
            close(&mut socket, 1000, "closing", "image created", &id).await
        }
        Ok(o) => {
            let snapshot = o
                .tail
                .iter()
                .rev()
                .find_map(|l| l.split("--> Snapshot created: ").nth(1))
                .map(|s| s.trim().to_string());
            let data = match (cleanup, snapshot) {
                (true, _) => String::new(),
                (false, Some(s)) => s,
                (false, None) => "no snapshots available".into(),
            };
            close(&mut socket, 1011, "error", "image build failed", &data).await
        }
        Err(e) => close(&mut socket, 1011, "error", &e.to_string(), "").await,
    }
}
