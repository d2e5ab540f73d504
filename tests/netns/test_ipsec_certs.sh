#!/usr/bin/env bash
# `waypost ipsec` with certificate authentication against strongSwan 5.9 (charon +
# kernel-libipsec), both roles. The PKI is made here with strongSwan's own `pki` tool: a CA
# (ECDSA P-384), moon (the gateway, ECDSA P-384, SAN moon.example.org), carol (ECDSA P-256, SAN
# carol@example.org), carol-rsa (RSA 2048, same SAN), dave from an unrelated CA, erin whose
# certificate has expired, and frank, revoked in the CA's CRL. Each side reads its files from
# the swanctl directory layout (x509/, x509ca/, private/, x509crl/).
#
#   client ns 192.168.241.1 <-> server ns 192.168.241.2
#
# 1. strongSwan road warrior (carol, ECDSA) -> Waypost responder (moon): virtual IP, ping and a
#    20 MB transfer with SHA-256 compare; Waypost's log names carol's certificate.
# 2. Waypost initiator (carol, RSA) -> strongSwan responder (moon): site to site, ping and 20 MB.
# 3. Refusals by Waypost, each with a log line naming the cause: a CA it does not trust, an
#    expired certificate, a revoked certificate.
# 4. The classic signature methods that iOS, macOS and Windows use (no RFC 7427: charon with
#    signature_authentication = no): RSA PKCS#1 (method 1) and ECDSA P-256 (method 9) from
#    strongSwan, answered with ECDSA P-384 (method 10) by Waypost.
# 5. A path with MTU 576 whose router drops IP fragments: Waypost's IKE_AUTH with an RSA 4096
#    certificate gets through only as IKE fragments (RFC 7383) small enough for it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip swanctl pki timeout
wpt_waypost_only "waypost ipsec is Waypost's own"
[[ -x /usr/lib/ipsec/charon ]] || die "strongSwan's charon missing (strongswan-charon)"

topo_pair
C=192.168.241.1
S=192.168.241.2
XFER_BYTES=$((20 * 1000 * 1000))
wpt_name INST ipc

# --- the PKI -----------------------------------------------------------------------------------
PKI=$WPT_SCRATCH/pki
mkdir -p "$PKI"
pki_q() { pki "$@" 2>/dev/null; }
pki_q --gen --type ecdsa --size 384 --outform pem >"$PKI/ca.key"
pki_q --self --ca --lifetime 3650 --in "$PKI/ca.key" --type ecdsa \
  --dn "C=CH, O=Waypost Test, CN=Waypost Test CA" --outform pem >"$PKI/ca.pem"
pki_q --gen --type ecdsa --size 256 --outform pem >"$PKI/evil.key"
pki_q --self --ca --lifetime 3650 --in "$PKI/evil.key" --type ecdsa \
  --dn "C=CH, O=Elsewhere, CN=Unrelated CA" --outform pem >"$PKI/evil.pem"
# issue NAME TYPE SIZE SAN [CA] [EXTRA...]
issue() {
  local name=$1 type=$2 size=$3 san=$4 ca=${5:-ca}
  shift 5 2>/dev/null || shift $#
  pki_q --gen --type "$type" --size "$size" --outform pem >"$PKI/$name.key"
  pki_q --pub --in "$PKI/$name.key" --type "$type" |
    pki_q --issue --cacert "$PKI/$ca.pem" --cakey "$PKI/$ca.key" \
      --dn "C=CH, O=Waypost Test, CN=$san" --san "$san" "$@" --outform pem >"$PKI/$name.pem"
}
issue moon ecdsa 384 moon.example.org ca --flag serverAuth
issue carol ecdsa 256 carol@example.org ca --flag clientAuth
issue carol-rsa rsa 2048 carol@example.org ca --flag clientAuth
issue dave ecdsa 256 dave@example.org evil --flag clientAuth
issue erin ecdsa 256 erin@example.org ca --flag clientAuth --not-before "01.01.20 00:00:00" \
  --not-after "01.01.21 00:00:00"
issue frank ecdsa 256 frank@example.org ca --flag clientAuth
issue carol-big rsa 4096 carol@example.org ca --flag clientAuth
pki_q --signcrl --cacert "$PKI/ca.pem" --cakey "$PKI/ca.key" --reason key-compromise \
  --cert "$PKI/frank.pem" --outform pem >"$PKI/ca.crl"
for f in ca moon carol carol-rsa carol-big dave erin frank; do
  [[ -s $PKI/$f.pem ]] || die "pki did not make $f.pem"
