#!/usr/bin/env bash
# No plaintext leaves a full-tunnel client while its tunnel is down.
#
#   client ns (Waypost: AllowedIPs = 0.0.0.0/0, ::/0; Endpoint 203.0.113.5:51820)
#     192.0.2.2/24 fd00:c0::2/64 ── 192.0.2.1 fd00:c0::1  uplink ns (router)
#                                    203.0.113.1 fd00:cb::1 ── 203.0.113.5 fd00:cb::5  server ns
#   The server ns (wireguard-go, port 51820) also holds the "outside" hosts 198.51.100.77 and
#   fd00:99::77 on its loopback, so a plaintext packet that escaped the client would be answered.
#
# Phase 1: the server does not know the client's key, so it never answers. Waypost applies the
# /0 AllowedIPs the way wg-quick does (fwmark, policy rules, its own table). For 12 s the client
# pings, opens TCP connections and sends UDP to both outside hosts (IPv4 and IPv6) while tcpdump
# captures on its uplink. Asserted: no ping, TCP connection or UDP answer gets through; every
# captured packet is UDP from the client to 203.0.113.5:51820 and 148 bytes long (handshake
# initiations), apart from IPv6 neighbour/router discovery (hop limit 255) and link-local MLD; at least
# two initiations were sent (the capture saw the tunnel trying).
# Phase 2: the server learns the client's key (wg set): pings to both outside hosts work
# through the tunnel, and a second capture on the uplink again holds only UDP to and from the
# endpoint (and link-level control).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout tcpdump nft
# wg-quick's /0 policy routing is what Waypost does itself; wggo_up has no equivalent.
wpt_waypost_only "the no-leak test checks waypost's own full-tunnel routing"

EP4=203.0.113.5 EP_PORT=51820
HOST4=198.51.100.77 HOST6=fd00:99::77
IN4_C=10.66.0.2 IN6_C=fd00:66::2

ns_create NS_C client
ns_create NS_U uplink
ns_create NS_S server
wpt_name VC vc
wpt_name VUC vuc
wpt_name VUS vus
wpt_name VS vs
veth_link "$NS_C" "$VC" "$NS_U" "$VUC"
veth_link "$NS_U" "$VUS" "$NS_S" "$VS"
ns_addr "$NS_C" "$VC" 192.0.2.2/24 fd00:c0::2/64
ns_addr "$NS_U" "$VUC" 192.0.2.1/24 fd00:c0::1/64
ns_addr "$NS_U" "$VUS" 203.0.113.1/24 fd00:cb::1/64
ns_addr "$NS_S" "$VS" "$EP4/24" fd00:cb::5/64
ns_addr "$NS_S" lo "$HOST4/32" "$HOST6/128"
nsx "$NS_U" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$NS_C" route add default via 192.0.2.1
ip -n "$NS_C" -6 route add default via fd00:c0::1
ip -n "$NS_S" route add default via 203.0.113.1
ip -n "$NS_S" -6 route add default via fd00:cb::1
ip -n "$NS_U" route add "$HOST4/32" via "$EP4"
ip -n "$NS_U" -6 route add "$HOST6/128" via fd00:cb::5
wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$HOST4" || die "lab: client cannot reach $HOST4 in the clear"
wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$HOST6" || die "lab: client cannot reach $HOST6 in the clear"
pass "lab: without the tunnel the client reaches $HOST4 and $HOST6 in the clear (a leak would be answered)"

# A TCP listener and a UDP echo on both outside hosts, so that leaked connections would succeed.
ECHO_PY=$WPT_SCRATCH/echo.py
cat >"$ECHO_PY" <<'EOF'
import select, socket, sys, time
socks = []
for fam, addr in ((socket.AF_INET, sys.argv[1]), (socket.AF_INET6, sys.argv[2])):
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, 8080)); t.listen(16)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, 5353))
    socks += [t, u]
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    r, _, _ = select.select(socks, [], [], 0.5)
    for s in r:
        if s.type == socket.SOCK_STREAM:
            c, _ = s.accept(); c.sendall(b"hello\n"); c.close()
        else:
            d, a = s.recvfrom(2048); s.sendto(d, a)
