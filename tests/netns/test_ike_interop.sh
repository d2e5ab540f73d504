#!/usr/bin/env bash
# IKEv2 interop with strongSwan 5.9 (charon + kernel-libipsec), both roles, pre-shared keys.
# Waypost's side is tests/tools/ike_peer: the IKE engine (src/ike) on real sockets, before the
# `waypost ipsec` daemon installs the CHILD SAs in its ESP data plane. So this checks IKE only:
# what strongSwan accepts and reports, and what each side refuses and why.
#
#   client ns 192.168.241.1 <-> server ns 192.168.241.2
#
# 1. strongSwan initiator (client ns) -> Waypost responder: road warrior asking for a virtual IP,
#    given 10.3.0.1 and DNS from Waypost's pool; strongSwan's default proposals; liveness checks
#    every 1 s answered; strongSwan deletes the SA and Waypost sees it go.
# 2. Waypost initiator (client ns) -> strongSwan responder: site-to-site subnets, a non-AEAD,
#    non-Algo proposal set (AES-CBC + HMAC-SHA2) whose first group strongSwan does not take
#    (INVALID_KE_PAYLOAD, retried); Waypost deletes the SA when stopped and strongSwan sees it go.
# 3. Refusals, each with a log line naming the cause on both sides: wrong PSK, proposal mismatch,
#    an identity no connection accepts.
# 4. What Windows' built-in client proposes by default (modp1024 with AES-CBC and SHA-1/SHA-2,
#    ESP AES-CBC with SHA-1), accepted by a connection that writes it out.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin --no-waypost ip swanctl timeout
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"
ike_peer_find PEER || die "ike_peer not found (build target ike_peer, or set IKE_PEER_BIN)"

topo_pair
C=192.168.241.1
S=192.168.241.2
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
# charon binds UDP 500/4500 on all addresses, so one namespace holds either charon or ike_peer:
# charon in the client ns for cases 1 and 3, in the server ns for case 2.
sw_start "$NS_C"

# peer_start NS CONF_TEXT ARGS...: ike_peer in NS with that swanctl.conf; PEER_OUT its events,
# PEER_PID its PID.
peer_start() {
  local ns=$1 text=$2 conf
  shift 2
  conf="$WPT_SCRATCH/ike-peer-$ns-$RANDOM.conf"
  printf '%s\n' "$text" >"$conf"
  PEER_OUT="$WPT_SCRATCH/ike-peer-$ns.out"
  : >"$PEER_OUT"
  ip netns exec "$ns" "$PEER" --conf "$conf" --seconds 120 "$@" >"$PEER_OUT" \
    2>>"$WPT_SCRATCH/logs/ike_peer-$ns.log" &
  PEER_PID=$!
  wpt_track_pid "$PEER_PID"
  sleep 0.3
}
peer_stop() { wpt_stop_pid "$PEER_PID" 5; }
peer_log() { cat "$WPT_SCRATCH/logs/ike_peer-$1.log"; }
sw_log() { cat "$WPT_SCRATCH/logs/charon-$1.log"; }

# --- 1. strongSwan initiator -> Waypost responder ----------------------------------------------
log "case 1: strongSwan road warrior -> Waypost responder"
peer_start "$NS_S" "
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
pools { rw4 { addrs = 10.3.0.0/28
              dns = 10.3.0.53 } }
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" --local "$S"
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0
    dpd_delay = 1s
    rekey_time = 4s
    rand_time = 0s
    over_time = 30s
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16
                      rekey_time = 3s
                      life_time = 30s
                      rand_time = 0s } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" || die "swanctl --load-all failed in the client ns"

start=$EPOCHREALTIME
if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate1.out" 2>&1; then
  pass "strongSwan's initiate succeeds against Waypost ($(secs_since "$start") s)"
else
  fail "strongSwan's initiate against Waypost failed: $(tail -3 "$WPT_SCRATCH/initiate1.out")"
fi
sas=$(sw_sas "$NS_C")
vlog "$sas"
assert_match "$sas" 'home: #[0-9]+, ESTABLISHED, IKEv2' "strongSwan reports the IKE SA ESTABLISHED"
assert_match "$sas" 'home: #[0-9]+, reqid [0-9]+, INSTALLED, TUNNEL-in-UDP' \
  "strongSwan reports the CHILD SA INSTALLED, ESP in UDP"
