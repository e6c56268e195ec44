//! Owners of transient objects. Work in progress that no row describes
//! (a layer being filled, a build step's container, a merged view, an exec's
//! captured output) is named after the process doing it, by pid and start
//! time, so that once that process is gone anyone can tell the object is
//! debris, and while it lives nobody touches it. (The start time tells a
//! process from a later one that reuses its pid.)

use std::sync::Mutex;

/// A process, as its pid and start time (0 where the OS does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    pub pid: i32,
    pub start: u64,
}

impl Owner {
    /// This process. Computed once per process: a fork (the detached
    /// monitor) is a new owner, so the cache is keyed by pid.
    pub fn me() -> Owner {
        static ME: Mutex<Option<Owner>> = Mutex::new(None);
        let pid = std::process::id() as i32;
        let mut me = ME.lock().unwrap_or_else(|p| p.into_inner());
        match *me {
            Some(o) if o.pid == pid => o,
            _ => {
                let o = Owner {
                    pid,
                    start: super::native().start_time(pid),
                };
                *me = Some(o);
                o
            }
        }
    }

    /// `<pid>-<start>`: what names carry.
    pub fn tag(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// The owner a tag names.
    pub fn parse(tag: &str) -> Option<Owner> {
        let (pid, start) = tag.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(pid) || !digits(start) {
            return None;
        }
        Some(Owner {
            pid: pid.parse().ok().filter(|p| *p > 0)?,
            start: start.parse().ok()?,
        })
    }

    /// Is this process still running?
    pub fn alive(&self) -> bool {
        super::native().alive(self.pid, self.start)
    }
}

/// The name of this process's scratch object `what` in a root's `tmp/`:
/// `<pid>-<start>.<what>`.
pub fn scratch(what: &str) -> String {
    format!("{}.{what}", Owner::me().tag())
}

/// Whose scratch object is the `tmp/` entry `name`? `None`: not a name
/// [`scratch`] makes (left by an older kleene, or by hand).
pub fn scratch_owner(name: &str) -> Option<Owner> {
    let (tag, what) = name.split_once('.')?;
    if what.is_empty() {
        return None;
    }
    Owner::parse(tag)
}

/// What a volume's storage is called while its removal deletes it
/// (`volume-<hash of the name>`: a volume name may be as long as a file
/// name may).
pub fn volume_trash(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("volume-{hex}")
}

/// A transient container's ID (a build step's): `<id>-<pid>-<start>`.
pub fn transient_id(id: &str) -> String {
    format!("{id}-{}", Owner::me().tag())
}

/// The owner of a transient container ID; `None` for a plain ID.
pub fn transient_owner(id: &str) -> Option<Owner> {
    let (_, tag) = id.split_once('-')?;
    Owner::parse(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_reject_other_names() {
        let me = Owner::me();
        assert_eq!(Owner::parse(&me.tag()), Some(me));
        assert!(me.alive());
        assert_eq!(scratch_owner(&scratch("layer-abc")), Some(me));
        assert_eq!(transient_owner(&transient_id("0123456789ab")), Some(me));
        for bad in [
            "abc",
            "12-",
            "-3",
            "1-x",
            "0-5",
            "exec-1a2b.out",
            "12-34",
            "",
        ] {
            assert_eq!(scratch_owner(bad), None, "{bad}");
        }
        assert_eq!(transient_owner("0123456789ab"), None);
        // A pid that cannot exist is not alive.
        assert!(!Owner {
            pid: i32::MAX,
            start: 1
        }
        .alive());
    }
}
