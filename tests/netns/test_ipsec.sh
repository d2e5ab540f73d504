#!/usr/bin/env bash
# `waypost ipsec` carrying traffic with strongSwan 5.9 (charon + kernel-libipsec) in both roles:
# the IKEv2 engine and the ESP-in-UDP data plane in one daemon, a route-based TUN device named
# after the configuration file, and the CLI (up, status/list-conns --json, initiate, terminate,
# down).
#
#   client ns 192.168.241.1 <-> server ns 192.168.241.2
#
# 1. strongSwan road warrior (client ns) -> `waypost ipsec up site.conf` (server ns): virtual
#    IPv4 and IPv6 addresses and DNS from Waypost's pools; ping and a 20 MB transfer with a
#    SHA-256 compare through the tunnel, both families; `status --json` shows the SAs with the
#    contract's fields and byte counters; the client restarts and reconnects at once (its stale
#    SA dropped on INITIAL_CONTACT, its address given back); routes follow the SA; strongSwan's
#    DELETE removes them.
# 2. `waypost ipsec initiate` (client ns, site-to-site subnets 10.2.0.0/24 <-> 10.1.0.0/24) ->
#    strongSwan responder (server ns) with a non-Algo proposal set: the connection's log lines
#    while it comes up, ping and a 20 MB transfer from subnet to subnet (the route's source is
#    the gateway's own address inside its subnet); strongSwan closes the SA and Waypost brings
#    it back (close_action = start); charon dies and restarts, and Waypost's liveness checks
#    find it and bring the tunnel back (dpd_action = restart); `terminate`, `down` removes the
#    device; a connection strongSwan refuses is tried keyingtries = 3 times with back-off.
# 3. strongSwan road warrior behind a masquerading router -> Waypost: NAT detected on both
#    sides, ESP with AES-256-CBC and HMAC-SHA-256-128 (what strongSwan proposes here), CHILD SAs
#    rekeyed every few seconds (mostly by Waypost) while pings and a transfer run
#    (make-before-break: no ping lost, data intact), then charon is killed and Waypost's
#    liveness checks clear the SA and its route within dpd_delay + dpd_timeout.
# 4. MOBIKE (RFC 4555): the strongSwan client's address changes in the middle of a transfer; it
#    tells Waypost with UPDATE_SA_ADDRESSES, the IKE and CHILD SAs move to the new address
#    without a new IKE SA, and the transfer completes intact.
# 5. start_action = trap: nothing is negotiated until the first packet for the remote subnet;
#    that packet starts the connection, waits for it and is delivered (the first ping is
#    answered); reauth_time authenticates a new IKE SA before deleting the old one, without loss.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
S=192.168.241.2
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
XFER_BYTES=$((20 * 1000 * 1000))
wpt_name INST ips

# inst_start NS CONF_TEXT: `waypost ipsec up` with that file (named $INST.conf).
inst_start() {
  local conf=$WPT_SCRATCH/conf/$INST.conf
  mkdir -p "$WPT_SCRATCH/conf"
  printf '%s\n' "$2" >"$conf"
  wpi_up "$1" "$conf"
}
inst_pid() { wpi_pid "$INST"; }
inst_log() { wpi_log "$1"; }
status_json() { wpi_status "$1" "$INST"; }
sw_log() { cat "$WPT_SCRATCH/logs/charon-$1.log"; }
lo_addr() { ip -n "$1" addr add "$2" dev lo; }

# --- 1. strongSwan road warrior -> Waypost responder ------------------------------------------
log "case 1: strongSwan road warrior -> waypost ipsec responder"
lo_addr "$NS_S" 10.1.0.1/32
lo_addr "$NS_S" fd10:1::1/128
sw_start "$NS_C"
if inst_start "$NS_S" "
connections {
  rw {
    local_addrs = $S
    pools = rw4, rw6
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16, fd10:1::/64 } }
  }
}
pools { rw4 { addrs = 10.3.0.0/28
              dns = 10.3.0.53 }
        rw6 { addrs = fd10:3::/120 } }
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }"; then
  pass "waypost ipsec up returns once the instance is up: $(cat "$WPT_SCRATCH/ipsec-up.out")"
