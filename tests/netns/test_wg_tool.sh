#!/usr/bin/env bash
# The stock `wg` tool against Waypost's UAPI socket (/var/run/wireguard/<if>.sock), plus
# `waypost show --json`. Waypost runs in the client ns and initiates to a wireguard-go server.
#   - `wg show <if>`, `wg show <if> dump`, `wg showconf <if>` report what the config says
#   - `wg set <if> peer K allowed-ips X`: visible in `wg show` and in traffic (removing the
#     peer's address stops pings, putting it back restores them)
#   - `wg set <if> peer K remove`: the peer disappears and traffic stops
#   - `wg setconf` with the saved `wg showconf` output brings the peer back (traffic works)
#   - `wg set <if> private-key` with the unchanged key, then `wg syncconf` adding and removing a
#     second peer, leave the live session alone: pings right after each step are answered and
#     the first peer's latest-handshake stays the same
#   - `wg set <if> listen-port P`: reported, the old port closed, the new one bound, traffic
#     keeps working and the server sees the client's new port
#   - `waypost show <if> --json` and `waypost show --json` parse with python3's json and name
#     the interface's keys; `waypost show <if>` works
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping ss timeout

topo_pair
tunnel_up wp wggo 4 0 client || die "tunnel did not come up"
assert_ok "ping over the tunnel" ping_ok "$NS_C" "$TUN4_S" || die "no baseline connectivity"

# --- wg show / dump / showconf ---------------------------------------------------------------
show=$(wg show "$IF_C" 2>&1)
assert_contains "$show" "interface: $IF_C" "wg show: interface line"
assert_contains "$show" "public key: $PUB_C" "wg show: public key"
assert_contains "$show" "listening port: 51001" "wg show: listening port"
assert_contains "$show" "peer: $PUB_S" "wg show: peer"
assert_contains "$show" "endpoint: $OUT4_S:51002" "wg show: endpoint"
assert_match "$show" "allowed ips:.*$TUN4_S/32" "wg show: allowed ips (IPv4)"
assert_match "$show" "allowed ips:.*$TUN6_S/128" "wg show: allowed ips (IPv6)"
assert_match "$show" "latest handshake: (now|.* ago)" "wg show: latest handshake"
assert_match "$show" "transfer: .* received, .* sent" "wg show: transfer counters"
dump=$(wg show "$IF_C" dump 2>&1)
assert_eq "$(head -n1 <<<"$dump")" "$PRIV_C	$PUB_C	51001	off" "wg show dump: interface line"
assert_match "$(sed -n 2p <<<"$dump")" "^$(sed 's/[+/]/\\&/g' <<<"$PUB_S")	\(none\)	$OUT4_S:51002	" "wg show dump: peer line"
showconf=$(wg showconf "$IF_C" 2>&1)
assert_contains "$showconf" "PrivateKey = $PRIV_C" "wg showconf: private key"
assert_contains "$showconf" "ListenPort = 51001" "wg showconf: listen port"
assert_contains "$showconf" "PublicKey = $PUB_S" "wg showconf: peer public key"
assert_contains "$showconf" "Endpoint = $OUT4_S:51002" "wg showconf: endpoint"
assert_match "$showconf" "AllowedIPs = .*$TUN4_S/32" "wg showconf: allowed ips"

# --- allowed-ips changes show up in wg show and in traffic -------------------------------------
wg showconf "$IF_C" >"$WPT_SCRATCH/conf/saved.conf"
assert_ok "wg set allowed-ips to another address" wg set "$IF_C" peer "$PUB_S" allowed-ips 10.241.0.99/32
assert_eq "$(wg show "$IF_C" allowed-ips)" "$PUB_S	10.241.0.99/32" "wg show reflects the new allowed ips"
assert_ok "without the server's address in allowed-ips, ping fails" ping_none "$NS_C" "$TUN4_S" 3
assert_ok "wg set allowed-ips back" wg set "$IF_C" peer "$PUB_S" allowed-ips "$TUN4_S/32,$TUN6_S/128"
assert_match "$(wg show "$IF_C" allowed-ips)" "$TUN4_S/32" "wg show reflects the restored allowed ips"
assert_ok "with the address back, ping works" ping_ok "$NS_C" "$TUN4_S" 5

