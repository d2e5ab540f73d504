#!/usr/bin/env bash
# `waypost doctor` in a client -- router -- server lab with a narrow link, the MTU blackhole of
# shared/LAB-NOTES.md: the router-server link has MTU 1454 and the router drops the ICMP
# "fragmentation needed" / "packet too big" it would send about it.
#
# Topology: the MTU lab of mtu_lib.sh (mtu_lab_up server; TEST-NET / ULA addresses only, every
# packet stays in these namespaces):
#
#   client ns  198.51.100.1/24 fd00:5100::1/64  (default routes via the router)
#        |
#   router ns  198.51.100.254 fd00:5100::fe  /  203.0.113.254 fd00:113::fe   (MTU 1454 toward
#        |                                                                  the server, both ends)
#   server ns  203.0.113.2/24 fd00:113::2/64  (default routes via the router; a tiny DNS
#              responder on UDP 0.0.0.0:53 that logs who asked)
#
# The doctor always runs with a private /etc/resolv.conf (bind-mounted inside `ip netns exec`'s
# own mount namespace) naming the lab's responder, so its DNS check never leaves the lab.
#
# Checks, in order:
#   [tunnel]  a Waypost client and server (MTU 1420 across the 1454 link): `doctor IF --json`
#             reports the peer's recent handshake, the in-tunnel path MTU the daemon measured
#             (below 1420), path MTU 1454 / reduce_mtu 46 toward the endpoint, and DNS through
#             the tunnel (--dns with the server's tunnel address; the responder saw the query
#             from the client's tunnel address); exit status 0 (nothing failed)
#   [never]   an interface whose peer's endpoint has nothing listening: the doctor asks the
#             daemon for a handshake and reports "never" as a failure with causes (exit 1);
#             or "cannot test" if the daemon has no handshake command
#   [mtu]     `doctor --host <server address> --json`, no interface named: path MTU 1454 (IPv4,
#             binary search through the blackhole), reduce_mtu = 1420 - (1454 - 80) = 46,
#             "MTU = 1374", at most 20 probes; IPv6 too (1454 = 1406 + 48); with the router's
#             ICMP allowed again still 1454; text output shows "1426 + 28 = 1454"
#   [noicmp]  the server drops echo requests: the doctor says "no answer", a warning and not a
#             failure (exit 0), and falls back to the route MTU
#   [server]  `waypost server up` in the server ns: forwarding, its nftables table with
#             masquerade and the default route are ok; with net.ipv4.ip_forward turned off the
#             doctor reports a failure with the sysctl fix (exit 1, JSON and text); a Docker-like
#             `ip filter FORWARD` chain with policy drop is reported with the DOCKER-USER fix,
#             and is ok once rules accept the tunnel both ways
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154
source "$(dirname "$0")/lib.sh"
# shellcheck source=mtu_lib.sh
source "$(dirname "$0")/mtu_lib.sh"
wpt_begin ip nft ping timeout wg mount
wpt_waypost_only "waypost doctor exists only in waypost (WPT_WAYPOST_IMPL=$WPT_WAYPOST_IMPL)"

NARROW=1454
NO_SERVER_DIR=$WPT_SCRATCH/no-server  # no config.yaml: the server checks stay out of the way

# --- topology: the MTU lab (mtu_lib.sh) with the narrow link next to the server ---------------
MTU_NARROW=$NARROW
mtu_lab_up server
S4=$OUT4_S S6=$OUT6_S
# The blackhole (mtu_lab_up's nftables table): the router never tells anyone about the narrow
# link, until mtu_blackhole_off.
# Large DF packets really vanish, small ones pass.
df_ping() { nsx "$NS_C" ping -n -q -c 1 -W 1 -M do -s "$1" "$S4" >/dev/null 2>&1; }
assert_ok "lab: 1400-byte DF pings cross the narrow link" df_ping 1372
assert_not "lab: 1500-byte DF pings vanish without an ICMP error" df_ping 1472

