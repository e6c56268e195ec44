//! The OCI distribution protocol's read side, blocking (a CLI pulls in
//! its own process; no async runtime needed): manifests and blobs, with
//! the registry's auth challenge answered — a bearer token from the realm
//! it names (anonymous, or with stored credentials), or basic auth.
//!
//! `ureq` (rustls) was chosen over `oci-client`: the latter is async on
//! reqwest and tokio, which `klee` does not otherwise start for a pull;
//! the protocol needed here is a handful of GETs that are clearer
//! written out than configured.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use super::config::{credentials, Config};
use super::reference::Reference;
use crate::engine::error::{Error, Result};

/// Manifests kleene reads, in order of preference.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

pub struct Client {
    agent: ureq::Agent,
    base: String,
    reference: Reference,
    /// The `Authorization` header that last worked.
    auth: Mutex<Option<String>>,
    /// What a bearer token is asked for (`pull`, or `pull,push`).
    actions: &'static str,
}

/// A registry error naming the reference and what failed.
pub fn err(r: &Reference, what: impl std::fmt::Display) -> Error {
    Error::Registry(format!("{r}: {what}"))
}

impl Client {
    pub fn new(reference: &Reference, config: &Config) -> Result<Client> {
        let host = reference.api_host().to_string();
        let reg = config.registry(&reference.registry);
        let mut roots: Vec<ureq::tls::Certificate<'static>> = Vec::new();
        for path in ["/etc/ssl/certs/ca-certificates.crt"]
            .iter()
            .map(std::path::PathBuf::from)
            .chain(reg.ca.clone())
        {
            let Ok(pem) = std::fs::read(&path) else {
                if reg.ca.as_ref() == Some(&path) {
                    return Err(Error::io(
                        "cannot read the registry's CA certificate",
                        &path,
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    ));
                }
                continue;
            };
            let before = roots.len();
            for item in ureq::tls::parse_pem(&pem).flatten() {
                if let ureq::tls::PemItem::Certificate(c) = item {
                    roots.push(c);
                }
            }
            if roots.len() == before && reg.ca.as_ref() == Some(&path) {
                return Err(Error::invalid(
                    "registry CA file",
                    path.display().to_string(),
                    "it holds no PEM certificate",
                ));
            }
        }
        let tls = |unverified: bool| {
            let mut b = ureq::tls::TlsConfig::builder();
            if !roots.is_empty() {
                b = b.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
            }
            b.disable_verification(unverified).build()
        };
        let stall = stall_timeout()?;
        let agent_with = |tls: ureq::tls::TlsConfig| -> ureq::Agent {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .tls_config(tls)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                // A registry that stops sending (or reading) mid-transfer is
                // given up on, rather than waited for forever; a large layer
                // on a slow link still has all the time it needs.
                .timeout_per_read(Some(stall))
                .timeout_per_write(Some(stall))
                .user_agent(concat!("kleene/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        let mut agent = agent_with(tls(false));
        // HTTPS always. Where plain HTTP is allowed (loopback, or configured
        // as insecure), it is used only when HTTPS does not answer at all,
        // as Docker does; a TLS server whose certificate is not trusted is
        // that server's error (loopback), or trusted anyway for a registry
        // configured as insecure (Docker's insecure-registries).
        let mut scheme = "https";
        if config.insecure(&reference.registry) {
            match agent.get(&format!("https://{host}/v2/")).call() {
                Ok(_) => {}
                Err(e) if untrusted(&e) => {
                    if reg.insecure {
                        agent = agent_with(tls(true));
                    }
                }
                Err(_) => scheme = "http",
            }
        }
        Ok(Client {
            agent,
            base: format!("{scheme}://{host}/v2/{}", reference.repository),
            reference: reference.clone(),
            auth: Mutex::new(None),
            actions: "pull",
        })
    }

    /// The same, with tokens that allow pushing.
    pub fn for_push(mut self) -> Client {
        self.actions = "pull,push";
        self
    }

    /// The repository's API base (`https://host/v2/repo`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path` (under the repository), answering one auth challenge.
    /// `range`: resume a blob from that byte.
    pub fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        range: Option<u64>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(a) = accept {
            headers.push(("Accept", a.to_string()));
        }
        if let Some(n) = range {
            headers.push(("Range", format!("bytes={n}-")));
        }
        self.send("GET", &format!("{}/{path}", self.base), &headers, None)
    }

    /// A request to `url` (absolute: upload locations are), answering one
    /// auth challenge; `body` is sent from a file.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&std::path::Path>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let send = |auth: Option<&str>| {
            let mut req = ureq::http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            let bad =
                |e: &dyn std::fmt::Display| err(&self.reference, format!("request {url}: {e}"));
            let sent = match body {
                Some(p) => {
                    let data = std::fs::read(p).map_err(|e| Error::io("cannot read", p, e))?;
                    self.agent.run(req.body(data).map_err(|e| bad(&e))?)
                }
                None => self.agent.run(req.body(()).map_err(|e| bad(&e))?),
            };
            sent.map_err(|e| {
                err(
                    &self.reference,
                    format!("cannot reach {url}: {e}{}", plain_http_hint(&e)),
                )
            })
        };
        let current = self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let resp = send(current.as_deref())?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = challenge_of(&resp);
        let auth = self.answer(&challenge)?;
        let resp = send(Some(&auth))?;
        if resp.status() == 401 {
            let who = if credentials(&self.reference.registry).is_some() {
                "the stored credentials were refused"
            } else {
                "it needs credentials"
            };
            return Err(err(
                &self.reference,
                format!(
                    "access denied ({who}; `klee login {}`)",
                    self.reference.registry
                ),
            ));
        }
        *self.auth.lock().unwrap_or_else(|p| p.into_inner()) = Some(auth);
        Ok(resp)
    }

