//! How a command runs in a jail: as whom, where, with which environment.
//!
//! jail(8)'s `command=` and `exec.*` hooks and `jexec -l` all `chdir` to the
//! user's home (`www` and `nobody` have `/nonexistent`, so they fail) and
//! `jexec -U` looks the user up by name only (`getpwnam`), so numeric and
//! `uid:gid` users fail. Every command therefore goes through `jexec`
//! (which `exec`s: its pid is the command's, its status the command's) with
//! the user resolved by kleene in the jail's own /etc/passwd and /etc/group:
//!
//! - root: `jexec <jail> …`;
//! - a user with a passwd entry and no explicit group: `jexec -U <name>`
//!   (login class and supplementary groups, as jail(8) would);
//! - anything else (a bare uid, `uid:gid`, `user:group`):
//!   `jexec <jail> /usr/sbin/chroot -u <uid> -g <gid> -G <groups> / …`, since
//!   chroot(8) takes numeric ids (`strtoul` when the value starts with a
//!   digit; names it would look up on the host, so only numbers are given)
//!   and, chrooting to `/`, changes nothing else.
//!
//! The environment is built here (`env -i`, the login environment of the
//! resolved user, then the container's), as `exec.clean` did, so nothing of
//! klee's own environment leaks in. The working directory is entered by a
//! `/bin/sh` wrapper: `env -C` only exists from FreeBSD 14 on, and images of
//! 13.x run on 14 hosts.

use std::path::Path;

use crate::platform::user::{self, User};
use crate::platform::{Error, ExecSpec, Result};

/// The jail's `/etc/<file>` as text (empty when it has none).
fn etc(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join("etc").join(file)).unwrap_or_default()
}

/// The user `spec.user` names, in the jail whose root is `root`.
pub fn resolve(root: &Path, spec: &ExecSpec) -> Result<User> {
    user::resolve(&spec.user, &etc(root, "passwd"), &etc(root, "group")).map_err(Error::Failed)
}

/// The whole argv: `jexec`, the identity switch, the environment, the
/// working directory, the command.
pub fn argv(jail: &str, root: &Path, hostname: &str, spec: &ExecSpec) -> Result<Vec<String>> {
    let u = resolve(root, spec)?;
    let mut v: Vec<String> = vec!["/usr/sbin/jexec".into()];
    let explicit_group = spec.user.contains(':');
    let named = !u.name.is_empty() && u.name != u.uid.to_string();
    if u.uid == 0 && !explicit_group {
        v.push(jail.into());
    } else if named && !explicit_group {
        v.extend(["-U".into(), u.name.clone(), jail.into()]);
    } else {
        // chroot(8) keeps the caller's (root's) groups unless told: -G
        // always, the primary group alone when none were looked up.
        let mut groups: Vec<String> = u.groups.iter().map(u32::to_string).collect();
        if groups.is_empty() {
            groups.push(u.gid.to_string());
        }
        v.extend([
            jail.into(),
            "/usr/sbin/chroot".into(),
            "-u".into(),
            u.uid.to_string(),
            "-g".into(),
            u.gid.to_string(),
        ]);
        v.extend(["-G".into(), groups.join(","), "/".into()]);
    }
    v.push("/usr/bin/env".into());
    v.push("-i".into());
    // With -t, the terminal type of the caller (xterm when unknown), as on Linux.
    let term = spec
        .tty
        .then(|| std::env::var("TERM").unwrap_or_else(|_| "xterm".into()));
    v.extend(user::login_env(&u, hostname, term.as_deref(), &spec.env));
    // Docker's default is `/`; the home only when it exists in the jail.
    let dir = if !spec.workdir.is_empty() {
        spec.workdir.clone()
    } else if root.join(u.home.trim_start_matches('/')).is_dir() {
        u.home.clone()
    } else {
        "/".into()
    };
    if dir != "/" {
        v.extend([
            "/bin/sh".into(),
            "-c".into(),
            "cd -- \"$0\" || exit 126; exec \"$@\"".into(),
            dir,
        ]);
    }
    v.extend(spec.cmd.iter().cloned());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::create_dir_all(t.path().join("root")).unwrap();
        std::fs::create_dir_all(t.path().join("home/bob")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:*:0:0:Charlie &:/root:/bin/sh\n\
             www:*:80:80:World Wide Web Owner:/nonexistent:/usr/sbin/nologin\n\
             bob:*:1001:1001:Bob:/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "wheel:*:0:root\nwww:*:80:\nbob:*:1001:\nstaff:*:20:bob\n",
        )
        .unwrap();
        t
    }

    fn spec(user: &str, workdir: &str) -> ExecSpec {
        ExecSpec {
            container: "c1".into(),
            cmd: vec!["/bin/echo".into(), "hi".into()],
            env: vec!["A=1".into()],
            user: user.into(),
            workdir: workdir.into(),
            ..Default::default()
        }
    }

    /// The argv up to `env`, and what follows the environment.
    fn split(v: &[String]) -> (String, String) {
        let env = v.iter().position(|a| a == "/usr/bin/env").unwrap();
        let after = v[env..].iter().position(|a| a == "A=1").unwrap() + env + 1;
        (v[..env].join(" "), v[after..].join(" "))
    }

    #[test]
    fn root_by_name_by_uid_and_by_ids() {
        let t = jail_root();
        let r = |u: &str| split(&argv("c1", t.path(), "h", &spec(u, "")).unwrap());
        assert_eq!(r("").0, "/usr/sbin/jexec c1");
        assert_eq!(r("root").0, "/usr/sbin/jexec c1");
        // A home that exists is the working directory.
        assert!(r("").1.starts_with("/bin/sh -c"));
        // www's home is /nonexistent: no chdir, no failure.
        assert_eq!(
            r("www"),
            ("/usr/sbin/jexec -U www c1".into(), "/bin/echo hi".into())
        );
        // A uid with an entry is that user.
        assert_eq!(r("80").0, "/usr/sbin/jexec -U www c1");
        // A uid without one, or explicit groups: chroot with numbers.
        assert_eq!(
            r("4242").0,
            "/usr/sbin/jexec c1 /usr/sbin/chroot -u 4242 -g 0 -G 0 /"
        );
        assert_eq!(
            r("bob:staff").0,
            "/usr/sbin/jexec c1 /usr/sbin/chroot -u 1001 -g 20 -G 20 /"
        );
        assert_eq!(
            r("1001:80").0,
            "/usr/sbin/jexec c1 /usr/sbin/chroot -u 1001 -g 80 -G 80 /"
        );
        let e = argv("c1", t.path(), "h", &spec("nobody", "")).unwrap_err();
        assert!(e.to_string().contains("no such user 'nobody'"), "{e}");
    }

    #[test]
    fn clean_environment_and_working_directory() {
        let t = jail_root();
        let v = argv("c1", t.path(), "h", &spec("bob", "/srv/app")).unwrap();
        let env = v.iter().position(|a| a == "/usr/bin/env").unwrap();
        assert_eq!(v[env + 1], "-i");
        assert!(v.contains(&"HOME=/home/bob".to_string()));
        assert!(v.contains(&"USER=bob".to_string()));
        let (_, rest) = split(&v);
        assert_eq!(
            rest,
            "/bin/sh -c cd -- \"$0\" || exit 126; exec \"$@\" /srv/app /bin/echo hi"
        );
    }
}