else
  die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
fi
assert_ok "the TUN device is named after the file" iface_up "$NS_S" "$INST"
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0, ::
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16, fd10:1::/64 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" || die "swanctl --load-all failed in the client ns"
start=$EPOCHREALTIME
if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate1.out" 2>&1; then
  pass "strongSwan's initiate succeeds against waypost ipsec ($(secs_since "$start") s)"
else
  fail "strongSwan's initiate failed: $(tail -3 "$WPT_SCRATCH/initiate1.out")"
fi
assert_contains "$(sw_log "$NS_C")" "installing new virtual IP 10.3.0.1" \
  "strongSwan installs the IPv4 virtual IP from Waypost's pool"
assert_contains "$(sw_log "$NS_C")" "installing new virtual IP fd10:3::1" \
  "strongSwan installs the IPv6 virtual IP from Waypost's pool"
assert_contains "$(sw_log "$NS_C")" "installing DNS server 10.3.0.53" \
  "strongSwan installs the pool's DNS server"
assert_ok "ping 10.1.0.1 through the tunnel (strongSwan -> Waypost)" ping_ok "$NS_C" 10.1.0.1
assert_ok "ping fd10:1::1 through the tunnel (IPv6 inside)" ping_ok "$NS_C" fd10:1::1
assert_match "$(ip -n "$NS_S" route show dev "$INST")" '10\.3\.0\.1' \
  "Waypost routes the client's virtual IP into $INST"
assert_xfer "20 MB, strongSwan -> Waypost, IPv4 inside" "$NS_C" "$NS_S" 10.1.0.1 "$XFER_BYTES"
assert_xfer "20 MB, strongSwan -> Waypost, IPv6 inside" "$NS_C" "$NS_S" fd10:1::1 "$XFER_BYTES"
st=$(status_json "$NS_S")
vlog "$st"
assert_eq "$(json_q 'j["ike_sas"][0]["state"]' <<<"$st")" ESTABLISHED "status --json: the IKE SA is ESTABLISHED"
assert_eq "$(json_q 'j["ike_sas"][0]["remote_id"]' <<<"$st")" carol@example.org "status --json: remote_id"
assert_eq "$(json_q 'j["ike_sas"][0]["local_addr"]' <<<"$st")" "$S" "status --json: local_addr"
assert_eq "$(json_q 'j["ike_sas"][0]["encap"]' <<<"$st")" true "status --json: encap"
assert_eq "$(json_q 'j["ike_sas"][0]["child_sas"][0]["state"]' <<<"$st")" INSTALLED \
  "status --json: the CHILD SA is INSTALLED"
assert_eq "$(json_q '",".join(j["ike_sas"][0]["child_sas"][0]["virtual_ips"])' <<<"$st")" \
  "10.3.0.1,fd10:3::1" "status --json: the CHILD SA's virtual IPs"
assert_eq "$(json_q '",".join(j["ike_sas"][0]["child_sas"][0]["remote_ts"])' <<<"$st")" \
  "10.3.0.1/32,fd10:3::1/128" "status --json: remote_ts"
bytes_in=$(json_q 'j["ike_sas"][0]["child_sas"][0]["bytes_in"]' <<<"$st")
if ((bytes_in >= 2 * XFER_BYTES)); then
  pass "status --json counts the transfers: bytes_in $bytes_in"
else
  fail "status --json: bytes_in $bytes_in after 2 x $XFER_BYTES bytes"
fi
sw_sas_now=$(sw_sas "$NS_C")
assert_match "$sw_sas_now" 'home: #[0-9]+, reqid [0-9]+, INSTALLED, TUNNEL-in-UDP' \
  "strongSwan reports its CHILD SA INSTALLED, ESP in UDP"
