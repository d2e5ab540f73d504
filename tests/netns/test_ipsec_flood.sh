#!/usr/bin/env bash
# Denial of service against the IKEv2 responder: a `waypost ipsec` instance keeps serving a
# legitimate strongSwan road warrior while a third namespace floods it with IKE_SA_INIT requests
# from forged sources (wg_flood ike-init, tests/tools/wg_flood.cc).
#
#   client ns (charon, initiator) 192.168.241.1 ── 192.168.241.2 server ns (waypost ipsec)
#   flood ns 198.51.100.1 ─────────────────────────── 198.51.100.2 server ns
#   The server routes the forged prefix 203.0.113.0/24 back to the flood ns, whose kernel drops
#   the COOKIE replies (it does not own those addresses and does not forward).
#
# Every request is one a responder takes as new (a fresh SPIi and nonce, proposals the
# connection accepts), from a random address of 203.0.113.0/24 and a random port. Waypost's
# defences (src/ike/ike_manager.h, HalfOpenLimits): the first 10 make half-open SAs (they go
# after 30 s without IKE_AUTH); from then on a request must carry a valid COOKIE, which a forged
# source never receives, so the rest are answered statelessly with a COOKIE notify.
#
# The flood comes from FLOOD_PROCS (default 2) generators, FLOOD_PPS (default 20 000/s) in all,
# for FLOOD_SECS (default 15) seconds. As in test_flood.sh, the rate the generators reached is a
# precondition, not a property of Waypost: on a host too busy to generate it, that check is a
# SKIP with the rate reached, and every check of Waypost below still runs under what was sent.
#
# Checks (none of them on timing):
#   - the flood requests parse (ike_malformed unchanged) and fit the connection
#     (ike_no_connection unchanged);
#   - cookies engage: ike_cookies_sent grows, by most of what the daemon's socket received;
#   - the half-open table stays bounded: ike_half_open, sampled through the flood, never exceeds
#     the cookie threshold plus the legitimate client's SAs (<= 15), and no request had to be
#     dropped at the table's hard limit (ike_half_open_full unchanged);
#   - VmRSS after the flood within 4 MiB of before, VmHWM grown by less than 8 MiB;
#   - the daemon is alive;
#   - strongSwan, started once the cookies are engaged, connects during the flood (its first
#     IKE_SA_INIT is answered with a COOKIE and it repeats it with the cookie) and pings through
#     the tunnel while the flood is still running (a SKIP instead of a FAIL only when the kernel
#     dropped most of the flood at the daemon's full socket buffer, so that strongSwan's
#     requests were most likely dropped before Waypost could see them); after the flood the
#     tunnel still carries pings.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317,SC2016
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout ping
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"
wg_flood_find FLOOD || die "wg_flood not found (build target wg_flood, or set WG_FLOOD_BIN)"

FLOOD_PPS=${FLOOD_PPS:-20000}  # asked of the generators in all
FLOOD_MIN_PPS=${FLOOD_MIN_PPS:-10000}
FLOOD_PROCS=${FLOOD_PROCS:-2}
FLOOD_SECS=${FLOOD_SECS:-15}
HALF_OPEN_BOUND=15  # the cookie threshold (10) and the legitimate client's SAs, with room
PROPOSALS=aes128gcm16-prfsha256-x25519
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'

# --- topology --------------------------------------------------------------------------------
topo_pair
S=192.168.241.2
ns_create NS_F flood
wpt_name VETH_F vf
wpt_name VETH_SF vsf
veth_link "$NS_F" "$VETH_F" "$NS_S" "$VETH_SF"
ns_addr "$NS_F" "$VETH_F" 198.51.100.1/24
ns_addr "$NS_S" "$VETH_SF" 198.51.100.2/24
ip -n "$NS_S" route add 203.0.113.0/24 via 198.51.100.1
wait_for 5 nsx "$NS_F" ping -c 1 -W 1 198.51.100.2 || die "flood ns cannot reach the server"
ip -n "$NS_S" addr add 10.1.0.1/32 dev lo

