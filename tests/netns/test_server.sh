#!/usr/bin/env bash
# Server mode end to end: `waypost server init` makes the server and every user's profiles,
# `waypost server up` serves them, and unmodified wireguard-go clients loaded from the generated
# .conf files (the way wg-quick would) reach an "internet" host through the server's NAT.
#
# Topology (TEST-NET / ULA addresses only):
#
#   client1 ns 198.51.100.2/26   ──┐
#   client2 ns 198.51.100.66/26  ──┼── internet ns (router; HTTP host 192.0.2.80 fd00:192::80 on lo)
#   client3 ns 198.51.100.130/26 ──┤
#   server ns 203.0.113.2/24 fd00:203::2/64 ──┘   (default routes via the internet ns)
#
# The internet ns has no route to the client pools, so nothing un-NATed could be answered.
# Clients: full tunnel (AllowedIPs 0.0.0.0/0, ::/0), host route to the Endpoint via their uplink.
#
# Checks, in order:
#   init     config.yaml (Algo keys, --port/--interface honoured, defaults), state.json 0600, per
#            user <user>.conf (wg-quick keys, AllowedIPs 0.0.0.0/0, ::/0, Endpoint), .png,
#            apple/{ios,macos}/<user>.mobileconfig; `users show` prints the profile, --qr works
#   up       interface up, status running, table inet waypost-<if>, ip_forward on
#   [1] NAT  both clients download 20 MiB (and client 1 over IPv6) with matching sha256; the
#            HTTP log and a capture in the internet ns show only the server's uplink address as
#            the source, never a pool address
#   [4a]     BetweenClients_DROP true (default): client 1 cannot ping client 2's tunnel address,
#            while both still reach the internet host
#   [fw]     block_smb/block_netbios (default true): client 1 cannot open TCP 445 or 139 on the
#            internet host, which the server itself reaches
#   [2] add  `users add carol` during client 1's paced 100 MiB download: the download completes
#            intact, no wait for data > 2 s, total within pacing + 3 s; carol's bundle exists,
#            status/users list show her, the server was not restarted, and a client loaded
#            from carol.conf gets through
#   [5][4b][6] restart: SIGTERM (exit 0, firewall/interface/forwarding undone), edit config.yaml
#            (BetweenClients_DROP false, dns_adblocking true, dns_encryption true), start again:
#            it starts, server key, users' keys and addresses and the profiles are unchanged, the
#            running clients (not reloaded) get through again on their own traffic, and client 1
#            can now ping client 2's tunnel address (IPv4 and IPv6)
#   [3] remove `users remove bob`: client 2 loses the internet within 5 s, status and users list
#            drop bob; a freshly started client 2 sends handshake initiations that the server
#            never answers (capture on the server uplink), and client 1 still downloads intact
#   [8] metrics with metrics_listen 127.0.0.1:9586 (set at the restart): /metrics has the peer
#            count, per-user bytes and handshake age, DNS gauges; the common exporter's
#            wireguard_* names and labels, checked against the queries of its Grafana
#            dashboards (tests/fixtures/grafana) and of dist/grafana; not reachable from outside
#   zero loss: a ping every 20 ms from an unchanged client across `users add` and `users remove`
#            loses nothing
#   [7] stop final SIGTERM: exit 0, table and interface gone, no UAPI socket left, IPv4/IPv6
#            forwarding back to what they were, status says running false
#
# WPT_WAYPOST_IMPL=wireguard-go runs standin_server.py (wireguard-go + wg + nft) in place of the
# waypost CLI (wp_cli in lib.sh), to validate everything in this test that is not Waypost.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip nft tcpdump ping timeout ss sha256sum

HOST4=192.0.2.80 HOST6=fd00:192::80 HTTP_PORT=8080
UP4_S=203.0.113.2 UP6_S=fd00:203::2 GW4_S=203.0.113.1 GW6_S=fd00:203::1
PORT=51999

# --- topology --------------------------------------------------------------------------------
ns_create NS_I inet
ns_create NS_S server
wpt_name VS vs
wpt_name VIS vis
veth_link "$NS_S" "$VS" "$NS_I" "$VIS"
ns_addr "$NS_S" "$VS" "$UP4_S/24" "$UP6_S/64"
ns_addr "$NS_I" "$VIS" "$GW4_S/24" "$GW6_S/64"
ip -n "$NS_S" route add default via "$GW4_S"
ip -n "$NS_S" -6 route add default via "$GW6_S"
ns_addr "$NS_I" lo "$HOST4/32" "$HOST6/128"
nsx "$NS_I" sysctl -qw net.ipv4.ip_forward=1

