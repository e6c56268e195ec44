//! Control groups: each container (and each build step) in its own group
//! `kleene/<id>`, made before its first process execs and removed when it
//! is gone, with its memory, CPU and process limits.
//!
//! Both layouts are supported: cgroup v2 (one unified hierarchy, most
//! hosts today) and v1 (a hierarchy per controller; on "hybrid" hosts, this
//! project's CI among them, the v1 controllers plus a v2 tree holding none
//! that kleene uses, which it leaves alone). The part of a cgroup
//! library this needs is a few file writes, so it is written here rather
//! than pulled in (youki's libcgroups brings systemd and D-Bus along).
//! The limits themselves are in `limits.rs`.

pub mod device_bpf;
pub mod devices;
pub mod extra;
pub mod freezer;
mod limits;
mod usage;
pub use usage::{processes, usage};

use limits::{apply, check_on, needed};
pub use limits::{check, oom_killed, update};

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::platform::security::Limits;
use crate::platform::{Error, Result};

/// Where each container's group goes, under every hierarchy's root, unless
/// `KLEENE_CGROUP_PARENT` names another place (a relative path, e.g. a
/// systemd slice `kleene.slice`, or a private parent for tests).
const PARENT: &str = "kleene";

fn parent() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        std::env::var("KLEENE_CGROUP_PARENT")
            .ok()
            .map(|p| p.trim_matches('/').to_string())
            .filter(|p| !p.is_empty() && !p.split('/').any(|c| c == ".." || c == "."))
            .unwrap_or_else(|| PARENT.to_string())
    })
}
/// v1 controllers a container joins: the ones its limits need (cpuacct
/// comes along where it is mounted with cpu; cpuset is left alone: a new
/// group of it has no CPUs until someone copies them in).
const V1_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// The host's cgroup layout, found once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2 at this mount point.
    Unified(PathBuf),
    /// v1 hierarchies (controllers, mount point), and a v2 one if hybrid.
    Legacy {
        hierarchies: Vec<(Vec<String>, PathBuf)>,
        unified: Option<PathBuf>,
    },
    /// No cgroup filesystem mounted at all.
    None,
}

/// Parse `/proc/self/mountinfo` text into a layout. A mount made over
/// another (a cgroup2 over the v1 tmpfs) hides it and what is below.
pub fn parse_layout(mountinfo: &str) -> Layout {
    // (mount point, fstype, super options), in mount order.
    let mut mounts: Vec<(&str, &str, &str)> = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let point = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let (fstype, _src, opts) = (
            post.next().unwrap_or(""),
            post.next(),
            post.next().unwrap_or(""),
        );
        let below = format!("{}/", point.trim_end_matches('/'));
        mounts.retain(|(p, _, _)| *p != point && !p.starts_with(&below));
        mounts.push((point, fstype, opts));
    }
    let mut v1: Vec<(Vec<String>, PathBuf)> = Vec::new();
    let mut v2 = None;
    for (point, fstype, opts) in mounts {
        match fstype {
            "cgroup2" if v2.is_none() => v2 = Some(PathBuf::from(point)),
            "cgroup" => {
                let ctrls: Vec<String> = opts
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o))
                    .map(str::to_string)
                    .collect();
                if !ctrls.is_empty() && !v1.iter().any(|(c, _)| *c == ctrls) {
                    v1.push((ctrls, PathBuf::from(point)));
                }
            }
            _ => {}
        }
    }
    match (v1.is_empty(), v2) {
        (true, Some(root)) => Layout::Unified(root),
        (true, None) => Layout::None,
        (false, unified) => Layout::Legacy {
            hierarchies: v1,
            unified,
        },
    }
}

pub fn layout() -> &'static Layout {
    static L: OnceLock<Layout> = OnceLock::new();
    L.get_or_init(|| {
        let found = conventional().unwrap_or_else(|| {
            parse_layout(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
        });
        if found != Layout::None {
            return found;
        }
        // No cgroup filesystem in this mount namespace, though the kernel
        // has cgroups: `ip netns exec` remounts /sys, for one. Mount the
        // hierarchies this process is in, as init systems lay them out,
        // rather than run containers in the caller's group.
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if mount_own(&own) {
            conventional().unwrap_or(Layout::None)
        } else {
            Layout::None
        }
    })
}