assert_ok "list-conns --json names the connection" \
  sh -c "timeout 10 ip netns exec '$NS_S' '$WAYPOST_BIN' ipsec list-conns '$INST' --json | grep -q '\"name\": \"rw\"'"
# The client restarts (charon killed, no DELETE) and connects again with INITIAL_CONTACT: the
# stale SA goes at once and the client gets its address back.
kill -KILL "$SW_PID"
wait "$SW_PID" 2>/dev/null
sw_start "$NS_C"
sw_load "$NS_C" "$(cat "$(sw_dir "$NS_C")/swanctl/swanctl.conf")" || die "swanctl --load-all failed after the restart"
if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate1b.out" 2>&1; then
  pass "the restarted client connects again at once"
else
  fail "the restarted client's initiate failed: $(tail -3 "$WPT_SCRATCH/initiate1b.out")"
fi
assert_match "$(inst_log "$NS_S")" "IKE_SA gone: INITIAL_CONTACT from 'carol@example.org'" \
  "Waypost drops the restarted client's stale SA on its INITIAL_CONTACT"
assert_eq "$(status_json "$NS_S" | json_q 'len(j["ike_sas"])')" 1 "one IKE SA left for the client"
assert_eq "$(grep -c 'installing new virtual IP 10.3.0.1' "$WPT_SCRATCH/logs/charon-$NS_C.log")" 2 \
  "the restarted client gets its virtual IP 10.3.0.1 back"
assert_ok "ping 10.1.0.1 through the new SA" ping_ok "$NS_C" 10.1.0.1
sw_ctl "$NS_C" --terminate --ike home --timeout 10 >/dev/null 2>&1
no_route() { ! ip -n "$NS_S" route show dev "$INST" | grep -q 10.3.0.1; }
assert_wait 5 "strongSwan's DELETE removes the SA and its route in Waypost" no_route
assert_eq "$(status_json "$NS_S" | json_q 'len(j["ike_sas"])')" 0 "status --json: no IKE SA left"
pid=$(inst_pid)
if wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1 && ! wpt_pid_alive "$pid"; then
  pass "waypost ipsec down stops the instance"
else
  fail "waypost ipsec down"
fi
no_device() { ! ip -n "$NS_S" link show "$INST" >/dev/null 2>&1; }
assert_ok "the TUN device is gone after down" no_device
wpt_stop_pid "$SW_PID" 5