# client_ns K: namespace NS_K with uplink 198.51.100.(64(K-1)+2)/26, gateway GW_K in NS_I.
declare -A NSC GWC UPC
for k in 1 2 3; do
  ns_create "NSC[$k]" "c$k"
  wpt_name vc "c$k"
  wpt_name vic "ic$k"
  veth_link "${NSC[$k]}" "$vc" "$NS_I" "$vic"
  base=$((64 * (k - 1)))
  UPC[$k]=198.51.100.$((base + 2))
  GWC[$k]=198.51.100.$((base + 1))
  ns_addr "${NSC[$k]}" "$vc" "${UPC[$k]}/26"
  ns_addr "$NS_I" "$vic" "${GWC[$k]}/26"
  wait_for 5 nsx "${NSC[$k]}" ping -c 1 -W 1 "${GWC[$k]}" || die "client $k cannot reach its gateway"
done
wait_for 5 nsx "$NS_S" ping -c 1 -W 1 "$HOST4" || die "server cannot reach $HOST4"
wait_for 5 nsx "$NS_S" ping -c 1 -W 1 "$HOST6" || die "server cannot reach $HOST6"
assert_ok "lab: clients have no route to the internet host outside the tunnel" \
  ping_none "${NSC[1]}" "$HOST4" 1

# --- the internet host -----------------------------------------------------------------------
WWW=$WPT_SCRATCH/www
mkdir -p "$WWW"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$WWW/f20"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WWW/f100"
SHA20=$(sha256sum "$WWW/f20" | cut -d' ' -f1)
SHA100=$(sha256sum "$WWW/f100" | cut -d' ' -f1)
HTTP4_LOG=$WPT_SCRATCH/logs/http4.log
HTTP6_LOG=$WPT_SCRATCH/logs/http6.log
http_serve HTTP4_PID "$NS_I" "$HOST4" "$HTTP_PORT" "$WWW" "$HTTP4_LOG" || die "HTTP server on $HOST4 did not start"
http_serve HTTP6_PID "$NS_I" "$HOST6" "$HTTP_PORT" "$WWW" "$HTTP6_LOG" || die "HTTP server on $HOST6 did not start"
URL4=http://$HOST4:$HTTP_PORT
URL6=http://[$HOST6]:$HTTP_PORT

# --- server init -----------------------------------------------------------------------------
SDIR=$WPT_SCRATCH/srv
wpt_new_ifname IF_SRV
TABLE="waypost-$IF_SRV"
BUNDLE=$SDIR/configs/$UP4_S/wireguard
OUT=$WPT_SCRATCH/out

wp() { wp_cli "$NS_S" "$@"; }

wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$UP4_S" --users alice,bob --interface "$IF_SRV" \
  --port "$PORT" --ipv6 on || die "server init failed: $(head -c 600 "$OUT.init")"
pass "server init --dir --endpoint --users alice,bob --interface $IF_SRV --port $PORT"
CFG=$SDIR/config.yaml
cfg_text=$(cat "$CFG" 2>/dev/null)
assert_match "$cfg_text" "^users:" "config.yaml has users"
assert_match "$cfg_text" "^wireguard_port:[[:space:]]*\"?$PORT\"?[[:space:]]*$" "config.yaml wireguard_port is --port"
assert_match "$cfg_text" "^wireguard_interface:[[:space:]]*\"?$IF_SRV\"?[[:space:]]*$" "config.yaml wireguard_interface is --interface"
assert_match "$cfg_text" "^wireguard_network_ipv4:[[:space:]]*\"?10\\.49\\.0\\.0/16\"?" "config.yaml wireguard_network_ipv4 defaults to 10.49.0.0/16"
assert_match "$cfg_text" "^BetweenClients_DROP:[[:space:]]*true" "config.yaml BetweenClients_DROP defaults to true"
for key in wireguard_network_ipv6 ipv6 block_smb block_netbios dns_adblocking dns_encryption dns_servers reduce_mtu endpoint metrics_listen; do
  assert_match "$cfg_text" "^$key:" "config.yaml has $key"
done
assert_eq "$(stat -c %a "$SDIR/state.json" 2>/dev/null)" 600 "state.json is mode 0600"

