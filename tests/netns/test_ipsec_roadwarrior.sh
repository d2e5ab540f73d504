#!/usr/bin/env bash
# `waypost ipsec` as a road warrior of a strongSwan 5.9 gateway (charon + kernel-libipsec) that
# sends everything through the tunnel, as Algo's and most VPN clients' configurations do:
#
#   client ns (Waypost, 192.168.246.1) -- router ns -- server ns (strongSwan, 192.168.247.2)
#   the server's "internet": 198.18.0.1 and fd18::1 on its lo, which the router cannot reach
#
# 1. remote_ts = 0.0.0.0/0, ::/0 with virtual IPv4 and IPv6 addresses from strongSwan's pools:
#    Waypost turns on policy routing (wg-quick's: a table of its own, the IKE and ESP sockets'
#    packets marked around it), so the host's traffic goes into the tunnel while IKE and ESP
#    still reach the gateway; pings and a 20 MB transfer reach addresses only the gateway can;
#    liveness checks and CHILD SA rekeys keep working with everything routed into the tunnel.
# 2. A trapped child and `initiate --child` of another child while the IKE SA is up: each is
#    added to the same IKE SA with a CREATE_CHILD_SA, no second IKE SA; the trap's first packet
#    is delivered through the new CHILD SA.
# 3. MOBIKE as initiator: the client's own address changes in the middle of a transfer (the old
#    one goes, a new one comes); Waypost sends UPDATE_SA_ADDRESSES from the new address, the
#    gateway moves the SAs, the same IKE SA carries on, and the transfer completes intact.
#    (strongSwan with kernel-libipsec then rekeys the CHILD SAs, since it cannot move libipsec's
#    SAs in place; Waypost as responder moves them without a rekey, test_ipsec.sh case 4.)
# 4. `terminate`: the policy routing goes, the host's own routes apply again; `down` leaves no
#    rule behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout ping
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_chain rw 192.168.246 fd00:246: 192.168.247 fd00:247:
S=$OUT4_S
NEW_C=192.168.246.3
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
XFER_BYTES=$((20 * 1000 * 1000))
wpt_name INST rwi
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
for a in 198.18.0.1/32 fd18::1/128 10.77.0.1/32 10.78.0.1/32; do ip -n "$NS_S" addr add "$a" dev lo; done
nsx "$NS_C" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 "net.ipv4.conf.$VETH_C.promote_secondaries=1"
rules_before=$(ip -n "$NS_C" rule show; ip -n "$NS_C" -6 rule show)

status_json() { wpi_status "$NS_C" "$INST"; }
inst_log() { wpi_log "$NS_C"; }
sw_log() { cat "$WPT_SCRATCH/logs/charon-$NS_S.log"; }
ike_count() { status_json | json_q 'len(j["ike_sas"])'; }
child_count() { status_json | json_q 'len(j["ike_sas"][0]["child_sas"]) if j["ike_sas"] else 0'; }
unreachable() { ! nsx "$NS_C" ping -n -q -c 1 -W 1 "$1" >/dev/null 2>&1; }

sw_start "$NS_S"
sw_load "$NS_S" "
connections {
  rw {
    local_addrs = $S
    pools = p4, p6
    dpd_delay = 2s
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children { all { local_ts = 0.0.0.0/0, ::/0 } }
  }
}
pools { p4 { addrs = 10.3.0.0/28
             dns = 10.3.0.53 }
        p6 { addrs = fd10:3::/120 } }
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the server ns"

cat >"$CONF" <<EOF
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0, ::
    dpd_delay = 2s
    dpd_timeout = 10s
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children {
      all { remote_ts = 0.0.0.0/0, ::/0
            rekey_time = 12s
            rand_time = 2s }
      lab { remote_ts = 10.77.0.0/24 }
      trapped { remote_ts = 10.78.0.0/24
                start_action = trap }
    }
  }
}
secrets { ike-1 { secret = $PSK } }
EOF
wpi_up "$NS_C" "$CONF" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
assert_ok "before the tunnel, the gateway's 198.18.0.1 is out of reach" unreachable 198.18.0.1

