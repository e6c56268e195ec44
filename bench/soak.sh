#!/bin/bash
# The soak: concurrent klee processes and kleened API clients (default 4 of
# each, 500 mixed operations each: volumes, containers, run --rm, lists)
# with `klee system check` running alongside; then every object must be
# accounted for and the check clean. Prints operations/s and p50/p99/max
# latency; exits 1 on any error (a failed operation, a 500, a lost or
# duplicated object, a check that is not clean).
#
#   usage: sudo bench/soak.sh [CLIENTS_PER_KIND] [OPS_PER_CLIENT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
clients=${1:-4}
ops=${2:-500}
[ "$(id -u)" = 0 ] || { echo "error: bench/soak.sh must run as root" >&2; exit 1; }
klee=$("$repo/scripts/build-release")
kleened=$(dirname "$klee")/kleened
cargo build --quiet --release --example soak --manifest-path "$repo/Cargo.toml" >&2
soak=$repo/target/release/examples/soak
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export KLEENE_ROOT=$work/root
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for t in true sh sleep; do ln -s busybox "$work/rootfs/bin/$t"; done
"$klee" image create --no-dns --no-localtime -t soak dir "$work/rootfs" >/dev/null
"$kleened" --root "$KLEENE_ROOT" --socket "$work/k.sock" 2>"$work/kleened.log" &
pid=$!
for _ in $(seq 100); do [ -S "$work/k.sock" ] && break; sleep 0.05; done
"$soak" "$klee" "$KLEENE_ROOT" "$work/k.sock" soak "$clients" "$ops"
