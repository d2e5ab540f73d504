#!/usr/bin/env bash
# `waypost server` with IKEv2 (issue 14): the files `server init` writes for each user are used
# the way a Linux user would use them by strongSwan 5.9 (charon + kernel-libipsec), next to a
# wireguard-go client of another user, against one server with one user list.
#
# Topology (TEST-NET / ULA addresses only):
#
#   c1 ns 198.51.100.2/26  (strongSwan, user phone)  ──┐
#   c2 ns 198.51.100.66/26 (wireguard-go, user laptop)──┼── internet ns (router; HTTP host 192.0.2.80)
#   server ns 203.0.113.2/24 ──────────────────────────┘
#
# Checks:
#   init     the CA (P-384, 0600 key), per-user IKEv2 files in Algo's layout with their modes;
#            OpenSSL 3 opens phone.p12 with the password `users show --p12-password` prints;
#            the .mobileconfig parses as a plist with the IKEv2 payload
#   connect  strongSwan loads swanctl/phone.conf + phone.p12 + cacert.pem and connects: a virtual
#            IP from strongswan_network, the server's resolver as DNS, the internet host
#            reached through the server's NAT (20 MiB, checksum), a blocked name answered with
#            the block answer by the resolver on the IKEv2 pool's server address
#   both     the WireGuard client (laptop) and the IKEv2 client (phone) at the same time;
#            `server status --json` shows phone's IKEv2 session with its address
#   robust   phone behind a NAT (detected, ESP in UDP); a new address and NAT mapping keeps the
#            IKE SA (MOBIKE); after losing its SA (charon killed and restarted) it connects again
#            at once with the same address
#   remove   `users remove phone` while laptop pings every 20 ms: phone's IKE SA is gone within
#            seconds, its reconnect is refused (revoked), laptop loses no ping
#   restart  the server stops (exit 0, no IKEv2 device left) and starts again with the same CA
#            and certificates
#   bad input a corrupt CA file, a readable .p12 password file and a local route into the IKEv2
#            pool each stop `server up` with a message naming the file or the route
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip nft ping timeout ss sha256sum swanctl openssl dig
wpt_waypost_only "the IKEv2 server is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

HOST4=192.0.2.80 HTTP_PORT=8080
UP4_S=203.0.113.2 GW4_S=203.0.113.1
PORT=51998

# --- topology --------------------------------------------------------------------------------
ns_create NS_I inet
ns_create NS_S server
wpt_name VS vs
wpt_name VIS vis
veth_link "$NS_S" "$VS" "$NS_I" "$VIS"
ns_addr "$NS_S" "$VS" "$UP4_S/24"
ns_addr "$NS_I" "$VIS" "$GW4_S/24"
ip -n "$NS_S" route add default via "$GW4_S"
ns_addr "$NS_I" lo "$HOST4/32"
nsx "$NS_I" sysctl -qw net.ipv4.ip_forward=1
declare -A NSC GWC UPC
for k in 1 2; do
  ns_create "NSC[$k]" "c$k"
  wpt_name vc "c$k"
  wpt_name vic "ic$k"
  veth_link "${NSC[$k]}" "$vc" "$NS_I" "$vic"
  base=$((64 * (k - 1)))
  UPC[$k]=198.51.100.$((base + 2))
  GWC[$k]=198.51.100.$((base + 1))
  ns_addr "${NSC[$k]}" "$vc" "${UPC[$k]}/26"
  ns_addr "$NS_I" "$vic" "${GWC[$k]}/26"
  # Only the server is reachable outside the tunnel.
  ip -n "${NSC[$k]}" route add "$UP4_S/32" via "${GWC[$k]}"
  wait_for 5 nsx "${NSC[$k]}" ping -c 1 -W 1 "$UP4_S" || die "client $k cannot reach the server"
done
wait_for 5 nsx "$NS_S" ping -c 1 -W 1 "$HOST4" || die "server cannot reach $HOST4"
# Client 1 (the phone) is behind a NAT, as phones on Wi-Fi and LTE are: its packets reach the
# server from the router's address.
nsx "$NS_I" nft -f - <<NFT || die "NAT for client 1"
table ip phone_nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 198.51.100.0/26 oifname "$VIS" masquerade
  }
}
NFT