# --- 1. everything through the tunnel -----------------------------------------------------------
log "case 1: remote_ts 0.0.0.0/0 and ::/0, routed by policy"
if wp_ipsec "$NS_C" initiate "$INST" --child all >"$WPT_SCRATCH/initiate.out" 2>&1; then
  pass "waypost ipsec initiate --child all"
else
  die "initiate failed: $(tail -5 "$WPT_SCRATCH/initiate.out")"
fi
st=$(status_json)
vlog "$st"
assert_eq "$(json_q '",".join(j["ike_sas"][0]["child_sas"][0]["remote_ts"])' <<<"$st")" \
  "0.0.0.0/0,::/0" "the CHILD SA's remote selectors are everything"
assert_match "$(inst_log)" "full tunnel on: 0.0.0.0/0 ::/0 through $INST" \
  "Waypost's log says all traffic goes into $INST"
rules=$(ip -n "$NS_C" rule show)
vlog "$rules"
assert_match "$(inst_log)" "home\[[0-9]+\]: the peer assigned DNS servers 10\.3\.0\.53" \
  "Waypost takes the gateway's DNS server from the configuration payload"
if command -v resolvconf >/dev/null; then
  assert_match "$(inst_log)" "DNS through the tunnel: 10\.3\.0\.53" "the DNS server goes to resolvconf"
else
  assert_match "$(inst_log)" "DNS servers the gateway assigned \(10\.3\.0\.53\) are not in use: resolvconf" \
    "without resolvconf, the log says the DNS server is not in use"
fi
assert_match "$rules" 'not from all fwmark 0x[0-9a-f]+ lookup [0-9]+' \
  "policy rule: unmarked packets use the tunnel's table"
assert_match "$rules" 'lookup main suppress_prefixlength 0' \
  "policy rule: the main table first, without its default route"
assert_match "$(ip -n "$NS_C" -6 rule show)" 'not from all fwmark' "the same for IPv6"
assert_ok "ping 198.18.0.1, which only the gateway reaches, through the tunnel" ping_ok "$NS_C" 198.18.0.1
assert_ok "ping fd18::1 through the tunnel (IPv6 inside)" ping_ok "$NS_C" fd18::1
assert_match "$(ip -n "$NS_C" route get 198.18.0.1)" "dev $INST .*src 10\.3\.0\.1" \
  "the kernel sends to 198.18.0.1 through $INST from the virtual IP"
assert_xfer "20 MB through the full tunnel, IPv4" "$NS_C" "$NS_S" 198.18.0.1 "$XFER_BYTES"
assert_xfer "20 MB through the full tunnel, IPv6" "$NS_C" "$NS_S" fd18::1 "$XFER_BYTES"
rekeyed() { (($(inst_log | grep -c 'CHILD_SA all .*rekeyed\|rekeying CHILD_SA all') >= 1)); }
assert_wait 40 "a CHILD SA rekey with everything routed into the tunnel" rekeyed
assert_ok "ping after the rekey" ping_ok "$NS_C" 198.18.0.1
assert_eq "$(ike_count)" 1 "one IKE SA, still up (its IKE and ESP packets go around the tunnel)"

# --- 2. more children on the same IKE SA --------------------------------------------------------
log "case 2: a trap and initiate --child add CHILD SAs to the IKE SA that is up"
id_before=$(status_json | json_q 'j["ike_sas"][0]["uniqueid"]')
first_ping() { nsx "$NS_C" ping -n -q -c 1 -W 5 10.78.0.1 >/dev/null 2>&1; }
assert_ok "the first packet to the trapped 10.78.0.0/24 is answered" first_ping
assert_match "$(inst_log)" "home\[$id_before\]: adding CHILD_SA trapped to this IKE_SA" \
  "the trap adds its child to the IKE SA that is up"
if wp_ipsec "$NS_C" initiate "$INST" --child lab >"$WPT_SCRATCH/initiate-lab.out" 2>&1; then
  pass "initiate --child lab while the IKE SA is up"