# --- 2. waypost ipsec initiator -> strongSwan responder, site to site -------------------------
log "case 2: waypost ipsec site-to-site initiator -> strongSwan responder"
lo_addr "$NS_C" 10.2.0.1/32
sw_start "$NS_S"
sw_load "$NS_S" "
connections {
  gw {
    local_addrs = $S
    proposals = aes128gcm16-prfsha256-ecp256
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = sun.example.org }
    children { net { local_ts = 10.1.0.0/24
                     remote_ts = 10.2.0.0/24
                     esp_proposals = chacha20poly1305 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = sun.example.org
                  secret = $PSK } }" || die "swanctl --load-all failed in the server ns"
inst_start "$NS_C" "
connections {
  branch {
    remote_addrs = $S
    proposals = aes128gcm16-prfsha256-ecp256
    dpd_delay = 1s
    dpd_timeout = 3s
    local { auth = psk
            id = sun.example.org }
    remote { auth = psk
             id = moon.example.org }
    children { lan { local_ts = 10.2.0.0/24
                     remote_ts = 10.1.0.0/24
                     esp_proposals = chacha20poly1305
                     close_action = start
                     dpd_action = restart } }
  }
  mismatch {
    remote_addrs = $S
    proposals = aes256-sha512-modp4096
    keyingtries = 3
    local { auth = psk
            id = sun.example.org }
    remote { auth = psk
             id = moon.example.org }
    children { other { local_ts = 10.2.1.0/24
                       remote_ts = 10.1.1.0/24
                       start_action = start } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = sun.example.org
                  secret = $PSK } }" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
if wp_ipsec "$NS_C" initiate "$INST" --child lan >"$WPT_SCRATCH/initiate2.out" 2>&1; then
  pass "waypost ipsec initiate --child lan succeeds"
else
  fail "waypost ipsec initiate failed: $(tail -3 "$WPT_SCRATCH/initiate2.out")"
fi
assert_match "$(cat "$WPT_SCRATCH/initiate2.out")" 'branch\[[0-9]+\]: IKE_SA established' \
  "initiate prints the connection's log lines while it comes up"
assert_match "$(ip -n "$NS_C" route show dev "$INST")" '10\.1\.0\.0/24.*src 10\.2\.0\.1' \
  "the route to the remote subnet uses the gateway's own address inside its subnet"
assert_ok "ping 10.1.0.1 from 10.2.0.1 through the tunnel (Waypost -> strongSwan)" ping_ok "$NS_C" 10.1.0.1
assert_xfer "20 MB, Waypost -> strongSwan, subnet to subnet" "$NS_C" "$NS_S" 10.1.0.1 "$XFER_BYTES"
assert_xfer "20 MB, strongSwan -> Waypost, subnet to subnet" "$NS_S" "$NS_C" 10.2.0.1 "$XFER_BYTES"
st=$(status_json "$NS_C")
assert_match "$(json_q 'j["ike_sas"][0]["child_sas"][0]["algorithms"]' <<<"$st")" 'chacha20poly1305' \
  "the CHILD SA uses the non-Algo proposal (ChaCha20-Poly1305)"
assert_match "$(sw_sas "$NS_S")" 'net: #[0-9]+, reqid [0-9]+, INSTALLED, TUNNEL-in-UDP, ESP:CHACHA20_POLY1305' \
  "strongSwan agrees on ChaCha20-Poly1305, ESP in UDP"
# Tunnels that come back: strongSwan closes the SA (close_action = start), then dies and
# restarts (dpd_action = restart after dpd_delay + dpd_timeout).
ike_id() { status_json "$NS_C" | json_q 'j["ike_sas"][0]["uniqueid"] if j["ike_sas"] and j["ike_sas"][0]["state"] == "ESTABLISHED" else ""'; }
id1=$(ike_id)
sw_ctl "$NS_S" --terminate --ike gw --timeout 10 >/dev/null 2>&1
new_sa() { local id; id=$(ike_id); [[ -n $id && $id != "$1" ]]; }
assert_wait 20 "close_action = start: Waypost brings the tunnel back after strongSwan closed it" new_sa "$id1"
assert_ok "ping 10.1.0.1 through the restarted tunnel" ping_ok "$NS_C" 10.1.0.1
id2=$(ike_id)
kill -KILL "$SW_PID"
wait "$SW_PID" 2>/dev/null
sw_start "$NS_S"
sw_load "$NS_S" "$(cat "$(sw_dir "$NS_S")/swanctl/swanctl.conf")" || die "swanctl --load-all failed after the restart"
assert_wait 40 "dpd_action = restart: Waypost finds the peer dead and brings the tunnel back" new_sa "$id2"
assert_match "$(inst_log "$NS_C")" "dpd_action = restart: the peer stopped answering" \
  "Waypost's log says why it initiated again"
assert_ok "ping 10.1.0.1 after the peer's restart" ping_ok "$NS_C" 10.1.0.1
# A connection strongSwan refuses (no common proposal), started at load with keyingtries = 3:
# tried three times with back-off, then given up, saying so.
gave_up() { grep -q "mismatch: giving up after 3 tries (keyingtries = 3)" "$WPT_SCRATCH/logs/ipsec-$NS_C.log"; }
assert_wait 30 "keyingtries = 3: a refused connection is tried 3 times, then given up" gave_up
assert_eq "$(grep -c 'mismatch: initiating again in' "$WPT_SCRATCH/logs/ipsec-$NS_C.log")" 2 \
  "two re-initiations with back-off between the three tries"
diag=$(wp_ipsec "$NS_C" diagnose "$INST" --conn mismatch 2>&1)
assert_match "$diag" '\[either side\] the peer .* accepts none of our IKE proposals \(.*\) \(NO_PROPOSAL_CHOSEN\)' \
  "diagnose: the initiator's view of the mismatch, with its proposals"
if wp_ipsec "$NS_C" terminate "$INST" --ike branch >/dev/null 2>&1; then
  pass "waypost ipsec terminate --ike branch"
else
  fail "waypost ipsec terminate --ike branch"
fi
sw_gone() { ! sw_sas "$NS_S" | grep -q 'gw: #'; }
assert_wait 5 "strongSwan sees the IKE SA deleted" sw_gone
pid=$(inst_pid)
wp_ipsec "$NS_C" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
wpt_stop_pid "$SW_PID" 5

# --- 3. behind NAT, rekeys under traffic, dead peer -------------------------------------------
log "case 3: strongSwan behind NAT -> waypost ipsec; rekeys under traffic; charon killed"
topo_chain n 192.168.244 fd00:244: 192.168.245 fd00:245:
S=$OUT4_S
nsx "$NS_R" nft -f - <<NFT || die "nftables masquerade in the router"
table ip wpt_nat {
  chain post { type nat hook postrouting priority srcnat; oifname "$VETH_RS" masquerade; }
}
NFT
lo_addr "$NS_S" 10.1.0.1/32
sw_start "$NS_C"
inst_start "$NS_S" "
connections {
  rw {
    local_addrs = $S
    pools = rw4
    dpd_delay = 2s
    dpd_timeout = 4s
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16
                     rekey_time = 3s
                     life_time = 30s
                     rand_time = 0s } }
  }
}
pools { rw4 { addrs = 10.3.0.0/28 } }
secrets { ike-1 { secret = $PSK } }" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16
                      esp_proposals = aes256-sha256
                      rekey_time = 5s
                      life_time = 30s
                      rand_time = 0s } }
  }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the client ns"
sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate3.out" 2>&1 ||
  fail "strongSwan's initiate through the NAT failed: $(tail -3 "$WPT_SCRATCH/initiate3.out")"
st=$(status_json "$NS_S")
assert_eq "$(json_q 'j["ike_sas"][0]["remote_addr"]' <<<"$st")" "$GW4_S"   "Waypost sees the client at the router's address"
assert_eq "$(json_q 'j["ike_sas"][0]["nat_remote"]' <<<"$st")" true "Waypost detects the NAT in front of the client"
assert_contains "$(sw_log "$NS_C")" "local host is behind NAT" "strongSwan detects that it is behind a NAT"
assert_eq "$(json_q 'j["ike_sas"][0]["child_sas"][0]["algorithms"]' <<<"$st")" "aes256-sha256" \
  "the CHILD SA uses AES-256-CBC with HMAC-SHA-256-128"
# Pings at 10/s and a rate-limited transfer for ~12 s: several CHILD SA rekeys from each side.
# -w, not -W: with -W, ping waits only two round trips for the last replies once it has sent
# them all, so one reply late on a busy machine would count as lost; -w waits for every reply
# (up to the deadline).
ip netns exec "$NS_C" ping -n -q -c 120 -i 0.1 -w 40 10.1.0.1 >"$WPT_SCRATCH/ping3.out" 2>&1 &
ping_pid=$!
wpt_track_pid "$ping_pid"
assert_xfer "12 MB at 1 MB/s through the NAT while both sides rekey" "$NS_C" "$NS_S" 10.1.0.1   12000000 1000000 60
wpt_wait_exit "$ping_pid" 45
vlog "$(cat "$WPT_SCRATCH/ping3.out")"
lost=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WPT_SCRATCH/ping3.out")
assert_eq "${lost:-0}" 120 "no ping lost during the rekeys (120 of 120 answered)"
assert_eq "$(status_json "$NS_S" | json_q 'j["counters"]["esp_unknown_spi"]')" 0 \
  "no ESP packet arrived for an SA Waypost had already removed (rekeyed SAs take packets 5 s more)"