/// Mount, at /sys/fs/cgroup of this mount namespace only, the hierarchies
/// `/proc/self/cgroup` (`own`) names: cgroup2 alone on a v2 host; else a
/// tmpfs with each v1 hierarchy holding a controller kleene uses (a link
/// per controller where several share one). Mounting an existing
/// hierarchy by its controllers attaches to it; nothing new is made.
fn mount_own(own: &str) -> bool {
    let mnt = |src: &str, target: &str, fstype: &str, data: &str| -> bool {
        let c = |s: &str| CString::new(s).unwrap_or_default();
        let (src, target, fstype, data) = (c(src), c(target), c(fstype), c(data));
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: valid NUL-terminated strings.
        unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                flags,
                data.as_ptr() as *const libc::c_void,
            ) == 0
        }
    };
    let v1: Vec<&str> = own
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .filter(|c| c.split(',').any(|x| V1_CONTROLLERS.contains(&x)))
        .collect();
    let root = "/sys/fs/cgroup";
    if v1.is_empty() {
        return own.lines().any(|l| l.starts_with("0::")) && mnt("cgroup2", root, "cgroup2", "");
    }
    if !mnt("cgroup_root", root, "tmpfs", "mode=755,size=64k") {
        return false;
    }
    for ctrls in v1 {
        let dir = format!("{root}/{ctrls}");
        if std::fs::create_dir(&dir).is_err() || !mnt("cgroup", &dir, "cgroup", ctrls) {
            return false;
        }
        for c in ctrls.split(',').filter(|c| *c != ctrls) {
            let _ = std::os::unix::fs::symlink(ctrls, format!("{root}/{c}"));
        }
    }
    true
}

const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

fn fs_type(p: &str) -> Option<i64> {
    let c = CString::new(p).ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and buffer.
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
}

/// The layout every init system and cgroupfs-mount use, found with a few
/// statfs calls: cgroup2 at /sys/fs/cgroup, or v1 controllers at
/// /sys/fs/cgroup/<controller> (a link where they share a hierarchy).
/// Reading mountinfo instead costs a tenth of a millisecond per command.
fn conventional() -> Option<Layout> {
    match fs_type("/sys/fs/cgroup")? {
        CGROUP2_SUPER_MAGIC => Some(Layout::Unified("/sys/fs/cgroup".into())),
        _ => {
            let hierarchies: Vec<(Vec<String>, PathBuf)> = V1_CONTROLLERS
                .iter()
                .map(|c| format!("/sys/fs/cgroup/{c}"))
                .filter(|p| fs_type(p) == Some(CGROUP_SUPER_MAGIC))
                .map(|p| {
                    let c = p.rsplit('/').next().unwrap_or("").to_string();
                    (vec![c], PathBuf::from(p))
                })
                .collect();
            if hierarchies.len() < V1_CONTROLLERS.len() {
                // Something unusual: let mountinfo tell.
                return None;
            }
            let unified = (fs_type("/sys/fs/cgroup/unified") == Some(CGROUP2_SUPER_MAGIC))
                .then(|| PathBuf::from("/sys/fs/cgroup/unified"));
            Some(Layout::Legacy {
                hierarchies,
                unified,
            })
        }
    }
}

/// Group `key` in the v1 hierarchy of `controller` (`freezer`, `devices`,
/// `cpuset`: ones kleene makes groups in only for OCI bundles), if the host
/// has one; the hierarchies are read from mountinfo once per process.
/// Group `key`'s directory on a v2-only host (`None` elsewhere: a hybrid
/// host's v2 tree holds no container).
fn v2_group(key: &str) -> Option<PathBuf> {
    match layout() {
        Layout::Unified(root) => Some(root.join(place(key))),
        _ => None,
    }
}

