//! A container's lifecycle state and what it allows.

use serde::Serialize;

use super::time;

/// A container's lifecycle state, computed from the store and a liveness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    Created,
    Running {
        pid: i32,
        started: String,
    },
    Exited {
        code: Option<i32>,
        finished: Option<String>,
        /// The kernel's OOM killer killed one of its processes (its memory
        /// limit was reached).
        oom_killed: bool,
    },
    /// Being removed (or its removal was interrupted: `rm` finishes it).
    Removing,
}

impl Status {
    /// The init's pid while running.
    pub fn pid(&self) -> Option<i32> {
        match self {
            Status::Running { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self, Status::Running { .. })
    }
    pub fn can_start(&self) -> bool {
        !self.is_running() && *self != Status::Removing
    }
    pub fn can_stop(&self) -> bool {
        self.is_running()
    }
    pub fn can_exec(&self) -> bool {
        self.is_running()
    }
    pub fn can_remove(&self) -> bool {
        !self.is_running()
    }
    /// `running`, `created`, or `exited (N) 3 seconds ago`.
    pub fn describe(&self) -> String {
        match self {
            Status::Created => "created".into(),
            Status::Removing => "removing".into(),
            Status::Running { .. } => "running".into(),
            Status::Exited { code, finished, .. } => {
                let code = code.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
                match finished {
                    Some(f) => format!("exited ({code}) {}", time::human_since(f)),
                    None => format!("exited ({code})"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_predicates() {
        let r = Status::Running {
            pid: 1,
            started: String::new(),
        };
        assert!(r.can_stop() && r.can_exec() && !r.can_start() && !r.can_remove());
        let e = Status::Exited {
            code: Some(3),
            finished: None,
            oom_killed: false,
        };
        assert!(e.can_start() && e.can_remove() && !e.can_stop());
        assert_eq!(e.describe(), "exited (3)");
        let r = Status::Removing;
        assert!(!r.can_start() && r.can_remove() && !r.can_stop() && !r.is_running());
    }
}