# --- DNS responder in the server ns ----------------------------------------------------------
DNS_LOG=$WPT_SCRATCH/dns-queries.log
cat >"$WPT_SCRATCH/dns_responder.py" <<'PYEOF'
# Answers every A query with 192.0.2.80 and logs the asker's address; bounded to 600 s.
import socket, sys, time
log, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
s.settimeout(0.5)
open(ready, "w").write("ready\n")
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    if len(data) < 17:
        continue
    i = 12
    while i < len(data) and data[i] != 0:
        i += data[i] + 1
    end = i + 5
    if end > len(data):
        continue
    header = data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([192, 0, 2, 80])
    s.sendto(header + data[12:end] + answer, addr)
    with open(log, "a") as f:
        f.write(addr[0] + "\n")
PYEOF
ip netns exec "$NS_S" "$WPT_PY" "$WPT_SCRATCH/dns_responder.py" "$DNS_LOG" "$WPT_SCRATCH/dns.ready" \
  >>"$WPT_SCRATCH/logs/dns.log" 2>&1 &
wpt_track_pid "$!"
wait_for 10 test -f "$WPT_SCRATCH/dns.ready" || die "DNS responder did not start"
RESOLV=$WPT_SCRATCH/resolv.conf
echo "nameserver $S4" >"$RESOLV"

# --- helpers ---------------------------------------------------------------------------------

# doctor OUT NS ARGS...: `waypost doctor ARGS` in NS with the lab's resolv.conf; stdout in OUT,
# stderr in OUT.err; returns the doctor's exit status (bounded by 120 s).
doctor() {
  local out=$1 ns=$2
  shift 2
  ip netns exec "$ns" timeout 120 sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
    "$RESOLV" "$WAYPOST_BIN" doctor "$@" >"$out" 2>"$out.err"
}

# fq FILE ID EXPR: EXPR (Python, over f) for the first finding in the doctor's JSON in FILE whose
# id is ID or starts with "ID:"; strings printed as they are, anything else as JSON.
fq() {
  "$WPT_PY" - "$@" <<'PYEOF'
import json, sys
path, fid, expr = sys.argv[1:4]
try:
    j = json.load(open(path))
    f = next(x for x in j["findings"] if x["id"] == fid or x["id"].startswith(fid + ":"))
    v = eval(expr)
except Exception as e:
    print(f"fq {fid}: {e}", file=sys.stderr)
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
PYEOF
}

# summary FILE: one line per finding ("status id"), for failure messages.
summary() {
  "$WPT_PY" -c 'import json,sys
try:
    print("; ".join(f["status"] + " " + f["id"] for f in json.load(open(sys.argv[1]))["findings"]))
except Exception as e:
    print(f"(no JSON: {e})")' "$1"
}

check_json() { # check_json FILE MSG: the output is JSON with a findings list of complete objects
  if "$WPT_PY" -c 'import json,sys
j = json.load(open(sys.argv[1]))
assert all(set(("id","status","summary","detail","fix")) <= set(f) for f in j["findings"])
assert all(f["status"] in ("ok","info","warn","fail") for f in j["findings"])' "$1" 2>/dev/null; then
    pass "$2"
  else
    fail "$2 ($(head -c 300 "$1" | tr '\n' ' ') / $(head -c 300 "$1.err" | tr '\n' ' '))"
  fi
}

# ---------------------------------------------------------------------------------------------
# [tunnel] a running Waypost client against a Waypost server across the blackhole
conf_pair_new
conf_interface "$CONF_C" "$PRIV_C" 51001 "$TUN4_C/24" 1420
conf_peer "$CONF_C" "$PUB_S" "$TUN4_S/32" "$(endpoint "$S4" 51002)"
conf_interface "$CONF_S" "$PRIV_S" 51002 "$TUN4_S/24" 1420
conf_peer "$CONF_S" "$PUB_C" "$TUN4_C/32"
wp_up PID_S "$NS_S" "$CONF_S" || die "server-side interface did not start"
wp_up PID_C "$NS_C" "$CONF_C" || die "client interface did not start"
assert_ok "[tunnel] ping through the tunnel (handshake)" ping_ok "$NS_C" "$TUN4_S" 10

# The daemon measures the MTU inside the tunnel with its own probes; wait (bounded) for the
# search to settle so that the doctor has a result to explain.
tunnel_mtu_settled() {
  [[ $(wp_show "$NS_C" "$IF_C" | json_q 'j["peers"][0]["path_mtu_probing"] and not j["peers"][0]["path_mtu_searching"]') == true ]]
}
wait_for 40 tunnel_mtu_settled || log "in-tunnel path MTU search still running after 40 s"