# check_bundle USER: the four files, and the profile's wg-quick content.
check_bundle() {
  local u=$1 c=$BUNDLE/$1.conf t os
  assert_ok "$u: $u.conf exists" test -s "$c" || return 1
  t=$(cat "$c")
  assert_match "$t" '^\[Interface\]' "$u.conf: [Interface]"
  assert_match "$t" '^PrivateKey[[:space:]]*=[[:space:]]*[A-Za-z0-9+/]{43}=' "$u.conf: PrivateKey"
  assert_match "$t" '^Address[[:space:]]*=[[:space:]]*10\.49\.[0-9]+\.[0-9]+/32[[:space:]]*,[[:space:]]*f[cd][0-9a-f:]+/128' "$u.conf: Address (IPv4 in 10.49.0.0/16, IPv6 ULA)"
  assert_match "$t" '^DNS[[:space:]]*=[[:space:]]*[0-9a-f]' "$u.conf: DNS"
  assert_match "$t" '^MTU[[:space:]]*=[[:space:]]*[0-9]{3,4}[[:space:]]*$' "$u.conf: MTU"
  assert_match "$t" '^\[Peer\]' "$u.conf: [Peer]"
  assert_match "$t" '^PublicKey[[:space:]]*=[[:space:]]*[A-Za-z0-9+/]{43}=' "$u.conf: PublicKey"
  assert_match "$t" '^PresharedKey[[:space:]]*=[[:space:]]*[A-Za-z0-9+/]{43}=' "$u.conf: PresharedKey"
  assert_eq "$(conf_peer_values "$c" AllowedIPs | paste -sd, -)" "0.0.0.0/0,::/0" "$u.conf: AllowedIPs = 0.0.0.0/0, ::/0"
  assert_eq "$(conf_peer_values "$c" Endpoint)" "$UP4_S:$PORT" "$u.conf: Endpoint = $UP4_S:$PORT"
  assert_eq "$(stat -c %a "$c" 2>/dev/null)" 600 "$u.conf is mode 0600"
  assert_eq "$(head -c 8 "$BUNDLE/$u.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "$u: $u.png is a PNG"
  for os in ios macos; do
    assert_ok "$u: apple/$os/$u.mobileconfig is a plist" grep -q '<plist' "$BUNDLE/apple/$os/$u.mobileconfig"
  done
}
check_bundle alice
check_bundle bob
assert_ne "$(conf_values "$BUNDLE/alice.conf" Address | head -n1)" "$(conf_values "$BUNDLE/bob.conf" Address | head -n1)" \
  "alice and bob have different addresses"

wp users show alice --dir "$SDIR" >"$OUT.show" 2>&1
assert_eq "$(grep -i '^PrivateKey' "$OUT.show" | tr -d ' ')" "$(grep -i '^PrivateKey' "$BUNDLE/alice.conf" | tr -d ' ')" \
  "users show alice prints alice's profile"
assert_ok "users show alice --qr prints something" eval 'wp users show alice --dir "$SDIR" --qr >"$OUT.qr" 2>&1 && test -s "$OUT.qr"'
assert_eq "$(wp users list --dir "$SDIR" 2>/dev/null | grep -Eo 'alice|bob' | sort -u | paste -sd, -)" "alice,bob" "users list shows alice and bob"

# --- server up / stop ------------------------------------------------------------------------
FWD4_BEFORE=$(nsx "$NS_S" sysctl -n net.ipv4.ip_forward)
FWD6_BEFORE=$(nsx "$NS_S" sysctl -n net.ipv6.conf.all.forwarding)
SPID="" SRUN=0

status_json() { wp_server_status "$NS_S" "$SDIR"; }

# Zero packet loss for users who are not changed: ping_series_start NAME NS DST COUNT sends a
# ping every 20 ms in the background; ping_series_wait NAME waits for it (in this shell: a
# $(...) subshell cannot wait for it) and ping_series_loss NAME prints the loss %.
ping_series_start() {
  nsx "$2" ping -n -q -i 0.02 -W 1 -c "$4" "$3" >"$WPT_SCRATCH/ping-$1.txt" 2>&1 &
  printf -v "PINGS_$1" '%s' "$!"
  wpt_track_pid "$!"
}
ping_series_wait() {
  local pid_var=PINGS_$1
  wait "${!pid_var}" 2>/dev/null
}
ping_series_loss() {
  grep -Eo '[0-9.]+% packet loss' "$WPT_SCRATCH/ping-$1.txt" | grep -Eo '^[0-9.]+' || echo "?"
}
server_ready() { iface_up "$NS_S" "$IF_SRV" && wp_server_running "$NS_S" "$SDIR"; }

# server_start: `server up` in the background of the test, ready = link up and status running.
server_start() {
  local log
  SRUN=$((SRUN + 1))
  log=$WPT_SCRATCH/logs/server$SRUN.log
  wp_server_start SPID "$NS_S" "$log" 15 server_ready --dir "$SDIR" --log-level debug
  case $? in
    0) pass "server up (run $SRUN): $IF_SRV up, status running" ;;
    1) fail "server up (run $SRUN) exited early: $(tail -n 5 "$log" | tr '\n' '|')"; return 1 ;;
    *) fail "server up (run $SRUN) not ready within 15 s"; return 1 ;;
  esac
}

