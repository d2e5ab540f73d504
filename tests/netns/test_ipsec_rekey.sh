#!/usr/bin/env bash
# `waypost ipsec rekey` and simultaneous rekeys (RFC 7296 2.8.1), against strongSwan 5.9 (charon
# + kernel-libipsec). Waypost initiates a site-to-site tunnel (10.1.1.0/24 <-> 10.2.1.0/24).
#
#   1. `rekey --ike site`: the CHILD SA gets new SPIs while pings cross it
#   2. `rekey --ike site --ike-sa`: the IKE SA is rekeyed, the CHILD SA moves over
#   3. both ends rekey the same CHILD SA at once, under a transfer: IKE from Waypost to
#      strongSwan is dropped for a moment, so each end's request is out when the other's
#      arrives; once IKE passes again both exchanges complete, both ends agree which new SA
#      goes, one CHILD SA is left on each side with mirrored SPIs, and the transfer is intact
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout nft
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
wpt_name INST rk
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
ip -n "$NS_S" addr add 10.1.1.1/32 dev lo
ip -n "$NS_C" addr add 10.2.1.1/32 dev lo

cat >"$CONF" <<EOF
connections {
  site {
    remote_addrs = $C
    local { auth = psk
            id = west }
    remote { auth = psk
             id = east }
    children { net { local_ts = 10.1.1.0/24
                     remote_ts = 10.2.1.0/24
                     esp_proposals = aes256gcm16-modp2048
                     start_action = start } }
  }
}
secrets { ike-1 { secret = $PSK } }
EOF
chmod 600 "$CONF"

sw_start "$NS_C"
sw_load "$NS_C" "
connections {
  site { local_addrs = $C
         local { auth = psk
                 id = east }
         remote { auth = psk
                  id = west }
         children { net { local_ts = 10.2.1.0/24
                          remote_ts = 10.1.1.0/24
                          esp_proposals = aes256gcm16-modp2048 } } }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the strongSwan ns"
wpi_up "$NS_S" "$CONF" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"

st() { wpi_status "$NS_S" "$INST"; }
children_json() {
  st | json_q "[c['spi_in'] + '/' + c['spi_out'] for s in j['ike_sas'] if s['state'] == 'ESTABLISHED' for c in s['child_sas']]" 2>/dev/null
}
spi() { st | json_q "[c['spi_in'] for s in j['ike_sas'] if s['state'] == 'ESTABLISHED' for c in s['child_sas']][0]" 2>/dev/null; }
up() { [[ -n $(spi) ]]; }
one_child() { [[ $(children_json) =~ ^\[\"[0-9a-f]+/[0-9a-f]+\"\]$ ]]; }

assert_wait 20 "the tunnel comes up (start_action = start)" up
assert_ok "traffic flows: 10.1.1.1 -> 10.2.1.1" ping_ok "$NS_S" 10.2.1.1

# --- 1. rekey on command ---------------------------------------------------------------------------
old=$(spi)
out=$(wp_ipsec "$NS_S" rekey "$INST" --ike site 2>&1)
assert_match "$out" '^rekey: 1 CHILD SA\(s\) of site rekeying' "rekey --ike site starts one CHILD SA rekey"
new_spi() { local s; s=$(spi); [[ -n $s && $s != "$old" ]] && one_child; }
assert_wait 10 "the CHILD SA has new SPIs, the old one is gone" new_spi
assert_ok "traffic flows through the rekeyed SA" ping_ok "$NS_S" 10.2.1.1
assert_not "rekey of a connection that does not exist fails" wp_ipsec "$NS_S" rekey "$INST" --ike nosuch

# --- 2. IKE SA rekey ---------------------------------------------------------------------------------
ike_old=$(st | json_q "[s['uniqueid'] for s in j['ike_sas'] if s['state'] == 'ESTABLISHED'][0]")
out=$(wp_ipsec "$NS_S" rekey "$INST" --ike site --ike-sa 2>&1)
assert_match "$out" '^rekey: 1 IKE SA\(s\) of site rekeying' "rekey --ike-sa starts an IKE SA rekey"
ike_new() {
  local u
  u=$(st | json_q "[s['uniqueid'] for s in j['ike_sas'] if s['state'] == 'ESTABLISHED'][0]" 2>/dev/null)
  [[ -n $u && $u != "$ike_old" ]] && one_child
}
assert_wait 10 "a new IKE SA took over the CHILD SA" ike_new
assert_ok "traffic flows after the IKE SA rekey" ping_ok "$NS_S" 10.2.1.1

# --- 3. both ends rekey at once, under a transfer ------------------------------------------------------
xfer_start col "$NS_C" "$NS_S" 10.1.1.1 8000000 800000 60
wait_for 20 xfer_received_at_least col 800000
old=$(spi)
# IKE behind the zero non-ESP marker, from Waypost to strongSwan: dropped for a moment.
nsx "$NS_C" nft -f - <<EOF
table inet wpt_hold {
  chain input {
    type filter hook input priority -10;
    udp dport 4500 @th,64,32 0 counter drop
  }
}
EOF
wp_ipsec "$NS_S" rekey "$INST" --ike site >/dev/null 2>&1
sw_ctl "$NS_C" --rekey --child net >/dev/null 2>&1
sleep 1
nsx "$NS_C" nft delete table inet wpt_hold
collided() { grep -q "was rekeyed by both ends at once" <(wpi_log "$NS_S"); }
# Both retransmit after about 4 s; then each answers the other's request.
assert_wait 30 "both ends' rekeys complete and Waypost takes the RFC 7296 2.8.1 verdict" collided
settled() { local s; s=$(spi); [[ -n $s && $s != "$old" ]] && one_child; }
assert_wait 20 "one CHILD SA is left on Waypost's side, with new SPIs" settled
sw_children() { sw_sas "$NS_C" | grep -cE '^ +net: #[0-9]+, .*INSTALLED'; }
sw_one() { [[ $(sw_children) == 1 ]]; }
assert_wait 20 "one CHILD SA is left on strongSwan's side" sw_one
pair=$(children_json)
sw_spis=$(sw_sas "$NS_C" | grep -A3 'INSTALLED' | grep -oE 'in  [0-9a-f]{8}|out [0-9a-f]{8}' | awk '{print $2}' | tr '\n' ' ')
in_out=${pair//[\[\]\"]/}
mirrored() { [[ $sw_spis == *"${in_out#*/}"* && $sw_spis == *"${in_out%/*}"* ]]; }
assert_ok "the two ends agree on the survivor (strongSwan's SPIs $sw_spis mirror $in_out)" mirrored
if out=$(xfer_wait col); then pass "8 MB across the simultaneous rekeys, intact: $out"; else fail "transfer: $out"; fi
assert_ok "traffic flows after the collision" ping_ok "$NS_S" 10.2.1.1

wpt_finish
