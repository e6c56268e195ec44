"""Probes a container's confinement from the inside; prints `name=value`
lines for tests/confinement.rs. Each probe calls the kernel directly (ctypes),
so a refusal is the kernel's (capabilities, seccomp, mounts), not a tool's."""
import ctypes
import errno
import os
import platform
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# System call numbers for the probes (x86_64, aarch64).
NR = {
    "x86_64": {"keyctl": 250, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
               "clone3": 435, "open_by_handle_at": 304, "name_to_handle_at": 303,
               "kexec_load": 246, "add_key": 248},
    "aarch64": {"keyctl": 219, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                "clone3": 435, "open_by_handle_at": 265, "name_to_handle_at": 264,
                "kexec_load": 104, "add_key": 217},
}[platform.machine()]


def out(name, value):
    print(f"{name}={value}", flush=True)


def result(r):
    """'ok' or the errno's name."""
    if r >= 0:
        return "ok"
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def syscall(name, *args):
    ctypes.set_errno(0)
    return result(libc.syscall(NR[name], *[ctypes.c_long(a) for a in args]))


def isolated(call):
    """Run `call` (returning a result) in a child process: some probes, when
    they succeed, change the process (a new user namespace, a mount)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, call().encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 100).decode()
    os.waitpid(pid, 0)
    return out


def status():
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp", "NoNewPrivs"):
            out(k, v.strip())


def shocker(directory):
    """The "shocker" escape: open the root inode (2) of the filesystem a
    volume lives on by handle, and list it."""
    fd = os.open(directory, os.O_RDONLY)
    handle = (ctypes.c_uint32 * 4)(8, 1, 2, 0)  # 8 bytes, FILEID_INO32_GEN, ino 2, gen 0
    ctypes.set_errno(0)
    r = libc.syscall(NR["open_by_handle_at"], fd, handle, os.O_RDONLY | os.O_DIRECTORY)
    if r < 0:
        out("open_by_handle_at", result(r))
        return
    out("open_by_handle_at", "ok")
    out("host_root", ",".join(sorted(os.listdir(r))))


def probe(what, arg):
    if what == "status":
        status()
    elif what == "syscalls":
        out("keyctl", syscall("keyctl", 0, 0))            # KEYCTL_GET_KEYRING_ID
        out("add_key", syscall("add_key", 0, 0, 0, 0, 0))
        out("bpf", syscall("bpf", 0, 0, 0))
        out("perf_event_open", syscall("perf_event_open", 0, 0, -1, -1, 0))
        out("userfaultfd", syscall("userfaultfd", 0))
        out("kexec_load", syscall("kexec_load", 0, 0, 0, 0))
        out("clone3", syscall("clone3", 0, 0))
        out("unshare_user", isolated(lambda: result(libc.unshare(0x10000000))))  # CLONE_NEWUSER
        out("unshare_net", isolated(lambda: result(libc.unshare(0x40000000))))   # CLONE_NEWNET
        out("mount", isolated(lambda: result(libc.mount(b"none", b"/mnt", b"tmpfs", 0, None))))
        out("mknod", isolated(lambda: result(libc.mknod(b"/tmp/sda", 0o60600, os.makedev(8, 0)))))
        out("sethostname", isolated(lambda: result(libc.sethostname(b"x", 1))))
        try:
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            out("raw_socket", "ok")
        except PermissionError:
            out("raw_socket", "EPERM")
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
            out("ping_socket", "ok")
        except OSError as e:
            out("ping_socket", errno.errorcode.get(e.errno, str(e.errno)))
    elif what == "paths":
        for p in ("/proc/keys", "/proc/timer_list", "/proc/kcore", "/proc/kallsyms",
                  "/proc/sched_debug", "/proc/latency_stats"):
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out(p, len(f.read(4096)))
        for p in ("/proc/acpi", "/proc/scsi", "/sys/firmware"):
            if os.path.isdir(p):
                out(p, len(os.listdir(p)))
        for p in ("/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches"):
            try:
                with open(p, "w") as f:
                    f.write("x")
                out(p, "written")
            except OSError as e:
                out(p, errno.errorcode.get(e.errno, str(e.errno)))
    elif what == "shocker":
        shocker(arg)
    elif what == "forks":
        # Fork until the kernel refuses; report how many children ran.
        kids = []
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    import time
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
        except OSError as e:
            out("fork_error", errno.errorcode.get(e.errno, str(e.errno)))
        out("forks", len(kids))
        for k in kids:
            os.kill(k, 9)
    elif what == "hog":
        chunks = []
        while True:
            chunks.append(bytearray(1 << 20))
    elif what == "spin":
        import time
        start, cpu0 = time.monotonic(), time.process_time()
        while time.monotonic() - start < float(arg):
            pass
        out("cpu_share", round((time.process_time() - cpu0) / (time.monotonic() - start), 3))


for a in sys.argv[1:]:
    what, _, arg = a.partition(":")
    probe(what, arg)