OUT=$WPT_SCRATCH/doctor-tunnel.json
rm -f "$DNS_LOG"
doctor "$OUT" "$NS_C" "$IF_C" --json --dns "$TUN4_S" --dir "$NO_SERVER_DIR"
rc=$?
check_json "$OUT" "[tunnel] doctor $IF_C --json prints findings"
assert_eq "$rc" 0 "[tunnel] exit status 0: nothing failed ($(summary "$OUT"))"
assert_eq "$(fq "$OUT" interface "f['status']")" ok "[tunnel] interface $IF_C reported running"
assert_eq "$(fq "$OUT" "handshake:$IF_C" "f['status'] + ' ' + f['data']['state']")" "ok recent" \
  "[tunnel] the peer's handshake is reported recent"
tmtu=$(fq "$OUT" "tunnel_mtu:$IF_C" "f['data']['path_mtu']")
if [[ $tmtu =~ ^[0-9]+$ ]] && ((tmtu >= 1280 && tmtu < 1420)); then
  pass "[tunnel] in-tunnel path MTU reported: $tmtu (below the interface MTU 1420: the blackhole)"
else
  fail "[tunnel] in-tunnel path MTU below 1420 reported (got '$tmtu')"
fi
assert_eq "$(fq "$OUT" path_mtu "f['data']['path_mtu']")" "$NARROW" \
  "[tunnel] path MTU to the endpoint $S4 is $NARROW"
assert_eq "$(fq "$OUT" path_mtu "f['data']['reduce_mtu']")" 46 "[tunnel] reduce_mtu 46"
assert_eq "$(fq "$OUT" "dns:$TUN4_S" "f['status'] + ' ' + str(f['data']['through_tunnel'])")" \
  "ok True" "[tunnel] DNS server $TUN4_S answered through the tunnel"
assert_ok "[tunnel] the DNS responder saw the query from the client's tunnel address" \
  grep -qx "$TUN4_C" "$DNS_LOG"
assert_eq "$(fq "$OUT" "dns:$S4" "f['status'] + ' ' + str(f['data']['through_tunnel'])")" \
  "ok False" "[tunnel] resolv.conf's DNS server $S4 answered outside the tunnel"

# ---------------------------------------------------------------------------------------------
# [never] a peer whose endpoint has nothing listening
wpt_new_ifname IF_N
conf_path CONF_N "$IF_N"
conf_interface "$CONF_N" "$(wg_genkey)" 51003 "10.242.0.1/24" 1420
conf_peer "$CONF_N" "$(wg_pub "$(wg_genkey)")" "10.242.0.2/32" "$(endpoint "$S4" 51999)"
wp_up PID_N "$NS_C" "$CONF_N" || die "interface $IF_N did not start"
OUT=$WPT_SCRATCH/doctor-never.json
doctor "$OUT" "$NS_C" "$IF_N" --json --host "$S4" --dir "$NO_SERVER_DIR"
rc=$?
check_json "$OUT" "[never] doctor $IF_N --json prints findings"
state=$(fq "$OUT" "handshake:$IF_N" "f['status'] + ' ' + f['data']['state']")
case $state in
  "fail never")
    pass "[never] handshake: fail, never (the daemon started one and nothing answered)"
    assert_eq "$rc" 1 "[never] exit status 1"
    assert_match "$(fq "$OUT" "handshake:$IF_N" "f['detail']")" "unknown peer" \
      "[never] the likely causes include a wrong key (unknown peer)"
    assert_match "$(fq "$OUT" "handshake:$IF_N" "f['detail']")" "wireguard_port" \
      "[never] ... and a blocked port (try another wireguard_port)"
    ;;
  "warn never")
    pass "[never] handshake: cannot test (the daemon has no handshake command): $(fq "$OUT" "handshake:$IF_N" "f['summary']")"
    ;;
  *) fail "[never] handshake state (got '$state': $(summary "$OUT"))" ;;
esac
daemon_stop "$NS_C" "$IF_N" "$PID_N"

