#!/usr/bin/env bash
# `waypost ipsec diagnose` (issue 15): each failure of the pfSense IPsec troubleshooting guide,
# provoked on purpose by strongSwan (charon + kernel-libipsec) against a Waypost responder, gives
# one sentence naming the cause, the values on both sides and the fix; `--json` has the cause.
#
# Topology: client ns 192.168.241.1 (strongSwan, initiator) ── server ns 192.168.241.2 (Waypost)
#
# Checks, one strongSwan configuration each:
#   proposal   IKE: the peer's proposal and ours listed (proposal_mismatch)
#   esp        ESP: both listed; the IKE SA itself comes up
#   psk        a different pre-shared key (psk_mismatch, with the peer's identity)
#   identity   an identity no connection expects, named with the expected one (unknown_identity)
#   subnets    traffic selectors that do not fit: both sets printed (traffic_selector_mismatch)
#   IKEv1      a peer set to IKEv1 (ikev1_peer)
#   pool       a second client when the pool has one address (pool_exhausted)
#   text       the text output: the connection's SAs now and [side] sentence + fix lines
#   replay     every ESP packet from strongSwan duplicated by nftables on the way (replay_drops)
#   no answer  a connection added by `reload` whose peer address answers nothing
#              (no_answer, said after 3 tries instead of after the minutes of giving up)
# Certificates (untrusted, expired, revoked) are provoked in test_ipsec_certs.sh, a peer that
# stops answering and keep_alive in test_ipsec.sh and test_ipsec_keepalive.sh; NAT without
# NAT traversal only in the unit tests (strongSwan cannot turn NAT traversal off).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout nft
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
S=192.168.241.2
PSK=0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL
wpt_name INST ipd

dir=$WPT_SCRATCH/wp
mkdir -p "$dir"
cat >"$dir/$INST.conf" <<CONF
connections {
  rw {
    local_addrs = $S
    proposals = aes256gcm16-prfsha384-ecp384
    pools = one
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = carol@example.org }
    children { net { local_ts = 10.1.0.0/16
                     esp_proposals = aes256gcm16 } }
  }
  rwd {
    local_addrs = $S
    proposals = aes256gcm16-prfsha384-ecp384
    pools = one
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = dave@example.org }
    children { net { local_ts = 10.1.0.0/16
                     esp_proposals = aes256gcm16 } }
  }
  # more
}
pools { one { addrs = 10.3.0.1/32 } }
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  id-3 = dave@example.org
                  id-4 = far.example.org
                  secret = $PSK } }
CONF
wpi_up "$NS_S" "$dir/$INST.conf" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
sw_start "$NS_C"

# sw_conf NAME ID PROPOSALS ESP REMOTE_TS SECRET: a strongSwan road-warrior connection.
sw_conf() {
  echo "
  $1 {
    remote_addrs = $S
    vips = 0.0.0.0
    proposals = $3
    local { auth = psk
            id = $2 }
    remote { auth = psk
             id = moon.example.org }
    children { $1 { remote_ts = $5
                    esp_proposals = $4 } }
  }"
}
sw_secrets() { # sw_secrets ID SECRET
  echo "secrets { ike-1 { id-1 = moon.example.org
                  id-2 = $1
                  secret = $2 } }"
}
GOOD="aes256gcm16-prfsha384-ecp384"
# provoke WHAT CONNECTIONS SECRETS [TIMEOUT]: load strongSwan's side and initiate its first
# connection "home", waiting TIMEOUT s (default 15).
provoke() {
  sw_ctl "$NS_C" --terminate --ike home >/dev/null 2>&1
  sw_ctl "$NS_C" --unload-conn --name home >/dev/null 2>&1
  sw_load "$NS_C" "connections { $2 }
$3" || die "swanctl --load-all failed ($1)"
  sw_ctl "$NS_C" --initiate --child home --timeout "${4:-15}" >"$WPT_SCRATCH/initiate.out" 2>&1
}
# latest FIELD [CONN]: that field of the newest finding of CONN (default rw).
latest() {
  wp_ipsec "$NS_S" diagnose "$INST" --conn "${2:-rw}" --json 2>/dev/null |
    json_q "j['connections'][0]['findings'][0]['$1'] if j['connections'][0]['findings'] else ''"
}
check() { # check WHAT CAUSE SENTENCE_RE [CONN]
  local cause
  cause=$(latest cause "${4:-rw}")
  assert_eq "$cause" "$2" "$1: diagnose --json gives cause $2"
  assert_match "$(latest sentence "${4:-rw}")" "$3" "$1: $(latest sentence "${4:-rw}" | head -c 220)"
  assert_match "$(latest fix "${4:-rw}")" '^Fix: ' "$1: with the fix: $(latest fix "${4:-rw}" | head -c 160)"
}

provoke "IKE proposal" "$(sw_conf home carol@example.org aes128-sha256-modp2048 aes256gcm16 10.1.0.0/16)" \
  "$(sw_secrets carol@example.org "$PSK")"
check "IKE proposal" proposal_mismatch \
  "the peer $C:500 proposed IKE aes128-sha256-prfsha256-modp2048.*; none matches ours \\(aes256gcm16-prfsha384-ecp384\\)"

