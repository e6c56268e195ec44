//! `klee pull` against a real registry: Debian's `docker-registry`,
//! started here on loopback with a temporary storage directory, and test
//! images made offline (an OCI layout written by this file: a busybox
//! layer and one that deletes a file and replaces a directory opaquely;
//! a two-platform index) and pushed with `skopeo`.

mod common;
#[allow(dead_code)] // shared with the FreeBSD scenario files
mod freebsd_host;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A registry on 127.0.0.1, gone (and its storage) when dropped.
struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
}

impl Registry {
    fn start() -> Option<Registry> {
        Registry::start_with(false)
    }

    /// `secure`: HTTPS with a certificate from a CA of the test's own
    /// (`ca.crt` in its directory) and htpasswd basic auth (user `kleene`,
    /// password `s3cret`).
    fn start_with(secure: bool) -> Option<Registry> {
        if !common::can_run() {
            return None;
        }
        if !have("docker-registry") || !have("skopeo") {
            eprintln!("skipping: needs docker-registry and skopeo (scripts/test installs them)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // A free port: bind, read it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if secure {
            if !have("openssl") || !have("htpasswd") {
                eprintln!("skipping: needs openssl and htpasswd (apache2-utils)");
                return None;
            }
            let d = dir.path();
            let sh = format!(
                "set -e; cd {}; \
                 openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null; \
                 openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null; \
                 printf 'subjectAltName=IP:127.0.0.1\\n' > ext; \
                 openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.crt 2>/dev/null; \
                 htpasswd -Bbn kleene s3cret > htpasswd",
                d.display()
            );
            let o = Command::new("sh").args(["-c", &sh]).output().unwrap();
            assert!(o.status.success(), "{}", common::stderr(&o));
            yaml.push_str(&format!(
                "  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\nauth:\n  htpasswd:\n    realm: test\n    path: {0}/htpasswd\n",
                d.display()
            ));
        }
        Some(Registry::launch(dir, addr, yaml))
    }

    /// Plain HTTP with bearer-token auth: `token` (a server of the test's
    /// own) signs the tokens the registry trusts.
    fn start_token() -> Option<(Registry, TokenServer)> {
        if !common::can_run() || !have("docker-registry") || !have("skopeo") || !have("openssl") {
            eprintln!("skipping: needs docker-registry, skopeo and openssl");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let token = TokenServer::start(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n\
             auth:\n  token:\n    realm: http://{}/token\n    service: kleene-test\n    issuer: kleene-test-issuer\n    rootcertbundle: {}\n",
            dir.path().join("data").display(),
            token.addr,
            dir.path().join("token.crt").display()
        );
        Some((Registry::launch(dir, addr, yaml), token))
    }

    fn launch(dir: tempfile::TempDir, addr: String, yaml: String) -> Registry {
        let conf = dir.path().join("config.yml");
        std::fs::write(&conf, yaml).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < until, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, dir, addr }
    }

    /// Push the OCI layout `layout` (its tag `tag`) as `repo:tag`.
    fn push(&self, layout: &Path, tag: &str, repo: &str, all: bool) {
        self.push_as(layout, tag, repo, all, &[]);
    }

    /// The same, with more skopeo options (`--format v2s2`, compression).
    fn push_as(&self, layout: &Path, tag: &str, repo: &str, all: bool, extra: &[&str]) {
        let mut c = Command::new("skopeo");
        c.args([
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--dest-creds",
            "kleene:s3cret",
        ]);
        c.args(extra);
        if all {
            c.arg("--all");
        }
        let o = c
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo}:{tag}", self.addr))
            .output()
            .unwrap();
        assert!(o.status.success(), "skopeo: {}", common::stderr(&o));
    }

    /// A single-platform (amd64) image of `layers` pushed as `repo:v1`;
    /// its reference.
    fn serve(&self, repo: &str, layers: Vec<TestLayer>) -> String {
        let layout = Layout::new("v1", &[("amd64", layers)], false);
        self.push(layout.dir.path(), "v1", repo, false);
        format!("{}/{repo}:v1", self.addr)
    }

    /// The stored data of blob `digest`.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// A token server as Docker Hub's: `GET /token?service=…&scope=…` answers
/// a JWT (RS256, its certificate in the `x5c` header, signed with
/// `openssl dgst`) granting user `kleene` (password `s3cret`, basic auth)
/// what it asks, an anonymous client `pull` of `test/public*` only, and a
/// wrong password a 401. Every request is noted as `USER|SCOPE`.
struct TokenServer {
    addr: String,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn b64(data: &[u8], url: bool) -> String {
    let abc: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            out.push(abc[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if !url {
            out.push_str(&"=".repeat(3 - c.len()));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let sh = format!(
            "set -e; cd {}; \
             openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kleene-test-issuer -keyout token.key -out token.crt 2>/dev/null; \
             openssl x509 -in token.crt -outform der -out token.der",
            dir.display()
        );
        let o = Command::new("sh").args(["-c", &sh]).output().unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        let x5c = b64(&std::fs::read(dir.join("token.der")).unwrap(), false);
        let key = dir.join("token.key");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = asked.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = TokenServer::answer(&mut conn, &key, &x5c, &noted);
            }
        });
        TokenServer { addr, asked }
    }

