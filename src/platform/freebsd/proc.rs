//! Is a process still running? A zombie is not: it has left its jail and
//! only waits for its parent (the caller that created the container may
//! be that parent, and it is not waiting). FreeBSD asks the kernel
//! (`kern.proc.pid`, `ki_stat`); elsewhere — the back end under test on
//! Linux — `/proc` says the same.

/// Does `pid` exist and not as a zombie?
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if pid <= 0 || unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    !zombie(pid)
}

#[cfg(target_os = "freebsd")]
fn zombie(pid: i32) -> bool {
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
    // SAFETY: a zeroed kinfo_proc is a valid buffer for sysctl to fill.
    let mut kp: libc::kinfo_proc = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::kinfo_proc>();
    // SAFETY: mib, buffer and its length are valid.
    let r = unsafe {
        libc::sysctl(
            mib.as_ptr(),
            mib.len() as libc::c_uint,
            (&mut kp as *mut libc::kinfo_proc).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    r == 0 && len > 0 && kp.ki_stat == libc::SZOMB
}

#[cfg(not(target_os = "freebsd"))]
fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}