# server_stop: SIGTERM, wait up to 10 s; SERVER_RC is its exit status.
server_stop() {
  SERVER_RC=""
  [[ -n $SPID ]] || return 1
  wp_server_stop "$SPID" SERVER_RC || fail "server did not exit within 10 s of SIGTERM"
  SPID=""
}

table_present() { nsx "$NS_S" nft list table inet "$TABLE" >/dev/null 2>&1; }

# check_stopped WHEN: everything the server added is gone.
check_stopped() {
  assert_eq "$SERVER_RC" 0 "$1: server exited 0 on SIGTERM"
  assert_not "$1: nftables table inet $TABLE is gone" table_present
  assert_not "$1: interface $IF_SRV is gone" ip -n "$NS_S" link show dev "$IF_SRV"
  assert_not "$1: no UAPI socket left for $IF_SRV" test -e "$WPT_UAPI_DIR/$IF_SRV.sock"
  assert_eq "$(nsx "$NS_S" sysctl -n net.ipv4.ip_forward)" "$FWD4_BEFORE" "$1: net.ipv4.ip_forward back to $FWD4_BEFORE"
  assert_eq "$(nsx "$NS_S" sysctl -n net.ipv6.conf.all.forwarding)" "$FWD6_BEFORE" "$1: net.ipv6.conf.all.forwarding back to $FWD6_BEFORE"
}

server_start || die "server did not start"
SPID1=$SPID
assert_eq "$(nsx "$NS_S" sysctl -n net.ipv4.ip_forward)" 1 "server up enables net.ipv4.ip_forward"
assert_ok "nftables table inet $TABLE installed" table_present
assert_match "$(nsx "$NS_S" nft list table inet "$TABLE" 2>&1)" "masquerade" "table $TABLE masquerades"
st=$(status_json)
assert_eq "$(json_q '[j["interface"], j["endpoint"], str(j["port"])]' <<<"$st")" "[\"$IF_SRV\", \"$UP4_S\", \"$PORT\"]" \
  "status: interface, endpoint, port"
assert_eq "$(json_q 'sorted(u["name"] for u in j["users"])' <<<"$st")" '["alice", "bob"]' "status lists alice and bob"
assert_eq "$(json_q 'j["public_key"]' <<<"$st")" "$(conf_peer_values "$BUNDLE/alice.conf" PublicKey)" \
  "status public_key is the profiles' server PublicKey"

# --- clients ---------------------------------------------------------------------------------
declare -A IFC PIDC
client_up() { # client_up K USER
  wpt_new_ifname "IFC[$1]"
  wgq_client_up "PIDC[$1]" "${NSC[$1]}" "$BUNDLE/$2.conf" "${IFC[$1]}" "${GWC[$1]}"
}
addr_of() { conf_values "$BUNDLE/$1.conf" Address | grep -v : | head -n1 | cut -d/ -f1; }
addr6_of() { conf_values "$BUNDLE/$1.conf" Address | grep : | head -n1 | cut -d/ -f1; }
A2=$(addr_of bob) A2_6=$(addr6_of bob)
SPUB=$(conf_peer_values "$BUNDLE/alice.conf" PublicKey)

client_up 1 alice || die "client 1 (alice) did not start"
client_up 2 bob || die "client 2 (bob) did not start"
assert_ok "[1] client 1 (alice) pings $HOST4 through the server" ping_ok "${NSC[1]}" "$HOST4" 10
assert_ok "[1] client 2 (bob) pings $HOST4 through the server" ping_ok "${NSC[2]}" "$HOST4" 10
assert_ok "[1] client 1 handshake done" handshake_done "${IFC[1]}" "$SPUB"