# Waypost (rekey_time 3s) rekeys first as a rule, strongSwan (5s) when Waypost's rekey is late.
wp_rekeys=$(grep -c 'rekeying CHILD_SA' "$WPT_SCRATCH/logs/ipsec-$NS_S.log")
sw_rekeys=$(grep -c 'generating CREATE_CHILD_SA request [0-9]* \[ N(REKEY_SA)' "$WPT_SCRATCH/logs/charon-$NS_C.log")
if ((wp_rekeys + sw_rekeys >= 3 && wp_rekeys >= 1)); then
  pass "the CHILD SA was rekeyed $((wp_rekeys + sw_rekeys)) times during the traffic ($wp_rekeys by Waypost, $sw_rekeys by strongSwan)"
else
  fail "rekeys during the traffic: $wp_rekeys by Waypost, $sw_rekeys by strongSwan (expected >= 3, >= 1 by Waypost)"
fi
# The dead peer: charon killed (no DELETE), Waypost's liveness checks give up after dpd_timeout.
kill -KILL "$SW_PID"
wait "$SW_PID" 2>/dev/null
start=$EPOCHREALTIME
no_sa() { [[ $(status_json "$NS_S" | json_q 'len(j["ike_sas"])') == 0 ]]; }
assert_wait 30 "Waypost clears the dead peer's SA (dpd_delay 2s + dpd_timeout 4s)" no_sa
log "dead peer cleared after $(secs_since "$start") s"
assert_match "$(inst_log "$NS_S")" 'rw\[[0-9]+\]: .*(liveness|DPD|not answer)' "Waypost's log names the dead peer check"
no_route3() { ! ip -n "$NS_S" route show dev "$INST" | grep -q 10.3.0; }
assert_ok "the client's route is gone with the SA" no_route3
pid=$(inst_pid)
wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"

# --- 4. MOBIKE: the client moves mid-transfer --------------------------------------------------
log "case 4: MOBIKE, the strongSwan client's address changes during a transfer"
topo_chain m 192.168.249 fd00:249: 192.168.250 fd00:250:
S=$OUT4_S
NEW_C=192.168.249.3
# The old address goes while the new one stays (it would go with it as a secondary otherwise).
nsx "$NS_C" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 "net.ipv4.conf.$VETH_C.promote_secondaries=1"
lo_addr "$NS_S" 10.1.0.1/32
sw_start "$NS_C"
inst_start "$NS_S" "
connections {
  rw {
    local_addrs = $S
    pools = rw4
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16 } }
  }
}
pools { rw4 { addrs = 10.3.0.0/28 } }
secrets { ike-1 { secret = $PSK } }" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the client ns"
sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate4.out" 2>&1 ||
  fail "strongSwan's initiate failed: $(tail -3 "$WPT_SCRATCH/initiate4.out")"
id_before=$(status_json "$NS_S" | json_q 'j["ike_sas"][0]["uniqueid"]')
xfer_start mobike "$NS_C" "$NS_S" 10.1.0.1 10000000 1000000 60
wait_for 20 xfer_received_at_least mobike 2000000
ip -n "$NS_C" addr add "$NEW_C/24" dev "$VETH_C"
ip -n "$NS_C" addr del "$OUT4_C/24" dev "$VETH_C"
ip -n "$NS_C" route replace default via "$GW4_C"
moved() { [[ $(status_json "$NS_S" | json_q 'j["ike_sas"][0]["remote_addr"]') == "$NEW_C" ]]; }
assert_wait 20 "Waypost's IKE SA follows the client to $NEW_C" moved
if out=$(xfer_wait mobike); then pass "10 MB across the address change, intact: $out"; else fail "transfer across the move: $out"; fi
assert_match "$(inst_log "$NS_S")" "MOBIKE: the peer moved from $OUT4_C:4500 to $NEW_C:4500" \
  "Waypost's log says the peer moved (UPDATE_SA_ADDRESSES)"
