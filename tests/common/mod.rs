//! Helpers for integration tests: a private root per test, the real `klee`
//! binary, and a small busybox image so tests need no network.
#![allow(dead_code)]

pub mod api;
pub mod lab;
pub mod oci;
pub mod probe;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Skip (with a printed reason) unless we are root and have what the
/// runtime needs. Returns false when the test should return early.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root (namespaces, mounts)");
        return false;
    }
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipping: needs a static /bin/busybox (apt-get install busybox-static)");
        return false;
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.contains("overlay") {
        eprintln!("skipping: the kernel has no overlayfs");
        return false;
    }
    true
}

pub struct Root {
    pub dir: tempfile::TempDir,
    /// Run klee in this network namespace (`ip netns exec`).
    pub netns: Option<String>,
    /// Containers' cgroups go under this parent (`KLEENE_CGROUP_PARENT`).
    pub cgroup_parent: Option<String>,
}

impl Root {
    pub fn new() -> Root {
        let base = std::env::var_os("KLEENE_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Root {
            dir: tempfile::Builder::new()
                .prefix("kleene-test-")
                .tempdir_in(base)
                .unwrap(),
            netns: None,
            cgroup_parent: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_klee")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_klee")),
        };
        c.env("KLEENE_ROOT", self.path())
            .env_remove("KLEENE_FAILPOINT")
            .args(args);
        if let Some(p) = &self.cgroup_parent {
            c.env("KLEENE_CGROUP_PARENT", p);
        }
        c
    }

    /// Run klee, stdin from /dev/null.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Run klee, expect success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "klee {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Run klee, expect failure with `code`, return stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "klee {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }

    /// A busybox root filesystem in `<root>/../<name>` and an image made
    /// from it with `image create dir`, tagged `tag`.
    pub fn busybox_image(&self, tag: &str) -> String {
        let rootfs = self
            .path()
            .join(format!("rootfs-{}", tag.replace(':', "-")));
        make_busybox_rootfs(&rootfs);
        let id = self.ok(&[
            "image",
            "create",
            "--no-dns",
            "--no-localtime",
            "-t",
            tag,
            "dir",
            rootfs.to_str().unwrap(),
        ]);
        id.trim().to_string()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Container IDs in the store.
    pub fn container_ids(&self) -> Vec<String> {
        let v = self.json(&["container", "ls", "-a", "--format", "json"]);
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Entries of a directory under the root, sorted.
    pub fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join(sub))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Mount points (in our namespace) under the root.
    pub fn mounts(&self) -> Vec<String> {
        let root = self.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(str::to_string)
            .collect()
    }

    /// Groups under this root's private cgroup parent, in every hierarchy.
    pub fn cgroups(&self) -> Vec<String> {
        let Some(parent) = &self.cgroup_parent else {
            return vec![];
        };
        let mut out = Vec::new();
        let base = Path::new("/sys/fs/cgroup");
        let mut dirs = vec![base.join(parent)];
        if let Ok(rd) = std::fs::read_dir(base) {
            dirs.extend(rd.flatten().map(|e| e.path().join(parent)));
        }
        for d in dirs {
            if let Ok(rd) = std::fs::read_dir(&d) {
                out.extend(
                    rd.flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.path().display().to_string()),
                );
            }
        }
        out
    }

    /// Give this root's containers a private cgroup parent, so a test can
    /// check that none is left (removed with the root).
    pub fn private_cgroups(&mut self) {
        self.cgroup_parent = Some(format!(
            "{}",
            self.path().file_name().unwrap().to_string_lossy()
        ));
    }

    pub fn status(&self, c: &str) -> serde_json::Value {
        self.json(&["container", "inspect", c])["status"].clone()
    }

    /// Wait until the container is no longer running (or panic).
    pub fn wait_exited(&self, c: &str) -> serde_json::Value {
        for _ in 0..500 {
            let s = self.status(c);
            if s["state"] != "running" {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("container {c} still running");
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // The private cgroup parent, in every hierarchy (empty by now, or
        // the test failed and this is best effort).
        if let Some(parent) = &self.cgroup_parent {
            for g in self.cgroups() {
                let _ = std::fs::remove_dir(g);
            }
            let base = Path::new("/sys/fs/cgroup");
            let _ = std::fs::remove_dir(base.join(parent));
            if let Ok(rd) = std::fs::read_dir(base) {
                for e in rd.flatten() {
                    let _ = std::fs::remove_dir(e.path().join(parent));
                }
            }
        }
    }
}

/// A minimal busybox userland, as bench/make-rootfs.sh builds it.
pub fn make_busybox_rootfs(dest: &Path) {
    use std::os::unix::fs::symlink;
    let _ = std::fs::remove_dir_all(dest);
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/user",
        "data",
    ] {
        std::fs::create_dir_all(dest.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", dest.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .unwrap();
    for path in String::from_utf8_lossy(&list.stdout).lines() {
        if path == "bin/busybox" || path.is_empty() {
            continue;
        }
        let p = dest.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = symlink("/bin/busybox", &p);
    }
    std::fs::write(
        dest.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        dest.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nstaff:x:50:user\nnogroup:x:65534:\n",
    )
    .unwrap();
    std::fs::write(dest.join("data/seed"), "seeded\n").unwrap();
    Command::new("chown")
        .args(["1000:1000", dest.join("home/user").to_str().unwrap()])
        .status()
        .unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
