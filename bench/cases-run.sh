# Sourced by ../shared/bench/peers.sh --extra inside its bench namespace:
# adds klee's rows next to the peers measured in the same invocation.
# Needs KLEE_BIN (a release klee); uses $WORK and $R (the busybox rootfs).
: "${KLEE_BIN:?KLEE_BIN must point at a release klee}"
export KLEENE_ROOT=$WORK/kleene-root
klee_version=$("$KLEE_BIN" --version)
echo "klee	$klee_version" >> "$RES/versions.tsv"
"$KLEE_BIN" image inspect bench-host >/dev/null 2>&1 ||
    "$KLEE_BIN" image create -t bench-host host >/dev/null
"$KLEE_BIN" image rm bench-bb >/dev/null 2>&1 || true
"$KLEE_BIN" image create --no-dns --no-localtime -t bench-bb dir "$R" >/dev/null

bench klee-run klee "klee run --rm on the default image (host userland), confined: pid/mnt/uts/ipc/net ns, overlay rootfs, pivot_root, /proc, /sys, /dev, 12 capabilities, seccomp filter, masked /proc, own cgroup (memory, cpu, pids), SQLite row created and removed" -- \
    "$KLEE_BIN" run --rm bench-host /bin/true
bench klee-run-busybox klee "as klee-run, on an image made from the same busybox rootfs as the peers (image create dir)" -- \
    "$KLEE_BIN" run --rm bench-bb /bin/true