WWW=$WPT_SCRATCH/www
mkdir -p "$WWW"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$WWW/f20"
SHA20=$(sha256sum "$WWW/f20" | cut -d' ' -f1)
http_serve HTTP_PID "$NS_I" "$HOST4" "$HTTP_PORT" "$WWW" "$WPT_SCRATCH/logs/http.log" ||
  die "HTTP server on $HOST4 did not start"

# --- server init -----------------------------------------------------------------------------
SDIR=$WPT_SCRATCH/srv
wpt_new_ifname IF_SRV
IKE_IF=${IF_SRV:0:11}-ike
IB=$SDIR/configs/$UP4_S/ipsec
OUT=$WPT_SCRATCH/out
wp() { wp_cli "$NS_S" "$@"; }
wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$UP4_S" --users phone,laptop \
  --interface "$IF_SRV" --port "$PORT" || die "server init failed: $(head -c 600 "$OUT.init")"
pass "server init --endpoint $UP4_S --users phone,laptop"
assert_match "$(cat "$OUT.init")" "IKEv2 profiles .*$IB" "init says where the IKEv2 profiles are"
cfg=$(cat "$SDIR/config.yaml")
assert_match "$cfg" '^ipsec_enabled:[[:space:]]*true' "config.yaml: ipsec_enabled defaults to true"
assert_match "$cfg" '^strongswan_network:[[:space:]]*"?10\.48\.0\.0/16' "config.yaml: strongswan_network 10.48.0.0/16"
assert_match "$cfg" '^strongswan_network_ipv6:[[:space:]]*"?f[cd]' "config.yaml: strongswan_network_ipv6 is a ULA"
# Blocked names for the resolver check; dns_force off, encryption on (no upstream is needed for
# a blocked name).
echo "0.0.0.0 ads.lab.example" >"$WPT_SCRATCH/block.hosts"
server_cfg_set "$SDIR/config.yaml" dns_adblocking true
server_cfg_set "$SDIR/config.yaml" adblock_lists "[\"$WPT_SCRATCH/block.hosts\"]"

assert_eq "$(stat -c %a "$SDIR/pki/ca.key" 2>/dev/null)" 600 "the CA key is 0600"
assert_eq "$(stat -c %a "$SDIR/pki" 2>/dev/null)" 700 "pki/ is 0700"
ca_text=$(openssl x509 -in "$SDIR/ipsec/x509ca/cacert.pem" -noout -text 2>&1)
assert_match "$ca_text" 'NIST CURVE: P-384|ASN1 OID: secp384r1' "the CA key is ECDSA P-384"
assert_match "$ca_text" 'CA:TRUE, pathlen:0' "the CA has path length 0"
assert_match "$ca_text" 'X509v3 Name Constraints: critical' "the CA's name constraints are critical"
for f in manual/cacert.pem manual/phone.p12 manual/phone.conf manual/phone.secrets \
  apple/phone.mobileconfig swanctl/phone.conf android/phone.sswan windows/phone.ps1; do
  assert_ok "IKEv2 file $f" test -s "$IB/$f"
done
assert_eq "$(stat -c %a "$IB/manual/phone.p12")" 600 "phone.p12 is 0600"
P12PW=$(wp users show phone --dir "$SDIR" --p12-password 2>&1)
assert_match "$P12PW" '^[A-Za-z0-9]{16}$' "users show --p12-password prints the password"
p12=$(openssl pkcs12 -in "$IB/manual/phone.p12" -passin "pass:$P12PW" -nodes 2>&1)
assert_match "$p12" 'subject=CN = phone' "OpenSSL 3 opens phone.p12: phone's certificate"
assert_match "$p12" 'BEGIN PRIVATE KEY' "OpenSSL 3 opens phone.p12: its key"
assert_not "phone.p12 does not open with a wrong password" \
  openssl pkcs12 -in "$IB/manual/phone.p12" -passin pass:wrong -nodes -noout
