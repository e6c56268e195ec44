#!/bin/bash
# Confined `klee run --rm` next to crun and the unshare+chroot floor, in
# alternation (bench/lib/alternate.py): every round runs each case once in
# a random order. On a noisy VM hyperfine's blocks (each case's runs one
# after the other) catch different phases of the machine, and two blocks
# of the same case a minute apart differed by a third; alternating, the
# cases share every phase, so their ratios hold.
#
#   usage: sudo bench/interleaved.sh [RUNS] [OTHER_KLEE]   (default 300 rounds)
#
# OTHER_KLEE (e.g. a previous release's binary) is timed beside ours.
# Needs `bench/run.sh run` once (the busybox rootfs, crun's bundle, the
# bench-bb image); prints the medians and the two ratios the issue targets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-300}
other=${2:-}
out=${BENCH_OUT:-$repo/bench-out}
klee=$("$repo/scripts/build-release")
export KLEENE_ROOT=$out/work/kleene-root
[ -d "$out/work/bundle-crun" ] && "$klee" image inspect bench-bb >/dev/null 2>&1 || {
    echo "error: run bench/run.sh run first (crun bundle, bench-bb image)" >&2; exit 1; }
cases=("$klee run --rm bench-bb /bin/true"
       "crun run -b $out/work/bundle-crun bench-crun"
       "unshare --fork --pid --mount --uts --ipc --net chroot $out/rootfs-busybox /bin/true")
[ -n "$other" ] && cases+=("$other run --rm bench-bb /bin/true")
res=$(mktemp)
trap 'rm -f "$res"' EXIT
"$repo/../shared/bench/lib/in-bench-ns.sh" python3 "$here/lib/alternate.py" "$runs" 10 \
    "${cases[@]}" > "$res"
python3 - "$res" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
med = [float(r[0]) for r in rows]
for r in rows:
    print(f"{float(r[0]):7.2f} ms median (quartiles {float(r[1]):.2f}–{float(r[2]):.2f})  {r[4]}")
klee, crun, floor = med[:3]
print(f"klee {klee / floor:.2f}x the floor, {crun / klee:.2f}x faster than crun"
      + (f"; other klee {med[3]:.2f} ms" if len(med) > 3 else ""))
PY
