#!/bin/bash
# Where a confined `klee run --rm` spends its time: N runs with
# KLEENE_TRACE=1 on the busybox image, each part's median cost (the time
# from the previous mark). Parent and child marks interleave: the child
# sets itself up while the parent makes the cgroup and records the start.
#
#   usage: sudo bench/phases.sh [N]     (default 100; needs bench/run.sh run once for the image)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
n=${1:-100}
klee=$("$repo/scripts/build-release")
export KLEENE_ROOT=${KLEENE_ROOT:-$repo/bench-out/work/kleene-root}
"$klee" image inspect bench-bb >/dev/null 2>&1 || {
    echo "error: no bench-bb image in $KLEENE_ROOT: run bench/run.sh run first" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The same private mount namespace as the peers' cases (no v2 tree).
"$repo/../shared/bench/lib/in-bench-ns.sh" bash -c "
    for i in \$(seq 3); do '$klee' run --rm bench-bb /bin/true; done
    for i in \$(seq $n); do KLEENE_TRACE=1 '$klee' run --rm bench-bb /bin/true 2>&1; echo END; done" > "$out"
python3 - "$out" <<'PY'
import re, statistics, sys
# Five lanes run at once: the parent, the thread opening the store ahead
# (marks "store: ..."; it starts with the process), the thread making the
# network namespace ahead ("network namespace made"; it starts at
# "parsed"), the container's child (marks "child: ..."; it starts at
# "cloned") and the cleanup thread ("cgroup removed"; it starts at
# "exited"). Each part's cost is the time since the previous mark of its
# own lane.
runs = open(sys.argv[1]).read().split("END\n")
order, cost, total = [], {}, []
for r in runs:
    ev = sorted((int(m.group(1)), m.group(2).strip()) for m in
                re.finditer(r"kleene-trace +(\d+) ([^\n]+)", r))
    if not ev:
        continue
    at = {w: t for t, w in ev}
    last = {"parent": 0, "store": 0, "netns": at.get("parsed", 0),
            "child": at.get("cloned", 0), "cleanup": at.get("exited", 0)}
    for t, what in ev:
        lane = ("child" if what.startswith("child:") else
                "store" if what.startswith("store:") else
                "netns" if what == "network namespace made" else
                "cleanup" if what == "cgroup removed" else "parent")
        if what not in order:
            order.append(what)
        cost.setdefault(what, []).append(t - last[lane])
        last[lane] = t
    total.append(ev[-1][0])
print(f"{len(total)} runs; median time from start to exit: {statistics.median(total) / 1000:.2f} ms\n")
print("| part (ends with) | median µs |\n|---|---:|")
for w in order:
    print(f"| {w} | {statistics.median(cost[w]):.0f} |")
PY
