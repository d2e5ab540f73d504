#!/usr/bin/env bash
# `waypost server import-algo` and `server import-wg` (issue 18): a server taken over from Algo VPN
# or wg-easy keeps serving the devices' old profiles, untouched.
#
# Topology (TEST-NET addresses only):
#
#   client ns 198.51.100.20/24 ── server ns 198.51.100.10/24 (the old server's address)
#
# Checks:
#   dry run   import-algo --dry-run prints the users and writes nothing
#   algo      an Algo configs/<server>/ tree (tests/fixtures/import/make_algo_tree.sh, built as
#             Algo's templates build it; its CA as before 2020, see there) is imported; `server up` serves it; phone's Algo
#             wireguard/phone.conf, as Algo wrote it, connects with wireguard-go and pings the
#             server; strongSwan (charon + kernel-libipsec) connects with Algo's phone.p12 and
#             cacert.pem and the identity of Algo's mobileconfig, and pings the server
#   refuse    a second import into the same directory is refused without --force
#   wg-easy   a wg-easy v14 wg0.conf + wg0.json is imported; a client profile as wg-easy renders
#             it (the client's key from wg0.json) connects and pings the server
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip nft ping timeout swanctl openssl python3
wpt_waypost_only "the import is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

SRV=198.51.100.10
CLI=198.51.100.20
FIX=$WPT_LIB_DIR/../fixtures/import

ns_create NS_S server
ns_create NS_C client
wpt_name VS vs
wpt_name VC vc
veth_link "$NS_S" "$VS" "$NS_C" "$VC"
ns_addr "$NS_S" "$VS" "$SRV/24"
ns_addr "$NS_C" "$VC" "$CLI/24"
wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$SRV" || die "client cannot reach the server"
wp() { wp_cli "$NS_S" "$@"; }
OUT=$WPT_SCRATCH/out

# --- an Algo deployment's tree ------------------------------------------------------------------
ALGO=$WPT_SCRATCH/algo
# A CA without name constraints (Algo before 2020): strongSwan 5.9.8, the client here, cannot load
# the later ones (unit tests import those).
bash "$FIX/make_algo_tree.sh" "$ALGO" "$SRV" --pre-2020-ca >"$OUT.fixture" 2>&1 || die "fixture: $(tail -5 "$OUT.fixture")"
TREE=$ALGO/configs/$SRV
SDIR=$WPT_SCRATCH/srv
# Never this machine's /etc/wireguard or /etc/ipsec.d.
NOETC=(--wg-conf "$WPT_SCRATCH/none" --ipsec-dir "$WPT_SCRATCH/none")

if wp server import-algo "$TREE" --dir "$SDIR" --dry-run "${NOETC[@]}" \
  --ca-password-file "$ALGO/ca_password" >"$OUT.dry" 2>&1; then
  pass "import-algo --dry-run"
else
  fail "import-algo --dry-run: $(tail -5 "$OUT.dry")"
fi
assert_match "$(cat "$OUT.dry")" 'phone +10\.49\.0\.3' "the dry run lists phone with Algo's address"
assert_match "$(cat "$OUT.dry")" 'dry run: nothing written' "the dry run says it wrote nothing"
assert_not "the dry run created no directory" test -e "$SDIR"

wp server import-algo "$TREE" --dir "$SDIR" "${NOETC[@]}" --ca-password-file "$ALGO/ca_password" \
  >"$OUT.algo" 2>&1 || die "import-algo failed: $(tail -5 "$OUT.algo")"
pass "import-algo $TREE"
assert_eq "$(cat "$SDIR/ipsec/x509ca/cacert.pem")" "$(cat "$TREE/ipsec/.pki/cacert.pem")" \
  "the IKEv2 CA is Algo's"
wp server import-algo "$TREE" --dir "$SDIR" "${NOETC[@]}" >"$OUT.again" 2>&1
assert_match "$(cat "$OUT.again")" 'holds a server already.*--force' \
  "a second import into the same directory is refused, naming --force"

wpt_new_ifname IF_SRV
server_cfg_set "$SDIR/config.yaml" wireguard_interface "$IF_SRV"
server_ready() { wp_server_running "$NS_S" "$SDIR"; }
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server.log" 30 server_ready --dir "$SDIR" ||
  die "server up failed: $(tail -5 "$WPT_SCRATCH/logs/server.log")"
pass "server up serves the imported Algo server"

# Algo's own WireGuard profile, byte for byte as Algo wrote it.
wpt_new_ifname IF_C
wgq_client_up WG_PID "$NS_C" "$TREE/wireguard/phone.conf" "$IF_C" "$SRV" ||
  die "phone's Algo profile did not start"