# ---------------------------------------------------------------------------------------------
# [mtu] no interface named, --host: the DF ping search through the blackhole
OUT=$WPT_SCRATCH/doctor-mtu4.json
doctor "$OUT" "$NS_C" --host "$S4" --json --dir "$NO_SERVER_DIR"
rc=$?
check_json "$OUT" "[mtu] doctor --host $S4 --json prints findings"
assert_eq "$(fq "$OUT" path_mtu "f['data']['path_mtu']")" "$NARROW" "[mtu] IPv4 path MTU $NARROW"
assert_eq "$(fq "$OUT" path_mtu "f['data']['largest_payload']")" 1426 "[mtu] largest payload 1426"
assert_eq "$(fq "$OUT" path_mtu "f['data']['reduce_mtu']")" 46 "[mtu] reduce_mtu = 1420 - (1454 - 80) = 46"
assert_eq "$(fq "$OUT" path_mtu "f['data']['mtu_line']")" "MTU = 1374" "[mtu] wg-quick line MTU = 1374"
assert_eq "$(fq "$OUT" path_mtu "f['status']")" warn "[mtu] a narrow path is a warning"
probes=$(fq "$OUT" path_mtu "f['data']['probes']")
if [[ $probes =~ ^[0-9]+$ ]] && ((probes <= 20)); then pass "[mtu] $probes probes (<= 20)"; else
  fail "[mtu] at most 20 probes (got '$probes')"
fi
assert_eq "$rc" 0 "[mtu] exit status 0 ($(summary "$OUT"))"

OUT=$WPT_SCRATCH/doctor-mtu6.json
doctor "$OUT" "$NS_C" --host "$S6" --json --dir "$NO_SERVER_DIR"
assert_eq "$(fq "$OUT" path_mtu "f['data']['path_mtu']")" "$NARROW" "[mtu] IPv6 path MTU $NARROW"
assert_eq "$(fq "$OUT" path_mtu "f['data']['largest_payload']")" 1406 "[mtu] IPv6 largest payload 1406 (+ 48)"

# The router may talk again: the answer must not change (the ICMP error only speeds it up).
mtu_blackhole_off
OUT=$WPT_SCRATCH/doctor-mtu4-icmp.txt
doctor "$OUT" "$NS_C" --host "$S4" --dir "$NO_SERVER_DIR"
assert_match "$(cat "$OUT")" "1426 \+ 28 = 1454" "[mtu] with ICMP errors allowed: text says 1426 + 28 = 1454"
assert_match "$(cat "$OUT")" "reduce_mtu: 46" "[mtu] text output gives the reduce_mtu fix"

# ---------------------------------------------------------------------------------------------
# [noicmp] the server answers no pings at all
nsx "$NS_S" nft -f - <<'EOF' || die "cannot install the echo drop in the server"
table inet doctor_noecho {
  chain local_in { type filter hook input priority 0; policy accept;
    icmp type echo-request drop
    icmpv6 type echo-request drop
  }
}
EOF
OUT=$WPT_SCRATCH/doctor-noicmp.json
SECONDS_BEFORE=$SECONDS
doctor "$OUT" "$NS_C" --host "$S4" --json --dir "$NO_SERVER_DIR"
rc=$?
check_json "$OUT" "[noicmp] doctor prints findings"
assert_eq "$(fq "$OUT" path_mtu "f['data']['outcome']")" no_answer "[noicmp] outcome: no answer"
assert_eq "$(fq "$OUT" path_mtu "f['status']")" warn "[noicmp] reported as a warning, not a failure"
assert_match "$(fq "$OUT" path_mtu "f['summary']")" "no answer" "[noicmp] the summary says no answer"
assert_match "$(fq "$OUT" path_mtu "f['detail']")" "filter" "[noicmp] it explains that ICMP may be filtered"
assert_eq "$rc" 0 "[noicmp] exit status 0 ($(summary "$OUT"))"
if ((SECONDS - SECONDS_BEFORE <= 30)); then pass "[noicmp] bounded: $((SECONDS - SECONDS_BEFORE)) s"; else
  fail "[noicmp] took $((SECONDS - SECONDS_BEFORE)) s"
fi
nsx "$NS_S" nft delete table inet doctor_noecho

# ---------------------------------------------------------------------------------------------
# [server] server mode: forwarding, NAT table, other firewalls
SDIR=$WPT_SCRATCH/server
wpt_new_ifname IF_SRV
wp_server_init "$NS_S" "$SDIR" "$WPT_SCRATCH/logs/server-init.log" --endpoint "$S4" --users alice \
  --interface "$IF_SRV" --port 51820 || die "server init failed: $(tail -n 5 "$WPT_SCRATCH/logs/server-init.log")"
