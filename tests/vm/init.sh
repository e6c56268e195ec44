#!/bin/busybox sh
# /init of the cgroup v2 test VM (see tests/cgroup_v2_vm.rs, which reads
# what this prints on the serial console):
#   RESULT key=value   one measured fact per line
#   BEGIN name / END name   verbatim output between them (inspect JSON)
#   STEP name   progress, to read a failed run's console by
#   VM-TESTS-DONE   the last line: every step ran
# The test asserts; this script only runs things and reports.

# Stage 1, on the initramfs: pivot_root (which klee uses for every
# container) refuses a process whose root is the initramfs, so move
# everything to a tmpfs and switch_root there, which frees the initramfs.
if [ "$1" != stage2 ]; then
    /bin/busybox mkdir -p /new /proc
    /bin/busybox mount -t tmpfs -o mode=0755 root /new
    for d in /*; do
        case $d in /new | /proc) continue ;; esac
        /bin/busybox cp -a "$d" /new/
    done
    /bin/busybox mkdir -p /new/proc
    exec /bin/busybox switch_root /new /init stage2
fi

/bin/busybox --install -s
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Keep the kernel's OOM reports off the console we parse.
dmesg -n 1

# The serial console starts mid-line (the firmware's escapes): a fresh line.
echo
echo "RESULT kernel=$(uname -r)"
# The filesystem type's magic: 63677270 is cgroup2.
echo "RESULT cgroup_fs=$(stat -f -c %t /sys/fs/cgroup)"
echo "RESULT controllers=$(tr ' ' , </sys/fs/cgroup/cgroup.controllers)"
insmod /lib/modules/overlay.ko
echo "RESULT overlay=$(grep -qw overlay /proc/filesystems && echo yes || echo no)"

# Every klee command is bounded: a hang shows as a clear step failure
# (exit 143, SIGTERM) rather than the whole VM timing out. SIGTERM, not
# SIGKILL, so that it is never mistaken for the OOM killer's 137.
k() { timeout -s TERM 60 klee "$@"; }
export KLEENE_ROOT=/tmp/k
mkdir -p "$KLEENE_ROOT"
G=/sys/fs/cgroup/kleene

STEP() { echo "STEP $*"; }
BEGIN() { echo "BEGIN $1"; }
END() { echo "END $1"; }

# A busybox userland as make_busybox_rootfs in tests/common/mod.rs makes it.
STEP image
R=/tmp/rootfs
mkdir -p $R/bin $R/etc $R/proc $R/sys $R/dev $R/tmp $R/root
cp /bin/busybox $R/bin/busybox
for p in $(busybox --list-full); do
    [ "$p" = bin/busybox ] && continue
    mkdir -p "$R/${p%/*}"
    ln -s /bin/busybox "$R/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >$R/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >$R/etc/group
# (Its progress display goes to stderr: kept out of the console unless it fails.)
k image create --no-dns --no-localtime -t bb dir $R >/dev/null 2>/tmp/image.err
rc=$?
echo "RESULT image_create=$rc"
[ $rc = 0 ] || cat /tmp/image.err

# How many groups are under kleene/ now (0 when every container is gone).
groups_left() { find $G -mindepth 1 -maxdepth 1 -type d | wc -l; }
# Wait (up to 5 s) for a group to go: removal follows the exit closely but
# is done by whoever reaps the container.
gone() {
    i=0
    while [ -d "$G/$1" ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -d "$G/$1" ] && echo no || echo yes
}

# No limits: the container is still in its own group, the only cgroup line.
STEP plain
BEGIN plain_cgroup
k run --name plain bb cat /proc/self/cgroup
echo "RESULT plain_exit=$?"
END plain_cgroup
plain=$(k container inspect plain | sed -n 's/^ *"id": "\([0-9a-f]*\)".*/\1/p' | head -n1)
echo "RESULT plain_id=$plain"
echo "RESULT plain_gone=$(gone "$plain")"

# Memory: a string that doubles until the OOM killer ends it.
STEP memory
k run --rm --memory 32m bb sh -c 'x=a; while :; do x=$x$x; done'
echo "RESULT memory_rm_exit=$?"
k run --name hog --memory 32m bb sh -c 'x=a; while :; do x=$x$x; done'
echo "RESULT memory_exit=$?"
BEGIN inspect_hog
k container inspect hog
END inspect_hog
echo "RESULT groups_after_memory=$(groups_left)"

# Processes: 20 background sleeps under a limit of 10. ash gives up on the
# first fork that fails; "started" is how far it got.
STEP pids
k run --rm --pids-limit 10 bb sh -c '
    n=0
    while [ $n -lt 20 ]; do sleep 30 & n=$((n + 1)); echo "RESULT pids_started=$n"; done
    echo "RESULT pids_all_started=yes"'
echo "RESULT pids_exit=$?"
# The same loop without a limit starts all 20.
k run --rm bb sh -c '
    n=0
    while [ $n -lt 20 ]; do sleep 1 & n=$((n + 1)); done
    echo "RESULT pids_free_started=$n"'

# CPU: a busy loop for about 2 s; its user+system ticks (fields 14 and 15
# of /proc/PID/stat, 100 per second) over the wall time in ticks, from
# /proc/uptime (hundredths of a second), is the share of a core it had.
STEP cpu
spin='while :; do :; done &
    p=$!
    read t0 x </proc/uptime
    sleep 2
    read t1 x </proc/uptime
    set -- $(cat /proc/$p/stat)
    kill $p
    echo "RESULT $0_ticks=$((${14} + ${15})) $0_wall=$(( (${t1%.*}${t1#*.}) - (${t0%.*}${t0#*.}) ))"'
k run --rm --cpus 0.5 bb sh -c "$spin" cpu
k run --rm bb sh -c "$spin" cpu_free

# update: limits of a running container change in its group's files.
STEP update
id=$(k run -d --memory 32m --pids-limit 20 --cpus 0.5 bb sleep 100)
echo "RESULT update_id=$id"
echo "RESULT update_before_memory_max=$(cat $G/$id/memory.max)"
echo "RESULT update_before_swap_max=$(cat $G/$id/memory.swap.max 2>/dev/null || echo absent)"
echo "RESULT update_before_pids_max=$(cat $G/$id/pids.max)"
echo "RESULT update_before_cpu_max=$(cat $G/$id/cpu.max | tr ' ' _)"
k update --memory 64m --pids-limit 50 "$id" >/dev/null
echo "RESULT update_exit=$?"
echo "RESULT update_after_memory_max=$(cat $G/$id/memory.max)"
echo "RESULT update_after_pids_max=$(cat $G/$id/pids.max)"
echo "RESULT update_after_cpu_max=$(cat $G/$id/cpu.max | tr ' ' _)"
BEGIN inspect_update
k container inspect "$id"
END inspect_update
k stop -t 0 "$id" >/dev/null
echo "RESULT update_stop_exit=$?"
echo "RESULT update_gone=$(gone "$id")"

STEP end
echo "RESULT groups_left=$(groups_left)"
echo VM-TESTS-DONE
sync
poweroff -f
