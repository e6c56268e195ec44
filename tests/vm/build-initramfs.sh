#!/bin/bash
# Build what tests/cgroup_v2_vm.rs boots: a Debian 12 kernel and an
# initramfs holding klee, a static busybox, overlayfs and tests/vm/init.sh
# as /init.
#
#   build-initramfs.sh KLEE_BINARY OUT_DIR
#
# Writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.cpio.gz.
# Exit status 3 means "cannot be done on this machine" (no kernel package to
# be had, a missing host tool): the test skips on it. Anything else non-zero
# is a real failure.
#
# The kernel comes from Debian's package, fetched with `apt-get download`
# and unpacked with dpkg-deb, never installed on the host: the host's own
# kernel is a v1/v2 cgroup hybrid, and the point is a kernel of our choice
# booted with cgroup v2 alone. The unpacked kernel is cached in
# target/vm/kernel/<package>/, so runs after the first are fast and offline.
set -euo pipefail

unavailable() {
    echo "build-initramfs: $*" >&2
    exit 3
}

[ $# -eq 2 ] || {
    echo "usage: $0 KLEE_BINARY OUT_DIR" >&2
    exit 2
}
klee=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=$repo/target/vm/kernel

for tool in cpio gzip dpkg-deb ldd; do
    command -v "$tool" >/dev/null || unavailable "needs $tool (apt-get install cpio)"
done
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
    unavailable "needs a static /bin/busybox (apt-get install busybox-static)"
[ -x "$klee" ] || {
    echo "build-initramfs: no klee binary at $klee" >&2
    exit 1
}

# --- the kernel -----------------------------------------------------------

# The versioned package the metapackage points at today, from the local apt
# lists (no network). Empty when the lists were never fetched (apt-cache
# then fails, which is not an error here).
kernel_package() {
    { apt-cache depends linux-image-amd64 2>/dev/null || true; } |
        awk '/Depends: linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

# A kernel unpacked by an earlier run: vmlinuz and overlay.ko both there.
is_unpacked() { [ -f "$1/vmlinuz" ] && [ -f "$1/overlay.ko" ]; }

fetch_kernel() {
    local pkg=$1 dir=$cache/$1 tmp
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    # apt-get download writes to the current directory; as root it warns
    # that _apt cannot write there, which is harmless.
    if ! (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>"$tmp/apt.err"); then
        cat "$tmp/apt.err" >&2
        rm -rf "$tmp"
        return 1
    fi
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
    local ko
    ko=$(find "$tmp/x/lib/modules" -path '*/fs/overlayfs/overlay.ko*' | head -n1)
    [ -n "$ko" ] || {
        echo "build-initramfs: $pkg has no overlay module" >&2
        rm -rf "$tmp"
        return 1
    }
    mkdir -p "$tmp/k"
    cp "$tmp"/x/boot/vmlinuz-* "$tmp/k/vmlinuz"
    # Debian 12 ships modules uncompressed; a later kernel may compress
    # them, and busybox insmod takes only a plain ELF object.
    case $ko in
    *.ko) cp "$ko" "$tmp/k/overlay.ko" ;;
    *.ko.xz) xz -dc "$ko" >"$tmp/k/overlay.ko" ;;
    *.ko.zst) zstd -dqc "$ko" >"$tmp/k/overlay.ko" ;;
    *.ko.gz) gzip -dc "$ko" >"$tmp/k/overlay.ko" ;;
    esac
    # overlay depends on no other module today; say so if that changes
    # rather than fail in the VM with an unresolved symbol.
    local deps
    deps=$(strings "$tmp/k/overlay.ko" 2>/dev/null | sed -n "s/^depends=//p" | head -n1 || true)
    [ -z "$deps" ] || echo "build-initramfs: warning: overlay.ko depends on $deps" >&2
    rm -rf "$dir"
    mv "$tmp/k" "$dir"
    rm -rf "$tmp"
}

mkdir -p "$cache"
pkg=$(kernel_package)
if [ -z "$pkg" ] && ! ls -d "$cache"/linux-image-* >/dev/null 2>&1; then
    # Never fetched: the lists may just be missing (a fresh machine).
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(kernel_package)
fi
kdir=
if [ -n "$pkg" ] && is_unpacked "$cache/$pkg"; then
    kdir=$cache/$pkg
elif [ -n "$pkg" ]; then
    echo "build-initramfs: fetching $pkg" >&2
    if fetch_kernel "$pkg" ||
        { apt-get update -qq >/dev/null 2>&1 && pkg=$(kernel_package) && [ -n "$pkg" ] && fetch_kernel "$pkg"; }; then
        kdir=$cache/$pkg
    fi
fi
if [ -z "$kdir" ]; then
    # Offline, or the archive moved on: any kernel an earlier run unpacked.
    for d in "$cache"/linux-image-*; do
        is_unpacked "$d" && kdir=$d
    done
fi
[ -n "$kdir" ] || unavailable "cannot download a Debian kernel (linux-image-*-amd64) and none is cached in $cache"
echo "build-initramfs: kernel $(basename "$kdir")" >&2

# --- the initramfs ----------------------------------------------------------

mkdir -p "$out"
root=$(mktemp -d "$out/.root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
cp "$kdir/overlay.ko" "$root/lib/modules/overlay.ko"
install -m 0755 "$here/init.sh" "$root/init"

# klee is dynamically linked: the libraries ldd names, and the loader, go
# to the same paths inside. The copy is stripped: a debug build is ~150 MB
# of which the VM needs none, and the initramfs is unpacked into its RAM.
mkdir -p "$root/usr/local/bin"
objcopy --strip-debug "$klee" "$root/usr/local/bin/klee" 2>/dev/null ||
    cp "$klee" "$root/usr/local/bin/klee"
ldd "$klee" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0) |
    gzip -1 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$kdir/vmlinuz" "$out/vmlinuz"