# [1] NAT: downloads, HTTP log and capture in the internet ns.
cap_start nat "$NS_I" any 120 "tcp port $HTTP_PORT" || fail "capture did not start"
assert_http_get "[1] client 1 download over IPv4" c1v4 "${NSC[1]}" "$URL4/f20?c1v4" "$SHA20"
BASE_MBIT=$(http_field c1v4 mbit_s)
assert_http_get "[1] client 2 download over IPv4" c2v4 "${NSC[2]}" "$URL4/f20?c2v4" "$SHA20"
assert_http_get "[1] client 1 download over IPv6" c1v6 "${NSC[1]}" "$URL6/f20?c1v6" "$SHA20"
wpt_stop_pid "$(cat "$WPT_SCRATCH/cap/nat.pid")"
# http_src LOG TAG: the client address of the request line for TAG.
http_src() { grep -F "?$2 " "$1" | awk '{ print $1 }' | sort -u | paste -sd, -; }
assert_eq "$(http_src "$HTTP4_LOG" c1v4)" "$UP4_S" "[1] HTTP log: client 1's request came from the server uplink $UP4_S"
assert_eq "$(http_src "$HTTP4_LOG" c2v4)" "$UP4_S" "[1] HTTP log: client 2's request came from the server uplink $UP4_S"
assert_eq "$(http_src "$HTTP6_LOG" c1v6)" "$UP6_S" "[1] HTTP log: client 1's IPv6 request came from the server uplink $UP6_S"
# cap_hosts HANDLE: the distinct addresses (ports stripped) in the capture, comma-separated.
# (`-i any` captures have interface and direction columns before "IP"/"IP6".)
cap_hosts() {
  cap_read "$1" | awk '{ for (i = 2; i <= NF - 3; i++) if ($i ~ /^IP6?$/) { d = $(i + 3); sub(/:$/, "", d); print $(i + 1); print d; break } }' |
    sed -E 's/\.[0-9]+$//' | sort -u | paste -sd, -
}
n_pkts=$(cap_read nat | wc -l)
hosts=$(cap_hosts nat)
want_hosts=$(printf '%s\n' "$UP4_S" "$UP6_S" "$HOST4" "$HOST6" | sort -u | paste -sd, -)
if ((n_pkts > 1000)) && [[ $hosts == "$want_hosts" ]]; then
  pass "[1] capture in the internet ns: $n_pkts packets, all between the server uplink and the host ($hosts)"
else
  fail "[1] capture in the internet ns: $n_pkts packets with addresses $hosts (expected only $want_hosts)"
fi

# status shows the live session of each user.
st=$(status_json)
for k in 1 2; do
  u=$([[ $k == 1 ]] && echo alice || echo bob)
  got=$(json_q '[[(u["endpoint"] or "").rsplit(":", 1)[0], isinstance(u["latest_handshake"], int) and u["latest_handshake"] > 0,
                  isinstance(u["latest_handshake_age_seconds"], int) and 0 <= u["latest_handshake_age_seconds"] < 120,
                  u["tx_bytes"] > 20 * 1048576, u["rx_bytes"] > 0] for u in j["users"] if u["name"] == "'"$u"'"]' <<<"$st")
  assert_eq "$got" "[[\"${UPC[$k]}\", true, true, true, true]]" \
    "[1] status for $u: endpoint ${UPC[$k]}, a recent latest_handshake, tx_bytes > 20 MiB, rx_bytes > 0"
done

# [4a] client-to-client is dropped by default.
assert_ok "[4a] client 1 cannot ping client 2's tunnel address $A2 (BetweenClients_DROP true)" \
  ping_none "${NSC[1]}" "$A2" 3
assert_ok "[4a] ...while client 1 reaches the internet host" ping_ok "${NSC[1]}" "$HOST4" 3
assert_ok "[4a] ...and client 2 reaches the internet host" ping_ok "${NSC[2]}" "$HOST4" 3

# block_smb / block_netbios (default true): TCP 445 and 139 from clients are dropped. HTTP
# servers listen on those ports on the internet host; the server itself reaches them (control).
for blocked in 445 139; do
  if http_serve "HTTPB_PID$blocked" "$NS_I" "$HOST4" "$blocked" "$WWW" "$WPT_SCRATCH/logs/http$blocked.log"; then
    assert_ok "[fw] control: the server itself fetches from $HOST4:$blocked" \
      nsx "$NS_S" timeout 10 "$WPT_PY" "$WPT_LIB_DIR/httpget.py" "http://$HOST4:$blocked/f20" --timeout 5
    assert_not "[fw] client 1 cannot fetch from $HOST4:$blocked (block_smb/block_netbios)" \
      nsx "${NSC[1]}" timeout 10 "$WPT_PY" "$WPT_LIB_DIR/httpget.py" "http://$HOST4:$blocked/f20?c1blocked" --timeout 3
  else
    fail "HTTP server on $HOST4:$blocked did not start"
  fi
done
assert_match "$(wp server status --dir "$SDIR" 2>&1)" "alice" "server status (text) mentions alice"