fn v1_group(controller: &str, key: &str) -> Option<PathBuf> {
    static MOUNTS: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    if let Layout::Unified(_) = layout() {
        return None;
    }
    let mounts = MOUNTS.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        info.lines()
            .filter_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                let mut post = post.split(' ');
                let (fstype, _src, opts) = (post.next()?, post.next(), post.next()?);
                let point = pre.split(' ').nth(4)?;
                (fstype == "cgroup").then(|| (opts.to_string(), PathBuf::from(point)))
            })
            .collect()
    });
    mounts
        .iter()
        .find(|(opts, _)| opts.split(',').any(|o| o == controller))
        .map(|(_, point)| point.join(place(key)))
}

/// Where group `id` lives below a hierarchy's root: kleene's parent
/// group and the ID, or, for an ID with a leading '/' (an OCI bundle's
/// `cgroupsPath`), that path.
fn place(id: &str) -> PathBuf {
    match id.strip_prefix('/') {
        Some(path) => PathBuf::from(path),
        None => Path::new(parent()).join(id),
    }
}

/// The directories of container `id`'s group, one per hierarchy.
fn dirs(layout: &Layout, id: &str) -> Vec<PathBuf> {
    match layout {
        Layout::Unified(root) => vec![root.join(place(id))],
        // Not the v2 tree of a hybrid host: it holds no controller we use,
        // and moving a process into a v2 group takes a global lock whose
        // wait (an RCU grace period) costs 5 to 30 ms now and then.
        Layout::Legacy { hierarchies, .. } => hierarchies
            .iter()
            .map(|(_, m)| m)
            .map(|m| m.join(place(id)))
            .collect(),
        Layout::None => vec![],
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| {
        Error::Failed(format!(
            "cannot write '{value}' to '{}': {e}",
            path.display()
        ))
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// cgroup v2 hands controllers down: each level must enable them for its
/// children. Done for the levels above `group` (`kleene/`, or an OCI
/// bundle's path) when a needed one is missing.
fn enable_v2(root: &Path, group: &Path, want: &[&str]) -> Result<()> {
    let mut dirs: Vec<&Path> = group
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root))
        .collect();
    dirs.reverse();
    for dir in dirs {
        let have = read(&dir.join("cgroup.subtree_control"));
        for c in want {
            if !have.split_whitespace().any(|x| x == *c) {
                write(&dir.join("cgroup.subtree_control"), &format!("+{c}"))?;
            }
        }
    }
    Ok(())
}

fn mkdir_all(p: &Path) -> Result<bool> {
    std::fs::create_dir_all(p)
        .map(|_| true)
        .map_err(|e| Error::io("cannot create cgroup", p, e))
}

fn mkdir(p: &Path) -> Result<bool> {
    match std::fs::create_dir(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("cannot create cgroup", p, e)),
    }
}

/// Is the `i`th directory of a group (in [`dirs`] order) in the v2
/// hierarchy?
fn is_v2(layout: &Layout, i: usize) -> bool {
    let _ = i;
    matches!(layout, Layout::Unified(_))
}

/// The file that moves a task into the `i`th directory: a v1 group takes
/// a thread through `tasks` (the processes we move have one thread), which
/// does not wait for the global lock that moving a whole process takes, a
/// wait that can last an RCU grace period (5 to 30 ms here); v2 only moves
/// whole processes.
fn join_file(layout: &Layout, i: usize) -> &'static str {
    if is_v2(layout, i) {
        "cgroup.procs"
    } else {
        "tasks"
    }
}

/// A container's group, made in two halves around the child's birth.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    made: Vec<PathBuf>,
}