# The lab's DNS responder holds port 53 on every address of the server ns: run this server
# without its built-in resolver (test_dns.sh covers that).
server_cfg_set "$SDIR/config.yaml" dns_encryption false
WPT_WP_IFS+=("$NS_S $IF_SRV")
server_ready() { wp_server_running "$NS_S" "$SDIR"; }
wp_server_start SPID "$NS_S" "$WPT_SCRATCH/logs/server.log" 15 server_ready --dir "$SDIR" --log-level debug ||
  die "server up did not become ready: $(tail -n 5 "$WPT_SCRATCH/logs/server.log")"

OUT=$WPT_SCRATCH/doctor-server.json
doctor "$OUT" "$NS_S" "$IF_SRV" --dir "$SDIR" --json
rc=$?
check_json "$OUT" "[server] doctor --dir prints findings"
assert_eq "$(fq "$OUT" server:net.ipv4.ip_forward "f['status']")" ok "[server] ip_forward ok while the server runs"
assert_eq "$(fq "$OUT" server:nft_table "f['status']")" ok "[server] table inet waypost-$IF_SRV with masquerade"
assert_eq "$(fq "$OUT" server:default_route "f['status']")" ok "[server] default route present"
assert_eq "$(fq "$OUT" "clients:$IF_SRV" "f['status']")" info "[server] clients summarised"
assert_eq "$rc" 0 "[server] exit status 0 ($(summary "$OUT"))"

nsx "$NS_S" sysctl -qw net.ipv4.ip_forward=0
OUT=$WPT_SCRATCH/doctor-server-noforward.json
doctor "$OUT" "$NS_S" "$IF_SRV" --dir "$SDIR" --json
rc=$?
assert_eq "$(fq "$OUT" server:net.ipv4.ip_forward "f['status']")" fail "[server] ip_forward=0: fail"
assert_contains "$(fq "$OUT" server:net.ipv4.ip_forward "f['fix']")" "sysctl -w net.ipv4.ip_forward=1" \
  "[server] the fix is sysctl -w net.ipv4.ip_forward=1"
assert_eq "$rc" 1 "[server] exit status 1 when a check fails"
OUT=$WPT_SCRATCH/doctor-server-noforward.txt
doctor "$OUT" "$NS_S" "$IF_SRV" --dir "$SDIR"
assert_match "$(cat "$OUT")" "\[FAIL\] server:net.ipv4.ip_forward" "[server] text output marks it FAIL"
nsx "$NS_S" sysctl -qw net.ipv4.ip_forward=1

# A Docker-like iptables-nft FORWARD chain with policy drop.
nsx "$NS_S" nft -f - <<'EOF' || die "cannot install the Docker-like table"
table ip filter {
  chain DOCKER-USER {
  }
  chain FORWARD { type filter hook forward priority 0; policy drop;
    jump DOCKER-USER
  }
}
EOF
OUT=$WPT_SCRATCH/doctor-server-docker.json
doctor "$OUT" "$NS_S" "$IF_SRV" --dir "$SDIR" --json
rc=$?
assert_eq "$(fq "$OUT" server:forward_policy:ip:filter "f['status']")" fail \
  "[server] a forward chain with policy drop elsewhere: fail"
assert_contains "$(fq "$OUT" server:forward_policy:ip:filter "f['fix']")" "DOCKER-USER -i $IF_SRV -j ACCEPT" \
  "[server] the fix names the DOCKER-USER rule for the tunnel"
assert_eq "$rc" 1 "[server] exit status 1"
nsx "$NS_S" nft add rule ip filter DOCKER-USER iifname "$IF_SRV" accept
nsx "$NS_S" nft add rule ip filter DOCKER-USER oifname "$IF_SRV" ct state established,related accept
doctor "$OUT" "$NS_S" "$IF_SRV" --dir "$SDIR" --json
assert_eq "$(fq "$OUT" server:forward_policy:ip:filter "f['status']")" ok \
  "[server] once the tunnel is accepted both ways: ok"
nsx "$NS_S" nft delete table ip filter

wp_server_stop "$SPID"

wpt_finish
