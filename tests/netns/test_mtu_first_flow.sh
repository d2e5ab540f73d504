#!/usr/bin/env bash
# The first connection after connecting, through a path MTU blackhole (issue 17, item 8): a
# user's first page load right after the tunnel comes up must not hang while Waypost's path MTU
# search is still running.
#
# Lab (mtu_lib.sh; fresh namespaces per round): client -- router -- server, the link next to the
# CLIENT at MTU 1400 (MTU_NARROW) on both ends, the router dropping every ICMP frag-needed /
# packet-too-big. Waypost server at its defaults (automatic MTU: 1420 while no client is known),
# stock wireguard-go client at MTU 1420 (its full-size packets do not fit the narrow link). An
# HTTP server in the server namespace; the client downloads 5 MiB from the server's tunnel
# address (inner IPv4), its first TCP connection through the tunnel, DELAY seconds after the
# first packet:
#   0         the GET itself brings the tunnel up (its SYN is the first data the server sees);
#   0.5, 1.5  after the first ping, while the search still relies on the interface MTU (its first
#             verdict comes 2 s after the handshake);
#   3         after the first ping, the schedule of the original report.
# Each round, with IPv4 and with IPv6 outer transport (MTU_FAMILIES), MTU_FIRST_REPEAT times:
#   - the download completes with the right SHA-256 within MTU_XFER_TIMEOUT (default 30 s; no
#     timing assertion: a transfer either completes within a generous bound or it has hung);
#   - the server clamped the SYN (mss_clamped > 0) and never had to send an ICMP too-big or drop
#     a packet for size (icmp_too_big_sent = 0, mtu_dropped = 0): the connection was promised
#     only a segment size the search had confirmed, so no segment of it was ever too big for the
#     path. (Before the fix a connection opened in the first 2 s was promised the unverified
#     interface MTU, its segments vanished, and it waited for its sender's retransmission timer
#     to come round after the verdict and be answered with an ICMP error: 3 s of nothing for a
#     connection opened with the tunnel, longer where that ICMP cannot help.)
#
# Environment: MTU_XFER_TIMEOUT (s, default 30); MTU_NARROW (default 1400); MTU_FAMILIES
# (default "4 6"); MTU_FIRST_DELAYS (default "0 0.5 1.5 3"); MTU_FIRST_REPEAT (default 1, at
# most 5). WPT_WAYPOST_IMPL=wireguard-go skips the test (it needs Waypost's MTU policy).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2154,SC2317
source "$(dirname "$0")/lib.sh"
MTU_NARROW=${MTU_NARROW:-1400}
# shellcheck source=mtu_lib.sh
source "$(dirname "$0")/mtu_lib.sh"
wpt_require_root
wpt_require_tools wireguard-go wg ip nft ping timeout ss sha256sum
wpt_require_waypost

if ! wpt_is_real_waypost; then
  skip "first connection through a blackhole: WPT_WAYPOST_IMPL=$WPT_WAYPOST_IMPL has no MTU policy"
  wpt_finish
fi

T=${MTU_XFER_TIMEOUT:-30}
FAMILIES=${MTU_FAMILIES:-4 6}
DELAYS=${MTU_FIRST_DELAYS:-0 0.5 1.5 3}
REPEAT=${MTU_FIRST_REPEAT:-1}
((REPEAT >= 1 && REPEAT <= 5)) || die "MTU_FIRST_REPEAT must be 1..5"
PORT=8080
WWW=$WPT_SCRATCH/www
mkdir -p "$WWW"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$WWW/f5m"
SHA=$(sha256sum "$WWW/f5m" | cut -d' ' -f1)

counter_is() { # counter_is MSG NAME WANT: the server's counter NAME equals WANT
  local v
  v=$(wp_counter "$NS_S" "$IF_S" "$2")
  if [[ $v == "$3" ]]; then pass "$1: $2 = $v"; else fail "$1: $2 = '$v', expected $3"; fi
}
counter_positive() { # counter_positive MSG NAME: the server's counter NAME is > 0
  local v
  v=$(wp_counter "$NS_S" "$IF_S" "$2")
  if [[ $v =~ ^[0-9]+$ ]] && ((v > 0)); then pass "$1: $2 = $v"; else fail "$1: $2 = '$v', expected > 0"; fi
}

for ((rep = 1; rep <= REPEAT; rep++)); do
  for fam in $FAMILIES; do
    for delay in $DELAYS; do
      L="[IPv$fam-outer, GET $delay s after the first packet, round $rep]"
      mtu_lab_up client
      if ! http_serve HTTP_PID "$NS_S" :: "$PORT" "$WWW" "$WPT_SCRATCH/logs/http-$MTU_LAB_SEQ.log"; then
        fail "$L HTTP server did not start"
        mtu_lab_down
        continue
      fi
      mtu_conf_pair 1420 "" "$fam"
      if ! wp_up PID_S "$NS_S" "$CONF_S" || ! wggo_up PID_C "$NS_C" "$CONF_C"; then
        fail "$L tunnel ends did not come up"
        mtu_lab_down
        continue
      fi
      if [[ $delay != 0 ]]; then
        if ! ping_ok "$NS_C" "$MTU_TUN4_S" 10; then
          fail "$L no ping through the tunnel (handshake)"
          mtu_lab_down
          continue
        fi
        sleep "$delay"
      fi
      tag=first$MTU_LAB_SEQ
      http_get_start "$tag" "$NS_C" "http://$MTU_TUN4_S:$PORT/f5m" 0 "$T"
      if out=$(http_get_wait "$tag" "$SHA"); then
        pass "$L the first download completes: $out"
      else
        fail "$L the first download did not complete (hung): $out"
      fi
      counter_positive "$L server clamped the SYN" mss_clamped
      counter_is "$L server, no segment too big for the path" icmp_too_big_sent 0
      counter_is "$L server" mtu_dropped 0
      log "$L server: $(mtu_path_summary "$NS_S" "$IF_S" "$PUB_C")"
      mtu_lab_down
    done
  done
done
wpt_finish