impl Cgroup {
    /// Before the child exists: the group's v2 directory (all of it on a
    /// v2 host), limited, and an fd of it for clone3's
    /// `CLONE_INTO_CGROUP`, so the child is born there and never moved.
    pub fn begin(id: &str, limits: &Limits) -> Result<(Cgroup, Option<OwnedFd>)> {
        let layout = layout();
        check_on(layout, limits)?;
        let mut cg = Cgroup {
            dirs: dirs(layout, id),
            made: vec![],
        };
        let Some(i) = (0..cg.dirs.len()).find(|&i| is_v2(layout, i)) else {
            return Ok((cg, None));
        };
        let r = (|| {
            let d = cg.dirs[i].clone();
            cg.make(&d)?;
            if let Layout::Unified(root) = layout {
                let want = needed(limits);
                let have = read(&d.join("cgroup.controllers"));
                if want
                    .iter()
                    .any(|c| !have.split_whitespace().any(|x| x == *c))
                {
                    enable_v2(root, &d, &want)?;
                }
                apply(layout, &cg.dirs, limits, &Limits::default())?;
            }
            open_dir(&d)
        })();
        match r {
            Ok(fd) => Ok((cg, Some(fd))),
            Err(e) => {
                cg.undo();
                Err(e)
            }
        }
    }

    fn make(&mut self, d: &Path) -> Result<()> {
        if let Some(parent) = d.parent() {
            if !parent.is_dir() && mkdir_all(parent)? {
                if let Layout::Unified(root) = layout() {
                    enable_v2(root, d, &["memory", "cpu", "pids"]).ok();
                }
            }
        }
        mkdir(d)?;
        self.made.push(d.to_path_buf());
        Ok(())
    }

    /// While the child sets itself up: the v1 directories, limited, and
    /// the child (`pid`) moved into them; into the v2 one too unless it was
    /// `born` there. On error the caller removes [`Cgroup::dirs`] once the
    /// child is gone.
    pub fn finish(&mut self, pid: i32, limits: &Limits, born: bool) -> Result<()> {
        let layout = layout();
        for i in 0..self.dirs.len() {
            if !is_v2(layout, i) {
                let d = self.dirs[i].clone();
                self.make(&d)?;
            }
        }
        if !matches!(layout, Layout::Unified(_)) {
            apply(layout, &self.dirs, limits, &Limits::default())?;
        }
        let v = pid.to_string();
        for (i, d) in self.dirs.iter().enumerate() {
            if !(is_v2(layout, i) && born) {
                write(&d.join(join_file(layout, i)), &v)?;
            }
        }
        Ok(())
    }

    /// Remove what `begin` made (before any child existed).
    fn undo(&self) {
        for d in self.made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

fn open_dir(d: &Path) -> Result<OwnedFd> {
    open_flags(d, libc::O_PATH | libc::O_DIRECTORY)
}

fn open_flags(p: &Path, flags: libc::c_int) -> Result<OwnedFd> {
    let c = CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Failed(format!("bad path '{}'", p.display())))?;
    // SAFETY: valid path; the fd is ours.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io("cannot open", p, std::io::Error::last_os_error()));
    }
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The fds a process writes "0" to, to join a running container's group
/// (none when it has no group, e.g. started by an older kleene).
pub fn join_fds(id: &str) -> Vec<OwnedFd> {
    let layout = layout();
    dirs(layout, id)
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_dir())
        .filter_map(|(i, d)| open_flags(&d.join(join_file(layout, i)), libc::O_WRONLY).ok())
        .collect()
}

