# Sourced by ../shared/bench/peers.sh --extra inside its bench namespace:
# `klee run --rm` without a network and on a bridge network with the vnet
# driver, in the same invocation, so the difference is what networking
# costs. Needs KLEE_BIN (a release klee); uses $WORK and $R.
: "${KLEE_BIN:?KLEE_BIN must point at a release klee}"
export KLEENE_ROOT=$WORK/kleene-root
echo "klee	$("$KLEE_BIN" --version)" >> "$RES/versions.tsv"
"$KLEE_BIN" image rm bench-bb >/dev/null 2>&1 || true
"$KLEE_BIN" image create --no-dns --no-localtime -t bench-bb dir "$R" >/dev/null
# A private bridge without NAT; removed (with its nftables table and the
# forwarding setting) at the end.
"$KLEE_BIN" network rm bench-net >/dev/null 2>&1 || true
"$KLEE_BIN" network create -t bridge --subnet 10.199.0.0/24 --nat false -i kbench0 bench-net >/dev/null
trap '"$KLEE_BIN" network rm bench-net >/dev/null 2>&1 || true' EXIT

bench klee-run-nonet klee "klee run --rm on the busybox image, driver disabled (lo only)" -- \
    "$KLEE_BIN" run --rm bench-bb /bin/true
bench klee-run-vnet klee "klee run --rm on the busybox image on a bridge network with the vnet driver: address allocated and freed, veth pair into the bridge, address and default route inside, /etc/hosts and resolv.conf" -- \
    "$KLEE_BIN" run --rm -l vnet -n bench-net bench-bb /bin/true
bench klee-run-ipnet klee "as klee-run-vnet with the ipnet driver: veth pair, host route, proxy ARP" -- \
    "$KLEE_BIN" run --rm -l ipnet -n bench-net bench-bb /bin/true
"$KLEE_BIN" network rm bench-net >/dev/null
trap - EXIT
