#!/usr/bin/env bash
# Proves the lab itself: wireguard-go <-> wireguard-go in the "pair" topology, over IPv4 and IPv6
# outer transport: handshake, ping both inner families, a 50 MiB transfer with SHA-256 compare
# (client->server over IPv4 outer, server->client over IPv6 outer).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin --no-waypost wireguard-go wg ip ping timeout

topo_pair

for fam in 4 6; do
  if [[ $fam == 4 ]]; then from=$NS_C to=$NS_S dst=$TUN4_S; else from=$NS_S to=$NS_C dst=$TUN6_C; fi
  tunnel_up wggo wggo "$fam" 0 client || { tunnel_down; continue; }
  assert_ok "IPv$fam outer: ping inner IPv4 client->server" ping_ok "$NS_C" "$TUN4_S"
  assert_ok "IPv$fam outer: ping inner IPv6 client->server" ping_ok "$NS_C" "$TUN6_S"
  assert_ok "IPv$fam outer: ping inner IPv4 server->client" ping_ok "$NS_S" "$TUN4_C"
  assert_ok "IPv$fam outer: handshake recorded on both ends" \
    tunnel_handshaked
  want=$(endpoint "$OUT4_C" 51001)
  [[ $fam == 6 ]] && want=$(endpoint "$OUT6_C" 51001)
  assert_eq "$(peer_endpoint "$IF_S" "$PUB_C")" "$want" "IPv$fam outer: server learned the client endpoint"
  assert_xfer "IPv$fam outer: 50 MiB transfer" "$from" "$to" "$dst"
  tunnel_down
done
wpt_finish
