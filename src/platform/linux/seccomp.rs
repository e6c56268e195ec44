//! Seccomp filters from a container's policy. The policy is data: Kleene's
//! default (`seccomp_default.rs`) or a profile in Docker's JSON format.
//! Names become numbers through the `syscalls` crate's table for the
//! architecture we were built for; names it does not know (other
//! architectures' calls in Docker's profiles) are skipped, as runc does.
//! The program is laid out by `bpf.rs` (a search tree over call numbers;
//! see there why not seccompiler's linear chain, which the tests use as
//! the reference). Compiled in the parent, before the container's process
//! exists, so a bad profile fails the start with a message and nothing
//! made.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::bpf::{self, Check, Decision, Insn};
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

/// The BPF programs to load, in order (none when unconfined).
#[derive(Debug, Clone, Default)]
pub struct Filters(Vec<Vec<Insn>>);

impl Filters {
    /// The programs as one message: per program its instruction count
    /// (u32, native order) and instructions. A container's child gets them
    /// with its go, so compiling runs while the child sets itself up.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.0.iter().map(|p| 4 + p.len() * 8).sum::<usize>());
        out.extend_from_slice(&(self.0.len() as u32).to_ne_bytes());
        for prog in &self.0 {
            out.extend_from_slice(&(prog.len() as u32).to_ne_bytes());
            for i in prog {
                out.extend_from_slice(&i.code.to_ne_bytes());
                out.push(i.jt);
                out.push(i.jf);
                out.extend_from_slice(&i.k.to_ne_bytes());
            }
        }
        out
    }

    /// Read what `to_bytes` wrote (None: cut short or malformed).
    pub fn from_bytes(mut b: &[u8]) -> Option<Filters> {
        fn u32_at(b: &mut &[u8]) -> Option<u32> {
            let (head, rest) = b.split_first_chunk::<4>()?;
            *b = rest;
            Some(u32::from_ne_bytes(*head))
        }
        let n = u32_at(&mut b)?;
        let mut progs = Vec::new();
        for _ in 0..n {
            let len = u32_at(&mut b)? as usize;
            // The kernel takes at most BPF_MAXINSNS per program.
            if len > 4096 || b.len() < len * 8 {
                return None;
            }
            let prog = b[..len * 8]
                .chunks_exact(8)
                .map(|c| Insn {
                    code: u16::from_ne_bytes([c[0], c[1]]),
                    jt: c[2],
                    jf: c[3],
                    k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
                })
                .collect();
            b = &b[len * 8..];
            progs.push(prog);
        }
        b.is_empty().then_some(Filters(progs))
    }
}

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

/// The audit architecture of our own system calls.
fn native_arch() -> Result<u32, String> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(0xc000_003e),
        "aarch64" => Ok(0xc000_00b7),
        "riscv64" => Ok(0xc000_00f3),
        other => Err(format!("seccomp filters are not supported on {other}")),
    }
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
    // Per call number: conditional alternatives in order, then the first
    // unconditional action (else the default).
    let mut calls: BTreeMap<u32, Decision> = BTreeMap::new();
    for e in list {
        let Ok(nr) = syscalls::Sysno::from_str(e.name) else {
            continue;
        };
        let d = calls
            .entry(nr.id() as u32)
            .or_insert_with(|| Decision::always(default));
        let unset = d.otherwise == default;
        if e.conds.is_empty() {
            if unset {
                d.otherwise = e.action;
            }
        } else {
            let checks = e
                .conds
                .iter()
                .map(|c| Check {
                    index: c.index,
                    op: c.op,
                    value: c.value,
                    value_two: c.value_two,
                    dword: c.dword,
                })
                .collect();
            d.alternatives.push((checks, e.action));
        }
    }
    let calls: Vec<(u32, Decision)> = calls
        .into_iter()
        .filter(|(_, d)| !(d.alternatives.is_empty() && d.otherwise == default))
        .collect();
    let prog = bpf::program(arch, std::env::consts::ARCH == "x86_64", &calls, default);
    if prog.len() > 4096 {
        return Err(format!(
            "the seccomp filter has {} instructions; the kernel takes at most 4096",
            prog.len()
        ));
    }
    Ok(Filters(vec![prog]))
}

