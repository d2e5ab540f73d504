#!/usr/bin/env bash
# Installs what is missing, builds Waypost, and runs the main job in the foreground: a WireGuard
# VPN server on the embedded defaults. Idempotent: state is created on the first run only and
# reused afterwards. Run as root. Ctrl-C stops it and removes everything it configured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAYPOST_TESTS=OFF >/dev/null
ninja -C build waypost
exec build/src/waypost server up --init-if-needed "$@"
