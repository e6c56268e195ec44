#!/bin/bash
# kill -9 at random instants, spread over every kind of operation, then one
# `klee system check --repair`; prints what the first check found, what the
# repair did, and an independent count of what is left (orphan
# directories, layers, cgroups, mounts, bridges, stale rows) that must be 0.
# Runs in a private network namespace with a private cgroup parent, on a
# throwaway root; the release binaries, as deployed.
#
#   usage: sudo bench/kill9.sh [TRIES] [MAX_DELAY_US]   (default 300 tries, 20000 us)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
tries=${1:-300}
max_delay=${2:-20000}
[ "$(id -u)" = 0 ] || { echo "error: bench/kill9.sh must run as root" >&2; exit 1; }
klee=$("$repo/scripts/build-release")
work=$(mktemp -d)
ns=kleene-kill9-$$
export KLEENE_ROOT=$work/root KLEENE_CGROUP_PARENT=kleene-kill9-$$
ip netns add "$ns"
cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    for d in /sys/fs/cgroup/*/"$KLEENE_CGROUP_PARENT" /sys/fs/cgroup/"$KLEENE_CGROUP_PARENT"; do
        [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null; rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
k() { ip netns exec "$ns" "$klee" "$@"; }

mkdir -p "$work/rootfs/bin" "$work/ctx"
cp /bin/busybox "$work/rootfs/bin/"
for t in true sh sleep seq echo; do ln -s busybox "$work/rootfs/bin/$t"; done
k image create --no-dns --no-localtime -t bb dir "$work/rootfs" >/dev/null 2>&1
echo a > "$work/ctx/a"
printf 'FROM bb\nRUN for i in $(seq 300); do echo $i > /f$i; done\nCOPY a /a\nRUN echo done > /b\n' > "$work/ctx/Dockerfile"
k create --name keep -m kv:/data bb true >/dev/null

ops=(
    "run --rm bb sleep 0.02"
    "run -d --rm bb sleep 0.02"
    "run -d --name d%n bb true"
    "create --name c%n bb true"
    "rm -f c%p"
    "rm -f d%p"
    "volume create v%n"
    "volume rm v%p"
    "build --no-cache -q -t b%n $work/ctx"
    "image rm b%p"
    "image create -t i%n dir $work/rootfs"
    "image rm i%p"
    "network create --type bridge --subnet 10.200.%s.0/24 n%n"
    "network rm n%p"
    "run -d --rm -l vnet -n n%p bb sleep 0.02"
)
killed=0
for i in $(seq 1 "$tries"); do
    op=${ops[$(( (i - 1) % ${#ops[@]} ))]}
    n=$(( (i - 1) / ${#ops[@]} ))
    op=${op//%n/$n}; op=${op//%p/$((n > 0 ? n - 1 : 0))}; op=${op//%s/$((n % 250))}
    # Not through k(): a backgrounded function is a subshell, and the kill
    # would hit it instead of klee (ip netns exec execs klee in place).
    # shellcheck disable=SC2086
    ip netns exec "$ns" "$klee" $op >/dev/null 2>&1 &
    pid=$!
    us=$(( (RANDOM * 32768 + RANDOM) % (max_delay + 1) ))
    sleep "$((us / 1000000)).$(printf '%06d' $((us % 1000000)))"
    kill -9 "$pid" 2>/dev/null || true
    status=0
    wait "$pid" 2>/dev/null || status=$?
    # 137: it was still running when the signal came.
    if [ "$status" = 137 ]; then killed=$((killed + 1)); fi
done
sleep 1
echo "$tries operations, $killed killed by SIGKILL before they finished (after 0-$max_delay us)"
k system check > "$work/check.txt" || true
echo "first check: $(grep -c '^  repair:' "$work/check.txt" || true) problems, by kind:"
grep -v '^  repair:' "$work/check.txt" | grep -v 'found' | awk '{print $1}' | sort | uniq -c | sed 's/^/    /' || true
k system check --repair | tail -1 || true
if k system check >/dev/null; then echo "second check: clean"; else echo "second check: NOT CLEAN"; k system check; exit 1; fi

# An independent count of what is left, from the OS and the store directly.
python3 - "$KLEENE_ROOT" "$KLEENE_CGROUP_PARENT" "$ns" <<'EOF'
import json, os, sqlite3, subprocess, sys
root, parent, ns = sys.argv[1:4]
db = sqlite3.connect(f"file:{root}/metadata.sqlite?mode=ro", uri=True)
rows = {r[0]: r for r in db.execute("SELECT id, state, data FROM containers")}
used = set()
for (data,) in db.execute("SELECT data FROM images"):
    used.update(json.loads(data).get("layers", []))
for (data,) in [(r[2],) for r in rows.values()]:
    used.update(json.loads(data).get("layers", []))
used.update(l for (l,) in db.execute("SELECT layer FROM build_cache"))
leases = db.execute("SELECT count(*) FROM leases").fetchone()[0]
layers = set(os.listdir(f"{root}/layers"))
dirs = set(os.listdir(f"{root}/containers"))
tmp = os.listdir(f"{root}/tmp")
running = {i for i, r in rows.items() if r[1] == "running"}
groups = set()
for base in ["/sys/fs/cgroup"] + [f"/sys/fs/cgroup/{d}" for d in os.listdir("/sys/fs/cgroup")]:
    p = f"{base}/{parent}"
    if os.path.isdir(p):
        groups.update(g for g in os.listdir(p) if os.path.isdir(f"{p}/{g}"))
mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if root in l.split()[4]]
nets = {json.loads(d)["interface"] for (d,) in db.execute("SELECT data FROM networks")}
links = subprocess.run(["ip", "netns", "exec", ns, "ip", "-o", "link"], capture_output=True, text=True).stdout
bridges = {l.split(":")[1].strip().split("@")[0] for l in links.splitlines() if l.split(":")[1].strip().startswith("kleene")}
vols = {n for (n,) in db.execute("SELECT name FROM volumes")}
left = {
    "orphan layers": len(layers - used),
    "missing layers": len(used - layers - {""}),
    "leases": leases,
    "container dirs without rows": len(dirs - set(rows)),
    "rows without dirs": len(set(rows) - dirs),
    "rows removing/starting": sum(1 for r in rows.values() if r[1] in ("removing", "starting")),
    "scratch in tmp/": len(tmp),
    "cgroups of stopped containers": len(groups - running),
    "mounts": len(mounts),
    "bridges without rows": len(bridges - nets),
    "networks without bridges": len(nets - bridges),
    "volume dirs without rows": len(set(os.listdir(f"{root}/volumes")) - vols),
    "volume rows without dirs": len(vols - set(os.listdir(f"{root}/volumes"))),
}
for k, v in left.items():
    print(f"    {k:32} {v}")
sys.exit(1 if any(left.values()) else 0)
EOF
echo "left after one repair: nothing"
k start keep >/dev/null && k run --rm -m kv:/data bb true && echo "the next operations work"
