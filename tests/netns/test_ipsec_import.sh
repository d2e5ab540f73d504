#!/usr/bin/env bash
# `waypost ipsec import`: ipsec.conf files (tests/fixtures/ipsec-conf/) converted to swanctl.conf,
# and the results used by both Waypost and strongSwan 5.9 (charon + kernel-libipsec).
#
#   west ns 192.0.2.10 (LAN 10.10.0.1 on lo) <-> east ns 192.0.2.20 (LAN 10.20.0.1 on lo)
#
# 1. A strongSwan site-to-site pair with a PSK (strongswan-net-net-moon.conf / -sun.conf): moon's
#    file imported in west and started with `waypost ipsec up`, sun's imported in east and loaded
#    by strongSwan's swanctl; Waypost initiates and a ping crosses the tunnel. The imported file
#    holds the PSK and is made mode 0600.
# 2. FreeS/WAN's one file for both gateways (freeswan-net-to-net.conf): imported in each
#    namespace, where each finds its own end by its addresses (east is "right"); Waypost in west,
#    strongSwan in east; a ping crosses the tunnel.
# 3. Algo's client file (algo-manual-phone.conf, what `waypost server` writes as Algo does):
#    imported in west, its certificate, key and CA put where the output's comments say, and
#    started with `waypost ipsec up` against a strongSwan gateway in east; it gets a virtual IP
#    and a ping crosses the tunnel.
# 4. Every fixture's output loads into strongSwan with `swanctl --load-all`, without an error
#    and with every connection of the output (certificates, keys and PKCS#12 files the output
#    names are made with openssl for it).
# 5. An error names the file and line and exits non-zero.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl openssl timeout
wpt_waypost_only "waypost ipsec import is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

FIX=${WAYPOST_SRC:-$WPT_LIB_DIR/../..}/tests/fixtures/ipsec-conf
[[ -f $FIX/freeswan-net-to-net.conf ]] || die "fixtures not found in $FIX (set WAYPOST_SRC)"
OUT=$WPT_SCRATCH/out
mkdir -p "$OUT"

ns_create NS_W west
ns_create NS_E east
wpt_name VETH_W vw
wpt_name VETH_E ve
veth_link "$NS_W" "$VETH_W" "$NS_E" "$VETH_E"
ns_addr "$NS_W" "$VETH_W" 192.0.2.10/24
ns_addr "$NS_E" "$VETH_E" 192.0.2.20/24
ip -n "$NS_W" addr add 10.10.0.1/32 dev lo
ip -n "$NS_E" addr add 10.20.0.1/32 dev lo
wait_for 5 nsx "$NS_W" ping -c 1 -W 1 192.0.2.20 || die "no connectivity between the namespaces"

# imp NS OUTFILE ARGS...: `waypost ipsec import ARGS` in NS, stdout to OUTFILE, stderr to
# OUTFILE.err.
imp() {
  local ns=$1 out=$2
  shift 2
  timeout 20 ip netns exec "$ns" "$WAYPOST_BIN" ipsec import "$@" >"$out" 2>"$out.err"
}
# connections_in FILE: the connection sections of a converted file.
connections_in() { awk '/^connections \{/ { c = 1; next } c && /^\}/ { c = 0 } c && /^  [^ #}]+ \{$/ { n++ } END { print n + 0 }' "$1"; }

sw_start "$NS_E"

# sw_load_file FILE OUT: FILE as east's swanctl.conf (swanctl reads x509/, private/, ... beside
# it), `swanctl --load-all` into east's charon, its output in OUT without swanctl's notes about
# plugins it was built with but this machine lacks.
sw_load_file() {
  local rc
  cp "$1" "$(sw_dir "$NS_E")/swanctl/swanctl.conf"
  sw_ctl "$NS_E" --load-all --noprompt >"$2.raw" 2>&1
  rc=$?
  grep -v "^plugin '.*': failed to load" "$2.raw" >"$2"
  return $rc
}