    fn answer(
        conn: &mut std::net::TcpStream,
        key: &Path,
        x5c: &str,
        noted: &std::sync::Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        use std::io::{BufRead, BufReader};
        let mut r = BufReader::new(conn.try_clone()?);
        let mut first = String::new();
        r.read_line(&mut first)?;
        let mut auth = String::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    auth = v.trim().to_string();
                }
            }
        }
        let reply = |conn: &mut std::net::TcpStream, status: &str, body: &str| {
            write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        let user = match auth.as_str() {
            "" => "",
            // kleene:s3cret
            "Basic a2xlZW5lOnMzY3JldA==" => "kleene",
            _ => {
                return reply(
                    conn,
                    "401 Unauthorized",
                    r#"{"details":"wrong credentials"}"#,
                )
            }
        };
        let path = first.split_whitespace().nth(1).unwrap_or("");
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let mut access = Vec::new();
        for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
            if k != "scope" {
                continue;
            }
            let scope = percent_decode(v);
            noted.lock().unwrap().push(format!("{user}|{scope}"));
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next(), parts.next(), parts.next());
            let (Some(kind), Some(name), Some(actions)) = (kind, name, actions) else {
                continue;
            };
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| user == "kleene" || (*a == "pull" && name.starts_with("test/public")))
                .collect();
            access.push(json!({"type": kind, "name": name, "actions": granted}));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
        let claims = json!({
            "iss": "kleene-test-issuer", "sub": user, "aud": "kleene-test",
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes(), true),
            b64(claims.to_string().as_bytes(), true)
        );
        let mut sign = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        sign.stdin.take().unwrap().write_all(input.as_bytes())?;
        let sig = sign.wait_with_output()?.stdout;
        let token = format!("{input}.{}", b64(&sig, true));
        reply(
            conn,
            "200 OK",
            &json!({"token": token, "access_token": token, "expires_in": 300}).to_string(),
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `c` with `stdin` as its input; its output.
fn fed(mut c: Command, stdin: &str) -> std::process::Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// A tar of (path, contents or None for a directory); gzip when `gz`.
fn tar_of(entries: &[(&str, Option<&[u8]>)], gz: bool) -> (Vec<u8>, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o755);
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
            }
        }
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        b.append_data(&mut h, path, data.unwrap_or(&[])).unwrap();
    }
    let raw = b.into_inner().unwrap();
    let diff_id = sha(&raw);
    if !gz {
        return (raw, diff_id);
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&raw).unwrap();
    (e.finish().unwrap(), diff_id)
}

/// An OCI layout with one image per `(arch, layers)`; `multi`: an index of
/// them under the tag, else the first alone.
struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn blob(&self, data: &[u8]) -> String {
        let d = sha(data);
        let p = self.dir.path().join("blobs/sha256").join(&d[7..]);
        std::fs::write(p, data).unwrap();
        d
    }

    fn new(tag: &str, images: &[(&str, Vec<TestLayer>)], multi: bool) -> Layout {
        let l = Layout {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(l.dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            l.dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let mut manifests = Vec::new();
        for (arch, layers) in images {
            let config = json!({
                "architecture": arch, "os": "linux",
                "created": "2026-12-01T00:00:00Z",
                "config": {"Env": ["PATH=/bin", "GREETING=hello"], "Cmd": ["/bin/sh"],
                           "WorkingDir": "/data", "Labels": {"made.by": "tests/registry.rs"},
                           "ExposedPorts": {"8080/tcp": {}}},
                "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(_, d, _)| d.clone()).collect::<Vec<_>>()},
            });
            let cb = serde_json::to_vec(&config).unwrap();
            let cd = l.blob(&cb);
            let descs: Vec<Value> = layers
                .iter()
                .map(|(data, _, mt)| json!({"mediaType": mt, "digest": l.blob(data), "size": data.len()}))
                .collect();
            let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cb.len()},
                "layers": descs});
            let mb = serde_json::to_vec(&m).unwrap();
            manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": l.blob(&mb), "size": mb.len(), "platform": {"os": "linux", "architecture": arch}}));
        }
        let top = if multi {
            let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
            let ib = serde_json::to_vec(&idx).unwrap();
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": l.blob(&ib), "size": ib.len(),
                   "annotations": {"org.opencontainers.image.ref.name": tag}})
        } else {
            let mut m = manifests[0].clone();
            m["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
            m
        };
        std::fs::write(
            l.dir.path().join("index.json"),
            serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
        )
        .unwrap();
        l
    }
}

