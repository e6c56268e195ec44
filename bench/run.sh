#!/bin/bash
# Time `klee run --rm IMAGE /bin/true` side by side with the near-physical
# floor (unshare + chroot) and crun, in one invocation of the shared peers
# harness, and print the ratios the README reports.
#
#   usage: sudo bench/run.sh [--runs N] [run|build|net|oci|pull|all]   (default: 30 runs, all)
#
#   run    confined klee run --rm vs unshare+chroot and crun   (issues #2, #11)
#          (bench/phases.sh then shows the cost of each part of a start)
#   build  klee build cold/warm vs buildah build --layers      (issue #3)
#   net    klee run --rm without a network vs on a bridge (vnet, ipnet) (issue #6)
#   oci    kleene-oci run vs crun run and runc run, same bundle   (issue #15;
#          bench/oci.sh, interleaved in one hyperfine invocation)
#   pull   klee pull vs skopeo copy of a 100 MB, 5-layer image from a local
#          registry (issue #16; bench/pull.sh)
#
# Installs hyperfine, crun and busybox-static if missing; builds a static
# release klee (as deployed); everything generated goes to $BENCH_OUT
# (default ./bench-out, git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=30
if [ "${1:-}" = --runs ]; then runs=$2; shift 2; fi
what=${1:-all}
if [ "$what" = oci ]; then exec "$here/oci.sh" "$((runs < 50 ? 200 : runs))"; fi
if [ "$what" = pull ]; then exec "$here/pull.sh" "$((runs > 20 ? 20 : runs))"; fi
peers=${PEERS:-$repo/../shared/bench/peers.sh}
[ -x "$peers" ] || { echo "error: peers harness not found at '$peers' (set PEERS)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: bench/run.sh must run as root" >&2; exit 1; }

need=()
for p in hyperfine:hyperfine crun:crun busybox:busybox-static buildah:buildah; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

klee=$("$repo/scripts/build-release")
export KLEE_BIN=$klee BENCH_OUT=${BENCH_OUT:-$repo/bench-out}
extra=$(mktemp)
trap 'rm -f "$extra"' EXIT
only=()
case "$what" in
    run) only=(host-exec chroot unshare-chroot crun-run klee-run klee-run-busybox); echo ". '$here/cases-run.sh'" > "$extra" ;;
    build) only=(buildah-build-cold buildah-build-warm klee-build-cold klee-build-warm); echo ". '$here/cases-build.sh'" > "$extra" ;;
    net) only=(klee-run-nonet klee-run-vnet klee-run-ipnet); echo ". '$here/cases-net.sh'" > "$extra" ;;
    all) only=(host-exec chroot unshare-chroot crun-run klee-run klee-run-busybox buildah-build-cold buildah-build-warm klee-build-cold klee-build-warm klee-run-nonet klee-run-vnet klee-run-ipnet)
         printf ". '%s'\n. '%s'\n" "$here/cases-run.sh" "$here/cases-build.sh" > "$extra" ;;
    *) echo "usage: bench/run.sh [--runs N] [run|build|net|oci|all]" >&2; exit 2 ;;
esac
regex="^($(IFS='|'; echo "${only[*]}"))\$"
"$peers" --runs "$runs" --extra "$extra" --only "$regex"

python3 - "$BENCH_OUT/results/partial/peers.tsv" <<'PY'
import csv, sys
rows = {r["case"]: r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
def med(c):
    try:
        return float(rows[c]["median_ms"])
    except (KeyError, ValueError):
        return None
floor, crun = med("unshare-chroot"), med("crun-run")
if floor or crun:
    print("\ncase                median ms  vs unshare+chroot  crun / case")
    for c in ["host-exec", "chroot", "unshare-chroot", "crun-run", "klee-run", "klee-run-busybox"]:
        m = med(c)
        if m is None:
            continue
        r1 = f"{m / floor:.2f}x" if floor else "-"
        r2 = f"{crun / m:.2f}x" if crun else "-"
        print(f"{c:18s}  {m:9.2f}  {r1:>16s}  {r2:>11s}")
base = med("klee-run-nonet")
for c in ["klee-run-vnet", "klee-run-ipnet"]:
    m = med(c)
    if base and m:
        print(f"{c}: {m:.2f} ms vs {base:.2f} ms without a network: networking adds {m - base:.2f} ms")
for kind in ["cold", "warm"]:
    b, k = med(f"buildah-build-{kind}"), med(f"klee-build-{kind}")
    if b and k:
        print(f"build {kind}: buildah {b:.1f} ms, klee {k:.1f} ms: klee takes {k / b:.3f} of buildah's time ({b / k:.1f}x faster)")
PY
