#!/usr/bin/env bash
# The web admin's API on a running `waypost server` (issue 16), driven with curl over HTTPS from
# a client namespace, while a real WireGuard client (wireguard-go) uses the VPN:
#
# Topology: client ns 198.51.100.2/24 ── server ns 198.51.100.1/24 (veth)
#
# Checks:
#   setup     `server init --admin alice` prints a one-time setup link; setup/start and
#             setup/finish with a TOTP code set the password; the link does not work twice
#   sign-in   a wrong password and a wrong code are refused (401); the right ones give a
#             Secure, HttpOnly, SameSite=Strict cookie and a CSRF token
#   users     the list shows phone online with its endpoint and bytes; adding tablet writes its
#             profile (the download is the .conf on disk, byte for byte) and its QR code; a
#             change without the CSRF header is refused (403) and changes nothing
#   disable   disabling phone while it pings the server stops the ping within seconds and puts
#             phone in config.yaml's disabled_users; enabling it lets it ping again; `waypost
#             users disable` from the shell shows on the page
#   limits    a past expiry turns phone off at once with the reason (pings stop), enabling it
#             says to change the expiry, no expiry turns it on again
#   rename    tablet -> tablet2 keeps its key; a one-time link for it works once, unsigned;
#             `waypost users rename tablet2 tablet3` shows in the API with its note
#   history   phone's pings show in the per-minute traffic history
#   delete    tablet3 removed: gone from config.yaml, its profile gone
#   failure   the web port taken by another program: the server starts anyway, the VPN works,
#             and the log says why the page did not start
#   full      the server's directory on a small tmpfs, filled up: sign-in answers 503 "the disk
#             is full", the VPN carries on, config.yaml is whole; with space again sign-in works
#   damaged   web.db overwritten with garbage: the VPN works, config.yaml is untouched, the
#             log says so, and the page answers every API request 503 with what to do
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout curl
wpt_waypost_only "the web admin is Waypost's own"

UP_S=198.51.100.1 UP_C=198.51.100.2
PORT=51996
WEB_PORT=8443

ns_create NS_S server
ns_create NS_C client
wpt_name VS vs
wpt_name VC vc
veth_link "$NS_S" "$VS" "$NS_C" "$VC"
ns_addr "$NS_S" "$VS" "$UP_S/24"
ns_addr "$NS_C" "$VC" "$UP_C/24"
wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$UP_S" || die "client cannot reach the server"

SDIR=$WPT_SCRATCH/srv
OUT=$WPT_SCRATCH/out
wpt_new_ifname IF_SRV
wp() { wp_cli "$NS_S" "$@"; }

# --- setup ---------------------------------------------------------------------------------
wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$UP_S" --users phone \
  --interface "$IF_SRV" --port "$PORT" --ipv6 off --admin alice ||
  die "server init failed: $(head -c 600 "$OUT.init")"
