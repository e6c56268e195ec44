# Sourced by ../shared/bench/peers.sh --extra inside its bench namespace:
# klee build of the peers' tiny Dockerfile, cold and warm, next to
# buildah build --layers measured in the same invocation.
: "${KLEE_BIN:?KLEE_BIN must point at a release klee}"
export KLEENE_ROOT=$WORK/kleene-root
grep -q '^klee	' "$RES/versions.tsv" 2>/dev/null || echo "klee	$("$KLEE_BIN" --version)" >> "$RES/versions.tsv"
"$KLEE_BIN" image inspect bench-bb >/dev/null 2>&1 ||
    "$KLEE_BIN" image create --no-dns --no-localtime -t bench-bb dir "$R" >/dev/null
ctx=$WORK/klee-buildctx
mkdir -p "$ctx"
printf 'FROM bench-bb\nRUN echo hi > /f\nENV X=1\n' > "$ctx/Dockerfile"

# Cold: the built image and its layers (and so their cache entries) removed
# before each run, untimed.
HF_EXTRA=(--prepare "sh -c '$KLEE_BIN image rm bench-built >/dev/null 2>&1; $KLEE_BIN image prune -f >/dev/null'")
bench klee-build-cold klee "klee build -q of FROM/RUN/ENV, no cached layers (image and untagged images removed before each run, untimed)" -- \
    "$KLEE_BIN" build -q -t bench-built "$ctx"
"$KLEE_BIN" build -q -t bench-built "$ctx" >/dev/null
bench klee-build-warm klee "same command, every step a cache hit" -- \
    "$KLEE_BIN" build -q -t bench-built "$ctx"
