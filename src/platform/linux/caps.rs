//! Capability sets of a container's processes: the bounding set limits what
//! any process in the container can ever gain; root starts with the
//! profile's set permitted and effective, other users with none (as after
//! any setuid); inheritable and ambient sets are empty, so nothing passes
//! through exec except by file capabilities within the bounding set.

use super::sys::CResult;
use crate::platform::bundle::CapSets;
use crate::platform::security::CapSet;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Our own permitted set: a container cannot get more than its starter has.
pub fn permitted() -> CapSet {
    let mut h = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget with a v3 header and two data structs.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    if r < 0 {
        return CapSet::empty();
    }
    CapSet(d[0].permitted as u64 | (d[1].permitted as u64) << 32)
}

/// Drop every capability not in `keep` from the bounding set, and clear
/// the ambient set. Needs CAP_SETPCAP, so it comes before [`set`].
pub fn limit_bounding(keep: CapSet) -> CResult<()> {
    // Up to the kernel's last capability: the first it does not know
    // answers EINVAL (cheaper than reading /proc/sys/kernel/cap_last_cap).
    for cap in 0..64u32 {
        if keep.has(cap) {
            continue;
        }
        // SAFETY: plain prctl.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(format!("drop capability {cap} from the bounding set: {e}"));
        }
    }
    // SAFETY: plain prctl; kernels without ambient sets fail harmlessly.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Ok(())
}

/// Permitted and effective = `caps` (within what we hold), inheritable
/// empty. After a setuid to a non-root user the kernel has already emptied
/// permitted and effective; this keeps them empty.
pub fn set(caps: CapSet) -> CResult<()> {
    let caps = caps.intersect(permitted());
    let lo = caps.0 as u32;
    let hi = (caps.0 >> 32) as u32;
    let h = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let d = [
        Data {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        Data {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a v3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capset, &h, d.as_ptr()) } < 0 {
        return Err(format!(
            "set capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// An OCI process's capability sets, exactly (within what we hold),
/// after its identity changed with `PR_SET_KEEPCAPS`; then its ambient set.
pub fn set_exact(sets: &CapSets) -> CResult<()> {
    let have = permitted().0;
    let (e, p, i) = (
        sets.effective & have,
        sets.permitted & have,
        sets.inheritable,
    );
    let h = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let d = [
        Data {
            effective: e as u32,
            permitted: p as u32,
            inheritable: i as u32,
        },
        Data {
            effective: (e >> 32) as u32,
            permitted: (p >> 32) as u32,
            inheritable: (i >> 32) as u32,
        },
    ];
    // SAFETY: capset with a v3 header and two data structs.
    if unsafe { libc::syscall(libc::SYS_capset, &h, d.as_ptr()) } < 0 {
        return Err(format!(
            "set capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    // The kernel takes an ambient capability only when it is permitted
    // and inheritable; configs often list ambient ones in neither (crun's
    // and runc's `spec` do), and runc goes on without them: so do we.
    for cap in 0..64u32 {
        if sets.ambient & p & i & (1 << cap) != 0 {
            // SAFETY: plain prctl.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            if r < 0 {
                return Err(format!(
                    "raise ambient capability {cap}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    }
    Ok(())
}