/// In a child before exec: move this process into the group.
pub fn join(fds: &[i32]) -> std::result::Result<(), String> {
    for &fd in fds {
        // SAFETY: writing two bytes from a static buffer.
        if unsafe { libc::write(fd, b"0\n".as_ptr() as *const libc::c_void, 2) } < 0 {
            return Err(format!(
                "join the container's cgroup: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Remove the group (absent is fine). Its last processes may take a
/// moment to leave after the init was reaped.
pub fn remove(id: &str) -> Result<()> {
    let mut all = dirs(layout(), id);
    // A v1 freezer or devices group, if made (only that leaf: its parents
    // may hold other containers').
    if id.starts_with('/') {
        // Only bundles' groups (kleene-oci) pause or restrict devices.
        for controller in ["freezer", "devices", "cpuset"] {
            all.extend(v1_group(controller, id).filter(|d| d.is_dir()));
        }
    }
    remove_dirs(&all)
}

/// Does group `id` exist (in any hierarchy)?
pub fn exists(id: &str) -> bool {
    dirs(layout(), id).iter().any(|d| d.is_dir())
}

/// The groups under kleene's parent, by name (in any hierarchy).
pub fn list() -> Vec<String> {
    let mut names: Vec<String> = dirs(layout(), "")
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Kill whatever still runs in a group nobody supervises (a build step
/// whose builder was killed), then remove it.
pub fn kill_and_remove(id: &str) -> Result<()> {
    let layout = layout();
    let dirs = dirs(layout, id);
    for _ in 0..50 {
        let pids: Vec<i32> = dirs
            .iter()
            .flat_map(|d| {
                read(&d.join("cgroup.procs"))
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            break;
        }
        // cgroup.kill (v2, Linux 5.14) kills them all at once, even those
        // forking meanwhile; else each, again until none is left.
        if !matches!(layout, Layout::Unified(_))
            || write(&dirs[0].join("cgroup.kill"), "1").is_err()
        {
            for p in pids {
                let _ = crate::platform::kill_pid(p, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // `remove`, not just these: a bundle's freezer, devices or cpuset
    // group goes too.
    remove(id)
}

pub fn remove_dirs(dirs: &[PathBuf]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    for d in dirs {
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => return Err(Error::io("cannot remove cgroup", d, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::limits::v1_dir;
    use super::*;

    const HYBRID: &str = "\
25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,relatime shared:8 - tmpfs tmpfs rw,mode=755
27 26 0:24 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
28 26 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
29 26 0:26 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory
30 26 0:27 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids
31 26 0:28 / /sys/fs/cgroup/cpuset rw,relatime shared:13 - cgroup cgroup rw,cpuset
32 26 0:29 / /sys/fs/cgroup/systemd rw,relatime shared:14 - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn layouts() {
        let l = parse_layout(HYBRID);
        let Layout::Legacy {
            hierarchies,
            unified,
        } = &l
        else {
            panic!("{l:?}")
        };
        assert_eq!(
            unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(hierarchies.len(), 3);
        assert_eq!(hierarchies[0].0, vec!["cpu"]);
        // The v1 hierarchies only: not the hybrid's v2 tree.
        let d = dirs(&l, "abc");
        assert_eq!(d.len(), 3);
        assert_eq!(
            v1_dir(&l, &d, "cpu").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/kleene/abc")
        );
        assert!(!is_v2(&l, 0));
        let v2 = parse_layout("40 30 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        // A cgroup2 mounted over the v1 tmpfs hides the v1 hierarchies.
        let over = format!("{HYBRID}90 26 0:40 / /sys/fs/cgroup rw - cgroup2 none rw\n");
        assert_eq!(
            parse_layout(&over),
            Layout::Unified("/sys/fs/cgroup".into())
        );
        assert_eq!(v2, Layout::Unified("/sys/fs/cgroup".into()));
        assert_eq!(
            dirs(&v2, "x"),
            vec![PathBuf::from("/sys/fs/cgroup/kleene/x")]
        );
        assert_eq!(parse_layout(""), Layout::None);
    }

    #[test]
    fn unenforceable_limits_say_why() {
        let l = parse_layout(
            "27 26 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
             30 26 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
        );
        let mem = Limits {
            memory: Some(1 << 30),
            ..Default::default()
        };
        assert_eq!(
            check_on(&l, &mem).unwrap_err().to_string(),
            "cannot enforce --memory: no cgroup v1 hierarchy has the memory controller"
        );
        assert!(check_on(
            &l,
            &Limits {
                pids: Some(5),
                ..Default::default()
            }
        )
        .is_ok());
        assert!(check_on(&Layout::None, &mem).is_err());
        assert!(check_on(&Layout::None, &Limits::default()).is_ok());
    }
}