# --- the responder ---------------------------------------------------------------------------
wpt_name INST ipf
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
# No local_addrs: the flood's requests (to 198.51.100.2) and the client's (to 192.168.241.2)
# reach the same connection, on the same sockets.
cat >"$CONF" <<EOF
connections {
  rw {
    proposals = $PROPOSALS
    pools = rw4
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16 } }
  }
}
pools { rw4 { addrs = 10.3.0.0/28 } }
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }
EOF
chmod 600 "$CONF"
# Info level: this test reads counters, not the log, and the flood should not be slowed by it.
wp_ipsec "$NS_S" up "$CONF" --log-file "$WPT_SCRATCH/logs/ipsec-$NS_S.log" --log-level info \
  >"$WPT_SCRATCH/ipsec-up.out" 2>&1 || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
WP_PID=$(wpi_pid "$INST")
[[ -n $WP_PID ]] || die "no PID file for $INST"
wpt_track_pid "$WP_PID"

sw_start "$NS_C"
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0
    proposals = $PROPOSALS
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" || die "swanctl --load-all failed in the client ns"

st() { wpi_status "$NS_S" "$INST"; }
ctr() { st | json_q "j['counters']['$1']" 2>/dev/null; }
sw_established() { sw_sas "$NS_C" | grep -q 'ESTABLISHED'; }

# Warm up: one connection before the flood, so the memory baseline is the daemon's steady state
# with an SA (buffers, the first CHILD SA's data plane).
sw_ctl "$NS_C" --initiate --child home --timeout 20 >/dev/null 2>&1 || die "strongSwan cannot connect before the flood"
assert_ok "ping through the tunnel before the flood" ping_ok "$NS_C" 10.1.0.1 10
sw_ctl "$NS_C" --terminate --ike home --timeout 10 >/dev/null 2>&1
no_sa() { [[ $(ctr ike_half_open) == 0 ]] && ! st | grep -q ESTABLISHED; }
wait_for 10 no_sa

# Datagrams the server's kernel dropped because the daemon's socket buffer was full
# (/proc/net/snmp "Udp:" values: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ...).
rcvbuf_errors() { nsx "$NS_S" awk '/^Udp:/ { n++; if (n == 2) print $6 }' /proc/net/snmp; }
# Datagrams the kernel delivered to a UDP socket in the server ns (read by the daemon or not).
udp_in() { nsx "$NS_S" awk '/^Udp:/ { n++; if (n == 2) print $2 + $4 - $6 - $10 }' /proc/net/snmp; }