# tunnel CASE NAME CHILD WEST_FILE EAST_FILE: east's file into strongSwan, west's up in Waypost
# (instance NAME), Waypost initiates CHILD, a ping from west's LAN to east's; then down.
tunnel() {
  local case=$1 name=$2 child=$3 wfile=$4 efile=$5 start
  if sw_load_file "$efile" "$OUT/$name.swanctl"; then
    pass "$case: strongSwan loads the converted file ($(grep -c '^loaded connection' "$OUT/$name.swanctl") connection)"
  else
    fail "$case: swanctl --load-all: $(tail -3 "$OUT/$name.swanctl")"
    return 1
  fi
  if wpi_up "$NS_W" "$wfile"; then
    pass "$case: waypost ipsec up reads the converted file"
  else
    fail "$case: waypost ipsec up: $(cat "$WPT_SCRATCH/ipsec-up.out")"
    return 1
  fi
  start=$EPOCHREALTIME
  if wp_ipsec "$NS_W" initiate "$name" --child "$child" >"$OUT/$name.initiate" 2>&1; then
    pass "$case: Waypost brings the tunnel up with strongSwan ($(secs_since "$start") s)"
  else
    fail "$case: initiate: $(tail -3 "$OUT/$name.initiate")"
  fi
  assert_ok "$case: ping 10.10.0.1 -> 10.20.0.1 through the tunnel" ping_ok "$NS_W" 10.20.0.1 5
  assert_match "$(sw_sas "$NS_E")" "$child: #[0-9]+, reqid [0-9]+, INSTALLED" \
    "$case: strongSwan has the CHILD SA installed"
  wp_ipsec "$NS_W" down "$name" >/dev/null 2>&1 || fail "$case: waypost ipsec down $name"
}

# --- 1. strongSwan's site-to-site pair ---------------------------------------------------------
log "case 1: strongSwan site-to-site pair (PSK)"
wpt_name INST1 imp1
W1=$WPT_SCRATCH/conf/$INST1.conf
mkdir -p "$WPT_SCRATCH/conf"
if imp "$NS_W" "$W1" "$FIX/strongswan-net-net-moon.conf" "$FIX/strongswan-net-net.secrets"; then
  pass "import of moon's ipsec.conf and ipsec.secrets"
else
  fail "import of moon's files: $(cat "$W1.err")"
fi
assert_eq "$(stat -c %a "$W1")" 600 "the output holds the PSK: made mode 0600"
assert_contains "$(cat "$W1.err")" "made it mode 0600" "and says so"
imp "$NS_E" "$OUT/sun.conf" "$FIX/strongswan-net-net-sun.conf" "$FIX/strongswan-net-net.secrets" ||
  fail "import of sun's files: $(cat "$OUT/sun.conf.err")"
tunnel "case 1" "$INST1" net-net "$W1" "$OUT/sun.conf"

# --- 2. FreeS/WAN: one file for both gateways ---------------------------------------------------
log "case 2: FreeS/WAN net-to-net, one file on both gateways"
wpt_name INST2 imp2
W2=$WPT_SCRATCH/conf/$INST2.conf
imp "$NS_W" "$W2" "$FIX/freeswan-net-to-net.conf" "$FIX/freeswan-net-to-net.secrets" ||
  fail "import in west: $(cat "$W2.err")"
imp "$NS_E" "$OUT/fs-east.conf" "$FIX/freeswan-net-to-net.conf" "$FIX/freeswan-net-to-net.secrets" ||
  fail "import in east: $(cat "$OUT/fs-east.conf.err")"
assert_match "$(grep -A4 '^  west-east {' "$W2")" 'local_addrs = 192\.0\.2\.10' \
  "west: left is the local end (192.0.2.10 is west's)"
assert_match "$(grep -A4 '^  west-east {' "$OUT/fs-east.conf")" 'local_addrs = 192\.0\.2\.20' \
  "east: right is the local end, found by east's own address"
assert_contains "$(cat "$OUT/fs-east.conf.err")" "right is the local end" "east: the import says so"
tunnel "case 2" "$INST2" west-east "$W2" "$OUT/fs-east.conf"