# --- peer remove / setconf ---------------------------------------------------------------------
assert_ok "wg set peer remove" wg set "$IF_C" peer "$PUB_S" remove
assert_eq "$(wg show "$IF_C" peers)" "" "wg show peers is empty after remove"
assert_ok "with the peer removed, ping fails" ping_none "$NS_C" "$TUN4_S" 3
assert_ok "wg setconf with the saved showconf" wg setconf "$IF_C" "$WPT_SCRATCH/conf/saved.conf"
assert_eq "$(wg show "$IF_C" peers)" "$PUB_S" "the peer is back after setconf"
assert_ok "after setconf, ping works" ping_ok "$NS_C" "$TUN4_S"
assert_eq "$(wg showconf "$IF_C" | grep -c .)" "$(grep -c . "$WPT_SCRATCH/conf/saved.conf")" \
  "showconf after setconf has as many lines as before"

# --- syncconf keeps the live session -----------------------------------------------------------
# `wg syncconf` re-sends the interface's private key; an unchanged key must not drop sessions
# (the kernel module and wireguard-go both skip it), so that step is checked on its own first.
hs1=$(latest_handshake "$IF_C" "$PUB_S")
assert_ok "wg set private-key with the same key" wg set "$IF_C" private-key <(echo "$PRIV_C")
assert_ok "traffic flows right after re-setting the same private key" ping_ok "$NS_C" "$TUN4_S" 2
dummy=$(wg_pub "$(wg_genkey)")
{ cat "$WPT_SCRATCH/conf/saved.conf"; printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.241.0.50/32\n' "$dummy"; } \
  >"$WPT_SCRATCH/conf/plus.conf"
assert_ok "wg syncconf adding a peer" wg syncconf "$IF_C" "$WPT_SCRATCH/conf/plus.conf"
assert_eq "$(wg show "$IF_C" peers | sort | tr '\n' ' ')" "$(printf '%s\n' "$PUB_S" "$dummy" | sort | tr '\n' ' ')" \
  "both peers present after syncconf"
assert_ok "traffic flows right after syncconf added a peer" ping_ok "$NS_C" "$TUN4_S" 2
assert_ok "wg syncconf back to the saved config" wg syncconf "$IF_C" "$WPT_SCRATCH/conf/saved.conf"
assert_eq "$(wg show "$IF_C" peers)" "$PUB_S" "the added peer is gone after the second syncconf"
assert_ok "traffic flows right after syncconf removed it" ping_ok "$NS_C" "$TUN4_S" 2
assert_eq "$(latest_handshake "$IF_C" "$PUB_S")" "$hs1" "the session survived (latest handshake unchanged)"

# --- listen-port change ------------------------------------------------------------------------
udp_bound() { ip netns exec "$NS_C" ss -Huln | awk '{ print $4 }' | grep -Eq "[:.]$1\$"; }
assert_ok "wg set listen-port 51011" wg set "$IF_C" listen-port 51011
assert_eq "$(wg show "$IF_C" listen-port)" 51011 "wg show reports the new listen port"
assert_wait 3 "UDP port 51011 is bound in the client ns" udp_bound 51011
assert_not "UDP port 51001 is no longer bound" udp_bound 51001
assert_ok "ping works after the port change" ping_ok "$NS_C" "$TUN4_S" 5
assert_eq "$(peer_endpoint "$IF_S" "$PUB_C")" "$OUT4_C:51011" "the server sees the client's new port"

# --- waypost show -------------------------------------------------------------------------------
if wpt_is_real_waypost; then
  jsonfile=$WPT_SCRATCH/show.json
  for args in "show $IF_C --json" "show --json"; do
    # shellcheck disable=SC2086
    if timeout 10 ip netns exec "$NS_C" "$WAYPOST_BIN" $args >"$jsonfile" 2>"$jsonfile.err"; then
      assert_ok "waypost $args parses as JSON" "$WPT_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$jsonfile"
      assert_contains "$(cat "$jsonfile")" "$PUB_C" "waypost $args names the interface's public key"
      assert_contains "$(cat "$jsonfile")" "$PUB_S" "waypost $args names the peer"
    else
      fail "waypost $args exited non-zero: $(head -c 300 "$jsonfile.err")"
    fi
  done
  if timeout 10 ip netns exec "$NS_C" "$WAYPOST_BIN" show "$IF_C" >"$jsonfile.txt" 2>&1; then
    assert_contains "$(cat "$jsonfile.txt")" "$PUB_S" "waypost show $IF_C names the peer"
  else
    fail "waypost show $IF_C exited non-zero: $(head -c 300 "$jsonfile.txt")"
  fi
else
  skip "waypost show --json (wireguard-go stands in for waypost)"
fi
wpt_finish
