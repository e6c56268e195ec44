//! For tests that drive kleene-oci through real clients (containerd,
//! Podman, Docker): a busybox image in the forms they import, daemons in
//! private directories, and commands with a time limit.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const OCI: &str = env!("CARGO_BIN_EXE_kleene-oci");

/// Is `cmd` on PATH? Prints why the test skips when not.
pub fn have(cmd: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false);
    if !found {
        eprintln!("skipping: needs {cmd} (apt-get install {package})");
    }
    found
}

/// A private directory for a daemon's state, removed at the end.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let base = std::env::var_os("KLEENE_TEST_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .unwrap()
}

/// Run to the end or `secs`, output through files (daemons and created
/// containers keep pipes open); a timeout kills it and fails the test.
pub fn run(cmd: &mut Command, secs: u64) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("timed out after {secs}s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |mut f: std::fs::File| {
        let mut v = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

/// `cmdline` in a pseudo-terminal (script(1)) with `input` typed in.
pub fn in_tty(cmdline: &str, input: &str, secs: u64) -> Output {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        &format!(
            "printf '{}' | script -qec \"$0\" /dev/null",
            input.replace('\'', "'\\''")
        ),
        cmdline,
    ]);
    run(&mut c, secs)
}

/// The rootfs as an uncompressed tar.
pub fn rootfs_tar(rootfs: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", rootfs).unwrap();
    b.into_inner().unwrap()
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// An OCI image layout archive of one layer, named `name` (what
/// `ctr images import` reads).
pub fn oci_archive(rootfs: &Path, name: &str) -> Vec<u8> {
    let layer = rootfs_tar(rootfs);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha(&manifest), "size": manifest.len(),
                       "annotations": {"io.containerd.image.name": name}}],
    }))
    .unwrap();
    let mut t = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, path, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    for blob in [&layer, &config, &manifest] {
        let d = sha(blob);
        add(&format!("blobs/sha256/{}", &d["sha256:".len()..]), blob);
    }
    t.into_inner().unwrap()
}

/// Wait until `path` exists (a daemon's socket).
pub fn wait_for(path: &Path, secs: u64, log: &Path) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        if Instant::now() > until {
            panic!(
                "{} did not appear in {secs}s; log:\n{}",
                path.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kill every process whose command line mentions `dir` (a daemon and
/// the shims it started), so nothing outlives the test.
pub fn kill_all_under(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for _ in 0..2 {
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&needle) {
                // SAFETY: plain kill.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Their mounts (snapshots, rootfs, shm) too, deepest first.
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(needle.as_str()))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).status();
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A daemon of our own (containerd, dockerd) in a private directory: its
/// output to `<dir>/log`, ready once its socket exists; on drop, it and
/// everything it started (shims, containers, their mounts) go.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Daemon {
    /// `command` builds the daemon's command line from its directory;
    /// `socket` is its socket's name there, expected within `secs`.
    pub fn start(
        prefix: &str,
        socket: &str,
        secs: u64,
        command: impl FnOnce(&Path) -> Command,
    ) -> Daemon {
        let dir = scratch(prefix);
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = command(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_for(&dir.path().join(socket), secs, &dir.path().join("log"));
        Daemon { dir, child }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        kill_all_under(self.dir.path());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