# --- 3. Algo's client file: Waypost as a road warrior with certificates -----------------------
log "case 3: Algo's manual/phone.conf, Waypost as the client of a strongSwan gateway"
PKI=$WPT_SCRATCH/pki
mkdir -p "$PKI"
ossl() { openssl "$@" >>"$OUT/openssl.log" 2>&1; }
# The PKI Algo's server makes, in small: a P-384 CA, the gateway's certificate for the name the
# client file expects (vpn.example.org), phone's with its e-mail identity.
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$PKI/ca.key" \
  -out "$PKI/ca.pem" -days 2 -subj "/CN=vpn.example.org"
# issue NAME SAN: a key and a certificate from the CA.
issue() {
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$PKI/$1.key" \
    -out "$PKI/$1.csr" -subj "/CN=$1"
  printf 'subjectAltName=%s\n' "$2" >"$PKI/$1.ext"
  ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem"
}
issue server DNS:vpn.example.org
issue phone email:phone@k3y9q2.algo
[[ -s $PKI/phone.pem && -s $PKI/server.pem ]] || die "test PKI: $(tail -3 "$OUT/openssl.log")"
SWD=$(sw_dir "$NS_E")/swanctl
cp "$PKI/ca.pem" "$SWD/x509ca/cacert.pem"
cp "$PKI/server.pem" "$SWD/x509/server.pem"
cp "$PKI/server.key" "$SWD/private/server.key"
cat >"$OUT/gateway.conf" <<'CONF'
connections {
  algo {
    local_addrs = 192.0.2.20
    pools = algo4
    proposals = aes256gcm16-prfsha512-ecp384
    local { auth = pubkey
            certs = server.pem
            id = vpn.example.org }
    remote { auth = pubkey }
    children { algo { local_ts = 0.0.0.0/0, ::/0
                      esp_proposals = aes256gcm16-ecp384 } }
  }
}
pools { algo4 { addrs = 10.48.0.0/24 } }
CONF
wpt_name INST3 imp3
W3DIR=$WPT_SCRATCH/algo
mkdir -p "$W3DIR/x509" "$W3DIR/x509ca" "$W3DIR/private"
W3=$W3DIR/$INST3.conf
imp "$NS_W" "$W3.imported" "$FIX/algo-manual-phone.conf" "$FIX/algo-manual-phone.secrets" ||
  fail "import of Algo's client file: $(cat "$W3.imported.err")"
# The namespaces have no DNS: the gateway's name is its address here.
sed 's/^    remote_addrs = vpn\.example\.org$/    remote_addrs = 192.0.2.20/' "$W3.imported" >"$W3"
# The files the comments of the output ask for, where they say (Algo's .p12, unpacked).
cp "$PKI/phone.pem" "$W3DIR/x509/phone.crt"
cp "$PKI/phone.key" "$W3DIR/private/phone.key"
cp "$PKI/ca.pem" "$W3DIR/x509ca/cacert.pem"
if sw_load_file "$OUT/gateway.conf" "$OUT/gateway.swanctl" && wpi_up "$NS_W" "$W3"; then
  pass "case 3: strongSwan gateway loaded, waypost ipsec up reads the imported client file"
  if wp_ipsec "$NS_W" initiate "$INST3" --child algovpn-vpn-example-org >"$OUT/algo.initiate" 2>&1; then
    pass "case 3: the imported client connects to the gateway with its certificate"
  else
    fail "case 3: initiate: $(tail -3 "$OUT/algo.initiate")"
  fi
  vip=$(json_q 'j["ike_sas"][0]["virtual_ips"][0]' <<<"$(wpi_status "$NS_W" "$INST3")")
  assert_match "$vip" '^10\.48\.0\.' "case 3: the client has a virtual IP from the gateway's pool"
  # remote_ts 0.0.0.0/0 is not routed by Waypost yet (docs/IPSEC.md): route one address.
  ip -n "$NS_W" route add 10.20.0.1/32 dev "$INST3"
  assert_ok "case 3: ping from the virtual IP to the gateway's LAN through the tunnel" \
    ping_ok "$NS_W" 10.20.0.1 5
  wp_ipsec "$NS_W" down "$INST3" >/dev/null 2>&1 || fail "case 3: waypost ipsec down"