ip -n "$NS_C" route add 10.49.0.1/32 dev "$IF_C"
assert_wait 15 "phone's old Algo profile connects and pings the server (10.49.0.1)" \
  ping_ok "$NS_C" 10.49.0.1
daemon_stop "$NS_C" "$IF_C" "$WG_PID"

# Algo's IKEv2 files: phone.p12 (Algo's p12 password), cacert.pem, the mobileconfig's identity.
sw_start "$NS_C"
SWD=$(sw_dir "$NS_C")/swanctl
cp "$TREE/ipsec/manual/phone.p12" "$SWD/pkcs12/"
cp "$TREE/ipsec/manual/cacert.pem" "$SWD/x509ca/"
sw_load "$NS_C" "connections {
  algovpn {
    version = 2
    remote_addrs = $SRV
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha512-ecp384
    local {
      auth = pubkey
      id = phone@$(cat "$ALGO/email_domain")
    }
    remote {
      auth = pubkey
      id = $SRV
      cacerts = cacert.pem
    }
    children {
      algovpn {
        remote_ts = 0.0.0.0/0
        esp_proposals = aes256gcm16-ecp384
      }
    }
  }
}
secrets {
  pkcs12-phone {
    file = phone.p12
    secret = \"$(cat "$ALGO/p12_password")\"
  }
}" || die "swanctl --load-all failed: $(sw_ctl "$NS_C" --load-all --noprompt 2>&1 | tail -5)"
if sw_ctl "$NS_C" --initiate --child algovpn --timeout 20 >"$OUT.initiate" 2>&1; then
  pass "strongSwan connects with Algo's phone.p12 and CA"
else
  fail "strongSwan's initiate failed: $(tail -5 "$OUT.initiate")"
fi
assert_match "$(sw_sas "$NS_C")" 'INSTALLED' "strongSwan: CHILD SA installed"
assert_wait 10 "phone over IKEv2 pings the server's IKEv2 address (10.48.0.1)" ping_ok "$NS_C" 10.48.0.1
sw_ctl "$NS_C" --terminate --ike algovpn >/dev/null 2>&1
wpt_stop_pid "$SW_PID"
wp_server_stop "$SRV_PID" || fail "the Algo server did not stop"

# --- wg-easy v14 ---------------------------------------------------------------------------------
EDIR=$WPT_SCRATCH/easy
wp server import-wg "$FIX/wg-easy-v14/wg0.conf" --wg-easy-db "$FIX/wg-easy-v14/wg0.json" \
  --endpoint "$SRV" --dir "$EDIR" >"$OUT.easy" 2>&1 || die "import-wg failed: $(tail -5 "$OUT.easy")"
pass "import-wg wg-easy v14 wg0.conf + wg0.json"
assert_match "$(cat "$OUT.easy")" "old-tablet.*disabled in wg-easy|disabled in wg-easy" \
  "the disabled client is reported"
wpt_new_ifname IF_SRV2
server_cfg_set "$EDIR/config.yaml" wireguard_interface "$IF_SRV2"
easy_ready() { wp_server_running "$NS_S" "$EDIR"; }
wp_server_start SRV2_PID "$NS_S" "$WPT_SCRATCH/logs/server2.log" 30 easy_ready --dir "$EDIR" ||
  die "server up (wg-easy) failed: $(tail -5 "$WPT_SCRATCH/logs/server2.log")"
# The profile wg-easy gives "laptop": its key from wg0.json, the server's public key.
OLD=$WPT_SCRATCH/laptop-wg-easy.conf
"$WPT_PY" - "$FIX/wg-easy-v14/wg0.json" "$SRV" >"$OLD" <<'PYEOF' || die "cannot render the wg-easy profile"
import json, sys
j = json.load(open(sys.argv[1]))
c = [c for c in j["clients"].values() if c["name"] == "laptop"][0]
print(f"""[Interface]
PrivateKey = {c['privateKey']}
Address = {c['address']}/24
DNS = 1.1.1.1

[Peer]
PublicKey = {j['server']['publicKey']}
PresharedKey = {c['preSharedKey']}
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 0
Endpoint = {sys.argv[2]}:51820""")
PYEOF
wpt_new_ifname IF_C2
wgq_client_up WG2_PID "$NS_C" "$OLD" "$IF_C2" "$SRV" || die "the wg-easy profile did not start"
ip -n "$NS_C" route replace 10.8.0.1/32 dev "$IF_C2"
assert_wait 15 "laptop's wg-easy profile connects and pings the server (10.8.0.1)" \
  ping_ok "$NS_C" 10.8.0.1
daemon_stop "$NS_C" "$IF_C2" "$WG2_PID"
wp_server_stop "$SRV2_PID" || fail "the wg-easy server did not stop"

wpt_finish
