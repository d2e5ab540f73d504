#!/usr/bin/env bash
# Installs what is missing, builds Waypost, and runs the main job in the foreground: a WireGuard
# VPN server on the embedded defaults. Idempotent: state is created on the first run only and
# reused afterwards. Run as root. Ctrl-C stops it and removes everything it configured.
#
#   sudo bash scripts/run.sh [--endpoint HOST] [--users a,b] [--interface IF] [--port N]
#                            [--ipv6 on|off] [--dir DIR] [--log-level LEVEL] [--log-file FILE]
#
# The first run creates DIR (default /etc/waypost: config.yaml, keys, client profiles; the
# first five options apply to it) and says what to do next: where each profile is, how to add a
# user, how to install the server as a service. Every run prints the first user's QR code for
# the WireGuard app before the server starts.
# Environment: WAYPOST_BIN=PATH runs that binary instead of building one (for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

dir=/etc/waypost
init_args=()
up_args=()
while (($#)); do
  case $1 in
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --endpoint | --users | --interface | --port | --ipv6)
      init_args+=("$1" "${2:?$1 needs a value}")
      shift 2
      ;;
    --endpoint=* | --users=* | --interface=* | --port=* | --ipv6=*) init_args+=("$1"); shift ;;
    *) up_args+=("$1"); shift ;;
  esac
done

if [[ -n ${WAYPOST_BIN:-} ]]; then
  wp=$WAYPOST_BIN
else
  bash scripts/install-deps.sh
  # No tests here (GoogleTest is not installed without --test); scripts/test.sh turns them on.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAYPOST_TESTS=OFF >/dev/null
  ninja -C build waypost
  wp=$ROOT/build/src/waypost
fi

dir_args=()
[[ $dir == /etc/waypost ]] || dir_args=(--dir "$dir")

if [[ -f $dir/config.yaml ]]; then
  if ((${#init_args[@]})); then
    echo "run.sh: $dir is already set up; ignoring ${init_args[*]} (edit $dir/config.yaml, or remove $dir to start over)" >&2
  fi
else
  # The first run: create the server, then say what comes next. The QR code follows, printed
  # by `server up --show-qr`.
  "$wp" server init "${dir_args[@]}" "${init_args[@]}"
  deb_version=$(sed -nE '1s/^waypost \(([^)]+)\).*/\1/p' debian/changelog)
  unit_note=""
  [[ $dir == /etc/waypost ]] || unit_note="
(the unit serves /etc/waypost: move $dir there, or change ExecStart and ReadWritePaths with
 sudo systemctl edit waypost-server)"
  cat <<EOF_NEXT

==== Waypost is set up. What next ====

Client profiles (each holds that user's private key: keep them private):
EOF_NEXT
  "$wp" users list "${dir_args[@]}" | while read -r user _; do
    echo "  $user:"
    "$wp" users show "$user" --paths "${dir_args[@]}" | sed 's/^/    /'
  done
  cat <<EOF_NEXT

Connect a phone: scan the QR code below with the WireGuard app. To show a user's code again:
  sudo $wp users show USER --qr ${dir_args[*]}

Add a user (live: the server keeps running; from another terminal):
  sudo $wp users add laptop ${dir_args[*]}

Install it as a service that starts at boot (hardened systemd unit; same $dir, so these profiles
keep working). Stop this foreground server first (Ctrl-C), then:
  bash scripts/build-deb.sh
  sudo apt install ./out/waypost_${deb_version}_$(dpkg --print-architecture).deb
  sudo systemctl enable --now waypost-server${unit_note}
See README.md and, once installed, man waypost-server.

EOF_NEXT
fi
exec "$wp" server up --show-qr "${dir_args[@]}" "${up_args[@]}"
