# shellcheck shell=bash
# The path-MTU blackhole lab (shared/LAB-NOTES.md, "The path-MTU blackhole, reproduced"), for
# namespace tests. Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/mtu_lib.sh"
#   mtu_lab_up client            # or: mtu_lab_up server
#   ...                          # daemons, traffic
#   mtu_lab_down                 # stops what ran in the lab's namespaces, deletes them
#
# Topology (TEST-NET / ULA addresses only), fresh namespaces per mtu_lab_up so that no route
# cache entry (PMTU exception) learned in one case leaks into the next:
#
#   client ns  VETH_C 198.51.100.1/24 fd00:5100::1/64
#        |     (MTU MTU_NARROW on both ends of this link when the narrow side is "client")
#   router ns  VETH_RC 198.51.100.254 fd00:5100::fe  /  VETH_RS 203.0.113.254 fd00:113::fe
#        |     (MTU MTU_NARROW on both ends of this link when the narrow side is "server")
#   server ns  VETH_S 203.0.113.2/24 fd00:113::2/64
#
# The router forwards, and drops every ICMP "fragmentation needed" (IPv4) and "packet too big"
# (IPv6) in its output and forward hooks (nftables table inet mtu_blackhole, with counters), so
# nobody ever learns that the narrow link exists: a PMTU blackhole. Each end's own kernel still
# knows its own link MTU (it fragments its own UDP datagrams and advertises an MSS that fits),
# which is why plain routed TCP never hangs here, while a tunnel whose packets are too big for
# the narrow link does, in the direction toward the narrow link's far end.
#
# Tunnel addresses used by the MTU tests: client MTU_TUN4_C/24 MTU_TUN6_C/64, server
# MTU_TUN4_S MTU_TUN6_S.

MTU_NARROW=${MTU_NARROW:-1454}
MTU_TUN4_C=192.0.2.1
MTU_TUN4_S=192.0.2.2
MTU_TUN6_C=fd00:192::1
MTU_TUN6_S=fd00:192::2
MTU_LAB_SEQ=0
MTU_LAB_NSES=()   # namespaces of the current lab

# mtu_wg_limit OUTER_FAMILY [PEER_MTU]: the largest inner packet a WireGuard peer with interface
# MTU PEER_MTU (default 1420) can send across the narrow link: its datagram is the inner packet
# padded to a multiple of 16 (never beyond PEER_MTU) + 16 (header) + 16 (tag) + 8 (UDP) + 20/40
# (outer IP), and must be <= MTU_NARROW.
mtu_wg_limit() {
  local fam=$1 peer_mtu=${2:-1420} over n best=0 padded
  if [[ $fam == 6 ]]; then over=80; else over=60; fi
  for ((n = 1280; n <= peer_mtu; n++)); do
    padded=$(((n + 15) / 16 * 16))
    ((padded > peer_mtu)) && padded=$peer_mtu
    ((padded + over <= MTU_NARROW)) && best=$n
  done
  echo "$best"
}

# mtu_lab_up NARROW_SIDE: build the lab (topo_chain in lib.sh, then the router's blackhole
# table) with the narrow link next to the "client" or the "server". Sets NS_C NS_R NS_S VETH_C VETH_RC VETH_RS VETH_S OUT4_C OUT4_S OUT6_C OUT6_S
# GW4_C GW6_C GW4_S GW6_S MTU_LAB_SIDE.
mtu_lab_up() {
  local side=$1 n
  [[ $side == client || $side == server ]] || die "mtu_lab_up: narrow side must be client or server"
  MTU_LAB_SEQ=$((MTU_LAB_SEQ + 1))
  n=$MTU_LAB_SEQ
  # shellcheck disable=SC2034 # for the caller
  MTU_LAB_SIDE=$side
  topo_chain "$n" 198.51.100 fd00:5100: 203.0.113 fd00:113: "$side" "$MTU_NARROW"
  MTU_LAB_NSES=("$NS_C" "$NS_R" "$NS_S")
  nsx "$NS_R" nft -f - <<'EOF' || die "router: nftables blackhole rules failed"
table inet mtu_blackhole {
  chain output {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop
    icmpv6 type packet-too-big counter drop
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop
    icmpv6 type packet-too-big counter drop
  }
}
EOF
}

