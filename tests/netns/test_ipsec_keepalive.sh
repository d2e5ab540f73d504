#!/usr/bin/env bash
# keep_alive per CHILD SA (issue 15, item 1), against strongSwan 5.9 (charon + kernel-libipsec):
# Waypost initiates a site-to-site tunnel (10.1.1.0/24 <-> 10.2.1.0/24) whose child pings
# keep_alive = 10.2.1.1, an address of strongSwan's side, every 2 s through the tunnel.
#
# A peer that "silently forgot" the CHILD SA is one that drops every ESP packet for its SPI and
# still answers IKE; on the wire that is what nftables in strongSwan's namespace makes here,
# dropping UDP 4500 packets that start with the SPI (IKE, behind the zero marker, passes):
#   1. the pings are answered while the tunnel is healthy (status --json counts them)
#   2. ESP for the child's SPI is dropped: after 3 unanswered pings Waypost rekeys the child;
#      the new SA's SPI is not dropped, so pings and traffic through it come back by themselves,
#      and `diagnose` says what happened (keep_alive_lost)
#   3. every ESP packet towards strongSwan is dropped, so a rekey does not help: after 3 more
#      unanswered pings Waypost deletes the IKE SA and starts it again; once the path carries ESP
#      again the tunnel is back with a new IKE SA, without anyone touching it
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout nft
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
wpt_name INST ka
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
ip -n "$NS_S" addr add 10.1.1.1/32 dev lo
ip -n "$NS_C" addr add 10.2.1.1/32 dev lo

cat >"$CONF" <<EOF
connections {
  site {
    remote_addrs = $C
    dpd_delay = 30s
    local { auth = psk
            id = west }
    remote { auth = psk
             id = east }
    children { net { local_ts = 10.1.1.0/24
                     remote_ts = 10.2.1.0/24
                     start_action = start
                     keep_alive = 10.2.1.1
                     keep_alive_interval = 2s } }
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
                          remote_ts = 10.1.1.0/24 } } }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the strongSwan ns"
wpi_up "$NS_S" "$CONF" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"

st() { wpi_status "$NS_S" "$INST"; }
# child FIELD: a field of the established child's status ("" when there is none).
child() {
  st | json_q "[c$1 for s in j['ike_sas'] if s['state'] == 'ESTABLISHED' for c in s['child_sas']][0]" 2>/dev/null
}
ike_id() {
  st | json_q "[s['uniqueid'] for s in j['ike_sas'] if s['state'] == 'ESTABLISHED'][0]" 2>/dev/null
}
answered() { child "['keep_alive']['answered']"; }
answered_more_than() { local n; n=$(answered); [[ -n $n && $n -gt $1 ]]; }
up() { [[ -n $(child "['spi_in']") ]]; }

# --- 1. healthy: the pings are answered ------------------------------------------------------
assert_wait 20 "the tunnel comes up (start_action = start)" up
assert_wait 15 "keep-alive pings to 10.2.1.1 are answered through the tunnel" answered_more_than 1
assert_eq "$(child "['keep_alive']['address']")" 10.2.1.1 "status --json shows the keep-alive address"
assert_ok "traffic flows: 10.1.1.1 -> 10.2.1.1" ping_ok "$NS_S" 10.2.1.1

# --- 2. the peer drops the child's ESP: rekeyed, and it comes back --------------------------------
# Waypost's outbound SPI is strongSwan's inbound one.
spi_out=$(child "['spi_out']")
spi_in=$(child "['spi_in']")
first_ike=$(ike_id)
[[ -n $spi_out ]] || die "no outbound SPI in the status"
nsx "$NS_C" nft -f - <<EOF
table inet wpt_forget {
  chain input {
    type filter hook input priority -10;
    udp dport 4500 @th,64,32 0x$spi_out counter drop
  }
}
EOF
log "dropping ESP for SPI $spi_out in strongSwan's namespace"
assert_not "with the SPI dropped, traffic stops" ping_ok "$NS_S" 10.2.1.1 2
new_child() { local s; s=$(child "['spi_in']"); [[ -n $s && $s != "$spi_in" ]]; }
# 3 missed pings at 2 s, then the rekey exchange: well within 30 s even on a busy machine.
assert_wait 30 "after 3 unanswered pings the child is rekeyed (new SPIs)" new_child
assert_match "$(wpi_log "$NS_S")" "keep_alive: 10\\.2\\.1\\.1 did not answer 3 pings \\(every 2 s\\) through CHILD_SA net .*; rekeying it" \
  "the log says why the child was rekeyed"
assert_eq "$(ike_id)" "$first_ike" "the IKE SA stays (only the child was rekeyed)"
n=$(answered)
assert_wait 20 "keep-alive pings are answered again through the new SA" answered_more_than "$n"
assert_ok "traffic flows again through the new SA" ping_ok "$NS_S" 10.2.1.1
diag=$(wp_ipsec "$NS_S" diagnose "$INST" --json 2>/dev/null)
assert_eq "$(json_q "j['connections'][0]['findings'][0]['cause']" <<<"$diag")" keep_alive_lost \
  "diagnose --json names keep_alive_lost"
assert_match "$(json_q "j['connections'][0]['findings'][0]['sentence']" <<<"$diag")" \
  "keep_alive: 10\\.2\\.1\\.1 did not answer 3 pings" "diagnose gives the sentence"
nsx "$NS_C" nft delete table inet wpt_forget

# --- 3. no ESP reaches strongSwan: a rekey does not help, the IKE SA starts again ------------------
nsx "$NS_C" nft -f - <<EOF
table inet wpt_forget {
  chain input {
    type filter hook input priority -10;
    udp dport 4500 @th,64,32 != 0 counter drop
  }
}
EOF
log "dropping every ESP packet in strongSwan's namespace"
restarts() { wpi_log "$NS_S" | grep -c "a rekey did not help: starting the IKE_SA again"; }
restarts_before=$(restarts)
restarted() { (($(restarts) > restarts_before)); }
# Rekey after 3 misses, then 3 more: about 12 s; 60 s leaves room for a slow machine.
assert_wait 60 "when a rekey does not help, the IKE SA is started again" restarted
nsx "$NS_C" nft delete table inet wpt_forget
new_ike() { local i; i=$(ike_id); [[ -n $i && $i != "$first_ike" ]] && up; }
assert_wait 30 "the tunnel is back with a new IKE SA" new_ike
n=$(answered)
assert_wait 20 "keep-alive pings are answered through the new IKE SA" answered_more_than "${n:-0}"
assert_ok "traffic flows through the restarted tunnel" ping_ok "$NS_S" 10.2.1.1

wpt_finish
