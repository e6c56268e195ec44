//! Seccomp filters from a container's policy, by `seccompiler` (rust-vmm's
//! pure-Rust BPF compiler, used by Firecracker): no C library to link into
//! the static binary, and the filter is plain data we can test. Names
//! become numbers through the `syscalls` crate's table for the architecture
//! we were built for; names it does not know (other architectures' calls
//! in Docker's profiles) are skipped, as runc does.
//!
//! seccompiler gives a filter one action on match and one on mismatch. A
//! profile with several actions becomes several filters, which the kernel
//! runs together and whose most restrictive answer wins: one filter allows
//! every listed call and applies the default action to the rest, and one
//! filter per other action applies it to its calls and allows the rest.
//! Compiled in the parent, before the container's process exists, so a
//! bad profile fails the start with a message and nothing made.

use std::collections::BTreeMap;
use std::str::FromStr;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use super::seccomp_default;
use super::sys::CResult;
use crate::platform::seccomp::{Action, Filter, Op, Profile};
use crate::platform::security::{CapSet, SeccompPolicy, SecurityProfile};

/// A condition on one argument, with the width the kernel reads it at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    index: u8,
    op: Op,
    value: u64,
    value_two: u64,
    /// Compare the low 32 bits only (the argument is an int).
    dword: bool,
}

impl Cond {
    pub fn eq(index: u8, value: u64) -> Cond {
        Cond {
            index,
            op: Op::Eq,
            value,
            value_two: 0,
            dword: true,
        }
    }
    pub fn ne(index: u8, value: u64) -> Cond {
        Cond {
            op: Op::Ne,
            ..Cond::eq(index, value)
        }
    }
    /// `(arg & mask) == value`.
    pub fn masked_eq(index: u8, mask: u64, value: u64) -> Cond {
        Cond {
            op: Op::MaskedEq,
            value: mask,
            value_two: value,
            ..Cond::eq(index, 0)
        }
    }
}

/// One system call by name, what to do with it, and when (all conditions).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub action: Action,
    pub conds: Vec<Cond>,
}

/// The BPF programs to load, in order.
#[derive(Debug, Clone, Default)]
pub struct Filters(Vec<BpfProgram>);

#[cfg(test)]
impl Filters {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Instructions in all programs (for tests and the bench).
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }
}

fn native_arch() -> Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        format!(
            "seccomp filters are not supported on {}",
            std::env::consts::ARCH
        )
    })
}

/// Go's name of our architecture, as Docker's profiles say it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn kernel_version() -> (u32, u32) {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own.
    unsafe { libc::uname(&mut u) };
    // SAFETY: uname NUL-terminates release.
    let r = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy();
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Does a rule's includes/excludes filter hold for this container?
fn holds(f: &Filter, caps: CapSet, kernel: (u32, u32)) -> bool {
    f.caps.iter().all(|c| caps.has_named(c))
        && (f.arches.is_empty() || f.arches.iter().any(|a| a == go_arch()))
        && f.min_kernel.is_none_or(|k| kernel >= k)
}

/// A Docker-format profile's entries for this container (its capabilities
/// decide `includes.caps`/`excludes.caps`, as Docker does).
fn entries(p: &Profile, caps: CapSet) -> Vec<Entry<'_>> {
    let kernel = kernel_version();
    let mut out = Vec::new();
    for r in &p.rules {
        if !holds(&r.includes, caps, kernel) {
            continue;
        }
        if !r.excludes.is_empty() && excluded(&r.excludes, caps, kernel) {
            continue;
        }
        let conds: Vec<Cond> = r
            .args
            .iter()
            .map(|a| Cond {
                index: a.index,
                op: a.op,
                value: a.value,
                value_two: a.value_two,
                // Docker's profiles compare whole registers (libseccomp).
                dword: false,
            })
            .collect();
        out.extend(r.names.iter().map(|n| Entry {
            name: n,
            action: r.action,
            conds: conds.clone(),
        }));
    }
    out
}

/// `excludes` applies when any of its conditions holds.
fn excluded(f: &Filter, caps: CapSet, kernel: (u32, u32)) -> bool {
    f.caps.iter().any(|c| caps.has_named(c))
        || f.arches.iter().any(|a| a == go_arch())
        || f.min_kernel.is_some_and(|k| kernel >= k)
}

fn action(a: Action) -> SeccompAction {
    match a {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(e) => SeccompAction::Errno(e),
        Action::Log => SeccompAction::Log,
        Action::Trace(t) => SeccompAction::Trace(t),
        Action::Trap => SeccompAction::Trap,
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
    }
}

fn condition(c: &Cond) -> Result<SeccompCondition, String> {
    let len = if c.dword {
        SeccompCmpArgLen::Dword
    } else {
        SeccompCmpArgLen::Qword
    };
    let (op, value) = match c.op {
        Op::Ne => (SeccompCmpOp::Ne, c.value),
        Op::Lt => (SeccompCmpOp::Lt, c.value),
        Op::Le => (SeccompCmpOp::Le, c.value),
        Op::Eq => (SeccompCmpOp::Eq, c.value),
        Op::Ge => (SeccompCmpOp::Ge, c.value),
        Op::Gt => (SeccompCmpOp::Gt, c.value),
        Op::MaskedEq => (SeccompCmpOp::MaskedEq(c.value), c.value_two),
    };
    SeccompCondition::new(c.index, len, op, value).map_err(|e| format!("seccomp condition: {e}"))
}

/// Rules of one filter: per call number, the alternatives (empty = always).
type Rules = BTreeMap<i64, Option<Vec<Vec<Cond>>>>;

