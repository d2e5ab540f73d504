#!/usr/bin/env bash
# Installs the Debian 12 packages Waypost needs that are not installed yet; does nothing (and
# needs no network) when everything is present. Usage: install-deps.sh [--package | --test]
#   (no flag)  what building and running the daemon needs
#   --package  plus what building the Debian package needs (scripts/build-deb.sh)
#   --test     plus the compilers, test peers and tools the test suite and benchmarks use,
#              the package test's (lintian, systemd-nspawn, bash-completion), and the browser
#              test's (chromium, zbar-tools, and `npm ci` in tests/web for playwright-core)
set -euo pipefail

build_and_run=(
  build-essential cmake ninja-build pkg-config
  libssl-dev libsodium-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev
  libcli11-dev libqrencode-dev libnftables-dev zlib1g-dev
  libunbound-dev libevent-dev nettle-dev dns-root-data libarchive-dev libsystemd-dev libsqlite3-dev
  libargon2-dev libboost1.81-dev
  iproute2 nftables ca-certificates
)
packaging=(debhelper scdoc dpkg-dev)
testing=(
  clang clang-format clang-tidy libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev
  wireguard-go wireguard-tools iperf3 tcpdump iputils-ping python3 curl procps util-linux psmisc
  strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins
  libstrongswan-standard-plugins
  unbound dnsutils ldnsutils dnsperf dnsmasq-base zstd
  lintian systemd-container bash-completion man-db
  chromium zbar-tools
)

wanted=("${build_and_run[@]}")
case "${1:-}" in
  --package) wanted+=("${packaging[@]}") ;;
  --test) wanted+=("${packaging[@]}" "${testing[@]}") ;;
esac

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# The browser test's Node packages (tests/web: playwright-core, which drives the chromium above and
# downloads no browser of its own): `npm ci` from the lock file, only when node_modules is missing
# or older than the lock file, so a second run does nothing and needs no network.
npm_test_packages() {
  local dir
  dir=$(cd "$(dirname "$0")/../tests/web" && pwd)
  if [[ -f $dir/node_modules/.package-lock.json && ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    echo "install-deps: tests/web node_modules up to date"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "install-deps: the browser test needs node (>= 20) and npm; install them, then run again" >&2
    return 1
  fi
  echo "install-deps: npm ci in tests/web"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
}

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
else
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # --no-install-recommends: wireguard-tools would otherwise pull in a kernel image.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [[ ${1:-} == --test ]]; then npm_test_packages; fi
