#!/usr/bin/env bash
# More than one `start_action = start` child per connection, against strongSwan 5.9 (charon +
# kernel-libipsec): Waypost initiates one site-to-site connection with two children (two subnet
# pairs); as strongSwan does, the first comes up in IKE_AUTH and the second with a
# CREATE_CHILD_SA on the same IKE SA, and whatever brings the connection back brings back both.
#
#   Waypost (server ns) 10.1.1.0/24, 10.1.2.0/24  <->  strongSwan (client ns) 10.2.1.0/24, 10.2.2.0/24
#
#   1. keyingtries: the instance starts before strongSwan knows the connection, so the first
#      try fails (NO_PROPOSAL_CHOSEN); once it is loaded, a retry brings up both children
#   2. both CHILD SAs INSTALLED on one IKE SA in `waypost ipsec status --json` and in
#      `swanctl --list-sas`, and pings cross each of them
#   3. close_action = start: strongSwan deletes the IKE SA, and Waypost brings both back on a
#      new one
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout ping
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
wpt_name INST kids
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
ip -n "$NS_S" addr add 10.1.1.1/32 dev lo
ip -n "$NS_S" addr add 10.1.2.1/32 dev lo
ip -n "$NS_C" addr add 10.2.1.1/32 dev lo
ip -n "$NS_C" addr add 10.2.2.1/32 dev lo

cat >"$CONF" <<EOF
connections {
  site {
    remote_addrs = $C
    keyingtries = 0
    local { auth = psk
            id = west }
    remote { auth = psk
             id = east }
    children {
      net1 { local_ts = 10.1.1.0/24
             remote_ts = 10.2.1.0/24
             start_action = start
             close_action = start }
      net2 { local_ts = 10.1.2.0/24
             remote_ts = 10.2.2.0/24
             esp_proposals = aes256gcm16-modp2048
             start_action = start
             close_action = start }
    }
  }
}
secrets { ike-1 { secret = $PSK } }
EOF
chmod 600 "$CONF"

# --- 1. keyingtries brings both children --------------------------------------------------------
sw_start "$NS_C"
wpi_up "$NS_S" "$CONF" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
first_try_failed() { wpi_log "$NS_S" | grep -q 'site: initiating again in .* (try 1 of unlimited failed)'; }
assert_wait 20 "the first try fails while strongSwan does not know the connection" first_try_failed
sw_load "$NS_C" "
connections {
  site { local_addrs = $C
         local { auth = psk
                 id = east }
         remote { auth = psk
                  id = west }
         children { net1 { local_ts = 10.2.1.0/24
                           remote_ts = 10.1.1.0/24 }
                    net2 { local_ts = 10.2.2.0/24
                           remote_ts = 10.1.2.0/24
                           esp_proposals = aes256gcm16-modp2048 } } }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the strongSwan ns"

st() { wpi_status "$NS_S" "$INST"; }
# installed: "UNIQUEID net1 net2" for the established IKE SA's INSTALLED children (sorted).
installed() {
  st | json_q "' '.join(str(s['uniqueid']) + ' ' + ' '.join(sorted(c['name'] for c in s['child_sas'] if c['state'] == 'INSTALLED')) for s in j['ike_sas'] if s['state'] == 'ESTABLISHED')" 2>/dev/null
}
both_up() { [[ $(installed) =~ ^[0-9]+\ net1\ net2$ ]]; }
sw_both() {
  local sas
  sas=$(sw_sas "$NS_C")
  grep -qE '^ +net1: #[0-9]+, .*INSTALLED' <<<"$sas" && grep -qE '^ +net2: #[0-9]+, .*INSTALLED' <<<"$sas"
}
assert_wait 30 "a retry brings up both children on one IKE SA" both_up

# --- 2. both installed on both sides, traffic through each -------------------------------------
assert_ok "waypost ipsec status: net1 and net2 INSTALLED on one ESTABLISHED IKE SA: $(installed)" both_up
assert_wait 10 "swanctl --list-sas: net1 and net2 INSTALLED" sw_both
n_ike=$(sw_sas "$NS_C" | grep -cE '^site: #[0-9]+, ESTABLISHED')
assert_eq "$n_ike" 1 "strongSwan holds one IKE SA for both children"
assert_contains "$(wpi_log "$NS_S")" "establishing CHILD_SA net2 (CREATE_CHILD_SA)" \
  "the second child comes with a CREATE_CHILD_SA of its own"
assert_ok "ping 10.1.1.1 -> 10.2.1.1 through net1" ping_ok "$NS_S" 10.2.1.1
assert_ok "ping 10.1.2.1 -> 10.2.2.1 through net2" ping_ok "$NS_S" 10.2.2.1
counted() {
  st | json_q "' '.join(c['name'] + '=' + str(c['packets_out']) for s in j['ike_sas'] for c in s['child_sas'])" 2>/dev/null
}
pkts=$(counted)
assert_match "$pkts" 'net1=[1-9].* net2=[1-9]|net2=[1-9].* net1=[1-9]' "each CHILD SA carried its own pings ($pkts)"

# --- 3. close_action = start brings both back --------------------------------------------------
old=$(installed)
sw_ctl "$NS_C" --terminate --ike site --timeout 10 >/dev/null 2>&1
back() { local now; now=$(installed); both_up && [[ ${now%% *} != "${old%% *}" ]]; }
assert_wait 30 "strongSwan deleted the IKE SA; close_action = start brings both children back on a new one" back
log "before: $old; after: $(installed)"
assert_wait 10 "swanctl --list-sas: net1 and net2 INSTALLED again" sw_both
assert_ok "ping through net1 after the restart" ping_ok "$NS_S" 10.2.1.1
assert_ok "ping through net2 after the restart" ping_ok "$NS_S" 10.2.2.1

wpt_finish
