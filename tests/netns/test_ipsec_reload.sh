#!/usr/bin/env bash
# `waypost ipsec reload`, `reload --secrets` and `replace` (issue 15, item 2): changes touch only
# what changed. Waypost initiates two site-to-site connections (a, b) to strongSwan 5.9 (charon +
# kernel-libipsec); a transfer runs over a while the file changes under it.
#
#   1. reload with b's ESP proposal changed while 12 MB flow over a: the transfer completes
#      intact, a keeps its SPIs (untouched), b comes back with the new algorithm
#   2. reload of a file with a syntax error: refused naming the line, nothing changes
#   3. reload --secrets: nothing established changes
#   4. replace --conn b: b gets new SPIs, a keeps its own
#   5. b removed from the file: its SA goes, a stays; b back in the file: it starts again
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl timeout
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
S=192.168.241.2
PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'
wpt_name INST rld
CONF=$WPT_SCRATCH/conf/$INST.conf
mkdir -p "$WPT_SCRATCH/conf"
for a in 10.1.1.1/32 10.1.2.1/32; do ip -n "$NS_S" addr add "$a" dev lo; done
for a in 10.2.1.1/32 10.2.2.1/32; do ip -n "$NS_C" addr add "$a" dev lo; done

# wp_conf B_ESP [WITH_B]: Waypost's file; b's ESP proposal; b present unless WITH_B is "no".
wp_conf() {
  local b=""
  if [[ ${2:-yes} != no ]]; then
    b="
  b {
    remote_addrs = $C
    local { auth = psk
            id = b@west }
    remote { auth = psk
             id = east }
    children { b { local_ts = 10.1.2.0/24
                   remote_ts = 10.2.2.0/24
                   esp_proposals = $1
                   start_action = start } }
  }"
  fi
  cat >"$CONF.tmp" <<EOF
connections {
  a {
    remote_addrs = $C
    local { auth = psk
            id = a@west }
    remote { auth = psk
             id = east }
    children { a { local_ts = 10.1.1.0/24
                   remote_ts = 10.2.1.0/24
                   start_action = start } }
  }$b
}
secrets { ike-1 { secret = $PSK } }
EOF
  chmod 600 "$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}
rld() { wp_ipsec "$NS_S" reload "$INST" "$@" 2>&1; }
st() { wpi_status "$NS_S" "$INST"; }
# spi CONN: the inbound SPI of CONN's CHILD SA ("" when it has none).
spi() {
  st | json_q "[c['spi_in'] for s in j['ike_sas'] if s['name'] == '$1' and s['state'] == 'ESTABLISHED' for c in s['child_sas']][0]" 2>/dev/null
}
algo() {
  st | json_q "[c['algorithms'] for s in j['ike_sas'] if s['name'] == '$1' and s['state'] == 'ESTABLISHED' for c in s['child_sas']][0]" 2>/dev/null
}
both_up() { [[ -n $(spi a) && -n $(spi b) ]]; }

sw_start "$NS_C"
sw_load "$NS_C" "
connections {
  a { local_addrs = $C
      local { auth = psk
              id = east }
      remote { auth = psk
               id = a@west }
      children { a { local_ts = 10.2.1.0/24
                     remote_ts = 10.1.1.0/24 } } }
  b { local_addrs = $C
      local { auth = psk
              id = east }
      remote { auth = psk
               id = b@west }
      children { b { local_ts = 10.2.2.0/24
                     remote_ts = 10.1.2.0/24
                     esp_proposals = aes256gcm16, chacha20poly1305 } } }
}
secrets { ike-1 { secret = $PSK } }" || die "swanctl --load-all failed in the strongSwan ns"
wp_conf aes256gcm16
wpi_up "$NS_S" "$CONF" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
assert_wait 20 "both connections come up (start_action = start)" both_up
spi_a=$(spi a)
spi_b=$(spi b)
assert_match "$(algo b)" 'aes256gcm16' "b uses AES-GCM-256"

# --- 1. reload with b changed, under a transfer on a ------------------------------------------
xfer_start rl "$NS_C" "$NS_S" 10.1.1.1 12000000 2000000 60
wait_for 20 xfer_received_at_least rl 2000000
wp_conf chacha20poly1305
out=$(rld)
assert_match "$out" 'changed \(restarted\): b' "reload: b changed"
assert_match "$out" 'unchanged \(SAs untouched\): a' "reload: a unchanged"
b_new() { [[ -n $(spi b) && $(spi b) != "$spi_b" ]]; }
assert_wait 20 "b is back with new SPIs" b_new
assert_match "$(algo b)" 'chacha20poly1305' "b now uses ChaCha20-Poly1305 (its new definition)"
assert_eq "$(spi a)" "$spi_a" "a keeps its SPI (untouched by the reload)"
if out=$(xfer_wait rl); then pass "12 MB over a across the reload, intact: $out"; else fail "transfer over a: $out"; fi

# --- 2. a file with an error changes nothing ------------------------------------------------------
spi_b=$(spi b)
cp "$CONF" "$CONF.good"
printf 'connections {\n  a {\n    rekey_time = soon\n  }\n}\n' >"$CONF"
chmod 600 "$CONF"
out=$(rld)
assert_match "$out" "$INST\\.conf:3.*rekey_time" "a broken file is refused, naming the line and key"
assert_match "$out" 'nothing was changed' "... and says nothing changed"
assert_eq "$(spi a):$(spi b)" "$spi_a:$spi_b" "both SAs untouched"
cp "$CONF.good" "$CONF"

# --- 3. reload --secrets -------------------------------------------------------------------------
out=$(rld --secrets)
assert_match "$out" 'established SAs untouched' "reload --secrets"
assert_eq "$(spi a):$(spi b)" "$spi_a:$spi_b" "reload --secrets changed no SA"

# --- 4. replace --conn b -------------------------------------------------------------------------
out=$(wp_ipsec "$NS_S" replace "$INST" --conn b 2>&1)
assert_match "$out" 'b deleted and started again' "replace --conn b"
assert_wait 20 "b is back with new SPIs after replace" b_new
assert_eq "$(spi a)" "$spi_a" "replace --conn b leaves a alone"
assert_not "replace of an unknown connection fails" wp_ipsec "$NS_S" replace "$INST" --conn nosuch

# --- 5. removing and adding a connection ---------------------------------------------------------
wp_conf chacha20poly1305 no
out=$(rld)
assert_match "$out" 'removed: b' "reload: b removed"
b_gone() { [[ -z $(spi b) ]]; }
assert_wait 10 "b's SA is deleted" b_gone
assert_eq "$(spi a)" "$spi_a" "a untouched by b's removal"
assert_not "list-conns no longer lists b" sh -c "ip netns exec '$NS_S' '$WAYPOST_BIN' ipsec list-conns '$INST' | grep -q '^b:'"
wp_conf chacha20poly1305
out=$(rld)
assert_match "$out" 'added: b' "reload: b added back"
b_up() { [[ -n $(spi b) ]]; }
assert_wait 20 "b starts again" b_up
assert_ok "traffic over b" ping_ok "$NS_C" 10.1.2.1
assert_eq "$(spi a)" "$spi_a" "a still on its first SPI"
wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1
wpt_finish