done
[[ -s $PKI/ca.crl ]] || die "pki did not make the CRL"

# wp_dir NS NAME CERT: Waypost's swanctl directory in NS with NAME's certificate and key, the
# CA and the CRL; prints its path.
wp_dir() {
  local d=$WPT_SCRATCH/wp-$1
  rm -rf "$d"
  mkdir -p "$d"/{x509,x509ca,private,x509crl}
  cp "$PKI/$2.pem" "$d/x509/"
  cp "$PKI/$2.key" "$d/private/"
  chmod 600 "$d/private/$2.key"
  cp "$PKI/ca.pem" "$d/x509ca/"
  cp "$PKI/ca.crl" "$d/x509crl/"
  echo "$d"
}
# sw_creds NS NAME: NAME's certificate and key, the CA and the CRL for charon in NS.
sw_creds() {
  local d
  d=$(sw_dir "$1")/swanctl
  rm -f "$d"/x509/* "$d"/private/* "$d"/x509ca/* "$d"/x509crl/*
  cp "$PKI/$2.pem" "$d/x509/"
  cp "$PKI/$2.key" "$d/private/"
  cp "$PKI/ca.pem" "$d/x509ca/"
  cp "$PKI/ca.crl" "$d/x509crl/"
}
sw_log() { cat "$WPT_SCRATCH/logs/charon-$1.log"; }
# sw_moon_gateway: charon in NS_S as moon (its certificate), site to site 10.1.0.0/24 <->
# 10.2.0.0/24 with carol at the other end.
sw_moon_gateway() {
  sw_creds "$NS_S" moon
  sw_load "$NS_S" "
connections {
  gw {
    local_addrs = $S
    local { auth = pubkey
            certs = moon.pem
            id = moon.example.org }
    remote { auth = pubkey
             id = carol@example.org }
    children { net { local_ts = 10.1.0.0/24
                     remote_ts = 10.2.0.0/24 } }
  }
}" || die "swanctl --load-all failed in the server ns"
}
lo_addr() { ip -n "$1" addr add "$2" dev lo; }

# --- 1. strongSwan (carol, ECDSA) -> Waypost responder (moon) ---------------------------------
log "case 1: strongSwan road warrior with an ECDSA certificate -> waypost ipsec"
lo_addr "$NS_S" 10.1.0.1/32
dir=$(wp_dir "$NS_S" moon)
cat >"$dir/$INST.conf" <<CONF
connections {
  rw {
    local_addrs = $S
    pools = rw4
    local { auth = pubkey
            certs = moon.pem
            id = moon.example.org }
    remote { auth = pubkey }
    children { net { local_ts = 10.1.0.0/16 } }
  }
}
pools { rw4 { addrs = 10.3.0.0/28 } }
CONF
wpi_up "$NS_S" "$dir/$INST.conf" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
sw_start "$NS_C"
sw_creds "$NS_C" carol
sw_home() { # sw_home CERT: strongSwan's road-warrior connection with that certificate
  echo "
connections {
  home {
    remote_addrs = $S
    vips = 0.0.0.0
    local { auth = pubkey
            certs = $1.pem
            id = $2 }
    remote { auth = pubkey
             id = moon.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}"
}
sw_load "$NS_C" "$(sw_home carol carol@example.org)" || die "swanctl --load-all failed"
if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate1.out" 2>&1; then
  pass "strongSwan (ECDSA P-256 certificate) connects to Waypost (ECDSA P-384 certificate)"
else
  fail "strongSwan's initiate failed: $(tail -3 "$WPT_SCRATCH/initiate1.out")"
fi
assert_match "$(wpi_log "$NS_S")" "'carol@example.org' authenticated with certificate 'C=CH, O=Waypost Test, CN=carol@example.org'" \
  "Waypost verified carol's certificate chain and signature"
assert_match "$(sw_log "$NS_C")" 'authentication of .moon\.example\.org. with (ECDSA|RSA|.*signature).* successful' \
  "strongSwan verified Waypost's certificate signature"
assert_ok "ping 10.1.0.1 through the tunnel" ping_ok "$NS_C" 10.1.0.1
assert_xfer "20 MB, strongSwan -> Waypost, certificate-authenticated" "$NS_C" "$NS_S" 10.1.0.1 "$XFER_BYTES"
sw_ctl "$NS_C" --terminate --ike home --timeout 10 >/dev/null 2>&1

# --- 3. refusals (Waypost responder) -----------------------------------------------------------
log "case 3: refusals by the Waypost responder"
# refused WHAT CERT ID LOG_RE
refused() {
  sw_creds "$NS_C" "$2"
  [[ $2 == dave ]] && cp "$PKI/evil.pem" "$(sw_dir "$NS_C")/swanctl/x509ca/"
  sw_ctl "$NS_C" --unload-conn --name home >/dev/null 2>&1
  sw_load "$NS_C" "$(sw_home "$2" "$3")" || die "swanctl --load-all failed ($1)"
  if sw_ctl "$NS_C" --initiate --child home --timeout 15 >"$WPT_SCRATCH/initiate3.out" 2>&1; then
    fail "$1: strongSwan's initiate succeeded"
  else
    pass "$1: strongSwan's initiate fails"
  fi
  wait_for 3 grep -qE "$4" "$WPT_SCRATCH/logs/ipsec-$NS_S.log"
  assert_match "$(wpi_log "$NS_S")" "$4" "$1: Waypost logs the cause"
  # `diagnose` (issue 15): the newest finding names the certificate and why, and what to do.
  local diag
  diag=$(wp_ipsec "$NS_S" diagnose "$INST" --json 2>/dev/null)
  assert_eq "$(json_q "[f['cause'] for c in j['connections'] for f in c['findings']][0]" <<<"$diag" 2>/dev/null)" \
    certificate "$1: diagnose --json gives cause certificate"
  assert_match "$(json_q "[f['sentence'] + ' ' + f['fix'] for c in j['connections'] for f in c['findings']][0]" <<<"$diag" 2>/dev/null)" \
    "$5" "$1: diagnose says why and what to change"
}
refused "untrusted CA" dave dave@example.org \
  "IKE_AUTH from .* refused: certificate of 'dave@example.org' .* is not accepted: unable to get local issuer certificate" \
  "'dave@example.org'.*unable to get local issuer certificate.*Fix: put the CA that issued it in x509ca/"
refused "expired certificate" erin erin@example.org \
  "IKE_AUTH from .* refused: certificate of 'erin@example.org' .* is not accepted: certificate has expired" \
  "'erin@example.org'.*certificate has expired.*Fix: issue the peer a new certificate"
refused "revoked certificate" frank frank@example.org \
  "IKE_AUTH from .* refused: certificate of 'frank@example.org' .* is not accepted: certificate revoked" \
  "'frank@example.org'.*certificate revoked.*Fix: the CA revoked it"

# --- 4. classic signature methods --------------------------------------------------------------
log "case 4: classic signature methods (no RFC 7427) -> waypost ipsec"
wpt_stop_pid "$SW_PID" 5
SW_CHARON_EXTRA="signature_authentication = no" sw_start "$NS_C"
for cert in carol-rsa carol; do
  sw_creds "$NS_C" "$cert"
  sw_ctl "$NS_C" --unload-conn --name home >/dev/null 2>&1
  sw_load "$NS_C" "$(sw_home "$cert" carol@example.org)" || die "swanctl --load-all failed ($cert)"
  if sw_ctl "$NS_C" --initiate --child home --timeout 20 >"$WPT_SCRATCH/initiate4.out" 2>&1; then
    pass "$cert without RFC 7427: strongSwan connects to Waypost"
  else
    fail "$cert without RFC 7427: strongSwan's initiate failed: $(tail -3 "$WPT_SCRATCH/initiate4.out")"
  fi
  sw_ctl "$NS_C" --terminate --ike home --timeout 10 >/dev/null 2>&1
done
assert_match "$(sw_log "$NS_C")" "authentication of 'carol@example.org' \(myself\) with RSA signature successful" \
  "strongSwan signed with RSA PKCS#1 (method 1) and Waypost accepted it"
assert_match "$(sw_log "$NS_C")" "authentication of 'carol@example.org' \(myself\) with ECDSA-256 signature successful" \
  "strongSwan signed with ECDSA P-256 (method 9) and Waypost accepted it"
assert_match "$(sw_log "$NS_C")" "splitting IKE message .* into [0-9]+ fragments" \
  "strongSwan fragmented its IKE_AUTH with the RSA certificate (RFC 7383) and Waypost reassembled it"
assert_match "$(sw_log "$NS_C")" "authentication of 'moon.example.org' with ECDSA-384 signature successful" \
  "Waypost answered with ECDSA P-384 (method 10), which strongSwan verified"
pid=$(wpi_pid "$INST")
wp_ipsec "$NS_S" down "$INST" >/dev/null 2>&1
wpt_wait_exit "$pid" 10
wpt_stop_pid "$SW_PID" 5

# --- 2. Waypost (carol, RSA) -> strongSwan responder (moon) -----------------------------------
log "case 2: waypost ipsec with an RSA certificate -> strongSwan responder"
lo_addr "$NS_C" 10.2.0.1/32
sw_start "$NS_S"
sw_moon_gateway
dir=$(wp_dir "$NS_C" carol-rsa)
cat >"$dir/$INST.conf" <<CONF
connections {
  branch {
    remote_addrs = $S
    local { auth = pubkey
            certs = carol-rsa.pem
            id = carol@example.org }
    remote { auth = pubkey
             id = moon.example.org }
    children { lan { local_ts = 10.2.0.0/24
                     remote_ts = 10.1.0.0/24 } }
  }
}
CONF
RSA_CONF=$WPT_SCRATCH/branch-rsa.conf
cp "$dir/$INST.conf" "$RSA_CONF"
wpi_up "$NS_C" "$dir/$INST.conf" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
if wp_ipsec "$NS_C" initiate "$INST" --child lan >"$WPT_SCRATCH/initiate2.out" 2>&1; then
  pass "Waypost (RSA certificate) connects to strongSwan (ECDSA certificate)"
else
  fail "waypost ipsec initiate failed: $(tail -5 "$WPT_SCRATCH/initiate2.out")"
fi
assert_match "$(wpi_log "$NS_C")" "'moon.example.org' authenticated with certificate" \
  "Waypost verified moon's certificate"
assert_match "$(sw_log "$NS_S")" "authentication of 'carol@example.org' with RSA.* successful" \
  "strongSwan verified Waypost's RSA signature"
assert_xfer "20 MB, Waypost -> strongSwan, certificate-authenticated" "$NS_C" "$NS_S" 10.1.0.1 "$XFER_BYTES"
pid=$(wpi_pid "$INST")
wp_ipsec "$NS_C" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
wpt_stop_pid "$SW_PID" 5

# --- 5. IKE fragments through a 576-byte path that drops IP fragments --------------------------
log "case 5: IKE_AUTH with an RSA 4096 certificate over a 576-byte path without IP fragments"
topo_chain f 192.168.247 fd00:247: 192.168.248 fd00:248:
# IPv4 only on the narrow link (IPv6 needs 1280), so its MTU is set after the lab checked both.
ip -n "$NS_R" link set dev "$VETH_RS" mtu 576
ip -n "$NS_S" link set dev "$VETH_S" mtu 576
S=$OUT4_S
nsx "$NS_R" nft -f - <<NFT || die "nftables fragment drop in the router"
table ip wpt_nofrag {
  chain nofrag { type filter hook forward priority filter; ip frag-off & 0x3fff != 0 counter drop; }
}
NFT
lo_addr "$NS_S" 10.1.0.1/32
lo_addr "$NS_C" 10.2.0.1/32
# strongSwan's own messages in small fragments too (its default is 1280 bytes).
SW_CHARON_EXTRA="fragment_size = 500" sw_start "$NS_S"
sw_moon_gateway
dir=$(wp_dir "$NS_C" carol-big)
sed -e "s/carol-rsa.pem/carol-big.pem/" -e "s/remote_addrs = .*/remote_addrs = $S/" \
  "$RSA_CONF" >"$dir/$INST.conf"
wpi_up "$NS_C" "$dir/$INST.conf" || die "waypost ipsec up failed: $(cat "$WPT_SCRATCH/ipsec-up.out")"
if wp_ipsec "$NS_C" initiate "$INST" --child lan --timeout 40 >"$WPT_SCRATCH/initiate5.out" 2>&1; then
  pass "the IKE SA comes up over the 576-byte path"
else
  fail "initiate over the 576-byte path failed: $(tail -5 "$WPT_SCRATCH/initiate5.out")"
fi
assert_match "$(wpi_log "$NS_C")" "fragmenting for a 576-byte path" \
  "Waypost re-fragmented its unanswered IKE_AUTH for a 576-byte path"
assert_match "$(sw_log "$NS_S")" "received fragment #[0-9]+ of [0-9]+, reassembled fragmented IKE message" \
  "strongSwan reassembled Waypost's IKE fragments"
dropped=$(nsx "$NS_R" nft list table ip wpt_nofrag | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
log "IP fragments dropped by the router: ${dropped:-0}"
assert_ok "ping 10.1.0.1 through the tunnel" ping_ok "$NS_C" 10.1.0.1
pid=$(wpi_pid "$INST")
wp_ipsec "$NS_C" down "$INST" >/dev/null 2>&1
assert_not "waypost ipsec down: the instance is gone" wpt_pid_alive "$pid"
wpt_finish
