//! A running `kleened` on a private socket and root, and a minimal HTTP/1.1
//! client over its UNIX socket (one request per connection, as klee does).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Root;

/// A daemon on a fresh root with the busybox image `bb`, or `None` (with
/// the reason printed) where the tests cannot run.
pub fn daemon() -> Option<Daemon> {
    if !super::can_run() {
        return None;
    }
    let root = Root::new();
    root.busybox_image("bb");
    Some(Daemon::start(root))
}

pub struct Daemon {
    pub root: Root,
    pub socket: PathBuf,
    child: Child,
}

impl Daemon {
    /// Start kleened on `<root>/kleened.sock` and wait until it answers.
    pub fn start(root: Root) -> Daemon {
        Daemon::start_in(root, None)
    }

    /// The same, with extra flags.
    pub fn start_with(root: Root, flags: &[&str]) -> Daemon {
        Daemon::spawn(root, None, flags)
    }

    /// The same, in network namespace `netns` (`ip netns exec`).
    pub fn start_in(root: Root, netns: Option<&str>) -> Daemon {
        Daemon::spawn(root, netns, &[])
    }

    /// In network namespace `netns` (if any), with extra flags.
    pub fn spawn(root: Root, netns: Option<&str>, flags: &[&str]) -> Daemon {
        let socket = root.path().join("kleened.sock");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_kleened")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_kleened")),
        };
        let child = cmd
            .arg("--root")
            .arg(root.path())
            .arg("--socket")
            .arg(&socket)
            .args(flags)
            .env_remove("KLEENE_FAILPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Daemon {
            root,
            socket,
            child,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&d.socket).is_err() {
            assert!(Instant::now() < end, "kleened did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// Send a request; returns the status and the body.
    pub fn raw(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP response to {method} {path}: {text:?}"));
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or(out.len());
        (status, out[split..].to_vec())
    }

    /// A request with a JSON body (or none); the response body as JSON
    /// (`null` when empty).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let b = body.map(|v| v.to_string()).unwrap_or_default();
        let (code, out) = self.raw(method, path, b.as_bytes());
        let v = if out.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&out).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&out)
                )
            })
        };
        (code, v)
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of our child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
