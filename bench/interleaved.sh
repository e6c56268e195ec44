#!/bin/bash
# Confined `klee run --rm` next to crun and the unshare+chroot floor in ONE
# hyperfine invocation, repeated: on a noisy VM the harness's blocks (each
# case's runs one after the other) catch different phases of the machine;
# here the cases alternate within minutes, so their ratios hold.
#
#   usage: sudo bench/interleaved.sh [RUNS] [OTHER_KLEE]   (default 200 runs)
#
# OTHER_KLEE (e.g. a previous release's binary) is timed beside ours.
# Needs `bench/run.sh run` once (the busybox rootfs, crun's bundle, the
# bench-bb image); prints the medians and the two ratios the issue targets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-200}
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
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$repo/../shared/bench/lib/in-bench-ns.sh" hyperfine -N -w 10 -r "$runs" \
    --export-json "$json" "${cases[@]}" "${cases[@]}" >/dev/null
python3 - "$json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
n = len(res) // 2
for rnd in range(2):
    med = [statistics.median(r["times"]) * 1e3 for r in res[rnd * n:(rnd + 1) * n]]
    klee, crun, floor = med[:3]
    print(f"round {rnd + 1}: klee {klee:.2f} ms, crun {crun:.2f}, floor {floor:.2f}: "
          f"{klee / floor:.2f}x the floor, {crun / klee:.2f}x faster than crun"
          + (f"; other klee {med[3]:.2f} ms" if n > 3 else ""))
PY