# mtu_blackhole_off: the router sends and forwards ICMP "fragmentation needed" / "packet too big"
# again.
mtu_blackhole_off() { nsx "$NS_R" nft delete table inet mtu_blackhole 2>/dev/null; }

# mtu_blackhole_drops: ICMP frag-needed + packet-too-big the router has dropped so far.
mtu_blackhole_drops() {
  nsx "$NS_R" nft list table inet mtu_blackhole 2>/dev/null |
    awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}

# mtu_lab_down: stop every daemon and process in the current lab's namespaces (waypost
# interfaces with `waypost down` first, then recorded PIDs living there, then anything else
# `ip netns pids` lists for them) and delete the namespaces.
mtu_lab_down() {
  local ns entry e_ns e_if pid
  ((${#MTU_LAB_NSES[@]})) || return 0
  if wpt_is_real_waypost; then
    for entry in "${WPT_WP_IFS[@]}"; do
      read -r e_ns e_if <<<"$entry"
      for ns in "${MTU_LAB_NSES[@]}"; do
        [[ $e_ns == "$ns" && -S $WPT_UAPI_DIR/$e_if.sock ]] || continue
        timeout 10 ip netns exec "$ns" "$WAYPOST_BIN" down "$e_if" >/dev/null 2>&1
      done
    done
  fi
  for ns in "${MTU_LAB_NSES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      # Only processes this run recorded get the polite TERM; anything else in our namespace
      # (a child of a recorded process) is killed outright.
      if [[ " ${WPT_PIDS[*]} " == *" $pid "* ]]; then wpt_stop_pid "$pid"; else kill -KILL "$pid" 2>/dev/null; fi
    done
  done
  for ns in "${MTU_LAB_NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  MTU_LAB_NSES=()
}

# mtu_conf_pair CLIENT_MTU SERVER_MTU OUTER_FAMILY: wg-quick style configs for a tunnel between
# the lab's client and server ("" as an MTU leaves it out: automatic for waypost). The server
# knows the client only by key and its /32 + /128 (as a road-warrior server does, no Endpoint);
# the client has the server's Endpoint (outer IPv4 or IPv6) and its /32 + /128.
# Sets IF_C IF_S CONF_C CONF_S PRIV_C PRIV_S PUB_C PUB_S (conf_pair_new).
mtu_conf_pair() {
  local cmtu=$1 smtu=$2 fam=$3 ep
  conf_pair_new
  if [[ $fam == 6 ]]; then ep=$(endpoint "$OUT6_S" 51002); else ep=$(endpoint "$OUT4_S" 51002); fi
  conf_interface "$CONF_C" "$PRIV_C" 51001 "$MTU_TUN4_C/24,$MTU_TUN6_C/64" "$cmtu"
  conf_peer "$CONF_C" "$PUB_S" "$MTU_TUN4_S/32,$MTU_TUN6_S/128" "$ep"
  conf_interface "$CONF_S" "$PRIV_S" 51002 "$MTU_TUN4_S/24,$MTU_TUN6_S/64" "$smtu"
  conf_peer "$CONF_S" "$PUB_C" "$MTU_TUN4_C/32,$MTU_TUN6_C/128"
}

# mtu_peer_field NS IF PEERPUB KEY: a per-peer field of `waypost show IF --json` ("" on failure).
mtu_peer_field() {
  wp_show "$1" "$2" | json_q "[p for p in j['peers'] if p['public_key'] == '$3'][0]['$4']" 2>/dev/null
}

# mtu_path_settled NS IF PEERPUB: waypost probes that peer and its search has converged.
mtu_path_settled() {
  local s
  s=$(wp_show "$1" "$2" | json_q "[(p['path_mtu_probing'], p['path_mtu_searching']) for p in j['peers'] if p['public_key'] == '$3'][0]" 2>/dev/null)
  [[ $s == "[true, false]" ]]
}

# mtu_path_summary NS IF PEERPUB: one line with the peer's path MTU state, for logs and messages.
mtu_path_summary() {
  wp_show "$1" "$2" | json_q "'; '.join(f'{k}={v}' for p in j['peers'] if p['public_key'] == '$3' for k, v in p.items() if k.startswith('path_mtu')) + '; ' + ', '.join(f'{k}={j[\"counters\"][k]}' for k in ('mss_clamped', 'icmp_too_big_sent', 'fragmented', 'mtu_dropped'))" 2>/dev/null
}