/// Load the filters into this process (and what it execs). The caller
/// holds CAP_SYS_ADMIN or has set no_new_privs (which is the container's
/// choice: setuid programs such as su must keep working by default).
pub fn load(f: &Filters) -> CResult<()> {
    for prog in &f.0 {
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
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
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    /// The same policy through seccompiler, as the kernel would combine
    /// its filters (one per action; the most restrictive answer wins):
    /// the reference the tree layout is checked against.
    fn reference(default: Action, list: &[Entry]) -> Vec<Vec<Insn>> {
        let act = |a: Action| match a {
            Action::Allow => SeccompAction::Allow,
            Action::Errno(e) => SeccompAction::Errno(e),
            Action::Log => SeccompAction::Log,
            Action::Trace(t) => SeccompAction::Trace(t),
            Action::Trap => SeccompAction::Trap,
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
        };
        let cond = |c: &Cond| {
            let len = if c.dword {
                SeccompCmpArgLen::Dword
            } else {
                SeccompCmpArgLen::Qword
            };
            let (op, v) = match c.op {
                Op::Ne => (SeccompCmpOp::Ne, c.value),
                Op::Lt => (SeccompCmpOp::Lt, c.value),
                Op::Le => (SeccompCmpOp::Le, c.value),
                Op::Eq => (SeccompCmpOp::Eq, c.value),
                Op::Ge => (SeccompCmpOp::Ge, c.value),
                Op::Gt => (SeccompCmpOp::Gt, c.value),
                Op::MaskedEq => (SeccompCmpOp::MaskedEq(c.value), c.value_two),
            };
            SeccompCondition::new(c.index, len, op, v).unwrap()
        };
        type Rules = BTreeMap<i64, Option<Vec<SeccompRule>>>;
        let add = |r: &mut Rules, nr: i64, conds: &[Cond]| {
            let slot = r.entry(nr).or_insert_with(|| Some(vec![]));
            if conds.is_empty() {
                *slot = None;
            } else if let Some(v) = slot {
                v.push(SeccompRule::new(conds.iter().map(cond).collect()).unwrap());
            }
        };
        let mut listed: Rules = BTreeMap::new();
        let mut by: BTreeMap<Action, Rules> = BTreeMap::new();
        for e in list.iter().filter(|e| e.action != default) {
            let Ok(nr) = syscalls::Sysno::from_str(e.name) else {
                continue;
            };
            add(&mut listed, nr.id() as i64, &e.conds);
            add(by.entry(e.action).or_default(), nr.id() as i64, &e.conds);
        }
        let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap();
        let prog = |r: Rules, miss: Action, hit: Action| -> Vec<Insn> {
            let map = r
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
            let p: seccompiler::BpfProgram = SeccompFilter::new(map, act(miss), act(hit), arch)
                .unwrap()
                .try_into()
                .unwrap();
            p.iter()
                .map(|i| Insn {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect()
        };
        let mut out = vec![];
        if default != Action::Allow {
            out.push(prog(listed, default, Action::Allow));
        }
        for (a, r) in by {
            if a != Action::Allow {
                out.push(prog(r, Action::Allow, a));
            }
        }
        out
    }

    /// The kernel's combination: the lowest action value wins (KILL_PROCESS
    /// is the most negative).
    fn combined(progs: &[Vec<Insn>], nr: u32, args: [u64; 6]) -> u32 {
        let arch = native_arch().unwrap();
        progs
            .iter()
            .map(|p| bpf::eval(p, arch, nr, args))
            .min_by_key(|k| *k as i32)
            .unwrap_or(0x7fff_0000)
    }

    fn arg_patterns() -> Vec<[u64; 6]> {
        let mut v = vec![[0; 6]];
        for x in [
            1,
            8,
            40,
            41,
            0x20000,
            0x20008,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0028,
            0x1000_0000,
            0x4000_0000,
            0x0002_0000,
            0x7e02_0000,
            0x11,
            u64::MAX,
        ] {
            v.push([x, x, x, 0, 0, 0]);
            v.push([0, x, 0, 0, 0, 0]);
        }
        v
    }

    fn same_as_reference(default: Action, list: &[Entry]) {
        let ours = compile_entries(default, list).unwrap();
        let theirs = reference(default, list);
        for nr in 0..600u32 {
            for args in arg_patterns() {
                assert_eq!(
                    combined(&ours.0, nr, args),
                    combined(&theirs, nr, args),
                    "call {nr}, args {args:x?}"
                );
            }
        }
    }

    #[test]
    fn default_policy_decides_as_seccompiler_would() {
        for (caps, debug) in [
            (CapSet::default_set(), true),
            (CapSet::default_set(), false),
            (CapSet::all(), true),
            (CapSet::empty(), true),
        ] {
            let (default, list) = seccomp_default::policy(caps, debug);
            same_as_reference(default, &list);
        }
    }

    #[test]
    fn comparisons_of_every_kind_and_width() {
        let mut list = vec![];
        for (name, op) in [
            ("read", Op::Eq),
            ("write", Op::Ne),
            ("open", Op::Lt),
            ("close", Op::Le),
            ("stat", Op::Gt),
            ("fstat", Op::Ge),
        ] {
            for dword in [true, false] {
                for v in [0x28u64, 0x1_0000_0000, 0xffff_ffff] {
                    list.push(Entry {
                        name,
                        action: Action::Allow,
                        conds: vec![Cond {
                            index: 1,
                            op,
                            value: v,
                            value_two: 0,
                            dword,
                        }],
                    });
                }
            }
        }
        list.push(Entry {
            name: "mmap",
            action: Action::Errno(13),
            conds: vec![Cond::masked_eq(0, 0x7e02_0000, 0), Cond::ne(1, 8)],
        });
        list.push(Entry {
            name: "lstat",
            action: Action::Trap,
            conds: vec![Cond {
                dword: false,
                ..Cond::masked_eq(0, 0x1_0000_00ff, 0x1_0000_0011)
            }],
        });
        same_as_reference(Action::Errno(1), &list);
        same_as_reference(Action::Allow, &list);
    }

    #[test]
    fn default_policy_is_small_and_refuses_what_it_must() {
        let f = compile(&SecurityProfile::default()).unwrap();
        assert_eq!(f.0.len(), 1);
        assert!(f.len() < 1000, "{} instructions", f.len());
        let p = SecurityProfile {
            seccomp: SeccompPolicy::Unconfined,
            ..Default::default()
        };
        assert!(compile(&p).unwrap().is_empty());
        let arch = native_arch().unwrap();
        let nr = |n: &str| syscalls::Sysno::from_str(n).unwrap().id() as u32;
        let eperm = 0x0005_0001;
        let run = |n: &str, args: [u64; 6]| bpf::eval(&f.0[0], arch, nr(n), args);
        assert_eq!(run("keyctl", [0; 6]), eperm);
        assert_eq!(run("read", [0; 6]), 0x7fff_0000);
        assert_eq!(run("clone3", [0; 6]), 0x0005_0000 | libc::ENOSYS as u32);
        assert_eq!(run("socket", [40, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(run("socket", [2, 0, 0, 0, 0, 0]), 0x7fff_0000);
        assert_eq!(run("clone", [0x1000_0000, 0, 0, 0, 0, 0]), eperm);
        assert_eq!(run("clone", [0x11, 0, 0, 0, 0, 0]), 0x7fff_0000);
        // Another architecture is killed; x32 numbers refused.
        assert_eq!(bpf::eval(&f.0[0], 0x4000_0003, 0, [0; 6]), 0x8000_0000);
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(bpf::eval(&f.0[0], arch, 0x4000_0000, [0; 6]), eperm);
        }
    }

    #[test]
    fn filters_survive_the_trip_to_the_child() {
        let f = compile(&SecurityProfile::default()).unwrap();
        let b = f.to_bytes();
        let back = Filters::from_bytes(&b).unwrap();
        assert_eq!(back.to_bytes(), b);
        assert_eq!(back.len(), f.len());
        assert!(Filters::from_bytes(&Filters::default().to_bytes())
            .unwrap()
            .is_empty());
        // Cut short, with a byte too many, or an impossible length: refused.
        assert!(Filters::from_bytes(&b[..b.len() - 1]).is_none());
        assert!(Filters::from_bytes(&[b.as_slice(), &[0]].concat()).is_none());
        assert!(Filters::from_bytes(&[1, 0, 0, 0, 0xff, 0xff, 0, 0]).is_none());
        assert!(Filters::from_bytes(&[]).is_none());
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
        same_as_reference(prof.default_action, &list);
        let mut admin = CapSet::default_set();
        admin.insert(21);
        let names: Vec<String> = entries(&prof, admin)
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        assert!(names.contains(&"mount".to_string()) && !names.contains(&"clone3".to_string()));
    }
}
