//! Kleene's default seccomp policy, as data: an allow-list with the intent
//! of Docker's default profile. Everything not listed fails with EPERM;
//! calls that only a capability makes useful are allowed with that
//! capability; a few are allowed for some arguments only.
//!
//! Not allowed to a default container, by design: the kernel keyring
//! (`keyctl`, `add_key`, `request_key`), `kexec_*`, module loading,
//! `reboot`, `swapon`/`swapoff`, mounting and namespaces (`mount`,
//! `umount2`, `pivot_root`, `unshare`, `setns`, namespace flags of `clone`)
//! without CAP_SYS_ADMIN, `open_by_handle_at` (the "shocker" escape)
//! without CAP_DAC_READ_SEARCH, `bpf`, `perf_event_open`, `userfaultfd`,
//! clock setting, `acct`, `AF_VSOCK` sockets, exotic `personality`
//! values, and `io_uring` (a large attack surface; programs fall back to
//! epoll on ENOSYS).

use super::seccomp::{Cond, Entry};
use crate::platform::seccomp::Action;
use crate::platform::security::CapSet;

/// Calls every program needs, harmless whatever the arguments.
#[rustfmt::skip]
const EVERYDAY: &[&str] = &[
    // Files and directories.
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "fchownat", "lchown", "close", "close_range", "creat", "dup",
    "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync", "ftruncate", "truncate", "getcwd",
    "getdents", "getdents64", "link", "linkat", "lseek", "mkdir", "mkdirat", "mknod", "mknodat",
    "open", "openat", "openat2", "read", "readv", "pread64", "preadv", "preadv2", "write",
    "writev", "pwrite64", "pwritev", "pwritev2", "readlink", "readlinkat", "rename", "renameat",
    "renameat2", "rmdir", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
    "symlink", "symlinkat", "sync", "syncfs", "sync_file_range", "umask", "unlink", "unlinkat",
    "utime", "utimes", "utimensat", "futimesat", "fallocate", "fadvise64", "readahead",
    "copy_file_range", "sendfile", "splice", "tee", "vmsplice", "name_to_handle_at",
    "cachestat", "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
    "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
    "getxattrat", "setxattrat", "listxattrat", "removexattrat", "inotify_init",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "ioctl",
    // Memory.
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "mlock", "mlock2",
    "mlockall", "munlock", "munlockall", "msync", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "process_mrelease", "map_shadow_stack", "mseal",
    // Processes.
    "arch_prctl", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
    "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
    "getsid", "setsid", "getpriority", "setpriority", "sched_getaffinity", "sched_setaffinity",
    "sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_yield", "prctl", "prlimit64", "getrlimit", "setrlimit",
    "getrusage", "times", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
    "futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "restart_syscall",
    "pidfd_open", "pidfd_send_signal", "uname", "sysinfo", "getcpu", "getrandom", "capget",
    "capset", "seccomp", "ioprio_get", "ioprio_set", "modify_ldt", "landlock_create_ruleset",
    "landlock_add_rule", "landlock_restrict_self", "lsm_get_self_attr", "lsm_list_modules",
    // Users and groups (the kernel checks CAP_SETUID/SETGID).
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "setgroups", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "getresuid", "getresgid", "setfsuid",
    "setfsgid",
    // Signals.
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signalfd",
    "signalfd4", "pause", "alarm",
    // Time (reading; adjtimex and clock_adjtime only set with CAP_SYS_TIME).
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "getitimer", "setitimer", "timer_create", "timer_delete", "timer_gettime", "timer_settime",
    "timer_getoverrun", "timerfd_create", "timerfd_gettime", "timerfd_settime", "adjtimex",
    "clock_adjtime",
    // Waiting for events.
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "io_setup",
    "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    // System V and POSIX IPC (the container has its own IPC namespace).
    "pipe", "pipe2", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
    // Sockets (socket(2) itself is below: not AF_VSOCK).
    "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    "shutdown", "setsockopt", "getsockopt",
];

