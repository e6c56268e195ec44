//! Users from the container's own /etc/passwd and /etc/group, and the clean,
//! login-like environment a process starts with (as jail's `exec.clean`).

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    pub groups: Vec<u32>,
}

struct PwEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
    shell: String,
}

fn parse_passwd(text: &str) -> Vec<PwEntry> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PwEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// (name, gid, members) of each group.
fn parse_group(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            let members = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// Resolve `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) against the
/// given passwd and group texts, as Docker does.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<User, String> {
    let spec = if spec.is_empty() { "root" } else { spec };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let pw = parse_passwd(passwd);
    let groups = parse_group(group);
    let entry = pw.iter().find(|e| e.name == u).or_else(|| {
        u.parse::<u32>()
            .ok()
            .and_then(|n| pw.iter().find(|e| e.uid == n))
    });
    let mut user = match (entry, u.parse::<u32>()) {
        (Some(e), _) => User {
            name: e.name.clone(),
            uid: e.uid,
            gid: e.gid,
            home: e.home.clone(),
            shell: e.shell.clone(),
            groups: vec![],
        },
        // Root exists without a passwd file (images FROM scratch).
        (None, _) if u == "root" => User {
            name: "root".to_string(),
            uid: 0,
            gid: 0,
            home: "/".to_string(),
            shell: "/bin/sh".to_string(),
            groups: vec![],
        },
        // A bare uid with no passwd entry is allowed, as in Docker.
        (None, Ok(uid)) => User {
            name: uid.to_string(),
            uid,
            gid: 0,
            home: "/".to_string(),
            shell: "/bin/sh".to_string(),
            groups: vec![],
        },
        (None, Err(_)) => return Err(format!("no such user '{u}' in the container's /etc/passwd")),
    };
    if let Some(g) = g {
        user.gid = match groups.iter().find(|(n, _, _)| n == g) {
            Some((_, gid, _)) => *gid,
            None => g
                .parse()
                .map_err(|_| format!("no such group '{g}' in the container's /etc/group"))?,
        };
    } else {
        // As initgroups(3): the primary group first, then memberships.
        user.groups = std::iter::once(user.gid)
            .chain(
                groups
                    .iter()
                    .filter(|(_, gid, members)| *gid != user.gid && members.contains(&user.name))
                    .map(|(_, gid, _)| *gid),
            )
            .collect();
    }
    Ok(user)
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The login environment for `user`, then `env` entries layered over it in
/// order (a later `KEY=` wins; the position of the first occurrence is kept).
pub fn login_env(user: &User, hostname: &str, term: Option<&str>, env: &[String]) -> Vec<String> {
    let mut out: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), user.home.clone()),
        ("USER".into(), user.name.clone()),
        ("LOGNAME".into(), user.name.clone()),
        ("SHELL".into(), user.shell.clone()),
        ("HOSTNAME".into(), hostname.into()),
    ];
    if let Some(t) = term {
        out.push(("TERM".into(), t.into()));
    }
    for kv in env {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        match out.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        }
    }
    out.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str =
        "root:x:0:0:root:/root:/bin/bash\nwww:x:80:80:web:/var/www:/usr/sbin/nologin\n";
    const GR: &str = "root:x:0:\nwww:x:80:\nstaff:x:50:www,bob\n";

    #[test]
    fn by_name_uid_and_pairs() {
        let r = resolve("", PW, GR).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let w = resolve("www", PW, GR).unwrap();
        assert_eq!((w.uid, w.gid, w.groups.clone()), (80, 80, vec![80, 50]));
        assert_eq!(resolve("80", PW, GR).unwrap().name, "www");
        let bare = resolve("", "", "").unwrap();
        assert_eq!((bare.uid, bare.gid, bare.home.as_str()), (0, 0, "/"));
        let n = resolve("1234", PW, GR).unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str()), (1234, 0, "/"));
        assert_eq!(resolve("www:staff", PW, GR).unwrap().gid, 50);
        assert_eq!(resolve("www:7", PW, GR).unwrap().gid, 7);
        assert_eq!(
            resolve("bob", PW, GR).unwrap_err(),
            "no such user 'bob' in the container's /etc/passwd"
        );
        assert!(resolve("www:nogroup", PW, GR)
            .unwrap_err()
            .contains("'nogroup'"));
    }

    #[test]
    fn env_layers_later_wins() {
        let u = resolve("www", PW, GR).unwrap();
        let env = login_env(
            &u,
            "abc",
            None,
            &["A=1".into(), "PATH=/x".into(), "A=2".into()],
        );
        assert_eq!(env[0], "PATH=/x");
        assert!(env.contains(&"HOME=/var/www".to_string()));
        assert!(env.contains(&"A=2".to_string()));
        assert!(!env.iter().any(|e| e.starts_with("TERM=")));
    }
}