# flood_start: FLOOD_PROCS generators in the flood ns; their JSON results in flood.N.json.
flood_start() {
  local n
  FLOOD_PIDS=()
  for ((n = 1; n <= FLOOD_PROCS; n++)); do
    ip netns exec "$NS_F" timeout $((FLOOD_SECS + 20)) "$FLOOD" ike-init --target 198.51.100.2:500 \
      --ike-proposals "$PROPOSALS" --spoof-from 203.0.113.0/24 --rate $((FLOOD_PPS / FLOOD_PROCS)) \
      --duration "$FLOOD_SECS" >"$WPT_SCRATCH/flood.$n.json" 2>"$WPT_SCRATCH/logs/flood.$n.err" &
    FLOOD_PIDS+=("$!")
    wpt_track_pid "$!"
  done
}
flood_alive() {
  local pid
  for pid in "${FLOOD_PIDS[@]}"; do wpt_pid_alive "$pid" || return 1; done
}
flood_any_alive() {
  local pid
  for pid in "${FLOOD_PIDS[@]}"; do wpt_pid_alive "$pid" && return 0; done
  return 1
}
flood_wait() { # bounded: the generators stop themselves after --duration
  local i pid
  for ((i = 0; i < (FLOOD_SECS + 25) * 10; i++)); do flood_any_alive || break; sleep 0.1; done
  for pid in "${FLOOD_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}
# flood_total: "SENT PPS SECONDS" over the generators (empty if one of them reported nothing).
flood_total() {
  "$WPT_PY" - "$WPT_SCRATCH/flood" "$FLOOD_PROCS" <<'PYEOF'
import json, sys
base, n = sys.argv[1], int(sys.argv[2])
try:
    rs = [json.loads(open(f"{base}.{i}.json").read().strip().splitlines()[-1]) for i in range(1, n + 1)]
except Exception:
    sys.exit(1)
sent = sum(r["sent"] for r in rs)
secs = max(r["seconds"] for r in rs)
print(sent, int(sent / secs) if secs > 0 else 0, f"{secs:.3f}")
PYEOF
}
# Samples of ike_half_open and ike_cookies_sent, one line per ~0.5 s while the flood runs.
sampler_start() {
  (
    for ((i = 0; i < (FLOOD_SECS + 10) * 2; i++)); do
      flood_any_alive || break
      st | json_q '" ".join(str(j["counters"][k]) for k in ["ike_half_open", "ike_cookies_sent"])' 2>/dev/null
      sleep 0.5
    done
  ) >"$WPT_SCRATCH/flood.samples" 2>/dev/null &
  SAMPLER_PID=$!
  wpt_track_pid "$SAMPLER_PID"
}
cookies_seen() { awk '$2 > 0 { f = 1 } END { exit !f }' "$WPT_SCRATCH/flood.samples" 2>/dev/null; }
# ping_during_flood NS DST: one ping answered while every generator still runs.
ping_during_flood() {
  while flood_alive; do
    if ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && flood_alive; then return 0; fi
  done
  return 1
}

# --- the flood -------------------------------------------------------------------------------
sleep 1
rss0=$(proc_status_kb "$WP_PID" VmRSS) hwm0=$(proc_status_kb "$WP_PID" VmHWM)
malformed0=$(ctr ike_malformed) noconn0=$(ctr ike_no_connection)
cookies0=$(ctr ike_cookies_sent) full0=$(ctr ike_half_open_full)
drops0=$(rcvbuf_errors) in0=$(udp_in)
log "flood: $FLOOD_PPS IKE_SA_INIT/s ($FLOOD_PROCS generators) for $FLOOD_SECS s from 203.0.113.0/24"
flood_start
sampler_start
# strongSwan connects once the cookies are engaged (bounded: it tries anyway after 10 s, and
# the checks below tell whether cookies were seen).
wait_for 10 cookies_seen
t_init=$EPOCHREALTIME
sw_ok=0
if flood_alive && sw_ctl "$NS_C" --initiate --child home --timeout 30 >"$WPT_SCRATCH/initiate-flood.out" 2>&1; then
  sw_ok=1
  if flood_alive; then sw_when="during the flood"; else sw_when="as the flood ended"; fi
fi
sw_secs=$(secs_since "$t_init")
pinged=0
if ((sw_ok)) && ping_during_flood "$NS_C" 10.1.0.1; then pinged=1; fi
flood_wait
wait "$SAMPLER_PID" 2>/dev/null
# The daemon drains what its socket still holds: wait (bounded) until the cookie count settles
# before reading what the kernel delivered.
cookies1=$(ctr ike_cookies_sent)
for ((b = 0; b < 20; b++)); do
  sleep 0.5
  c=$(ctr ike_cookies_sent)
  [[ $c == "$cookies1" ]] && break
  cookies1=$c
done
drops1=$(rcvbuf_errors) in1=$(udp_in)
read -r sent pps secs <<<"$(flood_total)"
log "flood: $(cat "$WPT_SCRATCH"/flood.*.json "$WPT_SCRATCH"/logs/flood.*.err 2>/dev/null | tr '\n' ' ' | head -c 600)"

if [[ -z ${sent:-} || ${sent:-0} == 0 ]]; then
  fail "the flood generators did not run: $(cat "$WPT_SCRATCH"/logs/flood.*.err 2>/dev/null | head -c 300)"
elif ((pps >= FLOOD_MIN_PPS)); then
  pass "flood: $sent IKE_SA_INIT requests in $secs s, $pps/s ($FLOOD_PROCS generators)"
else
  skip "flood precondition not met on this busy host: $sent requests in $secs s = $pps/s (wanted >= $FLOOD_MIN_PPS/s); the checks of Waypost ran under this flood"
fi
sent=${sent:-0}
dropped=$((drops1 - drops0)) delivered=$((in1 - in0))

malformed1=$(ctr ike_malformed) noconn1=$(ctr ike_no_connection) full1=$(ctr ike_half_open_full)
assert_ok "waypost survived the flood" wpt_pid_alive "$WP_PID"
assert_eq "$((malformed1 - malformed0))" 0 "the flood's requests parse (ike_malformed unchanged)"
assert_eq "$((noconn1 - noconn0))" 0 "the flood's requests fit the connection (ike_no_connection unchanged)"
dc=$((cookies1 - cookies0))
# Every datagram the kernel delivered is a flood request but for strongSwan's few: all but the
# first ten (and those the cookie admitted) are answered with a COOKIE.
if ((dc > 0 && dc * 10 >= (delivered - 100) * 9)); then
  pass "cookies engaged: ike_cookies_sent +$dc for $delivered datagrams delivered to the daemon's sockets ($sent sent, $dropped dropped at the full socket buffer)"
else
  fail "ike_cookies_sent +$dc for $delivered datagrams delivered to the daemon's sockets ($sent sent, $dropped dropped at the full socket buffer)"
fi
n_samples=$(wc -l <"$WPT_SCRATCH/flood.samples")
max_half=$(awk 'BEGIN { m = -1 } $1 > m { m = $1 } END { print m }' "$WPT_SCRATCH/flood.samples")
if ((n_samples > 0 && max_half >= 0 && max_half <= HALF_OPEN_BOUND)); then
  pass "the half-open table stays bounded: ike_half_open at most $max_half in $n_samples samples during the flood"
else
  fail "ike_half_open reached ${max_half:-?} (bound $HALF_OPEN_BOUND) in $n_samples samples"
fi
assert_eq "$((full1 - full0))" 0 "no request dropped at the half-open table's hard limit (ike_half_open_full unchanged)"

sleep 1
rss1=$(proc_status_kb "$WP_PID" VmRSS) hwm1=$(proc_status_kb "$WP_PID" VmHWM)
if ((rss1 <= rss0 + 4096)); then
  pass "VmRSS after the flood within 4 MiB: $rss0 -> $rss1 kB"
else
  fail "VmRSS grew by more than 4 MiB: $rss0 -> $rss1 kB"
fi
if ((hwm1 <= hwm0 + 8192)); then
  pass "VmHWM grew by less than 8 MiB: $hwm0 -> $hwm1 kB"
else
  fail "VmHWM ballooned: $hwm0 -> $hwm1 kB"
fi

# strongSwan's requests share the daemon's socket with the flood: whatever share of the flood
# the kernel dropped at the full socket buffer was dropped from strongSwan's too. When that is
# most of it, the host was too busy to judge Waypost (test_flood.sh's rule).
too_busy() { ((sent > 0 && dropped * 2 > sent)); }
if ((sw_ok)); then
  pass "strongSwan connected $sw_when (${sw_secs} s)"
  assert_contains "$(cat "$WPT_SCRATCH/logs/charon-$NS_C.log")" "received COOKIE notify" \
    "strongSwan's IKE_SA_INIT was answered with a COOKIE, and it came back with it"
elif too_busy; then
  skip "strongSwan did not connect during the flood, but the host is too busy to judge: the kernel dropped $dropped of $sent flood datagrams at the daemon's full socket buffer"
else
  fail "strongSwan did not connect during the flood: $(tail -3 "$WPT_SCRATCH/initiate-flood.out" | tr '\n' ' ') (socket buffer drops: $dropped of $sent)"
fi
if ((pinged)); then
  pass "ping through the tunnel during the flood"
elif ((sw_ok)) && too_busy; then
  skip "no ping through the tunnel while the flood ran, but the host is too busy to judge ($dropped of $sent dropped at the socket)"
else
  fail "no ping through the tunnel while the flood was still running"
fi
if ! sw_established; then
  sw_ctl "$NS_C" --initiate --child home --timeout 30 >/dev/null 2>&1
fi
assert_ok "strongSwan's IKE SA is up after the flood" sw_established
assert_ok "ping through the tunnel after the flood" ping_ok "$NS_C" 10.1.0.1 10
n_up=$(st | json_q "len([c for s in j['ike_sas'] if s['state'] == 'ESTABLISHED' for c in s['child_sas'] if c['state'] == 'INSTALLED'])")
assert_eq "$n_up" 1 "waypost ipsec status: one INSTALLED CHILD SA (the legitimate client's)"
log "counters: $(st | json_q 'json.dumps({k: v for k, v in j["counters"].items() if k.startswith("ike_")})')"
wpt_finish
