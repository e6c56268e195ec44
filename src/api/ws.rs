//! kleened's WebSocket protocol (`reference/kleened.md` §1.3, klee's side
//! in `reference/klee_docs.md` §2.6): the client's config as the first
//! text frame, a JSON `starting` frame, output frames, and a Close whose
//! reason is a JSON `WebSocketMessage` of at most 123 bytes.
//!
//! The work itself (starting a container, an exec, creating or building an
//! image) runs in a `klee` child process on the daemon's root: the same
//! engine and CLI code path, no fork from the daemon's threads, and the
//! child's stdin/stdout become the socket's frames.

use std::path::PathBuf;
use std::process::Stdio;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A WebSocketMessage, compact with keys in alphabetical order (as
/// kleened's tests expect byte for byte).
pub fn message(msg_type: &str, message: &str, data: &str) -> String {
    json!({"data": data, "message": message, "msg_type": msg_type}).to_string()
}

/// A Close reason that fits in 123 bytes: `message` (then `data`) is cut
/// on a character boundary before encoding, so the JSON stays valid.
pub fn close_reason(msg_type: &str, msg: &str, data: &str) -> String {
    let (mut m, mut d) = (msg.to_string(), data.to_string());
    while message(msg_type, &m, &d).len() > 123 {
        if !m.is_empty() {
            m.pop();
        } else {
            d.pop();
        }
    }
    message(msg_type, &m, &d)
}

pub async fn close(socket: &mut WebSocket, code: u16, msg_type: &str, msg: &str, data: &str) {
    let reason = close_reason(msg_type, msg, data);
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
    // Wait (briefly) for the client's Close so it reads ours.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

pub async fn starting(socket: &mut WebSocket, data: &str) -> bool {
    socket
        .send(Message::Text(message("starting", "", data).into()))
        .await
        .is_ok()
}

/// The first frame: a JSON object, or why not.
pub async fn config(socket: &mut WebSocket) -> Result<Map<String, Value>, String> {
    loop {
        match socket.recv().await {
            Some(Ok(Message::Text(t))) => return super::body::object(t.as_bytes()),
            Some(Ok(Message::Binary(b))) => return super::body::object(&b),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return Err("closed before the config".into()),
            Some(Err(e)) => return Err(format!("invalid frame: {e}")),
        }
    }
}

/// The first frame as a JSON object; otherwise the session is closed
/// (1002, `invalid json: …`) and there is nothing to do.
pub async fn config_or_close(socket: &mut WebSocket) -> Option<Map<String, Value>> {
    match config(socket).await {
        Ok(c) => Some(c),
        Err(e) => {
            close(socket, 1002, "error", &format!("invalid json: {e}"), "").await;
            None
        }
    }
}

/// The parsed config, or the session closed (1002, `invalid parameters:
/// …`).
pub async fn params_or_close<T>(socket: &mut WebSocket, parsed: Result<T, String>) -> Option<T> {
    match parsed {
        Ok(p) => Some(p),
        Err(e) => {
            close(
                socket,
                1002,
                "error",
                &format!("invalid parameters: {e}"),
                "",
            )
            .await;
            None
        }
    }
}

/// The `klee` binary next to this one (or `KLEE_BIN`).
pub fn klee_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KLEE_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("klee")))
        .unwrap_or_else(|| PathBuf::from("klee"))
}

/// How output becomes frames.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Raw chunks as they come (text when valid UTF-8, else binary).
    Chunks,
    /// One text frame per line; lines klee highlights (build steps,
    /// snapshots) go without their newline, as kleened sends them.
    Lines,
    /// Nothing is sent (a detached start answers with its Close only).
    Silent,
}

/// What a child run ended with.
pub struct Outcome {
    pub code: i32,
    /// The last lines of output (for errors and build results).
    pub tail: Vec<String>,
    /// The client went away before the end.
    pub abandoned: bool,
}

fn highlighted(line: &str) -> bool {
    line.contains("--> Snapshot created: @")
        || (line.starts_with("Step ") && line.contains(" : "))
        || line.contains("Using user-supplied parent image:")
}

async fn send_line(socket: &mut WebSocket, line: &str) -> bool {
    let text = if highlighted(line.trim_end_matches('\n')) {
        line.trim_end_matches('\n').to_string()
    } else {
        line.to_string()
    };
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Run `klee ARGS` on `root`, relaying its output to the socket and the
/// client's data frames to its stdin (when `stdin`). A client that goes
/// away gets the child SIGTERMed.
pub async fn relay(
    socket: &mut WebSocket,
    root: &std::path::Path,
    args: &[String],
    stdin: bool,
    framing: Framing,
    on_spawn: impl FnOnce(u32),
) -> std::io::Result<Outcome> {
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = tokio::process::Command::new(klee_bin());
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("KLEENE_FAILPOINT")
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    if let Some(pid) = child.id() {
        on_spawn(pid);
    }
    drop(cmd); // our copies of the pipe's write end
    let mut out = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())?;
    let mut child_in = child.stdin.take();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = String::new();
    let mut tail: Vec<String> = Vec::new();
    let mut abandoned = false;
    let keep = |tail: &mut Vec<String>, s: &str| {
        tail.extend(s.lines().map(str::to_string));
        let n = tail.len();
        if n > 20 {
            tail.drain(..n - 20);
        }
    };
    loop {
        tokio::select! {
            r = out.read(&mut buf) => {
                let n = r.unwrap_or(0);
                if n == 0 {
                    break;
                }
                let chunk = &buf[..n];
                match framing {
                    Framing::Silent => keep(&mut tail, &String::from_utf8_lossy(chunk)),
                    Framing::Chunks => {
                        keep(&mut tail, &String::from_utf8_lossy(chunk));
                        let msg = match std::str::from_utf8(chunk) {
                            Ok(t) => Message::Text(t.to_string().into()),
                            Err(_) => Message::Binary(chunk.to_vec().into()),
                        };
                        if !abandoned && socket.send(msg).await.is_err() {
                            abandoned = true;
                        }
                    }
                    Framing::Lines => {
                        pending.push_str(&String::from_utf8_lossy(chunk));
                        while let Some(i) = pending.find('\n') {
                            let line: String = pending.drain(..=i).collect();
                            keep(&mut tail, &line);
                            if !abandoned && !send_line(socket, &line).await {
                                abandoned = true;
                            }
                        }
                    }
                }
            }
            m = socket.recv(), if !abandoned => match m {
                Some(Ok(Message::Binary(b))) => {
                    if let Some(w) = child_in.as_mut() {
                        let _ = w.write_all(&b).await;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if let Some(w) = child_in.as_mut() {
                        let _ = w.write_all(t.as_bytes()).await;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    abandoned = true;
                    if let Some(pid) = child.id() {
                        // SAFETY: plain kill(2) of our child.
                        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
                    }
                }
            },
        }
    }
    if !pending.is_empty() {
        keep(&mut tail, &pending);
        if !abandoned {
            let _ = send_line(socket, &pending).await;
        }
    }
    let status = child.wait().await?;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Outcome {
        code,
        tail,
        abandoned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_frame_is_byte_exact() {
        assert_eq!(
            message("starting", "", ""),
            r#"{"data":"","message":"","msg_type":"starting"}"#
        );
    }

    #[test]
    fn close_reasons_fit_in_123_bytes() {
        let long = "é".repeat(200);
        let r = close_reason("error", &long, "d");
        assert!(r.len() <= 123, "{}", r.len());
        let v: Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["data"], "d");
        assert_eq!(
            close_reason(
                "closing",
                "succesfully started execution instance in detached mode",
                ""
            )
            .len(),
            100
        );
    }
}