assert_match "$sas" 'local  *10\.3\.0\.1/32' "strongSwan's local TS is the virtual IP 10.3.0.1/32"
assert_match "$sas" 'remote *10\.1\.0\.0/16' "strongSwan's remote TS is 10.1.0.0/16"
assert_contains "$(sw_log "$NS_C")" "installing new virtual IP 10.3.0.1" \
  "strongSwan installs the virtual IP Waypost assigned"
assert_contains "$(sw_log "$NS_C")" "installing DNS server 10.3.0.53" \
  "strongSwan installs the pool's DNS server"
wait_for 5 grep -q '"event":"child_up"' "$PEER_OUT"
assert_contains "$(cat "$PEER_OUT")" '"remote_ts":["10.3.0.1/32"]' \
  "Waypost's CHILD SA has the virtual IP as remote TS"
sleep 5 # liveness checks (dpd_delay = 1s) and a CHILD SA rekey (rekey_time = 3s) from strongSwan
sas=$(sw_sas "$NS_C")
assert_match "$sas" 'home: #[0-9]+, ESTABLISHED' "still ESTABLISHED after 5 s of liveness checks"
# Polled: rekeys count as traffic and defer strongSwan's liveness checks.
sent_dpd() { grep -q 'sending DPD request' "$WPT_SCRATCH/logs/charon-$NS_C.log"; }
assert_ok "strongSwan sent liveness checks" wait_for 10 sent_dpd
ups=$(grep -c '"event":"child_up"' "$PEER_OUT")
downs=$(grep -c '"event":"child_down"' "$PEER_OUT")
if ((ups >= 2 && downs == ups - 1)); then
  pass "strongSwan rekeyed the CHILD SA through Waypost: $ups up, $downs down (make-before-break)"
else
  fail "CHILD SA rekey by strongSwan: $ups up, $downs down in Waypost's events"
fi
assert_eq "$(grep -cE 'home: #[0-9]+, reqid [0-9]+, INSTALLED' <<<"$sas")" 1 \
  "strongSwan lists one installed CHILD SA after the rekey"
assert_match "$(sw_log "$NS_C")" 'generating CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\)' \
  "strongSwan's rekey was a CREATE_CHILD_SA with REKEY_SA"
assert_contains "$(peer_log "$NS_S")" "IKE_SA rekeyed by the peer" \
  "strongSwan rekeyed the IKE SA with Waypost (rekey_time = 4s)"
assert_match "$(sw_log "$NS_C")" 'generating CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]' \
  "strongSwan's IKE rekey was a CREATE_CHILD_SA with SA, nonce and KE"
assert_match "$sas" 'home: #([2-9]|[1-9][0-9]+), ESTABLISHED' "strongSwan's IKE SA is a rekeyed one (#2 or later)"
downs_before=$(grep -c '"event":"ike_down"' "$PEER_OUT")
sw_ctl "$NS_C" --terminate --ike home --timeout 10 >/dev/null 2>&1
ike_down_more() { (($(grep -c '"event":"ike_down"' "$PEER_OUT") > downs_before)); }
wait_for 5 ike_down_more
assert_contains "$(tail -1 "$PEER_OUT")" '"event":"ike_down","conn":"rw","reason":"deleted by the peer"' \
  "Waypost sees strongSwan's DELETE"
peer_stop

