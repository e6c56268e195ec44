#!/bin/bash
# kleened under load: GET /containers/list?all=true with N containers
# (default 1000), 8 concurrent clients on the UNIX socket, one request per
# connection (as klee does). Prints p50/p90/p99/max in ms and requests/s.
#
#   usage: sudo bench/api.sh [CONTAINERS] [REQUESTS_PER_CLIENT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
n=${1:-1000}
per=${2:-200}
[ "$(id -u)" = 0 ] || { echo "error: bench/api.sh must run as root" >&2; exit 1; }
klee=$("$repo/scripts/build-release")
kleened=$(dirname "$klee")/kleened
cargo build --quiet --release --example api_load --manifest-path "$repo/Cargo.toml" >&2
load=$repo/target/release/examples/api_load
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export KLEENE_ROOT=$work/root
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
"$klee" image create --no-dns --no-localtime -t bench dir "$work/rootfs" >/dev/null
echo "creating $n containers..." >&2
for i in $(seq 1 "$n"); do "$klee" create --name "c$i" bench /bin/busybox true >/dev/null; done
"$kleened" --root "$KLEENE_ROOT" --socket "$work/k.sock" 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -S "$work/k.sock" ] && break; sleep 0.05; done
read -r p50 p90 p99 max rps < <("$load" "$work/k.sock" "/containers/list?all=true" 8 "$per")
echo "GET /containers/list?all=true, $n containers, 8 clients x $per requests"
echo "p50 ${p50} ms  p90 ${p90} ms  p99 ${p99} ms  max ${max} ms  ${rps} requests/s"
