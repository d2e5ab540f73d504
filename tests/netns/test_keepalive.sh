#!/usr/bin/env bash
# PersistentKeepalive = 1 on the Waypost side (client, initiator) towards a wireguard-go server.
# No traffic is sent through the tunnel at all: the keepalive alone must bring up the session,
# and a capture on the server's outer veth must then show, from the client, only WireGuard
# keepalives (UDP payload of 32 bytes whose first word is message type 4 = transport data with
# an empty payload), about one per second.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip tcpdump timeout

CAPTURE_S=${KEEPALIVE_CAPTURE_S:-7}

topo_pair
tunnel_up wp wggo 4 0 client 1 || die "tunnel did not come up"
assert_contains "$(wg show "$IF_C" persistent-keepalive)" "$PUB_S	1" \
  "waypost reports persistent-keepalive 1 for the peer"
assert_wait 10 "a handshake completes with no tunnel traffic (keepalive only)" handshake_done "$IF_S" "$PUB_C"
sleep 1.5 # let the handshake exchange and its first keepalive pass

c2s="udp and src host $OUT4_C and src port 51001 and dst host $OUT4_S and dst port 51002"
cap_start ka "$NS_S" "$VETH_S" "$CAPTURE_S" "$c2s" || die "capture did not start"
cap_wait ka

# UDP length 40 = 8 header + 32 payload; payload word 0 = 0x04000000 (type 4, little-endian).
ka_filter="$c2s and udp[4:2] = 40 and udp[8:4] = 0x04000000"
all_lines=$(cap_read ka)
ka_times=$(cap_read ka "$ka_filter" | awk '{ print $1 }')
n_all=$(grep -c . <<<"$all_lines")
n_ka=$(grep -c . <<<"$ka_times")
log "client->server packets in ${CAPTURE_S}s: $n_all, keepalives: $n_ka"

min=$((CAPTURE_S - 2)) max=$((CAPTURE_S + 1))
if ((n_ka >= min && n_ka <= max)); then
  pass "$n_ka keepalives in a ${CAPTURE_S}s capture (expected $min..$max)"
else
  fail "$n_ka keepalives in a ${CAPTURE_S}s capture (expected $min..$max)"
fi
assert_eq "$((n_all - n_ka))" 0 "no client->server packets other than keepalives (saw: $(grep -v -c 'length 32' <<<"$all_lines") non-32-byte)"

# Spacing: each gap 0.6..1.6 s, mean 0.85..1.2 s.
stats=$(awk 'NR > 1 { g = $1 - prev; s += g; n++; if (g < mn || n == 1) mn = g; if (g > mx) mx = g }
             { prev = $1 }
             END { if (n) printf "%d %.3f %.3f %.3f", n, s / n, mn, mx; else print "0 0 0 0" }' <<<"$ka_times")
read -r ngaps mean gmin gmax <<<"$stats"
log "keepalive gaps: n=$ngaps mean=$mean min=$gmin max=$gmax"
if ((ngaps >= 2)) && awk -v m="$mean" -v a="$gmin" -v b="$gmax" \
  'BEGIN { exit !(m >= 0.85 && m <= 1.2 && a >= 0.6 && b <= 1.6) }'; then
  pass "keepalives about once per second (mean gap ${mean}s, min ${gmin}s, max ${gmax}s)"
else
  fail "keepalive spacing off (gaps n=$ngaps mean=${mean}s min=${gmin}s max=${gmax}s; want mean 0.85..1.2, each 0.6..1.6)"
fi
wpt_finish