# --- [2] users add during a download ---------------------------------------------------------
# Paced at half the baseline throughput (at most 20 MiB/s, at least 4 MiB/s), so the download
# lasts several seconds and a stall cannot be hidden by catching up afterwards.
RATE=$((20 * 1024 * 1024))
half=$(awk -v m="${BASE_MBIT:-0}" 'BEGIN { printf "%d", m * 1e6 / 8 / 2 }')
((half > 0 && half < RATE)) && RATE=$half
((RATE < 4 * 1024 * 1024)) && RATE=$((4 * 1024 * 1024))
PACED=$(awk -v r="$RATE" 'BEGIN { printf "%.1f", 100 * 1048576 / r }')
PACED_LIMIT=$(awk -v p="$PACED" 'BEGIN { print p + 3 }')
log "paced download: $((RATE / 1024 / 1024)) MiB/s, $PACED s for 100 MiB (baseline $BASE_MBIT Mbit/s)"
http_get_start big "${NSC[1]}" "$URL4/f100?c1big" "$RATE" 90
ping_series_start add "${NSC[2]}" "$HOST4" 200
sleep 1.5
assert_ok "[2] the 100 MiB download is under way" http_get_running big
t0=$EPOCHREALTIME
if wp users add carol --dir "$SDIR" >"$OUT.add" 2>&1; then
  pass "[2] users add carol ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s)"
else
  fail "[2] users add carol: $(head -c 600 "$OUT.add")"
fi
assert_ok "[2] the download was still running when users add returned" http_get_running big
ping_series_wait add
loss=$(ping_series_loss add)
assert_eq "$loss" 0 "[2] client 2 (bob) lost no ping across users add (200 pings every 20 ms): ${loss}% loss"
if out=$(http_get_wait big "$SHA100"); then
  pass "[2] download across users add: $out"
  secs=$(http_field big seconds) maxw=$(http_field big max_wait)
else
  fail "[2] download across users add: $out"
  secs="" maxw=""
fi
if awk -v s="$secs" -v l="$PACED_LIMIT" -v w="$maxw" 'BEGIN { exit !(s != "" && s <= l && w != "" && w < 2) }'; then
  pass "[2] no stall: ${secs} s (paced $PACED s, limit $PACED_LIMIT s), longest wait for data ${maxw} s"
else
  fail "[2] download stalled: ${secs} s (paced $PACED s, limit $PACED_LIMIT s), longest wait for data ${maxw} s (limit 2 s)"
fi
check_bundle carol
assert_eq "$SPID" "$SPID1" "[2] same server process (no restart)"
assert_ok "[2] server still running" wpt_pid_alive "$SPID"
st=$(status_json)
assert_eq "$(json_q 'sorted(u["name"] for u in j["users"])' <<<"$st")" '["alice", "bob", "carol"]' "[2] status --json lists carol"
assert_eq "$(json_q '[u["ipv4"] for u in j["users"] if u["name"] == "carol"][0]' <<<"$st")" "$(addr_of carol)" \
  "[2] status shows carol's address from her profile"
assert_match "$(wp users list --dir "$SDIR" 2>&1)" "carol" "[2] users list shows carol"
assert_eq "$(stat -c %a "$SDIR/state.json" 2>/dev/null)" 600 "[2] state.json still mode 0600 after users add"
assert_match "$(cat "$CFG")" "^[[:space:]]*-[[:space:]]*\"?carol\"?[[:space:]]*$" "[2] config.yaml users has carol"
client_up 3 carol || fail "client 3 (carol) did not start"
assert_ok "[2] client 3 (carol, added live) pings $HOST4 through the server" ping_ok "${NSC[3]}" "$HOST4" 10

# --- [5] [4b] [6] restart with an edited config ----------------------------------------------
# snapshot: server key, each user's name/key/addresses, and a hash of every profile.
snapshot() {
  {
    status_json | json_q '[j["public_key"], sorted([u["name"], u["public_key"], u["ipv4"], u["ipv6"]] for u in j["users"])]'
    for u in alice bob carol; do echo "$u $(sha256sum <"$BUNDLE/$u.conf" | cut -c1-16)"; done
    for u in alice bob carol; do echo "$u show $(wp users show "$u" --dir "$SDIR" 2>/dev/null | grep -Ei '^(PrivateKey|Address|PublicKey|PresharedKey)' | tr -d ' ' | sha256sum | cut -c1-16)"; done
  }
}
SNAP1=$(snapshot)
server_stop
check_stopped "restart"
sed -i -E -e 's/^(BetweenClients_DROP:[[:space:]]*)true/\1false/' -e 's/^(dns_adblocking:[[:space:]]*)false/\1true/' \
  -e 's/^(dns_encryption:[[:space:]]*)false/\1true/' -e 's/^metrics_listen:.*/metrics_listen: "127.0.0.1:9586"/' "$CFG"