    /// The `Authorization` header for a `WWW-Authenticate` challenge.
    fn answer(&self, challenge: &str) -> Result<String> {
        let creds = credentials(&self.reference.registry);
        let basic = creds.as_ref().map(|(u, p)| basic_auth(u, p));
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.ok_or_else(|| {
                err(
                    &self.reference,
                    format!(
                        "the registry asks for a user and password: `klee login {}` first",
                        self.reference.registry
                    ),
                )
            });
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(err(
                &self.reference,
                format!("unknown authentication challenge '{challenge}'"),
            ));
        }
        let scope = format!(
            "scope=repository:{}:{}",
            self.reference.repository, self.actions
        );
        let (realm, url) = token_url(params, &scope)
            .ok_or_else(|| err(&self.reference, "a bearer challenge without a realm"))?;
        let mut req = self.agent.get(&url);
        if let Some(b) = &basic {
            req = req.header("Authorization", b);
        }
        let mut resp = req.call().map_err(|e| {
            err(
                &self.reference,
                format!("cannot get a token from {realm}: {e}"),
            )
        })?;
        if resp.status() != 200 {
            return Err(err(
                &self.reference,
                format!("the token service {realm} answered {}", resp.status()),
            ));
        }
        let body: serde_json::Value = serde_json::from_slice(
            &resp
                .body_mut()
                .read_to_vec()
                .map_err(|e| err(&self.reference, format!("token from {realm}: {e}")))?,
        )
        .map_err(|e| err(&self.reference, format!("token from {realm}: {e}")))?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| {
                err(
                    &self.reference,
                    format!("no token in the answer of {realm}"),
                )
            })?;
        Ok(format!("Bearer {token}"))
    }

    /// Do `user` and `password` open the registry (`klee login`)? Its
    /// `/v2/` with basic auth, or a token from its bearer realm with them.
    pub fn check_login(&self, user: &str, password: &str) -> Result<()> {
        let root = format!("{}/v2/", self.base.split("/v2/").next().unwrap_or(""));
        let basic = basic_auth(user, password);
        let host = &self.reference.registry;
        let refused = || Error::Registry(format!("{host}: login refused for user '{user}'"));
        let get = |url: &str, what: &str| {
            self.agent
                .get(url)
                .header("Authorization", &basic)
                .call()
                .map_err(|e| {
                    Error::Registry(format!(
                        "{host}: cannot reach {what}: {e}{}",
                        plain_http_hint(&e)
                    ))
                })
        };
        let resp = get(&root, &root)?;
        if resp.status() == 200 {
            return Ok(());
        }
        let challenge = challenge_of(&resp);
        let (scheme, params) = challenge.split_once(' ').unwrap_or((&challenge, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(refused());
        }
        let Some((realm, url)) = token_url(params, &format!("account={user}")) else {
            return Err(refused());
        };
        let token = get(&url, &realm)?;
        if token.status() == 200 {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// A manifest or index by tag or digest: (media type, bytes).
    pub fn manifest(&self, target: &str) -> Result<(String, Vec<u8>)> {
        let mut resp = self.get(&format!("manifests/{target}"), Some(ACCEPT), None)?;
        match resp.status().as_u16() {
            200 => {}
            404 => {
                return Err(err(
                    &self.reference,
                    format!("manifest unknown: the registry has no '{target}'"),
                ))
            }
            s => {
                return Err(err(
                    &self.reference,
                    format!("the registry answered {s} for manifest '{target}'"),
                ))
            }
        }
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(8 << 20)
            .read_to_end(&mut bytes)
            .map_err(|e| err(&self.reference, format!("manifest '{target}': {e}")))?;
        Ok((kind, bytes))
    }
}

/// How long a transfer may stall: `KLEENE_REGISTRY_TIMEOUT` seconds
/// (default 60).
fn stall_timeout() -> Result<Duration> {
    match std::env::var("KLEENE_REGISTRY_TIMEOUT") {
        Err(_) => Ok(Duration::from_secs(60)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(Error::invalid(
                "KLEENE_REGISTRY_TIMEOUT",
                v,
                "expected a whole number of seconds above 0",
            )),
        },
    }
}

/// What to say when a TLS handshake met a server that answered in plain
/// HTTP (rustls sees a record of "type" `H`, from `HTTP/1.1 …`).
fn plain_http_hint(e: &ureq::Error) -> &'static str {
    let text = e.to_string();
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        " (the server answers in plain HTTP, not HTTPS: if it is meant to, mark the registry \
         `insecure = true` in registries.toml, see docs/images.md)"
    } else {
        ""
    }
}