# --- 3. refusals -------------------------------------------------------------------------------
log "case 3: refusals"
# refused CASE SW_CONN_TEXT WP_CONN_TEXT WP_LOG_RE SW_LOG_RE
refused() {
  local what=$1 sw_text=$2 wp_text=$3 wp_re=$4 sw_re=$5
  : >"$WPT_SCRATCH/logs/ike_peer-$NS_S.log"
  peer_start "$NS_S" "$wp_text" --local "$S"
  sw_ctl "$NS_C" --unload-conn --name home >/dev/null 2>&1
  sw_load "$NS_C" "$sw_text" || die "swanctl --load-all failed ($what)"
  if sw_ctl "$NS_C" --initiate --child home --timeout 15 >"$WPT_SCRATCH/initiate3.out" 2>&1; then
    fail "$what: strongSwan's initiate succeeded"
  else
    pass "$what: strongSwan's initiate fails"
  fi
  wait_for 3 grep -qE "$wp_re" "$WPT_SCRATCH/logs/ike_peer-$NS_S.log"
  assert_match "$(peer_log "$NS_S")" "$wp_re" "$what: Waypost logs the cause"
  assert_match "$(sw_log "$NS_C")" "$sw_re" "$what: strongSwan logs the cause"
  peer_stop
}
wp_rw="
connections {
  rw {
    local_addrs = $S
    proposals = aes256gcm16-prfsha384-ecp384
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = carol@example.org }
    children { net { local_ts = 10.1.0.0/16 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }"
sw_home() { # sw_home PROPOSALS SECRET ID
  echo "
connections {
  home {
    remote_addrs = $S
    proposals = $1
    local { auth = psk
            id = $3 }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = $3
                  secret = $2 } }"
}
refused "wrong PSK" "$(sw_home aes256gcm16-prfsha384-ecp384 '"a different key"' carol@example.org)" "$wp_rw" \
  "failed pre-shared key authentication" "received AUTHENTICATION_FAILED notify error"
refused "proposal mismatch" "$(sw_home aes128-sha256-modp2048 "$PSK" carol@example.org)" "$wp_rw" \
  "NO_PROPOSAL_CHOSEN" "received NO_PROPOSAL_CHOSEN notify error"
refused "unknown identity" "$(sw_home aes256gcm16-prfsha384-ecp384 "$PSK" dave@example.org)" "$wp_rw" \
  "no connection accepts the identity 'dave@example.org'" "received AUTHENTICATION_FAILED notify error"

# --- 4. Windows' built-in client, as it proposes by default -----------------------------------
# Windows 10 and 11 offer only modp1024 unless a registry value or PowerShell says otherwise;
# Waypost takes it when the connection names it (never by default).
log "case 4: Windows' default proposals (modp1024), accepted when written out"
peer_start "$NS_S" "
connections {
  rw {
    local_addrs = $S
    proposals = default, aes256-sha256-sha1-modp1024
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = carol@example.org }
    children { net { local_ts = 10.1.0.0/16
                     esp_proposals = default, aes256-aes128-sha1 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" --local "$S"
sw_ctl "$NS_C" --unload-conn --name home >/dev/null 2>&1
sw_load "$NS_C" "
connections {
  home {
    remote_addrs = $S
    proposals = 3des-aes128-aes192-aes256-sha1-sha256-sha384-modp1024
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16
                      esp_proposals = aes256-aes128-3des-sha1 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = carol@example.org
                  secret = $PSK } }" || die "swanctl --load-all failed (Windows proposals)"
if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate4.out" 2>&1; then
  pass "strongSwan proposing as Windows does connects"
else
  fail "Windows' proposals: $(tail -3 "$WPT_SCRATCH/initiate4.out")"
fi
assert_match "$(sw_log "$NS_C")" 'selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1024' \
  "IKE with AES-256-CBC, SHA-256 and modp1024"
assert_match "$(sw_sas "$NS_C")" 'ESP:AES_CBC-256/HMAC_SHA1_96' "ESP with AES-256-CBC and HMAC-SHA1-96"
peer_stop

# --- 2. Waypost initiator -> strongSwan responder ----------------------------------------------
log "case 2: Waypost site-to-site initiator -> strongSwan responder"
wpt_stop_pid "$SW_PID" 5
# strongSwan's route for the CHILD SA needs a source address inside its local subnet: the
# gateway's LAN address (on lo here: this kernel has no dummy interfaces).
ip -n "$NS_S" addr add 10.1.0.1/32 dev lo || die "LAN address in the server ns failed"
sw_start "$NS_S"
sw_load "$NS_S" "
connections {
  site {
    local_addrs = $S
    proposals = aes256-sha384-ecp256
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk
             id = sun.example.org }
    children { net { local_ts = 10.1.0.0/16
                     remote_ts = 10.2.0.0/16
                     esp_proposals = aes128-sha256-modp2048 } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = sun.example.org
                  secret = $PSK } }" || die "swanctl --load-all failed in the server ns"
peer_start "$NS_C" "
connections {
  site {
    remote_addrs = $S
    proposals = aes256-sha384-curve25519-ecp256
    rekey_time = 5s
    rand_time = 0s
    local { auth = psk
            id = sun.example.org }
    remote { auth = psk
             id = moon.example.org }
    children { net { local_ts = 10.2.0.0/16
                     remote_ts = 10.1.0.0/16
                     esp_proposals = aes128-sha256-modp2048
                     rekey_time = 3s
                     rand_time = 0s
                     start_action = start } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = sun.example.org
                  secret = $PSK } }" --local "$C" --initiate site --remote "$S"
if wait_for 20 grep -q '"event":"child_up"' "$PEER_OUT"; then
  pass "Waypost's initiation reaches CHILD SA up"
else
  fail "Waypost's initiation did not complete: $(tail -3 "$WPT_SCRATCH/logs/ike_peer-$NS_C.log")"
fi
sas=$(sw_sas "$NS_S")
vlog "$sas"
assert_match "$sas" 'site: #[0-9]+, ESTABLISHED, IKEv2' "strongSwan (responder) reports ESTABLISHED"
assert_match "$sas" 'AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_256' \
  "IKE SA on AES-CBC-256/HMAC-SHA2-384/ECP-256, the group after INVALID_KE_PAYLOAD"
assert_match "$sas" 'net: #[0-9]+, reqid [0-9]+, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA2_256_128' \
  "CHILD SA INSTALLED with AES-CBC-128/HMAC-SHA2-256"
assert_match "$sas" 'local  *10\.1\.0\.0/16' "strongSwan's local TS 10.1.0.0/16"
assert_match "$sas" 'remote *10\.2\.0\.0/16' "strongSwan's remote TS 10.2.0.0/16"
assert_contains "$(peer_log "$NS_C")" "wants key exchange group 19; retrying" \
  "Waypost retried with the group strongSwan asked for"
spi_sw=$(grep -oE '^ +in +[0-9a-f]{8}' <<<"$sas" | awk '{ print $2 }' | head -1)
assert_contains "$(cat "$PEER_OUT")" "\"spi_out\":\"$spi_sw\"" \
  "both sides agree on strongSwan's inbound SPI (${spi_sw:-none})"
sleep 4 # Waypost rekeys its CHILD SA (rekey_time = 3s), with PFS (modp2048)
ups=$(grep -c '"event":"child_up"' "$PEER_OUT")
downs=$(grep -c '"event":"child_down"' "$PEER_OUT")
if ((ups >= 2 && downs == ups - 1)); then
  pass "Waypost rekeyed its CHILD SA with strongSwan: $ups up, $downs down"
else
  fail "CHILD SA rekey by Waypost: $ups up, $downs down"
fi
sleep 2 # and its IKE SA (rekey_time = 5s)
sas=$(sw_sas "$NS_S")
assert_eq "$(grep -cE 'net: #[0-9]+, reqid [0-9]+, INSTALLED' <<<"$sas")" 1 \
  "strongSwan lists one installed CHILD SA after Waypost's rekey"
assert_contains "$(peer_log "$NS_C")" "IKE_SA rekeyed as" "Waypost rekeyed its IKE SA with strongSwan"
assert_match "$sas" 'site: #([2-9]|[1-9][0-9]+), ESTABLISHED' "strongSwan's IKE SA is the rekeyed one"
assert_eq "$(grep -cE 'site: #[0-9]+, ' <<<"$sas")" 1 "strongSwan lists one IKE SA after the rekey"
# Both sides name the newest CHILD SA alike (polled: a further rekey may be under way).
spis_agree() {
  ours=$(grep '"event":"child_up"' "$PEER_OUT" | tail -1 | grep -oE '"spi_out":"[0-9a-f]+"' | cut -d'"' -f4)
  theirs=$(sw_sas "$NS_S" | grep -oE '^ +in +[0-9a-f]{8}' | awk '{ print $2 }' | tr '\n' ' ')
  [[ -n $ours && " $theirs" == *" $ours "* ]]
}
if wait_for 5 spis_agree; then
  pass "strongSwan's inbound SPI is the newest rekeyed SA's ($ours)"
else
  fail "strongSwan's inbound SPIs ($theirs) do not include the newest rekeyed SA's ($ours)"
fi
assert_match "$sas" 'ESP:AES_CBC-128/HMAC_SHA2_256_128/MODP_2048' "the rekeyed CHILD SA used PFS (MODP_2048)"
peer_stop
no_site_sa() { ! sw_sas "$NS_S" | grep -q 'site: #'; }
if wait_for 5 no_site_sa; then
  pass "Waypost's DELETE on stop removes strongSwan's SA"
else
  fail "strongSwan still lists the SA after Waypost stopped"
fi

wpt_finish