else
  fail "case 3: $(tail -3 "$OUT/gateway.swanctl") $(cat "$WPT_SCRATCH/ipsec-up.out" 2>/dev/null)"
fi

# --- 4. every fixture's output in swanctl --load-all ------------------------------------------
log "case 4: every fixture's output loads into strongSwan"
KEYS=$WPT_SCRATCH/keys
mkdir -p "$KEYS"
# creds_for FILE: the certificates, CA certificates, keys and PKCS#12 files FILE names, made
# fresh in the swanctl directory (a self-signed P-256 certificate each; keys encrypted with the
# passphrase the file gives them).
creds_for() {
  local f=$1 name kind file secret
  rm -f "$SWD"/x509/* "$SWD"/x509ca/* "$SWD"/private/* "$SWD"/pkcs12/*
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEYS/k.pem" \
    -out "$KEYS/c.pem" -days 2 -subj "/CN=import test"
  while read -r name; do cp "$KEYS/c.pem" "$SWD/x509/$name"; done < <(sed -nE 's/^ +certs = (.*)$/\1/p' "$f")
  while read -r name; do cp "$KEYS/c.pem" "$SWD/x509ca/$name"; done < <(sed -nE 's/^ +cacert = (.*)$/\1/p' "$f")
  while read -r kind file secret; do
    case $kind in
      private-*)
        if [[ -n $secret ]]; then
          ossl pkcs8 -topk8 -v2 aes256 -in "$KEYS/k.pem" -passout "pass:$secret" -out "$SWD/private/$file"
        else
          cp "$KEYS/k.pem" "$SWD/private/$file"
        fi
        ;;
      pkcs12-*)
        ossl pkcs12 -export -inkey "$KEYS/k.pem" -in "$KEYS/c.pem" -passout "pass:$secret" -out "$SWD/pkcs12/$file"
        ;;
    esac
  done < <(awk '/^secrets \{/ { s = 1 } s && /^  [a-z0-9-]+ \{$/ { k = $1; f = ""; p = "" }
    s && /^    file = / { f = $3 } s && /^    secret = / { p = $3 }
    s && /^  \}$/ && k != "" { print k, f, p; k = "" }' "$f")
}
for conf in "$FIX"/*.conf; do
  base=$(basename "$conf" .conf)
  secrets=$FIX/$base.secrets
  [[ -f $secrets ]] || secrets=$FIX/strongswan-net-net.secrets
  out=$OUT/all-$base.conf
  if ! imp "$NS_E" "$out" --local left "$conf" "$secrets"; then
    fail "$base: import failed: $(cat "$out.err")"
    continue
  fi
  want=$(connections_in "$out")
  creds_for "$out"
  if sw_load_file "$out" "$out.swanctl" &&
    ! grep -qiE 'fail|error|invalid|unknown|ignor' "$out.swanctl"; then
    got=$(grep -c '^loaded connection' "$out.swanctl")
    assert_eq "$got" "$want" "$base: swanctl --load-all loads all $want connection(s) of the output"
  else
    fail "$base: swanctl --load-all: $(grep -iE 'fail|error|invalid|unknown|ignor' "$out.swanctl" | head -3 | tr '\n' '|')"
  fi
done

# --- 5. errors -----------------------------------------------------------------------------------
printf 'conn broken\n\tleft=192.0.2.1\n\tright\n' >"$OUT/broken.conf"
if "$WAYPOST_BIN" ipsec import "$OUT/broken.conf" >"$OUT/broken.out" 2>&1; then
  fail "a syntax error is refused"
else
  assert_match "$(cat "$OUT/broken.out")" 'broken\.conf:3: ' "a syntax error names the file and line"
fi
if "$WAYPOST_BIN" ipsec import "$OUT/missing.conf" >"$OUT/missing.out" 2>&1; then
  fail "a missing file is refused"
else
  assert_match "$(cat "$OUT/missing.out")" 'missing\.conf' "a missing file is named"
fi
wpt_finish