provoke "ESP proposal" "$(sw_conf home carol@example.org $GOOD aes128-sha256 10.1.0.0/16)" \
  "$(sw_secrets carol@example.org "$PSK")"
check "ESP proposal" proposal_mismatch "proposed ESP aes128-sha256.*; none matches ours \\(aes256gcm16\\)"

provoke "pre-shared key" "$(sw_conf home carol@example.org $GOOD aes256gcm16 10.1.0.0/16)" \
  "$(sw_secrets carol@example.org '"not the same key"')"
check "pre-shared key" psk_mismatch "the pre-shared key of the peer .*\\('carol@example.org'\\) does not match ours"

provoke "identity" "$(sw_conf home eve@elsewhere.example $GOOD aes256gcm16 10.1.0.0/16)" \
  "$(sw_secrets eve@elsewhere.example "$PSK")"
check "identity" unknown_identity "presented the identity 'eve@elsewhere.example', which no connection expects \\(remote ids: rw: 'carol@example.org', rwd: 'dave@example.org'\\)"

provoke "subnets" "$(sw_conf home carol@example.org $GOOD aes256gcm16 172.16.0.0/12)" \
  "$(sw_secrets carol@example.org "$PSK")"
check "subnets" traffic_selector_mismatch "\\(.* === 172.16.0.0/12, its side first\\) fit none of ours \\(net: 10.1.0.0/16 === dynamic\\)"

# An IKEv1 peer (keyexchange=ikev1): Waypost does not answer it, and says so.
provoke "IKEv1" "$(sw_conf home carol@example.org "aes256-sha256-modp2048
    version = 1" aes256gcm16 10.1.0.0/16)" "$(sw_secrets carol@example.org "$PSK")" 3
check "IKEv1" ikev1_peer "the peer $C:500 speaks IKEv1 \\(ISAKMP main or aggressive mode\\); Waypost speaks only IKEv2"

# The pool has one address: carol gets it, dave then gets none.
provoke "pool (first client)" "$(sw_conf home carol@example.org $GOOD aes256gcm16 10.1.0.0/16)
$(sw_conf home2 dave@example.org $GOOD aes256gcm16 10.1.0.0/16)" \
  "secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  id-3 = dave@example.org
                  secret = $PSK } }" || fail "carol connects: $(tail -3 "$WPT_SCRATCH/initiate.out")"
sw_ctl "$NS_C" --initiate --child home2 --timeout 15 >"$WPT_SCRATCH/initiate2.out" 2>&1
check "pool" pool_exhausted "'dave@example.org' asked for a virtual IP, but the pools of rwd \\(one\\) have none left" rwd

text=$(wp_ipsec "$NS_S" diagnose "$INST" --conn rw 2>&1)
assert_match "$text" '^rw:$' "text: the connection's name"
assert_match "$text" "^  now: IKE_SA ESTABLISHED with $C:[0-9]+ \\('carol@example.org'\\); CHILD_SA net INSTALLED" \
  "text: what its SAs are doing now"
assert_match "$text" '^  [0-9:]{8} \[either side\] .* fit none of ours' "text: [side] and the sentence"
assert_match "$text" '^           Fix: ' "text: the fix under it"
assert_not "diagnose of a connection that does not exist fails" \
  wp_ipsec "$NS_S" diagnose "$INST" --conn nosuch

# --- replayed packets: every ESP packet from strongSwan arrives twice ---------------------------
ip -n "$NS_S" addr add 10.1.0.1/32 dev lo
nsx "$NS_C" nft -f - <<EOF
table ip wpt_dup {
  chain post {
    type filter hook postrouting priority 0;
    ip daddr $S udp dport 4500 @th,64,32 != 0 dup to $S
  }
}
EOF
nsx "$NS_C" ping -n -q -c 5 -i 0.2 -W 1 10.1.0.1 >/dev/null 2>&1 || true
nsx "$NS_C" nft delete table ip wpt_dup
check "replayed packets" replay_drops \
  "[0-9]+ ESP packet\\(s\\) of CHILD_SA net \\([0-9a-f]{8}_i\\) were dropped by replay checking"

# --- a peer that does not answer: a connection added by reload -----------------------------------
far='  far {
    remote_addrs = 192.168.241.9
    proposals = aes256gcm16-prfsha384-ecp384
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = far.example.org }
    children { far { remote_ts = 10.9.0.0/24 } }
  }'
conf=$(cat "$dir/$INST.conf")
printf '%s\n' "${conf/  # more/$far}" >"$dir/$INST.conf"
assert_match "$(wp_ipsec "$NS_S" reload "$INST" 2>&1)" 'added: far' "reload adds the connection far"
wp_ipsec "$NS_S" initiate "$INST" --ike far --timeout 1 >/dev/null 2>&1 || true
no_answer_yet() { [[ $(latest cause far) == no_answer ]]; }
# The third IKE_SA_INIT goes out about 11 s after the first.
wait_for 40 no_answer_yet
check "no answer" no_answer \
  "the peer 192\\.168\\.241\\.9:500 has not answered IKE_SA_INIT \\(3 tries so far, still trying\\): is UDP 500/4500 reaching it\\?" far
wp_ipsec "$NS_S" terminate "$INST" --ike far >/dev/null 2>&1

wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1
wpt_finish