EOF
nsx "$NS_S" "$WPT_PY" "$ECHO_PY" "$HOST4" "$HOST6" 300 >"$WPT_SCRATCH/logs/echo.log" 2>&1 &
wpt_track_pid $!
wait_for 5 grep -q ready "$WPT_SCRATCH/logs/echo.log" || die "echo service did not start"

# probe ADDR: 0 if any of ping, TCP connect + read, UDP echo gets an answer (bounded ~4 s).
PROBE_PY=$WPT_SCRATCH/probe.py
cat >"$PROBE_PY" <<'EOF'
import socket, sys
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
ok = []
try:
    s = socket.create_connection((addr, 8080), timeout=1.5)
    s.settimeout(1.5)
    if s.recv(16): ok.append("tcp")
    s.close()
except OSError:
    pass
try:
    u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(1.0)
    u.sendto(b"leak?", (addr, 5353))
    if u.recvfrom(64)[0]: ok.append("udp")
except OSError:
    pass
print(" ".join(ok))
sys.exit(0 if ok else 1)
EOF
probe() { # probe NS ADDR: prints what got through; 0 if anything did
  local got=""
  nsx "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && got="icmp "
  got+=$(nsx "$1" timeout 6 "$WPT_PY" "$PROBE_PY" "$2" 2>/dev/null)
  echo "$got"
  [[ -n ${got// /} ]]
}
assert_ok "lab: the probe gets answers in the clear ($(probe "$NS_C" "$HOST4"))" probe "$NS_C" "$HOST4"

# --- server (does not know the client yet) and full-tunnel client -----------------------------
conf_pair_new
conf_interface "$CONF_S" "$PRIV_S" "$EP_PORT" "10.66.0.1/24,fd00:66::1/64" 1420
wggo_up PID_S "$NS_S" "$CONF_S" || die "server did not start"
conf_interface "$CONF_C" "$PRIV_C" "" "$IN4_C/32,$IN6_C/128" 1420
conf_peer "$CONF_C" "$PUB_S" "0.0.0.0/0, ::/0" "$EP4:$EP_PORT"
wp_up PID_C "$NS_C" "$CONF_C" || die "waypost client did not start"
log "client policy routing: $(ip -n "$NS_C" rule show | tr '\n' '|')"
assert_match "$(ip -n "$NS_C" rule show)" "not from all fwmark|not fwmark" "client has wg-quick style policy rules (IPv4)"
assert_match "$(ip -n "$NS_C" -6 rule show)" "not from all fwmark|not fwmark" "client has wg-quick style policy rules (IPv6)"

# capture HANDLE DURATION: tcpdump on the client's uplink (everything but ARP), in immediate mode
# so that nothing is left in the ring buffer when it is stopped; into $WPT_SCRATCH/cap/HANDLE.pcap.
capture() {
  local f=$WPT_SCRATCH/cap/$1
  nsx "$NS_C" timeout "$2" tcpdump -i "$VC" -n -U --immediate-mode -s 256 -w "$f.pcap" "not arp" \
    >/dev/null 2>"$f.err" &
  echo $! >"$f.pid"
  wpt_track_pid "$(cat "$f.pid")"
  wait_for 5 grep -q "listening on" "$f.err"
}
capture_stop() { sleep 1; wpt_stop_pid "$(cat "$WPT_SCRATCH/cap/$1.pid")"; }

# classify HANDLE: prints "N_INIT N_OTHER" and the offending lines to $WPT_SCRATCH/HANDLE.bad.
classify() {
  local h=$1
  tcpdump -r "$WPT_SCRATCH/cap/$h.pcap" -n -tt -v 2>/dev/null | "$WPT_PY" -c '
import re, sys
lines, cur = [], ""
for l in sys.stdin:
    if re.match(r"^\d+\.\d+ ", l):
        if cur: lines.append(cur)
        cur = l.rstrip()
    else:
        cur += " " + l.strip()
if cur: lines.append(cur)
ep, port, init, data, bad = sys.argv[1], sys.argv[2], 0, 0, []
for l in lines:
    m = re.search(r"(\S+)\.(\d+) > (\S+)\.(\d+): \[[^\]]*\] UDP, length (\d+)", l) or \
        re.search(r"(\S+)\.(\d+) > (\S+)\.(\d+): UDP, length (\d+)", l)
    if m and m.group(3) == ep and m.group(4) == port:
        if m.group(5) == "148": init += 1
        else: data += 1
        continue
    if m and m.group(1) == ep and m.group(2) == port:  # WireGuard from the endpoint
        data += 1
        continue
    # Link-level control, not user traffic: neighbour/router discovery (hop limit 255) and MLD.
    if re.search(r"hlim 255.*ICMP6, (neighbor|router) (solicitation|advertisement)", l) or \
       re.search(r"fe80::\S* > ff02::\S*: .*multicast listener", l) or \
       re.search(r" :: > ff02::\S*: .*multicast listener", l):
        continue
    bad.append(l)
open(sys.argv[3], "w").write("\n".join(bad) + ("\n" if bad else ""))
print(init, data, len(bad))' "$EP4" "$EP_PORT" "$WPT_SCRATCH/$h.bad"
}

# --- phase 1: tunnel down, traffic for ~10 s ------------------------------------------------------
capture leak 30 || die "capture did not start"
t0=$SECONDS
leaked=""
while ((SECONDS - t0 < 12)); do
  for dst in "$HOST4" "$HOST6"; do
    if got=$(probe "$NS_C" "$dst"); then leaked+="$dst: $got; "; fi
  done
done
capture_stop leak
assert_eq "$leaked" "" "phase 1: no ping, TCP connection or UDP exchange with $HOST4 / $HOST6 got through"
read -r n_init n_data n_bad <<<"$(classify leak)"
log "phase 1 capture: $n_init initiations, $n_data other datagrams to the endpoint, $n_bad other packets"
if ((n_bad == 0)); then
  pass "phase 1: every packet on the uplink was UDP to $EP4:$EP_PORT ($n_init handshake initiations, nothing else but link-local ND/MLD)"
else
  fail "phase 1: $n_bad packets on the uplink were not WireGuard: $(head -n 5 "$WPT_SCRATCH/leak.bad" | cut -c1-200 | tr '\n' '|')"
fi
assert_eq "$n_data" 0 "phase 1: only 148-byte handshake initiations went to the endpoint"
if ((n_init >= 2)); then pass "phase 1: the client kept trying ($n_init initiations)"; else
  fail "phase 1: only $n_init handshake initiations captured (the tunnel did not try?)"
fi
assert_not "phase 1: no handshake completed" handshake_done "$IF_C" "$PUB_S"

# --- phase 2: the server learns the client -------------------------------------------------------
wg set "$IF_S" peer "$PUB_C" allowed-ips "$IN4_C/32,$IN6_C/128" || fail "wg set on the server failed"
ip -n "$NS_S" route replace "$IN4_C/32" dev "$IF_S"
ip -n "$NS_S" -6 route replace "$IN6_C/128" dev "$IF_S"
capture ok 60 || die "capture did not start"
# The client retries its handshake every 5 s; allow for a full round of attempts.
assert_ok "phase 2: ping $HOST4 through the tunnel" ping_ok "$NS_C" "$HOST4" 25
assert_ok "phase 2: ping $HOST6 through the tunnel" ping_ok "$NS_C" "$HOST6" 5
assert_ok "phase 2: TCP and UDP to $HOST4 through the tunnel ($(probe "$NS_C" "$HOST4"))" probe "$NS_C" "$HOST4"
assert_ok "phase 2: handshake done" handshake_done "$IF_C" "$PUB_S"
src=$(wg show "$IF_S" endpoints | awk '{ print $2 }')
assert_match "$src" "^192\\.0\\.2\\.2:" "phase 2: the server sees the client at its uplink address"
capture_stop ok
read -r n_init n_data n_bad <<<"$(classify ok)"
if ((n_bad == 0 && n_data > 0)); then
  pass "phase 2: the uplink carried only WireGuard ($n_init initiations, $n_data other datagrams)"
else
  fail "phase 2: $n_bad non-WireGuard packets on the uplink ($n_data WireGuard datagrams): $(head -n 5 "$WPT_SCRATCH/ok.bad" | cut -c1-200 | tr '\n' '|')"
fi
wpt_finish
