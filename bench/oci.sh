#!/bin/bash
# `kleene-oci run` next to `crun run` and `runc run` on the SAME bundle
# (one busybox rootfs, one config.json made by `crun spec`, /bin/true),
# interleaved in ONE hyperfine invocation, twice; prints the medians and
# kleene-oci's time as a fraction of crun's (issue #15's target: <= 0.8).
#
#   usage: sudo bench/oci.sh [RUNS]        (default 200; bench/run.sh oci calls it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-200}
out=${BENCH_OUT:-$repo/bench-out}
need=()
for p in hyperfine:hyperfine crun:crun runc:runc busybox:busybox-static; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
klee=$("$repo/scripts/build-release")
oci=$(dirname "$klee")/kleene-oci
rootfs=$out/rootfs-busybox
[ -x "$rootfs/bin/busybox" ] || "$repo/../shared/bench/make-rootfs.sh" "$rootfs" >/dev/null
bundle=$out/work/bundle-oci
rm -rf "$bundle" && mkdir -p "$bundle"
# A copy: runc refuses a rootfs that is a symlink.
cp -a "$rootfs" "$bundle/rootfs"
(cd "$bundle" && crun spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"), indent=1)
PY
state=$out/work/oci-state
mkdir -p "$state"
cases=("$oci --root $state/kleene run -b $bundle bench-oci"
       "crun --root $state/crun run -b $bundle bench-oci"
       "runc --root $state/runc run -b $bundle bench-oci")
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$repo/../shared/bench/lib/in-bench-ns.sh" hyperfine -N -w 10 -r "$runs" \
    --export-json "$json" "${cases[@]}" "${cases[@]}" >/dev/null
python3 - "$json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
for rnd in range(2):
    k, c, r = [statistics.median(x["times"]) * 1e3 for x in res[rnd * 3:rnd * 3 + 3]]
    print(f"round {rnd + 1}: kleene-oci {k:.2f} ms, crun {c:.2f} ms, runc {r:.2f} ms: "
          f"kleene-oci takes {k / c:.2f}x crun's time, {k / r:.2f}x runc's")
PY
