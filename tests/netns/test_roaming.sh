#!/usr/bin/env bash
# Roaming: the client's outer address changes in the middle of a 50 MiB transfer (a new address
# is added to the client veth and the old one deleted). The transfer must complete intact and
# the server's `wg show <if> endpoints` must show the new address afterwards.
# Cases (client = initiator, has the server's Endpoint):
#   waypost client / wireguard-go server, IPv4 outer, data client->server
#   waypost client / wireguard-go server, IPv6 outer, data server->client
#   wireguard-go client / waypost server, IPv6 outer, data client->server
#   wireguard-go client / waypost server, IPv6 outer, data server->client
# The transfer is paced (~4.2 s); the address moves once the receiver has a quarter of the data
# (polled, so it lands in the transfer's middle however slow a busy host makes the start).
# Traffic must resume promptly after the move: the receiver's longest wait for data (xfer.py's
# max_wait) must stay below STALL_LIMIT_S = 5 s, WireGuard's REKEY_TIMEOUT, i.e. the transfer
# resumed before a handshake retry could even have been sent. (The longest wait, unlike the
# transfer's total duration, does not grow when a busy host cannot keep up the pace.)
# Clients have PersistentKeepalive = 1: in the server->client cases the client's TCP only
# answers data that reaches it, so without a client-originated packet from the new address the
# server keeps sending to the old one and the transfer stalls until a handshake retry (~25 s,
# seen with both implementations). That is the protocol, not a bug; roaming clients use a
# keepalive for exactly this.
#
# wireguard-go 0.0.20220316 as a client keeps a "sticky" IPv4 source address and, after that
# address is deleted, drops it only when its handshake retries start (the transfer stalls
# ~25 s); over IPv6 it recovers at once. So the Waypost-as-server cases use IPv6; the Waypost-as-client cases cover both
# families. In a validation run with WPT_WAYPOST_IMPL=wireguard-go the IPv4 promptness check is
# skipped for that reason.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout

RATE=$((12 * 1024 * 1024))
PACED_S=$(awk -v b="$WPT_XFER_BYTES" -v r="$RATE" 'BEGIN { printf "%.1f", b / r }')
STALL_LIMIT_S=5

topo_pair
# Deleting a primary IPv4 address would otherwise delete the new (secondary) one with it.
nsx "$NS_C" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 "net.ipv4.conf.$VETH_C.promote_secondaries=1"

# move_addr FAM OLD NEW: add NEW to the client veth, then delete OLD.
move_addr() {
  if [[ $1 == 6 ]]; then
    ip -n "$NS_C" -6 addr add "$3/64" dev "$VETH_C" nodad && ip -n "$NS_C" -6 addr del "$2/64" dev "$VETH_C"
  else
    ip -n "$NS_C" addr add "$3/24" dev "$VETH_C" && ip -n "$NS_C" addr del "$2/24" dev "$VETH_C"
  fi
}

# quarter_done_or_ended HANDLE: the receiver has a quarter of the data, or the sender is gone.
quarter_done_or_ended() {
  xfer_received_at_least "$1" $((WPT_XFER_BYTES / 4)) || ! xfer_running "$1"
}

for c in "wp wggo 4 c2s" "wp wggo 6 s2c" "wggo wp 6 c2s" "wggo wp 6 s2c"; do
  read -r cimpl simpl fam dir <<<"$c"
  label="[client=$(impl_label "$cimpl") server=$(impl_label "$simpl") IPv$fam $dir]"
  if [[ $fam == 6 ]]; then old=$OUT6_C new=fd00:241::11; else old=$OUT4_C new=192.168.241.11; fi
  if ! tunnel_up "$cimpl" "$simpl" "$fam" 0 client 1; then
    fail "$label tunnel did not come up"
    tunnel_down
    continue
  fi
  if ! assert_ok "$label ping before the move" ping_ok "$NS_C" "$TUN4_S"; then
    tunnel_down
    continue
  fi
  assert_eq "$(peer_endpoint "$IF_S" "$PUB_C")" "$(endpoint "$old" 51001)" "$label server sees the old endpoint"
  h="roam$fam$cimpl$dir"
  if [[ $dir == c2s ]]; then
    xfer_start "$h" "$NS_C" "$NS_S" "$TUN4_S" "$WPT_XFER_BYTES" "$RATE" 60
  else
    xfer_start "$h" "$NS_S" "$NS_C" "$TUN6_C" "$WPT_XFER_BYTES" "$RATE" 60
  fi
  # Move once a quarter has arrived (or give up waiting when the transfer ended or 30 s passed).
  wait_for 30 quarter_done_or_ended "$h"
  assert_ok "$label transfer still running when the address moves ($(xfer_received "$h") bytes in)" xfer_running "$h"
  assert_ok "$label client outer address moved $old -> $new" move_addr "$fam" "$old" "$new"
  out=$(xfer_wait "$h")
  rc=$?
  if ((rc == 0)); then pass "$label transfer survived the move: $out"; else fail "$label transfer across the move: $out"; fi
  if ((rc == 0)) && [[ $cimpl == wp && $fam == 4 ]] && ! wpt_is_real_waypost; then
    skip "$label promptness (wireguard-go standing in for waypost keeps a stale IPv4 source)"
  elif ((rc == 0)); then
    gap=$(xfer_field "$h" max_wait) secs=$(xfer_field "$h" seconds)
    if awk -v g="$gap" -v lim="$STALL_LIMIT_S" 'BEGIN { exit !(g != "" && g < lim) }'; then
      pass "$label traffic resumed promptly after the move (longest wait for data ${gap}s; ${secs}s in all, paced ${PACED_S}s)"
    else
      fail "$label traffic stalled after the move (longest wait for data ${gap}s, limit ${STALL_LIMIT_S}s; ${secs}s in all)"
    fi
  fi
  assert_ok "$label ping after the move" ping_ok "$NS_C" "$TUN4_S" 5
  assert_eq "$(peer_endpoint "$IF_S" "$PUB_C")" "$(endpoint "$new" 51001)" \
    "$label server ($(impl_label "$simpl")) shows the new endpoint"
  tunnel_down
  move_addr "$fam" "$new" "$old" || die "could not restore the client address"
done
wpt_finish
