//! The device allow list on cgroup v2: v2 has no `devices` files; the
//! kernel asks an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`
//! attached to the group instead (as runc and crun do). The rules are first
//! folded the way the v1 controller keeps them (a default and exceptions),
//! then compiled to a few instructions per exception, loaded with bpf(2)
//! and attached to the container's group.
//!
//! Written by hand rather than with a BPF crate: the program is a fixed
//! shape of plain compare-and-jump instructions, and the crates that
//! assemble BPF (aya, libbpf-rs) bring an ELF loader or a C toolchain for
//! what is here a few dozen lines.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::platform::bundle::DeviceRule;
use crate::platform::{Error, Result};

/// The v1 controller's state after a list of rules: the default, and
/// exceptions to it as (type `c`/`b`, major, minor, access bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub allow_by_default: bool,
    pub exceptions: Vec<(char, Option<i64>, Option<i64>, u32)>,
}

/// `r`, `w`, `m` → BPF_DEVCG_ACC_READ (2), _WRITE (4), _MKNOD (1).
fn access_bits(access: &str) -> u32 {
    access.chars().fold(0, |a, c| {
        a | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

/// Apply `rules` in order as the v1 controller does: an `a` rule sets the
/// default and clears the exceptions; a rule against the default adds an
/// exception; a rule with the default takes its access away from the
/// exception for the same device.
pub fn fold(rules: &[DeviceRule]) -> Folded {
    let mut f = Folded {
        allow_by_default: true,
        exceptions: Vec::new(),
    };
    for r in rules {
        if r.kind == 'a' {
            f.allow_by_default = r.allow;
            f.exceptions.clear();
            continue;
        }
        let bits = access_bits(&r.access);
        let same = |e: &(char, Option<i64>, Option<i64>, u32)| {
            e.0 == r.kind && e.1 == r.major && e.2 == r.minor
        };
        if r.allow != f.allow_by_default {
            match f.exceptions.iter_mut().find(|e| same(e)) {
                Some(e) => e.3 |= bits,
                None => f.exceptions.push((r.kind, r.major, r.minor, bits)),
            }
        } else {
            for e in f.exceptions.iter_mut().filter(|e| same(e)) {
                e.3 &= !bits;
            }
            f.exceptions.retain(|e| e.3 != 0);
        }
    }
    f
}

/// One BPF instruction: opcode, registers (dst low, src high nibble),
/// offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | u64::from((src << 4) | (dst & 0xf)) << 8
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// The program for `f`. Its context is `struct bpf_cgroup_dev_ctx
/// { u32 access_type; u32 major; u32 minor; }`, `access_type` holding the
/// device type in its low 16 bits and the access in its high ones; it
/// returns 1 to allow, 0 to refuse (EPERM).
pub fn program(f: &Folded) -> Vec<u64> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),      // r2 = access_type
        insn(MOV_X, 3, 2, 0, 0),      // r3 = r2
        insn(AND_K, 3, 0, 0, 0xffff), // r3 = type
        insn(RSH_K, 2, 0, 0, 16),     // r2 = access
        insn(LDX_W, 4, 1, 4, 0),      // r4 = major
        insn(LDX_W, 5, 1, 8, 0),      // r5 = minor
    ];
    for &(kind, major, minor, bits) in &f.exceptions {
        let mut block: Vec<u64> = Vec::new();
        // Each jump to "next" is patched once the block's length is known.
        let mut to_next: Vec<usize> = Vec::new();
        let ty = if kind == 'b' { 1 } else { 2 };
        to_next.push(block.len());
        block.push(insn(JNE_K, 3, 0, 0, ty));
        for (reg, n) in [(4, major), (5, minor)] {
            if let Some(n) = n {
                to_next.push(block.len());
                block.push(insn(JNE_K, reg, 0, 0, n as i32));
            }
        }
        block.push(insn(MOV_X, 6, 2, 0, 0));
        if f.allow_by_default {
            // A refusal when any asked access is one it refuses.
            block.push(insn(AND_K, 6, 0, 0, bits as i32));
            to_next.push(block.len());
            block.push(insn(JEQ_K, 6, 0, 0, 0));
            block.push(insn(MOV_K, 0, 0, 0, 0));
        } else {
            // Allowed when every asked access is one it grants.
            block.push(insn(AND_K, 6, 0, 0, (!bits & 7) as i32));
            to_next.push(block.len());
            block.push(insn(JNE_K, 6, 0, 0, 0));
            block.push(insn(MOV_K, 0, 0, 0, 1));
        }
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for i in to_next {
            let off = (len - i - 1) as i16;
            block[i] = (block[i] & !(0xffff << 16)) | u64::from(off as u16) << 16;
        }
        p.extend(block);
    }
    p.push(insn(MOV_K, 0, 0, 0, i32::from(f.allow_by_default)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> std::io::Result<i32> {
    // SAFETY: a zero-padded bpf_attr of the size given.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

fn put(attr: &mut [u8; 128], at: usize, bytes: &[u8]) {
    attr[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Load `insns` as a device program; the verifier's log in the error.
fn load(insns: &[u64]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut attr = [0u8; 128];
    put(&mut attr, 0, &BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    put(&mut attr, 4, &(insns.len() as u32).to_ne_bytes());
    put(&mut attr, 8, &(insns.as_ptr() as u64).to_ne_bytes());
    put(&mut attr, 16, &(license.as_ptr() as u64).to_ne_bytes());
    put(&mut attr, 24, &1u32.to_ne_bytes()); // log_level
    put(&mut attr, 28, &(log.len() as u32).to_ne_bytes());
    put(&mut attr, 32, &(log.as_mut_ptr() as u64).to_ne_bytes());
    put(&mut attr, 48, b"kleene_devices");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a fresh fd from the kernel.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            Err(Error::Failed(format!(
                "cannot load the device filter (bpf): {e}{}{}",
                if end > 0 { ": " } else { "" },
                String::from_utf8_lossy(&log[..end]).trim()
            )))
        }
    }
}

/// Can this kernel load device programs (and we may)? Asked once.
pub fn available() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        load(&program(&Folded {
            allow_by_default: true,
            exceptions: vec![],
        }))
        .is_ok()
    })
}

/// Attach the program for `rules` to the v2 group at `dir`. Other
/// programs attached there (a parent's) still apply: the kernel allows a
/// device only if every one of them does.
pub fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let prog = load(&program(&fold(rules)))?;
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Failed(format!("bad path '{}'", dir.display())))?;
    // SAFETY: a valid path; the fd is ours.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::io(
            "cannot open",
            dir,
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fresh fd.
    let group = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut attr = [0u8; 128];
    put(&mut attr, 0, &(group.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 4, &(prog.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 8, &BPF_CGROUP_DEVICE.to_ne_bytes());
    put(&mut attr, 12, &BPF_F_ALLOW_MULTI.to_ne_bytes());
    // The attachment holds the program: our fds may close.
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(drop)
        .map_err(|e| Error::io("cannot attach the device filter to", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    /// Run the program on (type, major, minor, access) as the kernel would.
    fn eval(p: &[u64], ty: u32, major: u32, minor: u32, access: u32) -> u64 {
        let ctx = [ty | (access << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (code, dst, src) = (
                i as u8,
                ((i >> 8) & 0xf) as usize,
                ((i >> 12) & 0xf) as usize,
            );
            let off = (i >> 16) as u16 as i16;
            let imm = (i >> 32) as u32 as i32 as i64 as u64;
            pc += 1;
            match code {
                LDX_W => r[dst] = u64::from(ctx[off as usize / 4]),
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = imm,
                AND_K => r[dst] &= imm,
                RSH_K => r[dst] >>= imm,
                JNE_K if r[dst] != imm => pc = (pc as i64 + off as i64) as usize,
                JEQ_K if r[dst] == imm => pc = (pc as i64 + off as i64) as usize,
                JNE_K | JEQ_K => {}
                EXIT => return r[0],
                _ => panic!("unknown opcode {code:#x}"),
            }
        }
    }

    #[test]
    fn a_deny_all_list_allows_only_its_exceptions() {
        let rules = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(136), None, "rw"),
            rule(true, 'c', None, None, "m"),
        ];
        let p = program(&fold(&rules));
        let (c, b) = (2, 1);
        assert_eq!(eval(&p, c, 1, 3, 2 | 4), 1, "null rw");
        assert_eq!(eval(&p, c, 1, 5, 2), 0, "zero is not listed");
        assert_eq!(eval(&p, c, 136, 7, 2 | 4), 1, "any pty");
        assert_eq!(
            eval(&p, c, 136, 7, 1 | 2),
            0,
            "mknod and read: no one rule grants both"
        );
        assert_eq!(eval(&p, c, 7, 0, 1), 1, "mknod of any char device");
        assert_eq!(eval(&p, c, 7, 0, 2), 0, "but no reading it");
        assert_eq!(eval(&p, b, 8, 0, 2), 0, "no block devices");
    }

    #[test]
    fn an_allow_all_list_refuses_its_exceptions_and_later_rules_take_away() {
        let rules = [
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'b', Some(8), None, "w"),
            rule(false, 'c', Some(1), Some(1), "rwm"),
            // Allowing with the default removes that access from the exception.
            rule(true, 'c', Some(1), Some(1), "r"),
        ];
        let f = fold(&rules);
        assert_eq!(
            f.exceptions,
            vec![('b', Some(8), None, 4), ('c', Some(1), Some(1), 5)]
        );
        let p = program(&f);
        assert_eq!(eval(&p, 1, 8, 1, 2), 1, "reading a disk");
        assert_eq!(eval(&p, 1, 8, 1, 2 | 4), 0, "writing one");
        assert_eq!(eval(&p, 2, 1, 1, 2), 1, "reading /dev/mem, allowed again");
        assert_eq!(eval(&p, 2, 1, 1, 4), 0);
        assert_eq!(eval(&p, 2, 4, 1, 6), 1);
        // A later "a" resets everything.
        let mut more = rules.to_vec();
        more.push(rule(false, 'a', None, None, "rwm"));
        assert_eq!(eval(&program(&fold(&more)), 2, 4, 1, 2), 0);
    }
}