/// A layer: its blob, its diff ID, its media type.
type TestLayer = (Vec<u8>, String, &'static str);

/// `root` builds `tag` from `dockerfile` (FROM the busybox image `bb:1`,
/// made here); the context directory is returned.
fn built(root: &common::Root, tag: &str, dockerfile: &str) -> tempfile::TempDir {
    root.busybox_image("bb:1");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    root.ok(&["build", "-q", "-t", tag, ctx.path().to_str().unwrap()]);
    ctx
}

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const PLAIN: &str = "application/vnd.oci.image.layer.v1.tar";

/// The base layer: busybox and a few files the second layer changes.
fn base_layer() -> TestLayer {
    let bb = std::fs::read("/bin/busybox").unwrap();
    let (data, diff) = tar_of(
        &[
            ("bin", None),
            ("bin/busybox", Some(&bb)),
            ("bin/sh", Some(b"")),
            ("etc", None),
            ("etc/gone", Some(b"deleted above\n")),
            ("etc/kept", Some(b"kept\n")),
            ("data", None),
            ("data/old1", Some(b"1\n")),
            ("data/old2", Some(b"2\n")),
        ],
        true,
    );
    (data, diff, GZ)
}

/// The base layer's `bin/sh` is made a copy of busybox by the second
/// layer, which also deletes `etc/gone` and makes `data` opaque.
fn top_layer() -> TestLayer {
    let bb = std::fs::read("/bin/busybox").unwrap();
    let (data, diff) = tar_of(
        &[
            ("bin/sh", Some(&bb)),
            ("etc/.wh.gone", Some(b"")),
            ("data/.wh..wh..opq", Some(b"")),
            ("data/new", Some(b"new\n")),
        ],
        false,
    );
    (data, diff, PLAIN)
}

#[test]
fn pull_applies_layers_whiteouts_and_the_config() {
    let Some(reg) = Registry::start() else { return };
    let root = common::Root::new();
    let reference = reg.serve("test/app", vec![base_layer(), top_layer()]);
    let out = root.ok(&["pull", &reference]);
    let id = out.lines().last().unwrap().trim().to_string();
    let shown = root.ok(&[
        "run",
        "--rm",
        &reference,
        "/bin/sh",
        "-c",
        "cat /etc/kept; ls /etc/gone 2>&1 | grep -c 'No such'; ls /data; echo $GREETING; pwd",
    ]);
    assert_eq!(shown, "kept\n1\nnew\nhello\n/data\n");
    let img = root.json(&["image", "inspect", &reference]);
    assert_eq!(img["id"], id.as_str());
    assert_eq!(img["labels"]["made.by"], "tests/registry.rs");
    assert_eq!(img["exposed_ports"], json!(["8080/tcp"]));
    assert_eq!(img["method"], "pull");
    // A second pull of the same image downloads nothing and reuses its layers.
    let layers = root.entries("layers");
    let out = root.ok(&["image", "pull", &reference]);
    assert_eq!(out.lines().last().unwrap().trim(), id);
    assert_eq!(root.entries("layers"), layers);
    // Nothing waits in the blob cache once pulled (locks and the layers'
    // origins are kept).
    let cached: Vec<String> = root
        .entries("blobs")
        .into_iter()
        .filter(|e| e != "locks" && e != "origin")
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

#[test]
fn an_index_resolves_to_the_hosts_platform_or_the_one_asked() {
    let Some(reg) = Registry::start() else { return };
    let (bb, bd, bm) = base_layer();
    let layout = Layout::new(
        "multi",
        &[
            ("amd64", vec![(bb.clone(), bd.clone(), bm)]),
            ("arm64", vec![(bb, bd, bm), top_layer()]),
        ],
        true,
    );
    reg.push(layout.dir.path(), "multi", "test/multi", true);
    let root = common::Root::new();
    let reference = format!("{}/test/multi:multi", reg.addr);
    root.ok(&["pull", &reference]);
    assert_eq!(
        root.json(&["image", "inspect", &reference])["layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    root.ok(&["pull", "--platform", "linux/arm64", &reference]);
    assert_eq!(
        root.json(&["image", "inspect", &reference])["layers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let err = root.fails(&["pull", "--platform", "linux/s390x", &reference], 1);
    assert!(
        err.contains("no image for linux/s390x (it has: linux/amd64, linux/arm64)"),
        "{err}"
    );
}

#[test]
fn bad_references_corrupt_blobs_and_a_down_registry_leave_nothing() {
    let Some(reg) = Registry::start() else { return };
    // The base layer (gzip already: skopeo stores it as it is).
    let base = base_layer();
    reg.serve("test/bad", vec![base.clone(), top_layer()]);
    let root = common::Root::new();
    let err = root.fails(&["pull", &format!("{}/test/bad:nope", reg.addr)], 1);
    assert!(
        err.contains("manifest unknown") && err.contains("'nope'"),
        "{err}"
    );
    let err = root.fails(&["pull", &format!("{}/test/Bad", reg.addr)], 1);
    assert!(err.contains("uppercase"), "{err}");
    // The base layer's bytes changed in the registry's storage.
    let digest = sha(&base.0);
    let f = reg.blob_file(&digest);
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&f, &bytes).unwrap();
    let err = root.fails(&["pull", &format!("{}/test/bad:v1", reg.addr)], 1);
    assert!(err.contains(&format!("blob {digest} arrived as")), "{err}");
    assert!(root
        .json(&["image", "ls", "--format", "json"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        root.entries("blobs")
            .iter()
            .all(|b| !b.ends_with(".part") && !b.contains(&digest[7..])),
        "{:?}",
        root.entries("blobs")
    );
    let check = root.ok(&["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
    // A second layer whose content is not what the config says: the first
    // layer, made already, goes too.
    let (data, _, mt) = top_layer();
    let lie = (data, sha(b"something else"), mt);
    let layout = Layout::new("v1", &[("amd64", vec![base_layer(), lie])], false);
    reg.push(layout.dir.path(), "v1", "test/lie", false);
    let err = root.fails(&["pull", &format!("{}/test/lie:v1", reg.addr)], 1);
    assert!(err.contains("corrupt or substituted"), "{err}");
    assert!(
        root.entries("layers").is_empty(),
        "{:?}",
        root.entries("layers")
    );
    let check = root.ok(&["system", "check"]);
    assert!(check.contains("no problems found"), "{check}");
    // A registry that is not there.
    let err = root.fails(&["pull", "127.0.0.1:1/x/y"], 1);
    assert!(
        err.contains("127.0.0.1:1/x/y") && err.contains("cannot reach"),
        "{err}"
    );
}

#[test]
fn an_interrupted_pull_resumes_from_its_partial_blob() {
    let Some(reg) = Registry::start() else { return };
    let base = base_layer();
    let reference = reg.serve("test/resume", vec![base.clone()]);
    let digest = sha(&base.0);
    let half = base.0.len() / 2;
    // A partial download with the wrong bytes: the pull asks only for the
    // rest, so the whole does not match and is refused (and dropped) ...
    let root = common::Root::new();
    std::fs::create_dir_all(root.path().join("blobs")).unwrap();
    let part = root
        .path()
        .join("blobs")
        .join(format!("{}.part", &digest[7..]));
    std::fs::write(&part, vec![0u8; half]).unwrap();
    let err = root.fails(&["pull", &reference], 1);
    assert!(err.contains("arrived as"), "{err}");
    assert!(!part.exists());
    // ... and with the right first half the pull completes from it.
    std::fs::write(&part, &base.0[..half]).unwrap();
    // `system check` reports the partial download (kept for the resume).
    let found = root.run(&["system", "check"]);
    let out = String::from_utf8_lossy(&found.stdout);
    assert!(
        out.contains(&format!("blobs/{}.part", &digest[7..]))
            && out.contains("interrupted download"),
        "{out}"
    );
    root.ok(&["pull", &reference]);
    root.ok(&["system", "check"]);
    // One left behind again, and taken by --repair.
    std::fs::write(&part, &base.0[..half]).unwrap();
    root.ok(&["system", "check", "--repair"]);
    assert!(!part.exists());
    // A whole blob a killed pull downloaded but did not unpack: reported
    // (no pull holds a lease) and removed.
    let whole = root.path().join("blobs").join(&digest[7..]);
    std::fs::write(&whole, &base.0).unwrap();
    let found = root.run(&["system", "check"]);
    let out = String::from_utf8_lossy(&found.stdout);
    assert!(out.contains("no pull is unpacking"), "{out}");
    root.ok(&["system", "check", "--repair"]);
    assert!(!whole.exists());
    root.ok(&["system", "check"]);
    assert_eq!(
        root.ok(&[
            "run",
            "--rm",
            &reference,
            "/bin/busybox",
            "cat",
            "/etc/kept"
        ]),
        "kept\n"
    );
}

#[test]
fn bearer_tokens_anonymous_for_public_repositories_and_by_login_for_the_rest() {
    let Some((reg, token)) = Registry::start_token() else {
        return;
    };
    let public = reg.serve("test/public", vec![base_layer()]);
    let private = reg.serve("test/private", vec![base_layer()]);
    let root = common::Root::new();
    let docker = tempfile::tempdir().unwrap();
    let klee = |args: &[&str], stdin: &str| {
        let mut c = root.cmd(args);
        c.env("DOCKER_CONFIG", docker.path());
        fed(c, stdin)
    };
    // Anonymous: a token for pulling the public repository.
    let o = klee(&["pull", &public], "");
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(token
        .asked
        .lock()
        .unwrap()
        .contains(&"|repository:test/public:pull".to_string()));
    assert_eq!(
        root.ok(&["run", "--rm", &public, "/bin/busybox", "cat", "/etc/kept"]),
        "kept\n"
    );
    // The private one: the token grants nothing, and the error says what to do.
    let o = klee(&["pull", &private], "");
    assert!(!o.status.success());
    let said = common::stderr(&o);
    assert!(said.contains(&format!("klee login {}", reg.addr)), "{said}");
    assert!(
        root.json(&["image", "ls", "--format", "json"])
            .as_array()
            .unwrap()
            .len()
            == 1
    );
    // A credentials file kleene cannot read is never replaced by a login.
    let file = docker.path().join("config.json");
    let broken = "{\"auths\": {\"x.example\": {\"auth\": \"eDp5\"}}, bad json";
    std::fs::write(&file, broken).unwrap();
    let o = klee(
        &["login", &reg.addr, "-u", "kleene", "--password-stdin"],
        "s3cret\n",
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("not valid JSON"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
    std::fs::remove_file(&file).unwrap();
    // A registry configuration named but missing is an error, not nothing.
    let err = root.fails(
        &["--config", "/nonexistent/registries.toml", "pull", &public],
        1,
    );
    assert!(err.contains("no such file"), "{err}");
    // A wrong password is refused by the token server at login.
    let o = klee(
        &["login", &reg.addr, "-u", "kleene", "--password-stdin"],
        "wrong\n",
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("login refused"),
        "{}",
        common::stderr(&o)
    );
    // Logged in: the credentials buy tokens for pulling and pushing.
    let o = klee(
        &["login", &reg.addr, "-u", "kleene", "--password-stdin"],
        "s3cret\n",
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = klee(&["pull", &private], "");
    assert!(o.status.success(), "{}", common::stderr(&o));
    let target = format!("{}/test/pushed-with-token:1", reg.addr);
    let o = klee(&["push", &private, &target], "");
    assert!(o.status.success(), "{}", common::stderr(&o));
    let asked = token.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"kleene|repository:test/pushed-with-token:pull,push".to_string()),
        "{asked:?}"
    );
    let other = common::Root::new();
    let o = {
        let mut c = other.cmd(&["pull", &target]);
        c.env("DOCKER_CONFIG", docker.path()).output().unwrap()
    };
    assert!(o.status.success(), "{}", common::stderr(&o));
}

#[test]
fn a_stalled_registry_is_given_up_on_and_a_later_pull_works() {
    let Some(reg) = Registry::start() else { return };
    let reference = reg.serve("test/stall", vec![base_layer()]);
    let root = common::Root::new();
    let pid = reg.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let o = root
        .cmd(&["pull", &reference])
        .env("KLEENE_REGISTRY_TIMEOUT", "2")
        .output()
        .unwrap();
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    assert!(!o.status.success());
    let said = common::stderr(&o);
    assert!(
        said.contains("timeout") || said.contains("timed out"),
        "{said}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    root.ok(&["pull", &reference]);
    let o = root
        .cmd(&["pull", &reference])
        .env("KLEENE_REGISTRY_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert!(
        common::stderr(&o).contains("KLEENE_REGISTRY_TIMEOUT"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn https_with_a_private_ca_and_basic_auth_through_klee_login() {
    let Some(reg) = Registry::start_with(true) else {
        return;
    };
    let root = common::Root::new();
    let reference = reg.serve("test/private", vec![base_layer()]);
    let docker = tempfile::tempdir().unwrap();
    let conf = root.path().join("registries.toml");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nhost = \"{}\"\nca = \"{}\"\n",
            reg.addr,
            reg.dir.path().join("ca.crt").display()
        ),
    )
    .unwrap();
    let klee = |args: &[&str], stdin: &str| {
        let mut c = root.cmd(args);
        c.env("KLEENE_CONFIG", &conf)
            .env("DOCKER_CONFIG", docker.path());
        fed(c, stdin)
    };
    // No credentials yet: the registry's challenge is answered with advice.
    let o = klee(&["pull", &reference], "");
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains(&format!("klee login {}", reg.addr)),
        "{}",
        common::stderr(&o)
    );
    // Wrong ones are refused at login, and stored ones that went wrong
    // (Docker's file, written by hand) at the pull.
    let o = klee(
        &["login", &reg.addr, "-u", "kleene", "--password-stdin"],
        "wrong\n",
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("login refused for user 'kleene'"),
        "{}",
        common::stderr(&o)
    );
    std::fs::write(
        docker.path().join("config.json"),
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"a2xlZW5lOndyb25n\"}}}}}}",
            reg.addr
        ),
    )
    .unwrap();
    let o = klee(&["pull", &reference], "");
    assert!(
        common::stderr(&o).contains("the stored credentials were refused"),
        "{}",
        common::stderr(&o)
    );
    // The right ones, stored in Docker's format, 0600.
    let o = klee(
        &["login", &reg.addr, "-u", "kleene", "--password-stdin"],
        "s3cret\n",
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let file = docker.path().join("config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved["auths"][&reg.addr]["auth"], "a2xlZW5lOnMzY3JldA==");
    let o = klee(&["pull", &reference], "");
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Without the CA the certificate is not trusted, and the error says so
    // (no silent fall back to plain HTTP) ...
    std::fs::write(&conf, "").unwrap();
    let o = klee(&["pull", &reference], "");
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("certificate"),
        "{}",
        common::stderr(&o)
    );
    // ... unless the registry is configured as insecure (Docker's rule).
    std::fs::write(
        &conf,
        format!("[[registry]]\nhost = \"{}\"\ninsecure = true\n", reg.addr),
    )
    .unwrap();
    let o = klee(&["pull", &reference], "");
    assert!(o.status.success(), "{}", common::stderr(&o));
    // A CA file that holds no certificate is an error naming it.
    let junk = root.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nhost = \"{}\"\nca = \"{}\"\n",
            reg.addr,
            junk.display()
        ),
    )
    .unwrap();
    let o = klee(&["pull", &reference], "");
    assert!(
        common::stderr(&o).contains("holds no PEM certificate"),
        "{}",
        common::stderr(&o)
    );
    let o = klee(&["logout", &reg.addr], "");
    assert!(
        common::stdout(&o).contains("removed"),
        "{}",
        common::stdout(&o)
    );
}

#[test]
fn a_dockerfile_from_and_the_dsl_pull_from_the_registry() {
    let Some(reg) = Registry::start() else { return };
    let root = common::Root::new();
    let reference = reg.serve("test/base", vec![base_layer(), top_layer()]);
    // FROM a missing image pulls it, then builds on it.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {reference}\nRUN cat /etc/kept > /made\n"),
    )
    .unwrap();
    let out = root.ok(&["build", "-t", "built:1", ctx.path().to_str().unwrap()]);
    assert!(out.contains(&format!("--> pulling {reference}")), "{out}");
    assert_eq!(
        root.ok(&["run", "--rm", "built:1", "/bin/sh", "-c", "cat /made"]),
        "kept\n"
    );
    // Once here it is not pulled again, unless --pull says so.
    let out = root.ok(&["build", "-t", "built:2", ctx.path().to_str().unwrap()]);
    assert!(!out.contains("--> pulling"), "{out}");
    let out = root.ok(&[
        "build",
        "--pull",
        "-t",
        "built:3",
        ctx.path().to_str().unwrap(),
    ]);
    assert!(out.contains("--> pulling"), "{out}");
    // COPY --from an image that is not here pulls it too.
    let other = reg.serve("test/copied", vec![base_layer()]);
    let ctx2 = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx2.path().join("Dockerfile"),
        format!("FROM built:1\nCOPY --from={other} /etc/gone /from-other\n"),
    )
    .unwrap();
    let out = root.ok(&["build", "-t", "built:4", ctx2.path().to_str().unwrap()]);
    assert!(out.contains(&format!("--> pulling {other}")), "{out}");
    assert_eq!(
        root.ok(&["run", "--rm", "built:4", "/bin/sh", "-c", "cat /from-other"]),
        "deleted above\n"
    );
    // The DSL's image::pull.
    let script = ctx.path().join("pull.rhai");
    std::fs::write(
        &script,
        format!("let i = image::pull(\"{reference}\"); print(i.name);"),
    )
    .unwrap();
    let out = root.ok(&["script", script.to_str().unwrap()]);
    assert_eq!(out.trim(), format!("{}/test/base", reg.addr));
}

#[test]
fn push_sends_layers_with_their_whiteouts_that_skopeo_umoci_and_pull_read() {
    let Some(reg) = Registry::start() else { return };
    let root = common::Root::new();
    built(
        &root,
        "app:1",
        "FROM bb:1\nRUN rm /bin/ls && mkdir -p /data && echo hi > /data/hello\nENV STAGE=pushed\nCMD [\"/bin/sh\"]\n",
    );
    let target = format!("{}/test/pushed:1", reg.addr);
    let digest = root.ok(&["push", "app:1", &target]);
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    // A second push sends no blob again.
    let o = root.run(&["image", "push", "app:1", &target]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("exists"),
        "{}",
        common::stderr(&o)
    );
    // skopeo reads the manifest and config.
    let o = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{target}"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 2, "{info}");
    assert!(
        info["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "STAGE=pushed"),
        "{info}"
    );
    // umoci unpacks the same files (the deletion as a whiteout).
    if have("umoci") {
        let oci = tempfile::tempdir().unwrap();
        let layout = oci.path().join("layout");
        let o = Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{target}"))
            .arg(format!("oci:{}:1", layout.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        let bundle = oci.path().join("bundle");
        let o = Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:1", layout.display()))
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        let rootfs = bundle.join("rootfs");
        assert_eq!(
            std::fs::read_to_string(rootfs.join("data/hello")).unwrap(),
            "hi\n"
        );
        assert!(
            !rootfs.join("bin/ls").exists(),
            "the whiteout was not applied"
        );
        assert!(rootfs.join("bin/busybox").exists());
    }
    // And a pull into another root gives it back.
    let other = common::Root::new();
    other.ok(&["pull", &target]);
    let out = other.ok(&[
        "run",
        "--rm",
        &target,
        "/bin/sh",
        "-c",
        "cat /data/hello; ls /bin/ls 2>/dev/null || echo no-ls; echo $STAGE",
    ]);
    assert_eq!(out, "hi\nno-ls\npushed\n");
    // Pushed again from there to another repository of the same registry:
    // the registry mounts each layer from the one it was pulled from
    // (cross-repository blob mounts), nothing is uploaded but the config.
    let mounted = format!("{}/test/mounted:1", reg.addr);
    let o = other.run(&["push", &target, &mounted]);
    let said = common::stderr(&o);
    assert!(o.status.success(), "{said}");
    assert_eq!(
        said.matches("mounted from test/pushed").count(),
        2,
        "{said}"
    );
    assert_eq!(
        said.matches(" pushed (").count(),
        1,
        "only the config is sent: {said}"
    );
    let o = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{mounted}"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
}

#[test]
fn save_and_load_archives_that_skopeo_reads_and_writes() {
    let Some(reg) = Registry::start() else { return };
    let root = common::Root::new();
    let ctx = built(
        &root,
        "app:1",
        "FROM bb:1\nRUN rm /bin/ls && echo saved > /saved\nENV WHERE=archive\n",
    );
    let file = ctx.path().join("app.tar");
    root.ok(&["save", "app:1", "-o", file.to_str().unwrap()]);
    // Into a FIFO (as `-o /dev/stdout`): written into, not replaced; and
    // through a symlink to what it names.
    let fifo = ctx.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap().len())
    };
    root.ok(&["save", "app:1", "-o", fifo.to_str().unwrap()]);
    assert!(reader.join().unwrap() > 1024);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let link = ctx.path().join("link.tar");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    root.ok(&["save", "app:1", "-o", link.to_str().unwrap()]);
    assert!(link.is_symlink() && file.is_file());
    // skopeo reads it both as a docker-archive and as an OCI archive.
    for transport in ["docker-archive", "oci-archive"] {
        let o = Command::new("skopeo")
            .arg("inspect")
            .arg(format!("{transport}:{}", file.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{transport}: {}", common::stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{transport}: {v}");
    }
    // Loaded into another root, it runs as it was.
    let other = common::Root::new();
    let out = other.ok(&["load", "-i", file.to_str().unwrap()]);
    assert!(out.contains("app:1"), "{out}");
    let shown = other.ok(&[
        "run",
        "--rm",
        "app:1",
        "/bin/sh",
        "-c",
        "cat /saved; ls /bin/ls 2>/dev/null || echo no-ls; echo $WHERE",
    ]);
    assert_eq!(shown, "saved\nno-ls\narchive\n");
    // Archives skopeo writes: docker-archive with a name, OCI without one.
    reg.serve("test/arch", vec![base_layer(), top_layer()]);
    let src = format!("docker://{}/test/arch:v1", reg.addr);
    let da = ctx.path().join("d.tar");
    let oa = ctx.path().join("o.tar");
    for (dest, to) in [
        (format!("docker-archive:{}:imported:2", da.display()), &da),
        (format!("oci-archive:{}:v1", oa.display()), &oa),
    ] {
        let o = Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false", &src, &dest])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        assert!(to.exists());
    }
    let fresh = common::Root::new();
    fresh.ok(&["image", "load", "-i", da.to_str().unwrap()]);
    assert_eq!(
        fresh.ok(&["run", "--rm", "imported:2", "/bin/sh", "-c", "ls /data"]),
        "new\n"
    );
    let out = fresh.ok(&["image", "load", "-i", oa.to_str().unwrap()]);
    let id = out.split_whitespace().next().unwrap().to_string();
    assert_eq!(
        fresh.ok(&["run", "--rm", &id, "/bin/sh", "-c", "cat /etc/kept"]),
        "kept\n"
    );
    // Not an archive: a clear error, nothing left behind.
    let junk = ctx.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").unwrap();
    let empty = common::Root::new();
    let err = empty.fails(&["load", "-i", junk.to_str().unwrap()], 1);
    assert!(err.contains("image archive"), "{err}");
    assert!(empty
        .json(&["image", "ls", "--format", "json"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        empty.entries("tmp").is_empty(),
        "{:?}",
        empty.entries("tmp")
    );
}

/// What `skopeo inspect` says of `what` (`docker://…` from a plain-HTTP
/// registry, or an archive), with `extra` options.
fn inspected(what: &str, extra: &[&str]) -> Vec<u8> {
    let mut c = Command::new("skopeo");
    c.arg("inspect");
    if what.starts_with("docker://") {
        c.arg("--tls-verify=false");
    }
    let o = c.args(extra).arg(what).output().unwrap();
    assert!(o.status.success(), "{what}: {}", common::stderr(&o));
    o.stdout
}

#[test]
fn a_pulled_image_keeps_its_identity_through_push_save_and_load() {
    let Some(reg) = Registry::start() else { return };
    let Some(elsewhere) = Registry::start() else {
        return;
    };
    let src = reg.serve("test/orig", vec![base_layer(), top_layer()]);
    let remote = format!("docker://{src}");
    let manifest = serde_json::from_slice::<Value>(&inspected(&remote, &[])).unwrap()["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    let config = sha(&inspected(&remote, &["--config", "--raw"]));
    let root = common::Root::new();
    let id = root
        .ok(&["pull", &src])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(id, config[7..19], "the image ID is its config's digest");
    // To another repository of the same registry: every layer mounted, and
    // the manifest as it was, so the same digest (as `docker push`).
    let copy = format!("{}/test/copy:v1", reg.addr);
    assert_eq!(root.ok(&["push", &id, &copy]).trim(), manifest);
    // To another registry: the layers compressed anew (other blobs), the
    // tars and the config the same, so the same image ID when pulled.
    let away = format!("{}/test/away:v1", elsewhere.addr);
    let o = root.run(&["push", &id, &away]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(
        sha(&inspected(
            &format!("docker://{away}"),
            &["--config", "--raw"]
        )),
        config
    );
    let fresh = common::Root::new();
    let again = fresh.ok(&["pull", &away]);
    assert_eq!(again.lines().last().unwrap().trim(), id);
    // Saved: the very tars it was pulled as (diff IDs), its own config.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orig.tar");
    root.ok(&["save", &id, "-o", file.to_str().unwrap()]);
    let archived = format!("docker-archive:{}", file.display());
    assert_eq!(sha(&inspected(&archived, &["--config", "--raw"])), config);
    // Loaded elsewhere: the same image ID, and it runs as it was.
    let loaded = common::Root::new();
    let out = loaded.ok(&["load", "-i", file.to_str().unwrap()]);
    assert!(out.contains(&id), "{out}");
    assert_eq!(
        loaded.ok(&[
            "run",
            "--rm",
            &id,
            "/bin/sh",
            "-c",
            "ls /data; cat /etc/kept"
        ]),
        "new\nkept\n"
    );
    // Saved from there again: still the same config (the skeletons came
    // with the load too).
    let twice = dir.path().join("twice.tar");
    loaded.ok(&["save", &id, "-o", twice.to_str().unwrap()]);
    assert_eq!(
        sha(&inspected(
            &format!("docker-archive:{}", twice.display()),
            &["--config", "--raw"]
        )),
        config
    );
    // An image built on it is another image, with a config of its own.
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {id}\nRUN echo on-top > /top\n"),
    )
    .unwrap();
    root.ok(&["build", "-t", "ontop:1", ctx.to_str().unwrap()]);
    let built = dir.path().join("built.tar");
    root.ok(&["save", "ontop:1", "-o", built.to_str().unwrap()]);
    let conf: Value = serde_json::from_slice(&inspected(
        &format!("docker-archive:{}", built.display()),
        &["--config", "--raw"],
    ))
    .unwrap();
    let diffs = conf["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diffs.len(), 3, "{conf}");
    // Its first two layers are still the pulled tars.
    let orig: Value = serde_json::from_slice(&inspected(&remote, &["--config", "--raw"])).unwrap();
    assert_eq!(
        diffs[..2],
        orig["rootfs"]["diff_ids"].as_array().unwrap()[..]
    );
}

#[test]
fn kleened_pulls_and_pushes_through_its_api() {
    let Some(reg) = Registry::start() else { return };
    let reference = reg.serve("test/api", vec![base_layer()]);
    let d = common::api::Daemon::start(common::Root::new());
    let (code, v) = d.call("POST", &format!("/images/pull?reference={reference}"), None);
    assert_eq!(code, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (code, v) = d.call("GET", &format!("/images/{id}/inspect"), None);
    assert_eq!(code, 200, "{v}");
    let to = format!("{}/test/api-copy:v2", reg.addr);
    let (code, v) = d.call("POST", &format!("/images/{id}/push?reference={to}"), None);
    assert_eq!(code, 200, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("sha256:"), "{v}");
    let (code, v) = d.call("POST", "/images/pull?reference=Bad/Name", None);
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("uppercase"), "{v}");
}

#[test]
fn mirrors_serve_first_and_a_dead_one_is_skipped() {
    let Some(reg) = Registry::start() else { return };
    reg.serve("test/mirrored", vec![base_layer()]);
    let root = common::Root::new();
    let conf = root.path().join("registries.toml");
    // A registry that does not exist, mirrored by ours; and ours with a
    // dead mirror in front of it.
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nhost = \"registry.invalid:5000\"\nmirrors = [\"{0}\"]\n\n\
             [[registry]]\nhost = \"{0}\"\nmirrors = [\"127.0.0.1:1\"]\n",
            reg.addr
        ),
    )
    .unwrap();
    let pull = |reference: &str| {
        let o = root
            .cmd(&["pull", reference])
            .env("KLEENE_CONFIG", &conf)
            .output()
            .unwrap();
        assert!(o.status.success(), "{reference}: {}", common::stderr(&o));
        common::stderr(&o)
    };
    let via = pull("registry.invalid:5000/test/mirrored:v1");
    assert!(via.contains(&format!("from mirror {}", reg.addr)), "{via}");
    let skipped = pull(&format!("{}/test/mirrored:v1", reg.addr));
    assert!(skipped.contains("mirror 127.0.0.1:1 skipped"), "{skipped}");
    // One image, one name in kleene: pulling it again under another name
    // moved the name.
    let name = format!("{}/test/mirrored:v1", reg.addr);
    assert_eq!(
        root.ok(&["run", "--rm", &name, "/bin/busybox", "cat", "/etc/kept"]),
        "kept\n"
    );
    let err = root.fails(
        &["image", "inspect", "registry.invalid:5000/test/mirrored:v1"],
        1,
    );
    assert!(err.contains("no such image"), "{err}");
}

#[test]
fn container_export_and_image_import_make_a_flat_image() {
    if !common::can_run() {
        return;
    }
    let root = common::Root::new();
    root.busybox_image("bb:1");
    root.ok(&[
        "create",
        "--name",
        "c1",
        "bb:1",
        "/bin/sh",
        "-c",
        "echo exported > /mark; rm /bin/ls",
    ]);
    root.ok(&["start", "c1"]);
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("c1.tar");
    root.ok(&["container", "export", "c1", "-o", tar.to_str().unwrap()]);
    let id = root.ok(&["image", "import", tar.to_str().unwrap(), "-t", "flat:1"]);
    assert!(!id.trim().is_empty());
    let out = root.ok(&[
        "run",
        "--rm",
        "flat:1",
        "/bin/sh",
        "-c",
        "cat /mark; ls /bin/ls 2>/dev/null || echo no-ls",
    ]);
    assert_eq!(out, "exported\nno-ls\n");
    assert_eq!(
        root.json(&["image", "inspect", "flat:1"])["layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A running container is not exported (its /proc, and files changing).
    root.ok(&["run", "-d", "--name", "c2", "bb:1", "/bin/sleep", "30"]);
    let err = root.fails(
        &["container", "export", "c2", "-o", tar.to_str().unwrap()],
        1,
    );
    assert!(err.contains("while it runs"), "{err}");
    root.ok(&["rm", "-f", "c2"]);
}

#[test]
fn the_freebsd_back_end_pulls_into_zfs_clones_and_pushes_and_saves_their_differences() {
    let Some(reg) = Registry::start() else { return };
    let reference = reg.serve("test/fbsd", vec![base_layer(), top_layer()]);
    let dir = tempfile::tempdir().unwrap();
    let (host, fb) = freebsd_host::Host::leak(dir.path());
    std::env::set_var("KLEENE_DATASET", "zroot/kleene");
    let root = dir.path().join("kleene");
    let mut e = kleene::engine::Engine::open_on(&root, fb).unwrap();
    let img = e
        .image_pull(&reference, &Default::default(), &mut ())
        .unwrap();
    host.with(|s| {
        let l0 = format!("zroot/kleene/image/{}", img.layers[0]);
        let l1 = format!("zroot/kleene/image/{}", img.layers[1]);
        // The second layer is a clone of the first's snapshot, committed.
        assert_eq!(
            s.datasets[&l1].origin.as_deref(),
            Some(format!("{l0}@image").as_str())
        );
        assert!(
            s.datasets[&l0].snapshots.contains("image")
                && s.datasets[&l1].snapshots.contains("image")
        );
        let top = s.datasets[&l1].mountpoint.clone();
        assert!(!top.join("etc/gone").exists(), "the whiteout deletes");
        assert!(top.join("etc/kept").exists());
        let mut data: Vec<String> = std::fs::read_dir(top.join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        data.sort();
        assert_eq!(
            data,
            ["new"],
            "the opaque directory keeps only this layer's entries"
        );
        // The layer below is untouched.
        assert!(s.datasets[&l0].mountpoint.join("etc/gone").exists());
        assert!(s.unknown.is_empty(), "{:?}", s.unknown);
    });
    // A fill killed before its snapshot is redone by the next pull.
    let l1 = img.layers[1].clone();
    e.image_remove(&img.id).unwrap();
    host.run_line(&format!("/sbin/zfs create zroot/kleene/image/{l1}"));
    let again = e
        .image_pull(&reference, &Default::default(), &mut ())
        .unwrap();
    assert_eq!(again.layers[1], l1);
    host.with(|s| {
        assert!(s.datasets[&format!("zroot/kleene/image/{l1}")]
            .snapshots
            .contains("image"))
    });

    // Saved while the layers' skeletons are there: the very tars pulled,
    // their files read back from the clones, so the image keeps its ID.
    let mut kept = Vec::new();
    e.image_save(std::slice::from_ref(&again.id), &mut kept, &mut ())
        .unwrap();
    let kept_file = dir.path().join("kept.tar");
    std::fs::write(&kept_file, &kept).unwrap();
    let out = common::Root::new().ok(&["load", "-i", kept_file.to_str().unwrap()]);
    assert!(out.contains(&again.id), "{out}");

    // Push and save from ZFS layers: each layer's tar is its difference
    // from its parent (the clone's origin). Without the layers' origin
    // records the blobs are packed from the datasets, not reused.
    let _ = std::fs::remove_dir_all(root.join("blobs/origin"));
    let target = format!("{}/test/from-zfs:1", reg.addr);
    e.image_push(&again.id, Some(&target), &mut ()).unwrap();
    let mut archive = Vec::new();
    e.image_save(std::slice::from_ref(&again.id), &mut archive, &mut ())
        .unwrap();
    host.with(|s| assert!(s.unknown.is_empty(), "{:?}", s.unknown));
    let check = |r: &common::Root, image: &str| {
        let out = r.ok(&[
            "run",
            "--rm",
            image,
            "/bin/sh",
            "-c",
            "cat /etc/kept; ls /etc/gone 2>/dev/null || echo no-gone; ls /data",
        ]);
        assert_eq!(out, "kept\nno-gone\nnew\n", "{image}");
    };
    let linux = common::Root::new();
    linux.ok(&["pull", &target]);
    check(&linux, &target);
    let saved = dir.path().join("zfs.tar");
    std::fs::write(&saved, &archive).unwrap();
    let other = common::Root::new();
    let out = other.ok(&["load", "-i", saved.to_str().unwrap()]);
    let id = out.split_whitespace().next().unwrap().to_string();
    check(&other, &id);
}

#[test]
fn docker_schema_2_manifests_and_zstd_layers() {
    let Some(reg) = Registry::start() else { return };
    let layout = Layout::new("v1", &[("amd64", vec![base_layer(), top_layer()])], false);
    reg.push_as(
        layout.dir.path(),
        "v1",
        "test/v2s2",
        false,
        &["--format", "v2s2"],
    );
    // A zstd layer of our own (skopeo keeps a layer's compression).
    let (plain, diff, _) = top_layer();
    let zstd_top = (
        zstd::encode_all(&plain[..], 3).unwrap(),
        diff,
        "application/vnd.oci.image.layer.v1.tar+zstd",
    );
    let zlayout = Layout::new("v1", &[("amd64", vec![base_layer(), zstd_top])], false);
    reg.push(zlayout.dir.path(), "v1", "test/zstd", false);
    for repo in ["test/v2s2", "test/zstd"] {
        let root = common::Root::new();
        let reference = format!("{}/{repo}:v1", reg.addr);
        root.ok(&["pull", &reference]);
        // Pushed on to another repository, it is the same manifest (a
        // Docker one stays Docker's), so the same digest.
        let digest =
            serde_json::from_slice::<Value>(&inspected(&format!("docker://{reference}"), &[]))
                .unwrap()["Digest"]
                .clone();
        let copy = format!("{}/{repo}-copy:v1", reg.addr);
        assert_eq!(
            root.ok(&["push", &reference, &copy]).trim(),
            digest,
            "{repo}"
        );
        assert_eq!(
            root.ok(&[
                "run",
                "--rm",
                &reference,
                "/bin/sh",
                "-c",
                "ls /data; cat /etc/kept"
            ]),
            "new\nkept\n",
            "{repo}"
        );
    }
    // The manifests really were of those kinds.
    let inspect = |repo: &str| -> Value {
        let o = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{repo}:v1", reg.addr))
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(
        inspect("test/v2s2")["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let z = inspect("test/zstd");
    assert!(
        z["layers"][1]["mediaType"]
            .as_str()
            .unwrap()
            .ends_with("+zstd"),
        "{z}"
    );
}

#[test]
fn archives_with_shared_layers_compressed_archives_and_platform_checks() {
    let Some(reg) = Registry::start() else { return };
    let root = common::Root::new();
    let ctx = built(&root, "app:1", "FROM bb:1\nRUN echo two > /two\n");
    // Two images sharing their base, one named twice, gzip-compressed.
    let file = ctx.path().join("both.tar");
    root.ok(&[
        "save",
        "app:1",
        "bb:1",
        "app:1",
        "-o",
        file.to_str().unwrap(),
    ]);
    let gz = ctx.path().join("both.tar.gz");
    let o = Command::new("sh")
        .args([
            "-c",
            &format!("gzip -c {} > {}", file.display(), gz.display()),
        ])
        .status()
        .unwrap();
    assert!(o.success());
    let other = common::Root::new();
    let out = other.ok(&["load", "-i", gz.to_str().unwrap()]);
    assert!(out.contains("app:1") && out.contains("bb:1"), "{out}");
    assert_eq!(
        other.ok(&["run", "--rm", "app:1", "/bin/sh", "-c", "cat /two"]),
        "two\n"
    );
    // `klee tag` as Docker users type it, then a push of it.
    other.ok(&["tag", "app:1", &format!("{}/test/tagged:1", reg.addr)]);
    other.ok(&["push", &format!("{}/test/tagged:1", reg.addr)]);
    // A single-platform image asked for another platform is refused.
    let err = other.fails(
        &[
            "pull",
            "--platform",
            "linux/arm64",
            &format!("{}/test/tagged:1", reg.addr),
        ],
        1,
    );
    assert!(
        err.contains("not the requested platform linux/arm64"),
        "{err}"
    );
    let err = other.fails(
        &[
            "pull",
            "--platform",
            "bogus",
            &format!("{}/test/tagged:1", reg.addr),
        ],
        1,
    );
    assert!(err.contains("OS/ARCH"), "{err}");
}