cfg_text=$(cat "$CFG")
assert_match "$cfg_text" "^BetweenClients_DROP:[[:space:]]*false" "config.yaml edited: BetweenClients_DROP false"
assert_match "$cfg_text" "^dns_adblocking:[[:space:]]*true" "config.yaml edited: dns_adblocking true"
assert_match "$cfg_text" "^dns_encryption:[[:space:]]*true" "config.yaml edited: dns_encryption true"
server_start || die "[6] server did not start with dns_adblocking/dns_encryption true and BetweenClients_DROP false"
pass "[6] server starts with dns_adblocking: true and dns_encryption: true"
SNAP2=$(snapshot)
if [[ $SNAP1 == "$SNAP2" ]]; then
  pass "[5] server key, users' keys and addresses, profiles and users show unchanged by the restart"
else
  fail "[5] state changed across the restart: $(diff <(echo "$SNAP1") <(echo "$SNAP2") | tr '\n' '|')"
fi
# The clients were not touched: they re-handshake on their own traffic (a client whose packets
# go unanswered starts a new handshake after 15 s, so allow 30 s).
t0=$EPOCHREALTIME
for k in 1 2 3; do (nsx "${NSC[$k]}" ping -n -q -c 1 -W 1 "$HOST4" >/dev/null 2>&1 &); done
for k in 1 2 3; do
  if wait_for 30 nsx "${NSC[$k]}" ping -n -q -c 1 -W 1 "$HOST4"; then
    pass "[5] client $k (profile unchanged, not reloaded) reaches $HOST4 after the restart ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
  else
    fail "[5] client $k does not reach $HOST4 within 30 s of the restart"
  fi
done
assert_http_get "[5] client 1 download after the restart" c1r "${NSC[1]}" "$URL4/f20?c1r" "$SHA20"
assert_ok "[4b] client 1 pings client 2's tunnel address $A2 (BetweenClients_DROP false)" ping_ok "${NSC[1]}" "$A2" 5
assert_ok "[4b] client 1 pings client 2's tunnel address $A2_6 over IPv6" ping_ok "${NSC[1]}" "$A2_6" 5

