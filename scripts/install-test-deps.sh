#!/usr/bin/env bash
# Install what the VM kernel-oracle suite (tests/vm) needs; idempotent, safe to run again.
#
#   * Debian packages qemu-system-x86, kmod and busybox-static (qemu runs the guests; virtme-ng builds
#     the initramfs that loads the 9p/virtiofs modules with busybox; modprobe loads zram inside);
#   * Debian's 6.1 and 6.12 amd64 kernels (linux-image-*-amd64-unsigned), downloaded with
#     `apt-get download` and extracted with `dpkg-deb -x` into $OOMLENS_VM_CACHE (default
#     /opt/oomlens-vm); /lib/modules/<release> links to the extracted modules (a virtme-ng guest sees
#     this machine's root file system read-only, and links its /lib/modules/<release> there too);
#   * virtme-ng (PyPI) into the repo's .venv.
#
# Needs root (apt-get, /lib/modules). Writes $OOMLENS_VM_CACHE/kernels.tsv: one "series release vmlinuz" line
# per kernel, read by tests/vm/harness.py. Pin kernels with OOMLENS_VM_KERNEL_6_1 / OOMLENS_VM_KERNEL_6_12
# (a package name); by default the newest the archive offers is taken.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# Not under /var/cache: a virtme-ng guest mounts a tmpfs there, and it loads the modules from beside the
# kernel image (<cache>/kernels/<release>/lib/modules/<release>), through this machine's root.
CACHE=${OOMLENS_VM_CACHE:-/opt/oomlens-vm}
VIRTME_NG_VERSION=${VIRTME_NG_VERSION:-1.42}
export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "needs root (apt-get install, /lib/modules)"; exit 1
fi

# ---------------------------------------------------------------- Debian packages
updated=0
apt_update_once() {
    if [ "$updated" = 0 ]; then
        log "apt-get update"
        apt-get update -q >/dev/null
        updated=1
    fi
}
missing=()
for pkg in qemu-system-x86 kmod busybox-static; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- kernels
mkdir -p "$CACHE/debs" "$CACHE/kernels"
newest() {  # newest package name matching an extended regex, from the apt lists
    apt-cache search --names-only "$1" | awk '{print $1}' | grep -E "^$1\$" | sort -V | tail -n 1
}
: >"$CACHE/kernels.tsv.new"
for series in 6.1 6.12; do
    var="OOMLENS_VM_KERNEL_${series//./_}"
    pkg=${!var:-}
    if [ -z "$pkg" ]; then
        # reuse what is cached unless asked otherwise (no network when already set up)
        if [ -f "$CACHE/kernels.tsv" ]; then
            pkg=$(awk -F'\t' -v s="$series" '$1 == s {print $4; exit}' "$CACHE/kernels.tsv")
        fi
    fi
    if [ -z "$pkg" ]; then
        re="linux-image-${series//./\\.}\\.[0-9]+(-[0-9]+)?(\\+deb[0-9]+)?-amd64-unsigned"
        pkg=$(newest "$re")
        if [ -z "$pkg" ]; then apt_update_once; pkg=$(newest "$re"); fi
        [ -n "$pkg" ] || { log "no package matches $re"; exit 1; }
    fi
    release=${pkg#linux-image-}; release=${release%-unsigned}
    dest="$CACHE/kernels/$release"
    mods=/lib/modules/$release
    if [ ! -f "$dest/boot/vmlinuz-$release" ] || [ ! -f "$dest/lib/modules/$release/modules.dep" ]; then
        deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
        if [ -z "$deb" ]; then
            log "apt-get download $pkg"
            apt_update_once
            (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
            deb=$(ls "$CACHE/debs/${pkg}_"*.deb | head -n 1)
        fi
        log "extracting $deb"
        rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
        dpkg-deb -x "$deb" "$dest.tmp"
        [ -f "$dest.tmp/lib/modules/$release/modules.dep" ] || depmod -b "$dest.tmp" "$release"
        rm -rf "$dest" && mv "$dest.tmp" "$dest"
    fi
    # a real directory there is an installed kernel's: leave it alone
    if [ -L "$mods" ] || [ ! -e "$mods" ]; then
        mkdir -p /lib/modules && ln -sfn "$dest/lib/modules/$release" "$mods"
    fi
    printf '%s\t%s\t%s\t%s\n' "$series" "$release" "$dest/boot/vmlinuz-$release" "$pkg" >>"$CACHE/kernels.tsv.new"
done
mv "$CACHE/kernels.tsv.new" "$CACHE/kernels.tsv"

# ---------------------------------------------------------------- virtme-ng
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import importlib.metadata as m; assert m.version('virtme-ng') == '$VIRTME_NG_VERSION'" 2>/dev/null; then
    log "pip install virtme-ng==$VIRTME_NG_VERSION"
    .venv/bin/pip install -q "virtme-ng==$VIRTME_NG_VERSION"
fi
log "ready: $(cut -f2 "$CACHE/kernels.tsv" | tr '\n' ' ')(cache $CACHE)"