LINK=$(grep -Eo "https://[^ ]+/setup#[A-Za-z0-9_-]+" "$OUT.init" | head -1)
assert_match "$LINK" "^https://$UP_S:$WEB_PORT/setup#" "server init --admin prints a setup link for the endpoint"
TOKEN=${LINK#*#}
server_ready() { wp_server_running "$NS_S" "$SDIR"; }
web_ready() { nsx "$NS_S" ss -Hltn "sport = :$WEB_PORT" | grep -q LISTEN; }
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server1.log" 30 server_ready --dir "$SDIR" ||
  die "server up failed: $(tail -5 "$WPT_SCRATCH/logs/server1.log")"
assert_wait 10 "the web admin listens on $WEB_PORT" web_ready

BASE=https://$UP_S:$WEB_PORT
JAR=$WPT_SCRATCH/cookies
# api METHOD PATH [BODY] [EXTRA CURL ARGS...]: the answer's body, then a line "HTTP <status>".
api() {
  local method=$1 path=$2 body=${3:-}
  shift 3 2>/dev/null || shift $#
  local -a args=(-sk -m 10 -X "$method" -b "$JAR" -c "$JAR" -w '\nHTTP %{http_code}\n')
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  nsx "$NS_C" curl "${args[@]}" "$@" "$BASE$path"
}
status_of() { sed -n 's/^HTTP //p' <<<"$1" | tail -1; }
body_of() { sed '$d' <<<"$1"; }
totp() { # totp BASE32_SECRET [OFFSET_STEPS]: the RFC 6238 code (SHA-1, 6 digits, 30 s)
  "$WPT_PY" - "$1" "${2:-0}" <<'PY'
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
step = int(time.time() // 30) + int(sys.argv[2])
mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
o = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
}

r=$(api POST /api/v1/setup/start "{\"token\":\"$TOKEN\"}")
assert_eq "$(status_of "$r")" 200 "setup/start with the link's token"
SECRET=$(body_of "$r" | json_q 'j["totp_secret"]')
PASSWORD="correct horse battery staple 42"
r=$(api POST /api/v1/setup/finish "{\"token\":\"$TOKEN\",\"password\":\"$PASSWORD\",\"totp_secret\":\"$SECRET\",\"code\":\"$(totp "$SECRET")\"}")
assert_eq "$(status_of "$r")" 200 "setup/finish sets the password and the authenticator"
assert_eq "$(body_of "$r" | json_q 'len(j["recovery_codes"])')" 10 "...and shows ten recovery codes"
r=$(api POST /api/v1/setup/start "{\"token\":\"$TOKEN\"}")
assert_eq "$(status_of "$r")" 403 "the setup link does not work twice"

# --- sign-in -------------------------------------------------------------------------------
r=$(api POST /api/v1/login "{\"name\":\"alice\",\"password\":\"wrong password 123\",\"code\":\"$(totp "$SECRET")\"}")
assert_eq "$(status_of "$r")" 401 "a wrong password is refused"
# A code from five minutes ago is outside any clock-skew window.
r=$(api POST /api/v1/login "{\"name\":\"alice\",\"password\":\"$PASSWORD\",\"code\":\"$(totp "$SECRET" -10)\"}")
assert_eq "$(status_of "$r")" 401 "a wrong TOTP code is refused"
# The setup used this step's code, and a code is accepted once: wait for the next step if needed.
sleep_to_next_step() { sleep "$(awk -v t="$EPOCHREALTIME" 'BEGIN { printf "%.2f", 30.2 - (t % 30) }')"; }
sleep_to_next_step
r=$(api POST /api/v1/login "{\"name\":\"alice\",\"password\":\"$PASSWORD\",\"code\":\"$(totp "$SECRET")\"}" -D "$OUT.headers")
assert_eq "$(status_of "$r")" 200 "sign-in with password and TOTP"
CSRF=$(body_of "$r" | json_q 'j["csrf_token"]')
assert_match "$(grep -i '^set-cookie' "$OUT.headers")" 'Secure; HttpOnly; SameSite=Strict' "the session cookie is Secure, HttpOnly, SameSite=Strict"

# --- the VPN user phone, online --------------------------------------------------------------
PROFILE=$WPT_SCRATCH/phone.conf
cp "$SDIR/configs/$UP_S/wireguard/phone.conf" "$PROFILE"
wpt_new_ifname IF_C
wgq_client_up WG_PID "$NS_C" "$PROFILE" "$IF_C" "$UP_S" || die "phone's WireGuard client did not start"
ip -n "$NS_C" route add 10.49.0.1/32 dev "$IF_C"
assert_wait 15 "phone reaches the server through the tunnel" ping_ok "$NS_C" 10.49.0.1
# The page is reached over the VPN as well as from outside (web_listen: all).
r=$(api GET /api/v1/users)
assert_eq "$(status_of "$r")" 200 "GET /api/v1/users"
USERS=$(body_of "$r")
assert_eq "$(json_q '[u for u in j["users"] if u["name"] == "phone"][0]["online"]' <<<"$USERS")" true "phone is online"
assert_match "$(json_q '[u for u in j["users"] if u["name"] == "phone"][0]["endpoint"]' <<<"$USERS")" "^$UP_C:" "...with its endpoint"
assert_eq "$(json_q '[u for u in j["users"] if u["name"] == "phone"][0]["rx_bytes"] > 0' <<<"$USERS")" true "...and bytes received"

# --- add a user ----------------------------------------------------------------------------
r=$(api POST /api/v1/users '{"name":"tablet"}')
assert_eq "$(status_of "$r")" 403 "adding a user without the CSRF header is refused"
assert_not "...and nothing changed" grep -q tablet "$SDIR/config.yaml"
r=$(api POST /api/v1/users '{"name":"tablet"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 201 "POST /api/v1/users adds tablet"
assert_ok "tablet is in config.yaml" grep -q tablet "$SDIR/config.yaml"
r=$(api POST /api/v1/users '{"name":"bad name"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")/$(body_of "$r" | json_q 'j["field"]')" 400/name "a bad name: 400 naming the field"
r=$(api POST /api/v1/users '{"name":"tablet"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 409 "adding tablet twice: 409"
r=$(api GET /api/v1/users/tablet/files)
assert_match "$(body_of "$r")" '"tablet\.conf"' "tablet's files list its .conf"
api GET /api/v1/users/tablet/files/tablet.conf "" -o "$OUT.download" >/dev/null
assert_ok "the downloaded .conf is the file the server wrote" cmp -s "$OUT.download" "$SDIR/configs/$UP_S/wireguard/tablet.conf"
r=$(api GET /api/v1/users/tablet/qr.svg)
assert_match "$(body_of "$r")" '^<svg ' "tablet's QR code is an SVG image"

# --- disable and enable while phone pings ----------------------------------------------------
nsx "$NS_C" ping -n -i 0.2 -c 400 -W 1 10.49.0.1 >"$OUT.ping" 2>&1 &
PING=$!
wpt_track_pid "$PING"
sleep 2
r=$(api POST /api/v1/users/phone/disable '{}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 200 "POST /api/v1/users/phone/disable"
assert_eq "$(body_of "$r" | json_q 'j["user"]["enabled"]')" false "...phone is disabled"
assert_match "$(sed -n '/^disabled_users/,/^[^ -]/p' "$SDIR/config.yaml")" '- phone' "config.yaml lists phone in disabled_users"
t_off=$EPOCHREALTIME
assert_wait 10 "phone's pings stop getting through" ping_none "$NS_C" 10.49.0.1 3
log "pings stopped within $(secs_since "$t_off") s of the disable"
r=$(api POST /api/v1/users/phone/enable '{}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(body_of "$r" | json_q 'j["user"]["enabled"]')" true "POST /api/v1/users/phone/enable"
assert_wait 30 "phone pings the server again" ping_ok "$NS_C" 10.49.0.1 3
wpt_stop_pid "$PING"
# And from the shell: the page shows what the CLI did.
wp users disable phone --dir "$SDIR" >"$OUT.cli" 2>&1
assert_match "$(cat "$OUT.cli")" 'disabled phone' "waypost users disable phone"
r=$(api GET /api/v1/users/phone)
assert_eq "$(body_of "$r" | json_q 'j["user"]["enabled"]')" false "...and the API shows phone disabled"
wp users enable phone --dir "$SDIR" >"$OUT.cli" 2>&1
assert_wait 30 "phone pings again after waypost users enable" ping_ok "$NS_C" 10.49.0.1 3

# --- an expiry date in the past turns phone off at once, with the reason; none turns it on ----
r=$(api PATCH /api/v1/users/phone "{\"expires\": $(($(date +%s) - 60))}" -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")/$(body_of "$r" | json_q 'j["user"]["enabled"]')" 200/false "PATCH phone with a past expiry: phone is off"
assert_match "$(body_of "$r" | json_q 'j["user"]["disabled_reason"]')" '^expired on ' "...and the reason says it expired"
assert_wait 10 "phone's pings stop after it expired" ping_none "$NS_C" 10.49.0.1 3
r=$(api POST /api/v1/users/phone/enable '{}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")/$(body_of "$r" | json_q 'j["field"]')" 409/expires "enabling an expired user says to change the expiry (409)"
r=$(api PATCH /api/v1/users/phone '{"expires": null, "note": "Ann'"'"'s phone"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(body_of "$r" | json_q 'j["user"]["enabled"]')/$(body_of "$r" | json_q 'j["user"]["note"]')" "true/Ann's phone" "no expiry: phone is on again, with its note"
assert_wait 30 "phone pings again" ping_ok "$NS_C" 10.49.0.1 3

# --- rename: the same keys under a new name --------------------------------------------------
OLD_KEY=$(grep '^PrivateKey' "$SDIR/configs/$UP_S/wireguard/tablet.conf")
r=$(api PATCH /api/v1/users/tablet '{"name": "tablet2"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")/$(body_of "$r" | json_q 'j["user"]["name"]')" 200/tablet2 "PATCH tablet {name: tablet2}"
assert_ok "config.yaml lists tablet2" grep -q -- '- tablet2' "$SDIR/config.yaml"
assert_not "tablet's old profile is gone" test -e "$SDIR/configs/$UP_S/wireguard/tablet.conf"
assert_eq "$(grep '^PrivateKey' "$SDIR/configs/$UP_S/wireguard/tablet2.conf" 2>/dev/null)" "$OLD_KEY" "tablet2.conf keeps tablet's key (its clients keep working)"
P12_DIR=$(dirname "$(find "$SDIR" -name phone.p12 | head -n1)")
assert_ok "tablet2 has its own IKEv2 certificate (.p12)" test -s "$P12_DIR/tablet2.p12"
assert_not "tablet's .p12 is gone" test -e "$P12_DIR/tablet.p12"
r=$(api PATCH /api/v1/users/tablet2 '{"name": "phone"}' -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 409 "renaming onto an existing user: 409"

# --- a one-time link works once, without an account -------------------------------------------
r=$(api POST /api/v1/users/tablet2/links '{}' -H "X-CSRF-Token: $CSRF")
URL=$(body_of "$r" | json_q 'j["url"]')
assert_match "$URL" "^https://$UP_S:$WEB_PORT/get#[0-9a-f]{32}\$" "POST .../links: a one-time link"
# redeem: what a stranger's browser sends, with no cookie.
redeem() { nsx "$NS_C" curl -sk -m 10 -w '\nHTTP %{http_code}\n' -H 'Content-Type: application/json' --data "{\"token\": \"${URL#*#}\"}" "$BASE/api/v1/links/redeem"; }
r=$(redeem)
assert_eq "$(status_of "$r")" 200 "the link, opened without signing in, gives the profile"
body_of "$r" | json_q '[f["data"] for f in j["files"] if f["name"] == "tablet2.conf"][0]' | base64 -d >"$OUT.linkconf" 2>/dev/null
assert_ok "...whose tablet2.conf is the server's" cmp -s "$OUT.linkconf" "$SDIR/configs/$UP_S/wireguard/tablet2.conf"
r=$(redeem)
assert_eq "$(status_of "$r")" 410 "the same link a second time: 410"

# And from the shell: the page shows what the CLI renamed, with its note.
api PATCH /api/v1/users/tablet2 '{"note": "kitchen"}' -H "X-CSRF-Token: $CSRF" >/dev/null
wp users rename tablet2 tablet3 --dir "$SDIR" >"$OUT.cli" 2>&1
assert_match "$(cat "$OUT.cli")" 'renamed tablet2 to tablet3' "waypost users rename tablet2 tablet3"
r=$(api GET /api/v1/users/tablet3)
assert_eq "$(status_of "$r")/$(body_of "$r" | json_q 'j["user"]["note"]')" 200/kitchen "...and the API shows tablet3, its note moved along"

# --- the traffic history: phone's pings, sampled once a minute --------------------------------
phone_traffic() { body_of "$(api GET '/api/v1/users/phone/traffic?period=minute')" | json_q 'sum(p["rx"] for p in j["points"]) > 0' | grep -q true; }
assert_wait 75 "the traffic history has phone's pings (sampled once a minute)" phone_traffic

# --- delete --------------------------------------------------------------------------------
r=$(api DELETE /api/v1/users/tablet3 "" -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 200 "DELETE /api/v1/users/tablet3"
assert_not "tablet3 is gone from config.yaml" grep -q tablet3 "$SDIR/config.yaml"
assert_not "tablet3's profile is gone" test -e "$SDIR/configs/$UP_S/wireguard/tablet3.conf"
r=$(api DELETE /api/v1/session "" -H "X-CSRF-Token: $CSRF")
assert_eq "$(status_of "$r")" 200 "sign out"
r=$(api GET /api/v1/users)
assert_eq "$(status_of "$r")" 401 "signed out: the users list is refused"

# --- the web port taken: the VPN runs without the page ---------------------------------------
wpt_stop_pid "$SRV_PID" 10
# Not through nsx (a function: backgrounded, it would be a subshell, and $! not the listener):
# ip netns exec execs python, so $! is the process that holds the port.
ip netns exec "$NS_S" "$WPT_PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', $WEB_PORT)); s.listen(1); time.sleep(120)" &
SQUAT=$!
wpt_track_pid "$SQUAT"
assert_wait 5 "another program holds port $WEB_PORT" web_ready
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server2.log" 30 server_ready --dir "$SDIR" ||
  die "server up failed with the port taken: $(tail -5 "$WPT_SCRATCH/logs/server2.log")"
assert_wait 30 "with the web port taken, the VPN still works" ping_ok "$NS_C" 10.49.0.1 3
assert_match "$(cat "$WPT_SCRATCH/logs/server2.log")" 'web admin page not started: .*8443.*in use' "the log says why the page did not start"
wpt_stop_pid "$SQUAT"
wpt_stop_pid "$SRV_PID" 10
port_free() { ! web_ready; }
assert_wait 10 "port $WEB_PORT is free again" port_free

# --- a full disk: sign-in says so, the VPN goes on, and freeing space is all it takes ------------
# The server's directory copied onto a small tmpfs of its own, which a filler file then fills.
FULL=$WPT_SCRATCH/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=16m,mode=0700 waypost-test "$FULL"; then
  WPT_MOUNTS+=("$FULL")
  cp -a "$SDIR/." "$FULL/"
  full_ready() { wp_server_running "$NS_S" "$FULL"; }
  wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server-full.log" 30 full_ready --dir "$FULL" ||
    die "server up from the tmpfs failed: $(tail -5 "$WPT_SCRATCH/logs/server-full.log")"
  assert_wait 10 "the page listens (server on the small disk)" web_ready
  assert_wait 30 "phone pings through the server on the small disk" ping_ok "$NS_C" 10.49.0.1 3
  dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null  # stops at "No space left on device"
  r=$(api POST /api/v1/login "{\"name\":\"alice\",\"password\":\"$PASSWORD\",\"code\":\"$(totp "$SECRET")\"}")
  assert_eq "$(status_of "$r")" 503 "with the disk full, sign-in answers 503"
  assert_match "$(body_of "$r" | json_q 'j["error"]')" 'disk is full' "...saying the disk is full, which the sign-in page shows"
  assert_ok "...while phone still pings through the VPN" ping_ok "$NS_C" 10.49.0.1 3
  assert_ok "...and config.yaml is whole" cmp -s "$SDIR/config.yaml" "$FULL/config.yaml"
  rm -f "$FULL/filler"
  r=$(api POST /api/v1/login "{\"name\":\"alice\",\"password\":\"$PASSWORD\",\"code\":\"$(totp "$SECRET" 1)\"}")
  assert_eq "$(status_of "$r")" 200 "with space again, sign-in works (no restart)"
  wpt_stop_pid "$SRV_PID" 10
  umount "$FULL" && WPT_MOUNTS=()
else
  skip "full disk: cannot mount a tmpfs here"
fi

# --- a damaged web.db: the VPN runs with every user, the page and the log say what is wrong -----
cp "$SDIR/config.yaml" "$OUT.config-before"
rm -f "$SDIR/web.db-wal" "$SDIR/web.db-shm"
head -c 8192 /dev/urandom >"$SDIR/web.db"
wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/server3.log" 30 server_ready --dir "$SDIR" ||
  die "server up failed with a damaged web.db: $(tail -5 "$WPT_SCRATCH/logs/server3.log")"
assert_wait 30 "with web.db damaged, phone still pings through the VPN" ping_ok "$NS_C" 10.49.0.1 3
assert_match "$(cat "$WPT_SCRATCH/logs/server3.log")" "web admin's database cannot be used: .*web\.db.*(damaged|not a database)" "the log says web.db is damaged"
assert_wait 10 "the page still listens on $WEB_PORT" web_ready
r=$(api GET /api/v1/session)
assert_eq "$(status_of "$r")" 503 "the API answers 503 while web.db is damaged"
assert_match "$(body_of "$r" | json_q 'j["error"]')" 'restore it from a backup' "...saying what to do, which the sign-in page shows"
r=$(api GET /login)
assert_eq "$(status_of "$r")" 200 "the sign-in page itself still loads"
assert_ok "config.yaml (the users) is untouched" cmp -s "$OUT.config-before" "$SDIR/config.yaml"
wpt_stop_pid "$SRV_PID" 10

wpt_finish