/// Calls allowed only to a container holding the capability.
#[rustfmt::skip]
const WITH_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "SYS_ADMIN",
        &[
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
            "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
            "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
            "setns", "syslog", "umount2", "unshare", "pivot_root", "statmount", "listmount",
            "open_tree_attr",
        ],
    ),
    ("SYS_BOOT", &["reboot"]),
    ("SYS_CHROOT", &["chroot"]),
    ("SYS_MODULE", &["init_module", "finit_module", "delete_module"]),
    ("SYS_PACCT", &["acct"]),
    (
        "SYS_PTRACE",
        &[
            "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
            "ptrace",
        ],
    ),
    ("SYS_RAWIO", &["iopl", "ioperm"]),
    ("SYS_TIME", &["settimeofday", "clock_settime"]),
    ("SYS_TTY_CONFIG", &["vhangup"]),
    (
        "SYS_NICE",
        &[
            "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node",
            "migrate_pages", "move_pages",
        ],
    ),
    ("SYSLOG", &["syslog"]),
    ("BPF", &["bpf"]),
    ("PERFMON", &["perf_event_open"]),
    ("DAC_READ_SEARCH", &["open_by_handle_at"]),
];

/// Debugging the container's own processes (jail's
/// `allow.unprivileged_proc_debug`); the kernel still refuses other
/// users' processes without CAP_SYS_PTRACE, and the pid namespace hides
/// everything outside.
const PROC_DEBUG: &[&str] = &["ptrace", "process_vm_readv", "process_vm_writev"];

/// Fail with ENOSYS rather than EPERM: callers treat it as "not
/// available here" and fall back (glibc's clone3 to clone, io_uring users
/// to epoll).
const NOT_HERE: &[&str] = &["io_uring_setup", "io_uring_enter", "io_uring_register"];

/// Namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
/// NEWUSER, NEWPID, NEWNET.
const CLONE_NAMESPACES: u64 = 0x7e02_0000;
const AF_VSOCK: u64 = 40;
/// personality(2) values programs use: PER_LINUX, UNAME26,
/// ADDR_NO_RANDOMIZE, both, and the query 0xffffffff.
const PERSONALITIES: [u64; 5] = [0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The default policy for a container holding `caps`: (default action,
/// entries by name).
pub fn policy(caps: CapSet, proc_debug: bool) -> (Action, Vec<Entry<'static>>) {
    let mut out: Vec<Entry> = Vec::with_capacity(400);
    let allow = |name: &'static str, conds: Vec<Cond>| Entry {
        name,
        action: Action::Allow,
        conds,
    };
    out.extend(EVERYDAY.iter().map(|n| allow(n, vec![])));
    for (cap, names) in WITH_CAPABILITY {
        if caps.has_named(cap) {
            out.extend(names.iter().map(|n| allow(n, vec![])));
        }
    }
    if proc_debug {
        out.extend(PROC_DEBUG.iter().map(|n| allow(n, vec![])));
    }
    let enosys = Action::Errno(libc::ENOSYS as u32);
    out.extend(NOT_HERE.iter().map(|n| Entry {
        name: n,
        action: enosys,
        conds: vec![],
    }));
    if !caps.has_named("SYS_ADMIN") {
        out.push(allow(
            "clone",
            vec![Cond::masked_eq(0, CLONE_NAMESPACES, 0)],
        ));
        out.push(Entry {
            name: "clone3",
            action: enosys,
            conds: vec![],
        });
    }
    out.push(allow("socket", vec![Cond::ne(0, AF_VSOCK)]));
    out.extend(
        PERSONALITIES
            .iter()
            .map(|&v| allow("personality", vec![Cond::eq(0, v)])),
    );
    (Action::Errno(libc::EPERM as u32), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_open_their_calls() {
        let names = |caps: CapSet, debug: bool| -> Vec<&str> {
            policy(caps, debug)
                .1
                .iter()
                .filter(|e| e.action == Action::Allow && e.conds.is_empty())
                .map(|e| e.name)
                .collect()
        };
        let d = names(CapSet::default_set(), true);
        for denied in [
            "keyctl",
            "add_key",
            "mount",
            "unshare",
            "setns",
            "open_by_handle_at",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "kexec_load",
            "init_module",
            "reboot",
            "swapon",
            "acct",
            "clock_settime",
            "clone",
        ] {
            assert!(!d.contains(&denied), "{denied} allowed by default");
        }
        assert!(d.contains(&"ptrace") && d.contains(&"chroot"));
        assert!(!names(CapSet::default_set(), false).contains(&"ptrace"));
        let mut admin = CapSet::default_set();
        admin.insert(CapSet::number("SYS_ADMIN").unwrap());
        let a = names(admin, true);
        assert!(a.contains(&"mount") && a.contains(&"unshare") && a.contains(&"clone"));
        assert!(!names(CapSet::empty(), true).contains(&"chroot"));
    }
}
