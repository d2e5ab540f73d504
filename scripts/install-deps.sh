#!/usr/bin/env bash
# Installs the Debian 12 packages Waypost needs that are not installed yet; does nothing (and
# needs no network) when everything is present. Usage: install-deps.sh [--package | --test]
#   (no flag)  what building and running the daemon needs
#   --package  plus what building the Debian package needs (scripts/build-deb.sh)
#   --test     plus the compilers, test peers and tools the test suite and benchmarks use,
#              and the package test's (lintian, systemd-nspawn, bash-completion)
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
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-install-recommends: wireguard-tools would otherwise pull in a kernel image.
apt-get install -y -q --no-install-recommends "${missing[@]}"