fn add(rules: &mut Rules, nr: i64, conds: &[Cond]) {
    let slot = rules.entry(nr).or_insert_with(|| Some(vec![]));
    match slot {
        // Already unconditional: nothing narrows it.
        None => {}
        Some(alts) if conds.is_empty() => {
            let _ = alts;
            *slot = None;
        }
        Some(alts) => alts.push(conds.to_vec()),
    }
}

fn program(
    rules: Rules,
    on_mismatch: Action,
    on_match: Action,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let mut map = BTreeMap::new();
    for (nr, alts) in rules {
        let chain = match alts {
            None => vec![],
            Some(alts) => alts
                .iter()
                .map(|conds| {
                    SeccompRule::new(conds.iter().map(condition).collect::<Result<_, _>>()?)
                        .map_err(|e| format!("seccomp rule: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()?,
        };
        map.insert(nr, chain);
    }
    let f = SeccompFilter::new(map, action(on_mismatch), action(on_match), arch)
        .map_err(|e| format!("seccomp filter: {e}"))?;
    let mut prog: BpfProgram = f.try_into().map_err(|e| format!("seccomp filter: {e}"))?;
    refuse_x32(&mut prog);
    Ok(prog)
}

/// On x86_64, x32 calls carry the native architecture and a number with
/// bit 30 set; no rule names them, and a filter that allows what it does
/// not name must not let them through. Inserted right after seccompiler's
/// architecture check (three instructions), before the number is tested.
fn refuse_x32(prog: &mut BpfProgram) {
    if std::env::consts::ARCH != "x86_64" || prog.len() < 3 {
        return;
    }
    const LD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    let guard = [
        sock_filter {
            code: LD_NR,
            jt: 0,
            jf: 0,
            k: 0,
        },
        sock_filter {
            code: JGE,
            jt: 0,
            jf: 1,
            k: 0x4000_0000,
        },
        sock_filter {
            code: RET,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::EPERM as u32,
        },
    ];
    prog.splice(3..3, guard);
}

/// The filters for `p`, or none when it is unconfined.
pub fn compile(p: &SecurityProfile) -> Result<Filters, String> {
    let (default, list): (Action, Vec<Entry>) = match &p.seccomp {
        SeccompPolicy::Unconfined => return Ok(Filters::default()),
        SeccompPolicy::Default => seccomp_default::policy(p.capabilities, p.proc_debug),
        SeccompPolicy::Custom(prof) => (prof.default_action, entries(prof, p.capabilities)),
    };
    compile_entries(default, &list)
}

fn compile_entries(default: Action, list: &[Entry]) -> Result<Filters, String> {
    let arch = native_arch()?;
    // Listed calls (with their conditions), by action.
    let mut by_action: BTreeMap<Action, Rules> = BTreeMap::new();
    let mut listed: Rules = BTreeMap::new();
    for e in list {
        if e.action == default {
            continue;
        }
        let Ok(nr) = syscalls::Sysno::from_str(e.name) else {
            continue;
        };
        let nr = nr.id() as i64;
        add(&mut listed, nr, &e.conds);
        add(by_action.entry(e.action).or_default(), nr, &e.conds);
    }
    let mut out = Vec::new();
    if default != Action::Allow {
        out.push(program(listed, default, Action::Allow, arch)?);
    }
    for (a, rules) in by_action {
        if a != Action::Allow {
            out.push(program(rules, Action::Allow, a, arch)?);
        }
    }
    Ok(Filters(out))
}

/// Load the filters into this process (and what it execs). The caller
/// holds CAP_SYS_ADMIN or has set no_new_privs. Loaded with seccomp(2)
/// directly: seccompiler's loader always sets no_new_privs, which would
/// make `--security-opt no-new-privileges` the only way to run and break
/// setuid programs (su, sudo) in every container.
pub fn load(f: &Filters) -> CResult<()> {
    for prog in &f.0 {
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            // seccompiler's sock_filter has the kernel's layout (repr(C)).
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: a valid program that outlives the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            return Err(format!(
                "load seccomp filter: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::seccomp::Profile;

    #[test]
    fn default_policy_compiles_small() {
        let f = compile(&SecurityProfile::default()).unwrap();
        // The allow-list filter and the ENOSYS one (clone3, io_uring).
        assert_eq!(f.0.len(), 2);
        assert!(f.len() < 4096, "{} instructions", f.len());
        let p = SecurityProfile {
            seccomp: SeccompPolicy::Unconfined,
            ..Default::default()
        };
        assert!(compile(&p).unwrap().is_empty());
    }

    #[test]
    fn docker_profile_with_caps_and_unknown_names() {
        let prof = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "no_such_call", "chown32"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["getpid"], "action": "SCMP_ACT_LOG"}]}"#,
        )
        .unwrap();
        let list = entries(&prof, CapSet::default_set());
        let names: Vec<&str> = list.iter().map(|e| e.name).collect();
        assert!(!names.contains(&"mount") && names.contains(&"clone3"));
        let f = compile_entries(prof.default_action, &list).unwrap();
        // Allow-list + ENOSYS + LOG.
        assert_eq!(f.0.len(), 3);
        let mut admin = CapSet::default_set();
        admin.insert(21);
        let names: Vec<String> = entries(&prof, admin)
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        assert!(names.contains(&"mount".to_string()) && !names.contains(&"clone3".to_string()));
    }

    #[test]
    fn x32_guard_follows_the_arch_check() {
        let f = compile(&SecurityProfile::default()).unwrap();
        if std::env::consts::ARCH == "x86_64" {
            let p = &f.0[0];
            assert_eq!(p[3].code, 0x20);
            assert_eq!(p[4].k, 0x4000_0000);
            assert_eq!(p[5].k, 0x0005_0001);
        }
    }
}
