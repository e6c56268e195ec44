#!/bin/bash
# Time `klee run --rm IMAGE /bin/true` side by side with the near-physical
# floor (unshare + chroot) and crun, in one invocation of the shared peers
# harness, and print the ratios the README reports.
#
#   usage: sudo bench/run.sh [--runs N]      (default 30 runs per case)
#
# Installs hyperfine, crun and busybox-static if missing; builds a static
# release klee (as deployed); everything generated goes to $BENCH_OUT
# (default ./bench-out, git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=30
[ "${1:-}" = --runs ] && runs=$2
peers=${PEERS:-$repo/../shared/bench/peers.sh}
[ -x "$peers" ] || { echo "error: peers harness not found at '$peers' (set PEERS)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: bench/run.sh must run as root" >&2; exit 1; }

need=()
for p in hyperfine:hyperfine crun:crun busybox:busybox-static; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

klee=$("$repo/scripts/build-release")
export KLEE_BIN=$klee BENCH_OUT=${BENCH_OUT:-$repo/bench-out}
"$peers" --runs "$runs" --extra "$here/cases-run.sh" \
    --only '^(host-exec|chroot|unshare-chroot|crun-run|klee-run|klee-run-busybox)$'

python3 - "$BENCH_OUT/results/partial/peers.tsv" <<'PY'
import csv, sys
rows = {r["case"]: r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
def med(c):
    try:
        return float(rows[c]["median_ms"])
    except (KeyError, ValueError):
        return None
floor, crun = med("unshare-chroot"), med("crun-run")
print("\ncase                median ms  vs unshare+chroot  crun / case")
for c in ["host-exec", "chroot", "unshare-chroot", "crun-run", "klee-run", "klee-run-busybox"]:
    m = med(c)
    if m is None:
        print(f"{c:18s}  {'-':>9s}")
        continue
    r1 = f"{m / floor:.2f}x" if floor else "-"
    r2 = f"{crun / m:.2f}x" if crun else "-"
    print(f"{c:18s}  {m:9.2f}  {r1:>16s}  {r2:>11s}")
PY
