#!/usr/bin/env bash
# Install Chromium from Debian's packages for the headless-browser test of the --html pages
# (tests/browser). Idempotent: does nothing when a chromium binary is already there, and runs
# `apt-get update` only when the package has to be installed. Needs root (apt-get).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { printf 'deps/chromium: %s\n' "$*" >&2; }

for bin in chromium chromium-browser; do
    if command -v "$bin" >/dev/null 2>&1; then
        log "$(command -v "$bin") is installed ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
        exit 0
    fi
done
if [ "$(id -u)" != 0 ]; then
    log "chromium is missing and installing it needs root (apt-get install chromium)"; exit 1
fi
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
    log "apt-get update"
    apt-get update -qq
    log "apt-get install chromium"
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
command -v chromium >/dev/null 2>&1 || { log "chromium still not on PATH after the install"; exit 1; }
log "installed $(chromium --version 2>/dev/null)"