/// Did TLS fail on the server's certificate (a TLS server we do not trust,
/// as opposed to no TLS server at all)? ureq reports rustls's error
/// directly or inside an I/O error.
fn untrusted(e: &ureq::Error) -> bool {
    use tokio_rustls::rustls::Error as Tls;
    match e {
        ureq::Error::Rustls(Tls::InvalidCertificate(_)) => true,
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Tls>())
            .is_some_and(|t| matches!(t, Tls::InvalidCertificate(_))),
        _ => false,
    }
}

/// The `WWW-Authenticate` challenge of a response ("" when none).
fn challenge_of(resp: &ureq::http::Response<ureq::Body>) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The `Authorization` value of basic auth.
fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        super::config::base64_encode(format!("{user}:{password}").as_bytes())
    )
}

/// A bearer challenge's parameters → (its realm, the token URL asking
/// `query` there, with the challenge's service); `None` without a realm.
fn token_url(params: &str, query: &str) -> Option<(String, String)> {
    let p = parse_params(params);
    let realm = p.iter().find(|(k, _)| k == "realm")?.1.clone();
    let mut url = format!("{realm}?{query}");
    if let Some((_, s)) = p.iter().find(|(k, _)| k == "service") {
        url.push_str(&format!("&service={s}"));
    }
    Some((realm, url))
}

/// `realm="https://…",service="…",scope="…"` → pairs.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((k.trim().to_ascii_lowercase(), v.to_string()));
        rest = next.trim_start_matches([',', ' ']);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quotes_and_commas() {
        let p = parse_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(p[1].1, "registry.docker.io");
        assert_eq!(p[2].1, "repository:library/alpine:pull");
        assert_eq!(
            parse_params("realm=x, service=y")[1],
            ("service".into(), "y".into())
        );
    }
}
