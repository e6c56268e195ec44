#!/bin/bash
# `klee pull` next to `skopeo copy … dir:` of the SAME image from the SAME
# local registry (Debian's docker-registry on 127.0.0.1), interleaved in ONE
# hyperfine invocation: a ~100 MB image of 5 gzip layers (random data, so
# compression cannot shortcut anything). Each run starts from nothing (a
# fresh kleene root, an empty skopeo directory). Prints the medians and
# klee's time as a multiple of skopeo's (issue #16's target: <= 1.0).
#
# skopeo only downloads and verifies; klee also decompresses and unpacks
# every layer into a usable image, so it does more work in the same time.
#
#   usage: sudo bench/pull.sh [RUNS]        (default 20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-20}
out=${BENCH_OUT:-$repo/bench-out}
need=()
for p in hyperfine:hyperfine skopeo:skopeo docker-registry:docker-registry; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
klee=$("$repo/scripts/build-release")
work=$out/work/pull
rm -rf "$work" && mkdir -p "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done

# The image: an OCI layout of 5 layers of 20 MB of random bytes each.
python3 - "$work/layout" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(f"{d}/blobs/sha256")
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(data)
    return "sha256:" + h, len(data)
layers, diffs = [], []
for i in range(5):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for j in range(20):
            data = os.urandom(1 << 20)
            info = tarfile.TarInfo(f"layer{i}/file{j}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    raw = raw.getvalue()
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    dg, size = blob(gzip.compress(raw, 1))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg, "size": size})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cs = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": layers}).encode()
md, ms = blob(man)
open(f"{d}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": "big"}}]},
          open(f"{d}/index.json", "w"))
PY
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:big" "docker://127.0.0.1:$port/bench/big:1"
ref=127.0.0.1:$port/bench/big:1
json=$work/h.json
hyperfine -N -w 2 -r "$runs" --export-json "$json" \
    --prepare "rm -rf $work/k $work/s" \
    "env KLEENE_ROOT=$work/k $klee pull $ref" \
    "skopeo copy --quiet --src-tls-verify=false docker://$ref dir:$work/s" >/dev/null
python3 - "$json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
k, s = (statistics.median(x["times"]) * 1e3 for x in r)
print(f"klee pull {k:.0f} ms, skopeo copy {s:.0f} ms: klee takes {k / s:.2f}x skopeo's time (target <= 1.0)")
PY