plist=$("$WPT_PY" -c '
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
types = [c["PayloadType"] for c in p["PayloadContent"]]
vpn = [c for c in p["PayloadContent"] if c["PayloadType"] == "com.apple.vpn.managed"][0]
print(" ".join(sorted(types)), vpn["VPNType"], vpn["IKEv2"]["RemoteAddress"], vpn["IKEv2"]["AuthenticationMethod"])
' "$IB/apple/phone.mobileconfig" 2>&1)
assert_eq "$plist" "com.apple.security.pkcs12 com.apple.security.root com.apple.vpn.managed IKEv2 $UP4_S Certificate" \
  "phone.mobileconfig parses as a plist: IKEv2 VPN, PKCS#12 and CA payloads"

# --- server up -------------------------------------------------------------------------------
server_ready() { wp_server_running "$NS_S" "$SDIR"; }
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server.log" 30 server_ready --dir "$SDIR" ||
  die "server up failed: $(tail -5 "$WPT_SCRATCH/logs/server.log")"
pass "server up: WireGuard and IKEv2 in one daemon"
assert_ok "IKEv2 device $IKE_IF is up" ip -n "$NS_S" link show dev "$IKE_IF"
assert_match "$(nsx "$NS_S" ss -Hlun)" ':500 ' "the server listens on UDP 500"
assert_match "$(nsx "$NS_S" ss -Hlun)" ':4500 ' "the server listens on UDP 4500"

# --- the strongSwan client, set up from the files as a Linux user would ------------------------
NS1=${NSC[1]}
sw_start "$NS1"
SWD=$(sw_dir "$NS1")/swanctl
cp "$IB/manual/phone.p12" "$SWD/pkcs12/"
cp "$IB/manual/cacert.pem" "$SWD/x509ca/"
sw_load "$NS1" "$(cat "$IB/swanctl/phone.conf")" || die "swanctl --load-all of swanctl/phone.conf failed"
CHILD=$(sed -nE 's/^[[:space:]]*(algovpn-[A-Za-z0-9_-]+) \{$/\1/p' "$IB/swanctl/phone.conf" | head -1)
if sw_ctl "$NS1" --initiate --child "$CHILD" --timeout 20 >"$OUT.initiate" 2>&1; then
  pass "strongSwan connects with swanctl/phone.conf, phone.p12 and cacert.pem"
else
  fail "strongSwan's initiate failed: $(tail -5 "$OUT.initiate")"
fi
sas=$(sw_sas "$NS1")
assert_match "$sas" 'ESTABLISHED' "strongSwan: IKE SA established"
assert_match "$sas" 'INSTALLED' "strongSwan: CHILD SA installed"
vip=$(grep -oE 'local .*10\.48\.[0-9]+\.[0-9]+' <<<"$sas" | grep -oE '10\.48\.[0-9]+\.[0-9]+' | head -1)
assert_match "$vip" '^10\.48\.' "phone got a virtual IP from strongswan_network ($vip)"
pfx6=$(sed -nE 's/^strongswan_network_ipv6:[[:space:]]*"?([0-9a-f:]+)::\/48"?.*/\1/p' "$SDIR/config.yaml")
assert_match "$sas" "local .*${pfx6}::" "phone got an IPv6 virtual IP from strongswan_network_ipv6 ($pfx6::/48)"
assert_match "$(cat "$(sw_dir "$NS1")/resolv/resolv.conf" 2>/dev/null)" 'nameserver 10\.48\.0\.1' \
  "phone's DNS is the server's resolver on the IKEv2 pool's address"
assert_http_get "phone downloads from the internet host through the server's NAT" h1 "$NS1" \
  "http://$HOST4:$HTTP_PORT/f20" "$SHA20"
assert_match "$(tail -1 "$WPT_SCRATCH/logs/http.log")" "^$UP4_S " "the internet host saw the server's address, not the pool's"
ans=$(nsx "$NS1" dig +time=2 +tries=2 +short @10.48.0.1 ads.lab.example A 2>&1)
assert_eq "$ans" "0.0.0.0" "a blocked name resolves to the block answer over IKEv2"

# --- a WireGuard client of another user at the same time --------------------------------------
NS2=${NSC[2]}
wpt_new_ifname IF_C2
wgq_client_up WG2_PID "$NS2" "$SDIR/configs/$UP4_S/wireguard/laptop.conf" "$IF_C2" "${GWC[2]}" ||
  die "laptop's WireGuard client did not start"
ip -n "$NS2" route add "$HOST4/32" dev "$IF_C2"
assert_wait 15 "laptop (WireGuard) reaches the internet host while phone (IKEv2) is connected" \
  ping_ok "$NS2" "$HOST4"
assert_ok "phone (IKEv2) still reaches it" ping_ok "$NS1" "$HOST4"
# BetweenClients_DROP (the default) holds across protocols: a WireGuard client cannot reach an
# IKEv2 client, nor the other way round.
assert_ok "client isolation: laptop (WireGuard) cannot reach phone's IKEv2 address" \
  ping_none "$NS2" "$vip"
laptop_ip=$(conf_values "$SDIR/configs/$UP4_S/wireguard/laptop.conf" Address | tr ',' '\n' | grep -oE '^ *10\.49\.[0-9.]+' | tr -d ' ')
assert_ok "client isolation: phone (IKEv2) cannot reach laptop's WireGuard address ($laptop_ip)" \
  ping_none "$NS1" "$laptop_ip"
st=$(wp_server_status "$NS_S" "$SDIR")
assert_eq "$(json_q '[u for u in j["users"] if u["name"] == "phone"][0]["ikev2"][0]["virtual_ips"][0]' <<<"$st")" \
  "$vip" "server status --json: phone's IKEv2 session with its address"
assert_match "$(json_q '[u for u in j["users"] if u["name"] == "laptop"][0]["latest_handshake"]' <<<"$st")" \
  '^[1-9][0-9]+$' "server status --json: laptop's WireGuard handshake"
assert_match "$(wp server status --dir "$SDIR")" '\(IKEv2\) +10\.48\.' "server status text lists the IKEv2 session"

# --- robust road warrior: NAT, a new address (MOBIKE), a client that lost its SA ---------------
eng() { wp_ipsec "$NS_S" status "$IKE_IF" --json; }
ej=$(eng)
assert_eq "$(json_q 'j["ike_sas"][0]["remote_addr"]' <<<"$ej")" "$GW4_S" "the server sees phone behind the NAT ($GW4_S)"
assert_eq "$(json_q 'j["ike_sas"][0]["nat_remote"]' <<<"$ej")" true "the server detected the NAT (NAT-T, ESP in UDP 4500)"
id_before=$(json_q 'j["ike_sas"][0]["uniqueid"]' <<<"$ej")
port_before=$(json_q 'j["ike_sas"][0]["remote_port"]' <<<"$ej")
# The phone changes networks: a new address; the NAT gives it a new mapping (a new port), as a
# switch from Wi-Fi to LTE gives a new public address.
nsx "$NS1" sysctl -qw net.ipv4.conf.all.promote_secondaries=1
vc1=$(ip -n "$NS1" -o -4 addr show | awk '$4 ~ /^198\.51\.100\.2\// {print $2}')
ip -n "$NS1" addr add 198.51.100.3/26 dev "$vc1"
ip -n "$NS1" addr del 198.51.100.2/26 dev "$vc1"
ip -n "$NS1" route replace "$UP4_S/32" via "${GWC[1]}"
moved() { [[ $(eng | json_q 'j["ike_sas"][0]["remote_port"]') != "$port_before" ]]; }
assert_wait 20 "MOBIKE: the server's IKE SA follows phone's new NAT mapping" moved
assert_eq "$(eng | json_q 'j["ike_sas"][0]["uniqueid"]')" "$id_before" "MOBIKE: the same IKE SA, no reconnect"
assert_wait 10 "phone reaches the internet host from its new address" ping_ok "$NS1" "$HOST4"
# The phone loses its SA without a word (a crash, a reboot): connecting again is accepted at
# once, with the same address.
wpt_stop_pid "$SW_PID" 0
rm -f "$(sw_dir "$NS1")/charon.vici" "$(sw_dir "$NS1")/run/charon.pid"
sw_start "$NS1"
sw_load "$NS1" "$(cat "$IB/swanctl/phone.conf")" || die "swanctl --load-all after the restart failed"
t0=$EPOCHREALTIME
if sw_ctl "$NS1" --initiate --child "$CHILD" --timeout 20 >"$OUT.initiate2" 2>&1; then
  pass "phone connects again at once after losing its SA ($(secs_since "$t0") s)"
else
  fail "phone's reconnect failed: $(tail -5 "$OUT.initiate2")"
fi
assert_wait 10 "phone reaches the internet host after reconnecting" ping_ok "$NS1" "$HOST4"
assert_match "$(sw_sas "$NS1")" "local .*$vip" "phone got its address ($vip) back"

# --- users remove phone: its IKEv2 session ends, laptop loses nothing -------------------------
nsx "$NS2" ping -i 0.02 -c 400 -W 1 "$HOST4" >"$OUT.ping2" 2>&1 &
PING_PID=$!
wpt_track_pid "$PING_PID"
sleep 1
t0=$EPOCHREALTIME
wp users remove phone --dir "$SDIR" >"$OUT.remove" 2>&1 || fail "users remove phone: $(cat "$OUT.remove")"
if wait_for 10 sh -c "! grep -q ESTABLISHED <<EOF
\$(SWANCTL_DIR='$SWD' STRONGSWAN_CONF='$(sw_dir "$NS1")/strongswan.conf' swanctl --list-sas --uri 'unix://$(sw_dir "$NS1")/charon.vici' 2>/dev/null)
EOF"; then
  pass "users remove phone: its IKE SA is gone after $(secs_since "$t0") s"
else
  fail "phone's IKE SA is still up 10 s after users remove"
fi
if sw_ctl "$NS1" --initiate --child "$CHILD" --timeout 15 >"$OUT.reinit" 2>&1; then
  fail "phone connected again after it was removed"
else
  pass "phone's reconnect is refused"
fi
assert_match "$(cat "$WPT_SCRATCH/logs/server.log")" 'revoked' "the server log says why: the certificate is revoked"
wait "$PING_PID" 2>/dev/null
loss=$(grep -oE '[0-9.]+% packet loss' "$OUT.ping2")
assert_eq "$loss" "0% packet loss" "laptop's ping every 20 ms across users remove phone"

# --- restart keeps the CA and the certificates -------------------------------------------------
ca_sum=$(sha256sum "$SDIR/pki/ca.key" "$SDIR/ipsec/x509ca/cacert.pem" "$SDIR/pki/users/laptop.pem" | cut -d' ' -f1)
wp_server_stop "$SRV_PID" rc || fail "the server did not stop on SIGTERM"
assert_eq "$rc" 0 "server exits 0"
assert_not "no IKEv2 device left" ip -n "$NS_S" link show dev "$IKE_IF"
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server2.log" 30 server_ready --dir "$SDIR" ||
  die "server up (again) failed: $(tail -5 "$WPT_SCRATCH/logs/server2.log")"
assert_eq "$(sha256sum "$SDIR/pki/ca.key" "$SDIR/ipsec/x509ca/cacert.pem" "$SDIR/pki/users/laptop.pem" | cut -d' ' -f1)" \
  "$ca_sum" "restart keeps the CA key, the CA certificate and laptop's certificate"
wp_server_stop "$SRV_PID" rc

# --- bad input stops the server with the file or route named ------------------------------------
# up_fails MSG PATTERN: `server up` exits non-zero and its output matches PATTERN.
up_fails() {
  local out=$WPT_SCRATCH/up-fail.out
  if timeout 30 ip netns exec "$NS_S" "$WAYPOST_BIN" server up --dir "$SDIR" >"$out" 2>&1; then
    fail "$1: server up started"
  else
    assert_match "$(cat "$out")" "$2" "$1"
  fi
  assert_not "$1: no IKEv2 device left" ip -n "$NS_S" link show dev "$IKE_IF"
  assert_not "$1: no WireGuard device left" ip -n "$NS_S" link show dev "$IF_SRV"
}
cp "$SDIR/ipsec/x509ca/cacert.pem" "$WPT_SCRATCH/cacert.good"
printf -- '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n' >"$SDIR/ipsec/x509ca/cacert.pem"
up_fails "a corrupt CA certificate stops the server, naming the file" 'cacert\.pem'
cp "$WPT_SCRATCH/cacert.good" "$SDIR/ipsec/x509ca/cacert.pem"
chmod 644 "$SDIR/pki/p12_password"
up_fails "a .p12 password file others can read stops the server, naming the file" 'p12_password'
chmod 600 "$SDIR/pki/p12_password"
# A veth pair stands for a LAN (no dummy module on every kernel).
ip -n "$NS_S" link add wpt-lan type veth peer name wpt-lan2
ip -n "$NS_S" link set wpt-lan up
ip -n "$NS_S" link set wpt-lan2 up
ip -n "$NS_S" route add 10.48.7.0/24 dev wpt-lan
up_fails "a local route into strongswan_network is refused with a hint" \
  'strongswan_network 10\.48\.0\.0/16 overlaps the route 10\.48\.7\.0/24 dev wpt-lan.*Choose a network'
ip -n "$NS_S" link del wpt-lan
wpt_finish
