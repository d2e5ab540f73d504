#!/usr/bin/env bash
# Waypost <-> wireguard-go interop, all 8 combinations of
#   role:   Waypost initiator (client, has the Endpoint) / wireguard-go responder, and the reverse
#   outer:  IPv4 / IPv6 transport between the namespaces
#   psk:    PresharedKey off / on (both ends)
# Each combination: the initiator pings the responder over inner IPv4 and IPv6 (the first ping
# triggers the handshake), the responder pings back, both ends report a handshake, the responder
# learned the initiator's outer address of the chosen family, and a 50 MiB
# TCP transfer with SHA-256 compare runs over the tunnel (direction alternates between
# combinations, inner family alternates too).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout

topo_pair

n=0
for role in wp-initiator wp-responder; do
  for fam in 4 6; do
    for psk in 0 1; do
      n=$((n + 1))
      if [[ $role == wp-initiator ]]; then cimpl=wp simpl=wggo; else cimpl=wggo simpl=wp; fi
      label="[$role outer=IPv$fam psk=$([[ $psk == 1 ]] && echo on || echo off)]"
      log "$label client=$(impl_label $cimpl) server=$(impl_label $simpl)"
      if ! tunnel_up "$cimpl" "$simpl" "$fam" "$psk" client; then
        fail "$label tunnel did not come up"
        tunnel_down
        continue
      fi
      if [[ $cimpl == wp ]]; then wp_if=$IF_C; else wp_if=$IF_S; fi
      if ! assert_ok "$label initiator pings responder (inner IPv4)" ping_ok "$NS_C" "$TUN4_S"; then
        tunnel_down
        continue
      fi
      assert_ok "$label initiator pings responder (inner IPv6)" ping_ok "$NS_C" "$TUN6_S" 3
      assert_ok "$label responder pings initiator (inner IPv4)" ping_ok "$NS_S" "$TUN4_C" 3
      assert_ok "$label both ends report a handshake" \
        tunnel_handshaked
      if [[ $fam == 6 ]]; then want=$(endpoint "$OUT6_C" 51001); else want=$(endpoint "$OUT4_C" 51001); fi
      assert_eq "$(peer_endpoint "$IF_S" "$PUB_C")" "$want" "$label responder learned the initiator's IPv$fam endpoint"
      if ((psk)); then
        assert_contains "$(wg show "$wp_if" preshared-keys)" "$PSK_KEY" "$label waypost reports the preshared key"
      fi
      # Alternate the transfer direction and the inner family from one combination to the next.
      if ((n % 2)); then from=$NS_C to=$NS_S dst=$TUN4_S dir="client->server"; else
        from=$NS_S to=$NS_C dst=$TUN6_C dir="server->client"
      fi
      assert_xfer "$label 50 MiB $dir" "$from" "$to" "$dst"
      tunnel_down
    done
  done
done
wpt_finish