assert_eq "$(status_json "$NS_S" | json_q 'j["ike_sas"][0]["uniqueid"]')" "$id_before" \
  "the same IKE SA, no renegotiation"
assert_match "$(sw_log "$NS_C")" 'sending .*UPDATE_SA_ADDRESSES|N\(UPD_SA_ADDR\)' \
  "strongSwan sent UPDATE_SA_ADDRESSES"
pid=$(inst_pid)
wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
wpt_stop_pid "$SW_PID" 5

# --- 5. start_action = trap ---------------------------------------------------------------------
log "case 5: start_action = trap, the first packet brings the tunnel up"
topo_chain t 192.168.251 fd00:251: 192.168.252 fd00:252:
S=$OUT4_S
lo_addr "$NS_S" 10.1.0.1/32
lo_addr "$NS_C" 10.2.0.1/32
sw_start "$NS_S"
sw_load "$NS_S" "
connections {
  gw {
    local_addrs = $S
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = sun.example.org }
    children { net { local_ts = 10.1.0.0/24
                     remote_ts = 10.2.0.0/24 } }
  }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the server ns"
inst_start "$NS_C" "
connections {
  branch {
    remote_addrs = $S
    local { auth = psk
            id = sun.example.org }
    remote { auth = psk
             id = moon.example.org }
    reauth_time = 5s
    rand_time = 0s
    children { lan { local_ts = 10.2.0.0/24
                     remote_ts = 10.1.0.0/24
                     start_action = trap } }
  }
}
secrets { ike-1 { secret = $PSK } }" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
st=$(status_json "$NS_C")
assert_eq "$(json_q 'len(j["ike_sas"])' <<<"$st")" 0 "nothing is negotiated before traffic"
assert_eq "$(json_q 'j["traps"][0]["remote_ts"][0]' <<<"$st")" 10.1.0.0/24 "the trap covers the remote subnet"
assert_match "$(ip -n "$NS_C" route show dev "$INST")" '10\.1\.0\.0/24.*src 10\.2\.0\.1' \
  "the remote subnet is routed into the device before any SA exists"
if ip netns exec "$NS_C" ping -n -q -c 1 -W 10 10.1.0.1 >"$WPT_SCRATCH/ping5.out" 2>&1; then
  pass "the first ping brings the tunnel up and is answered (queued, not dropped)"
else
  fail "the first ping was not answered: $(tail -2 "$WPT_SCRATCH/ping5.out")"
fi
assert_match "$(inst_log "$NS_C")" "branch: trap: a packet for child lan; initiating" \
  "Waypost's log says the trap fired"
assert_eq "$(status_json "$NS_C" | json_q 'j["ike_sas"][0]["child_sas"][0]["state"]')" INSTALLED \
  "the CHILD SA is installed"
# reauth_time = 5s: a new IKE SA is authenticated beside the old one, which then goes, while
# pings run (make before break).
ip netns exec "$NS_C" ping -n -q -c 80 -i 0.1 -w 30 10.1.0.1 >"$WPT_SCRATCH/ping5b.out" 2>&1
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WPT_SCRATCH/ping5b.out")
assert_match "$(inst_log "$NS_C")" "branch\[[0-9]+\]: deleting IKE_SA \(reauthenticated as branch\[[0-9]+\]\)" \
  "reauth_time: a new IKE SA was authenticated and the old one deleted"
assert_eq "${got:-0}" 80 "no ping lost across the reauthentication (80 of 80 answered)"
pid=$(inst_pid)
wp_ipsec "$NS_C" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
wpt_finish