else
  fail "initiate --child lab: $(tail -5 "$WPT_SCRATCH/initiate-lab.out")"
fi
assert_eq "$(ike_count)" 1 "still one IKE SA"
assert_eq "$(status_json | json_q 'j["ike_sas"][0]["uniqueid"]')" "$id_before" "the same IKE SA"
assert_eq "$(status_json | json_q '",".join(sorted(c["name"] for c in j["ike_sas"][0]["child_sas"]))')" \
  "all,lab,trapped" "three CHILD SAs on it: all, lab, trapped"
assert_ok "ping 10.77.0.1 through lab" ping_ok "$NS_C" 10.77.0.1
if wp_ipsec "$NS_C" initiate "$INST" --child lab >"$WPT_SCRATCH/initiate-lab2.out" 2>&1; then
  pass "initiate --child lab again: it is up already"
else
  fail "initiate --child lab again: $(tail -5 "$WPT_SCRATCH/initiate-lab2.out")"
fi
assert_eq "$(child_count)" 3 "no duplicate CHILD SA"
assert_match "$(sw_sas "$NS_S")" "rw: #[0-9]+, ESTABLISHED" "strongSwan: the IKE SA is established"
assert_eq "$(sw_sas "$NS_S" | grep -c ', ESTABLISHED,')" 1 "strongSwan holds one IKE SA too"

# --- 3. MOBIKE: this host moves ------------------------------------------------------------------
log "case 3: MOBIKE initiator, Waypost's own address changes during a transfer"
xfer_start move "$NS_C" "$NS_S" 198.18.0.1 10000000 1000000 60
wait_for 20 xfer_received_at_least move 2000000 || fail "the transfer did not start"
ip -n "$NS_C" addr add "$NEW_C/24" dev "$VETH_C"
ip -n "$NS_C" addr del "$OUT4_C/24" dev "$VETH_C"
ip -n "$NS_C" route replace default via "$GW4_C"
moved() { [[ $(status_json | json_q 'j["ike_sas"][0]["local_addr"]') == "$NEW_C" ]]; }
assert_wait 20 "Waypost's IKE SA moves to $NEW_C" moved
sw_moved() { sw_sas "$NS_S" | grep -q "@ $NEW_C\[4500\]"; }
assert_wait 20 "strongSwan's IKE SA follows to $NEW_C" sw_moved
if out=$(xfer_wait move); then pass "10 MB across the move, intact: $out"; else fail "transfer across the move: $out"; fi
assert_match "$(inst_log)" "MOBIKE: this host moved from $OUT4_C to $NEW_C" \
  "Waypost's log says it moved"
assert_match "$(sw_log)" 'N\(UPD_SA_ADDR\)' "strongSwan received UPDATE_SA_ADDRESSES"
assert_eq "$(status_json | json_q 'j["ike_sas"][0]["uniqueid"]')" "$id_before" \
  "the same IKE SA, no renegotiation"
assert_ok "ping after the move" ping_ok "$NS_C" 198.18.0.1

# --- 4. terminate and down -----------------------------------------------------------------------
log "case 4: terminate removes the policy routing"
wp_ipsec "$NS_C" terminate "$INST" --ike home >/dev/null 2>&1 || fail "terminate failed"
no_rule() { ! ip -n "$NS_C" rule show | grep -q 'not from all fwmark'; }
assert_wait 10 "the policy rules are gone with the SA" no_rule
assert_match "$(inst_log)" "full tunnel off" "Waypost's log says the host's routes apply again"
assert_ok "the gateway's outer address is reached directly again" ping_ok "$NS_C" "$S"
pid=$(wpi_pid "$INST")
wp_ipsec "$NS_C" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
assert_eq "$(ip -n "$NS_C" rule show; ip -n "$NS_C" -6 rule show)" "$rules_before" \
  "no policy rule left behind"
wpt_stop_pid "$SW_PID" 5
wpt_finish
