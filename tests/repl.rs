//! The REPL through a real pty: completion, multi-line input, help,
//! :scope, Ctrl-C, Ctrl-D, and history that survives a restart.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Repl {
    master: std::fs::File,
    child: Child,
    seen: String,
}

impl Repl {
    fn start(root: &std::path::Path, history: &std::path::Path) -> Repl {
        let (mut m, mut s) = (0, 0);
        let ws = libc::winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty with valid out-pointers, then a winsize ioctl.
        unsafe {
            let null = std::ptr::null_mut();
            assert_eq!(libc::openpty(&mut m, &mut s, null, null as _, null as _), 0);
            libc::ioctl(m, libc::TIOCSWINSZ, &ws);
        }
        // SAFETY: fresh fds we own.
        let slave = unsafe { OwnedFd::from_raw_fd(s) };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klee"));
        cmd.arg("repl")
            .env("KLEENE_ROOT", root)
            .env("KLEENE_HISTORY", history)
            .env("TERM", "xterm")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        // SAFETY: the master fd is ours.
        let master = unsafe { std::fs::File::from_raw_fd(m) };
        let fl = unsafe { libc::fcntl(m, libc::F_GETFL) };
        unsafe { libc::fcntl(m, libc::F_SETFL, fl | libc::O_NONBLOCK) };
        let mut r = Repl {
            master,
            child,
            seen: String::new(),
        };
        r.expect("klee> ");
        r
    }

    /// Read until `needle` appears after what was already matched.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(i) = self.seen.find(needle) {
                let upto = self.seen[..i + needle.len()].to_string();
                self.seen = self.seen[i + needle.len()..].to_string();
                return upto;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; got {:?}",
                self.seen
            );
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < deadline, "the REPL did not exit");
            let mut buf = [0u8; 4096];
            let _ = self.master.read(&mut buf);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn repl_session() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let hist = dir.path().join("history");
    let mut r = Repl::start(&root, &hist);

    r.send("let x = 40 + 2;\r");
    r.expect("klee> ");
    r.send("x\r");
    r.expect("42");
    r.expect("klee> ");

    // An unfinished block continues on the next line; the function stays.
    // (Each line once the editor has it: typing ahead of a busy editor
    // can lose keys under load.)
    r.send("fn double(a) {\r");
    r.expect("fn double(a) {");
    r.send("a * 2\r");
    r.expect("a * 2");
    r.send("}\r");
    r.expect("}");
    r.expect("klee> ");
    r.send("double(x)\r");
    r.expect("84");
    r.expect("klee> ");

    // Tab completes module functions.
    r.send("image::li\t");
    r.expect("image::list");
    r.send("().len()\r");
    r.expect("0");
    r.expect("klee> ");

    r.send("help(\"image::list\")\r");
    r.expect("image::list() -> Array");
    r.expect("klee> ");

    r.send(":scope\r");
    r.expect("x = 42");
    r.expect("klee> ");

    // Ctrl-C cancels a running loop, and the session goes on.
    r.send("loop { }\r");
    std::thread::sleep(Duration::from_millis(300));
    r.send("\x03");
    r.expect("terminated");
    r.expect("klee> ");

    r.send("let marker = 6; marker * 7\r");
    r.expect("42");
    r.expect("klee> ");
    r.send("\x04");
    assert_eq!(r.exit_code(), Some(0));

    // History survives a restart: Up brings back the last line.
    let mut r = Repl::start(&root, &hist);
    r.send("\x1b[A\r");
    r.expect("42");
    r.expect("klee> ");
    r.send("\x04");
    assert_eq!(r.exit_code(), Some(0));
}
