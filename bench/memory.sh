#!/usr/bin/env bash
# Daemon memory with 0, 1 000 and 10 000 configured peers (each with a preshared key, an
# endpoint and a /32 allowed IP), measured as VmRSS once the interface is up and idle.
# Prints the per-peer cost. Runs in a network namespace of its own. Usage (as root):
#   bench/memory.sh [--json] [--counts "0 1000 10000"]
set -euo pipefail
WAYPOST_BIN=${WAYPOST_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/src/waypost}
JSON=0
COUNTS="0 1000 10000"
while (($#)); do
  case "$1" in
    --json) JSON=1 ;;
    --counts) COUNTS=$2; shift ;;
    *) echo "usage: $0 [--json] [--counts LIST]" >&2; exit 2 ;;
  esac
  shift
done
NS=wpmem$$
SCRATCH=$(mktemp -d)
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up

declare -A RSS
for n in $COUNTS; do
  ifname=wpm$$n
  ifname=${ifname:0:15}
  conf=$SCRATCH/$ifname.conf
  python3 - "$n" "$("$WAYPOST_BIN" genkey)" >"$conf" <<'PY'
import base64, os, sys
n = int(sys.argv[1])
print("[Interface]\nPrivateKey = %s\nListenPort = 51900\nAddress = 10.200.0.1/16\nMTU = 1420\nTable = off\n" % sys.argv[2])
for i in range(n):
    key = base64.b64encode(os.urandom(32)).decode()
    psk = base64.b64encode(os.urandom(32)).decode()
    a, b = divmod(i + 2, 250)
    print("[Peer]\nPublicKey = %s\nPresharedKey = %s\nAllowedIPs = 10.%d.%d.%d/32\nEndpoint = 192.0.2.%d:51820\n"
          % (key, psk, 100 + a // 250, a % 250, b + 1, i % 250 + 1))
PY
  chmod 600 "$conf"
  ip netns exec "$NS" "$WAYPOST_BIN" up --foreground --log-level warn "$conf" &
  PID=$!
  for _ in $(seq 100); do
    [[ -S /var/run/waypost/$ifname.sock ]] && break
    sleep 0.1
  done
  sleep 1
  RSS[$n]=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=""
done

first=${COUNTS%% *}
if ((JSON)); then
  printf '{"rss_kib": {'
  sep=""
  for n in $COUNTS; do printf '%s"%s": %s' "$sep" "$n" "${RSS[$n]}"; sep=", "; done
  printf '}'
  for n in $COUNTS; do
    ((n > 0)) && printf ', "bytes_per_peer_%s": %d' "$n" $(((RSS[$n] - RSS[$first]) * 1024 / n))
  done
  printf '}\n'
else
  for n in $COUNTS; do
    if ((n > 0)); then
      printf '%6d peers: RSS %6d KiB  (%d bytes per peer)\n' "$n" "${RSS[$n]}" \
        $(((RSS[$n] - RSS[$first]) * 1024 / n))
    else
      printf '%6d peers: RSS %6d KiB\n' "$n" "${RSS[$n]}"
    fi
  done
fi
