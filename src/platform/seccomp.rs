//! Seccomp profiles as data, in the shape of Docker's JSON profile format
//! (`--security-opt seccomp=FILE.json`), so the profiles people already
//! have work unchanged. Parsing and validation are OS-neutral (the engine
//! checks a profile when a container is created); Linux compiles a profile
//! to BPF in `linux/seccomp.rs`.

use serde::Deserialize;

/// What the kernel does with a matching system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Allow,
    /// Fail with this errno.
    Errno(u32),
    Log,
    Trace(u32),
    Trap,
    KillThread,
    KillProcess,
}

/// How an argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

/// A condition on one argument of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub index: u8,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

/// When a rule applies (`includes`) or does not (`excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Capabilities (`CAP_…`) the container must all hold.
    pub caps: Vec<String>,
    /// Architectures in Go's names (`amd64`, `arm64`, …), any of them.
    pub arches: Vec<String>,
    /// The running kernel is at least this version.
    pub min_kernel: Option<(u32, u32)>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// System calls by name, an action, and conditions on their arguments (all
/// must hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<Arg>,
    pub includes: Filter,
    pub excludes: Filter,
}

impl Rule {
    /// `action` for `names`, unconditionally.
    pub fn new(names: &[&str], action: Action) -> Rule {
        Rule {
            names: names.iter().map(|s| s.to_string()).collect(),
            action,
            args: vec![],
            includes: Filter::default(),
            excludes: Filter::default(),
        }
    }
}

/// A whole profile: the action for calls no rule matches, and the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default_action: Action,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    // Accepted and not needed: the filter is for the native architecture.
    #[serde(default)]
    #[allow(dead_code)]
    architectures: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    arch_map: Option<serde_json::Value>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// The older single-name form.
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    #[serde(default)]
    includes: Option<RawFilter>,
    #[serde(default)]
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    #[serde(default)]
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn action(name: &str, errno: Option<u32>, default_errno: u32) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(default_errno)),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(default_errno)),
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_NOTIFY" => {
            return Err(
                "action SCMP_ACT_NOTIFY needs a seccomp agent, which kleene does not run".into(),
            )
        }
        other => return Err(format!("unknown action '{other}'")),
    })
}

fn op(name: &str) -> Result<Op, String> {
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        other => return Err(format!("unknown comparison '{other}'")),
    })
}

fn kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

fn filter(raw: Option<RawFilter>) -> Result<Filter, String> {
    let raw = raw.unwrap_or_default();
    let caps = raw.caps.unwrap_or_default();
    for c in &caps {
        if super::security::CapSet::number(c).is_none() {
            return Err(format!("unknown capability '{c}'"));
        }
    }
    Ok(Filter {
        caps,
        arches: raw.arches.unwrap_or_default(),
        min_kernel: match raw.min_kernel {
            None => None,
            Some(k) if k.is_empty() => None,
            Some(k) => Some(kernel_version(&k).ok_or_else(|| format!("invalid minKernel '{k}'"))?),
        },
    })
}

impl Profile {
    /// Parse a profile in Docker's JSON format. Errors say where (JSON line
    /// and column, or the rule's index) and what.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let raw: RawProfile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if let Some(p) = raw.listener_path.filter(|p| !p.is_empty()) {
            return Err(format!(
                "listenerPath '{p}': seccomp agents are not supported"
            ));
        }
        for f in raw.flags.unwrap_or_default() {
            // The only flags Docker's profiles use; all of them are about
            // logging or thread sync, which do not change what is allowed.
            if !matches!(
                f.as_str(),
                "SECCOMP_FILTER_FLAG_TSYNC"
                    | "SECCOMP_FILTER_FLAG_LOG"
                    | "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
            ) {
                return Err(format!("unknown flag '{f}'"));
            }
        }
        let default_errno = raw.default_errno_ret.unwrap_or(libc::EPERM as u32);
        let default_action = action(&raw.default_action, None, default_errno)
            .map_err(|e| format!("defaultAction: {e}"))?;
        let mut rules = Vec::new();
        for (i, r) in raw.syscalls.unwrap_or_default().into_iter().enumerate() {
            let at = |e: String| format!("syscalls[{i}]: {e}");
            let mut names = r.names.unwrap_or_default();
            names.extend(r.name);
            if names.is_empty() {
                return Err(at("no system call names".into()));
            }
            let args = r
                .args
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    if a.index > 5 {
                        return Err(format!("argument index {} is not 0 to 5", a.index));
                    }
                    Ok(Arg {
                        index: a.index as u8,
                        op: op(&a.op)?,
                        value: a.value,
                        value_two: a.value_two,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(at)?;
            rules.push(Rule {
                names,
                action: action(&r.action, r.errno_ret, default_errno).map_err(at)?,
                args,
                includes: filter(r.includes).map_err(at)?,
                excludes: filter(r.excludes).map_err(at)?,
            });
        }
        Ok(Profile {
            default_action,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_shapes() {
        let p = Profile::parse(
            r#"{
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 1,
              "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
              "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "socket", "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(p.default_action, Action::Errno(1));
        assert_eq!(p.rules.len(), 4);
        assert_eq!(p.rules[1].names, vec!["socket"]);
        assert_eq!(p.rules[1].args[0].op, Op::Ne);
        assert_eq!(p.rules[2].action, Action::Errno(38));
        assert_eq!(p.rules[2].excludes.caps, vec!["CAP_SYS_ADMIN"]);
        assert_eq!(p.rules[3].includes.min_kernel, Some((4, 8)));
    }

    #[test]
    fn errors_say_where() {
        let e = Profile::parse("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [}")
            .unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = Profile::parse(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).unwrap_err();
        assert_eq!(e, "defaultAction: unknown action 'SCMP_ACT_NOPE'");
        let e = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["b"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e, "syscalls[1]: argument index 7 is not 0 to 5");
        let e = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_WIZARDRY"]}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e, "syscalls[0]: unknown capability 'CAP_WIZARDRY'");
    }
}