# --- [8] Prometheus text endpoint (metrics_listen, loopback only) ---------------------------
METRICS_TXT=$(nsx "$NS_S" timeout 10 "$WPT_PY" -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9586/metrics", timeout=5).read().decode())' 2>&1)
assert_match "$METRICS_TXT" '^waypost_peers 3$' "[8] /metrics: waypost_peers 3"
for u in alice bob carol; do
  assert_match "$METRICS_TXT" "^waypost_user_rx_bytes\\{user=\"$u\",protocol=\"wireguard\"\\} [0-9]+$" "[8] /metrics: rx bytes of $u"
  assert_match "$METRICS_TXT" "^waypost_user_tx_bytes\\{user=\"$u\",protocol=\"wireguard\"\\} [0-9]+$" "[8] /metrics: tx bytes of $u"
done
# Counters start with the process: since the restart alice downloaded 20 MiB (sent to her).
alice_tx=$(grep -E '^waypost_user_tx_bytes\{user="alice",protocol="wireguard"\}' <<<"$METRICS_TXT" | awk '{print $2}')
if ((${alice_tx:-0} > 20000000)); then pass "[8] alice's tx bytes count her 20 MiB download ($alice_tx)"; else
  fail "[8] alice's tx bytes: '${alice_tx}' (expected > 20000000)"
fi
assert_match "$METRICS_TXT" '^waypost_user_handshake_age_seconds\{user="alice"\} [0-9]+$' "[8] /metrics: handshake age of alice"
assert_match "$METRICS_TXT" '^# TYPE waypost_user_rx_bytes counter$' "[8] /metrics: TYPE lines"
assert_match "$METRICS_TXT" '^waypost_dns_upstream_up [01]$' "[8] /metrics: DNS resolver gauges (resolver on)"
# The common WireGuard exporter's names and labels, and every query of the Grafana dashboards
# written for it and of Waypost's own dashboard (dist/grafana), against this page.
assert_match "$METRICS_TXT" '^wireguard_sent_bytes_total\{interface="[^"]+",public_key="[^"]+",allowed_ips="[^"]+/32,[^"]+/128",friendly_name="alice"\} [0-9]+$' "[8] /metrics: wireguard_sent_bytes_total with the exporter's labels"
alice_hs=$(grep -E '^wireguard_latest_handshake_seconds\{.*friendly_name="alice"\}' <<<"$METRICS_TXT" | awk '{print $2}')
now_s=$(date +%s)
if ((${alice_hs:-0} > now_s - 600 && ${alice_hs:-0} <= now_s + 5)); then pass "[8] wireguard_latest_handshake_seconds is alice's handshake as a UNIX time ($alice_hs)"; else
  fail "[8] wireguard_latest_handshake_seconds of alice: '${alice_hs}' (expected a UNIX time near $now_s)"
fi
printf '%s\n' "$METRICS_TXT" >"$WPT_SCRATCH/metrics.txt"
assert_ok "[8] every query of the exporter's dashboards and of dist/grafana/waypost-server.json finds its metrics and labels" \
  "$WPT_PY" "$WPT_LIB_DIR/metrics_check.py" "$WPT_SCRATCH/metrics.txt" \
  "$WPT_LIB_DIR/../fixtures/grafana/exporter-dashboard-queries.txt" "$WPT_LIB_DIR/../../dist/grafana/waypost-server.json"
assert_not "[8] /metrics is not reachable on the server's uplink address" \
  nsx "$NS_I" timeout 5 "$WPT_PY" -c 'import urllib.request
urllib.request.urlopen("http://'"$UP4_S"':9586/metrics", timeout=2)'

# --- [3] users remove ------------------------------------------------------------------------
BOB_PUB=$(wg_pub "$(conf_values "$BUNDLE/bob.conf" PrivateKey)")
assert_ok "[3] client 2 reaches $HOST4 before the removal" ping_ok "${NSC[2]}" "$HOST4" 3
ping_series_start rm "${NSC[1]}" "$HOST4" 150
sleep 1
if wp users remove bob --dir "$SDIR" >"$OUT.rm" 2>&1; then pass "[3] users remove bob"; else
  fail "[3] users remove bob: $(head -c 600 "$OUT.rm")"
fi
ping_series_wait rm
loss=$(ping_series_loss rm)
assert_eq "$loss" 0 "[3] client 1 (alice) lost no ping across users remove bob (150 pings every 20 ms): ${loss}% loss"
assert_wait 5 "[3] client 2 no longer reaches $HOST4 (within 5 s)" ping_none "${NSC[2]}" "$HOST4" 2
assert_not "[3] client 2 cannot download either" \
  nsx "${NSC[2]}" timeout 10 "$WPT_PY" "$WPT_LIB_DIR/httpget.py" "$URL4/f20?c2gone" --timeout 4
st=$(status_json)
assert_eq "$(json_q 'sorted(u["name"] for u in j["users"])' <<<"$st")" '["alice", "carol"]' "[3] status no longer lists bob"
assert_eq "$(json_q '[u for u in j["users"] if u["public_key"] == "'"$BOB_PUB"'"]' <<<"$st")" "[]" "[3] status has no user with bob's key"
assert_not "[3] users list no longer shows bob" eval 'wp users list --dir "$SDIR" 2>&1 | grep -qw bob'
assert_ok "[3] server still running (same process)" wpt_pid_alive "$SPID"
# A fresh client 2 (no session) sends handshake initiations; the server must not answer them.
cap_start refused "$NS_S" "$VS" 20 "udp and host ${UPC[2]}" || fail "capture did not start"
wpt_stop_pid "${PIDC[2]}"
wggo_up "PIDC[2]" "${NSC[2]}" "$WPT_SCRATCH/conf/${IFC[2]}.conf" || fail "client 2 restart failed"
assert_ok "[3] restarted client 2 gets no answer from $HOST4 (10 pings over 3 s)" \
  ping_none "${NSC[2]}" "$HOST4" 10
assert_not "[3] restarted client 2 never completes a handshake" handshake_done "${IFC[2]}" "$SPUB"
wpt_stop_pid "$(cat "$WPT_SCRATCH/cap/refused.pid")"
capt=$(cap_read refused)
n_in=$(grep -c "${UPC[2]}\.[0-9]* > $UP4_S\.$PORT" <<<"$capt")
n_out=$(grep -c "$UP4_S\.$PORT > ${UPC[2]}" <<<"$capt")
if ((n_in >= 1 && n_out == 0)); then
  pass "[3] server uplink: $n_in packets (handshake initiations) from client 2, none answered"
else
  fail "[3] server uplink: $n_in packets from client 2, $n_out answered (expected >= 1 and 0)"
fi
if grep -Eiq 'unknown (peer|public key|key)|not a (known )?peer|no peer' "$WPT_SCRATCH/logs/server$SRUN.log"; then
  log "server log mentions the unknown peer: $(grep -Ei 'unknown (peer|public key|key)|not a (known )?peer|no peer' "$WPT_SCRATCH/logs/server$SRUN.log" | tail -n1)"
fi
assert_http_get "[3] client 1 still downloads after bob's removal" c1after "${NSC[1]}" "$URL4/f20?c1after" "$SHA20"
assert_ok "[3] client 3 still reaches $HOST4" ping_ok "${NSC[3]}" "$HOST4" 3

# --- [7] final stop --------------------------------------------------------------------------
server_stop
check_stopped "[7] final stop"
assert_eq "$(status_json | json_q 'j["running"]')" false "[7] status says running false"
wpt_finish
