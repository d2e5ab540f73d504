#!/usr/bin/env bash
# The web admin in a real browser, against a real `waypost server up`: Debian's chromium,
# headless, driven by playwright-core (tests/web/web_test.mjs; `npm ci` there, which
# scripts/install-deps.sh --test runs; no browser is downloaded).
#
# Topology: topo_pair. The server ns runs `waypost server up` (WireGuard and the HTTPS page on
# 8443); the client ns runs the browser (to https://OUT4_S:8443 over the veth) and a
# wireguard-go client loaded from the profile of the user the page adds.
#
# Checks, in order:
#   init     `server init --admin alice` (or `admins add alice` where --admin is missing) prints
#            a setup link; `server up` listens on the web port
#   setup    the page reads the link's token, shows the TOTP secret and otpauth URI (and a QR
#            code of it that zbarimg must read back), refuses a wrong code next to the form, takes password + code (RFC 6238 computed in Node),
#            shows ten recovery codes
#   login    a wrong password and a wrong TOTP code are refused on the page; the right ones
#            sign in
#   add      `tablet` added on the page; its QR code image (a screenshot of the <img>) decoded
#            by zbarimg is the server's tablet.conf, byte for byte, and so is the download;
#            a second user deleted through the confirmation; a duplicate name refused
#   disable  a wireguard-go client with tablet.conf pings the server's tunnel address; Disable
#            on the page stops the ping within seconds, Enable brings it back
#   checks   a POST or DELETE without X-CSRF-Token gets 403; the pages' and the API's CSPs; a
#            390x844 window shows the list without horizontal overflow; sign out ends the session
#   viewer   a viewer (second admin) sees the list but no buttons that change anything
#   admins   the viewer has no audit log (nor its API: 403); the owner adds carol on the Admins
#            screen (setup link shown), makes an API token that works as Bearer (200) until it
#            is revoked on the page (401), finds user.add and token.create in the audit log; the
#            admins and audit screens fit a 390x844 window
#
# Screenshots are taken in the scratch dir; WAYPOST_WEB_SCREENSHOTS=DIR copies the ones that
# docs/WEB.md shows there (WAYPOST_WEB_SCREENSHOTS=docs/web refreshes them).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ss ping timeout node zbarimg chromium
wpt_waypost_only "the web admin is Waypost's own"

WEB_DIR=$(cd "$WPT_LIB_DIR/../web" && pwd)
[[ -f $WEB_DIR/node_modules/playwright-core/package.json ]] ||
  die "playwright-core is not installed in $WEB_DIR: run scripts/install-deps.sh --test (or npm ci there)"

PORT=51997 WEB_PORT=8443 ADMIN=alice USER_NAME=tablet
SDIR=$WPT_SCRATCH/srv
OUT=$WPT_SCRATCH/out
SHOTS=$WPT_SCRATCH/web
mkdir -p "$SHOTS" "$WPT_SCRATCH/home"

topo_pair
wpt_new_ifname IF_SRV
BASE=https://$OUT4_S:$WEB_PORT

# --- init: a server, an admin, the setup link ------------------------------------------------
# setup_link FILE...: the first https://.../setup#TOKEN in the files.
setup_link() { cat "$@" 2>/dev/null | grep -Eo "https://[^[:space:]]+/setup#[A-Za-z0-9_-]+" | head -n1; }

if "$WAYPOST_BIN" server init --help 2>&1 | grep -q -- '--admin'; then
  wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$OUT4_S" --users phone --interface "$IF_SRV" \
    --port "$PORT" --admin "$ADMIN" || die "server init --admin failed: $(head -c 600 "$OUT.init")"
  pass "server init --admin $ADMIN"
else
  log "NOTE: this waypost has no 'server init --admin'; using 'waypost admins add'"
  wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$OUT4_S" --users phone --interface "$IF_SRV" \
    --port "$PORT" || die "server init failed: $(head -c 600 "$OUT.init")"
  wp_cli "$NS_S" admins add "$ADMIN" --dir "$SDIR" >"$OUT.admin" 2>&1 ||
    die "admins add $ADMIN failed: $(head -c 600 "$OUT.admin")"
fi
LINK=$(setup_link "$OUT.init" "$OUT.admin")
assert_match "$LINK" "^$BASE/setup#" "the setup link points at the server's web port" || die "no setup link"

server_ready() { iface_up "$NS_S" "$IF_SRV" && tcp_listening "$NS_S" "$WEB_PORT"; }
wp_server_start SPID "$NS_S" "$WPT_SCRATCH/logs/server.log" 20 server_ready --dir "$SDIR" --log-level debug
case $? in
  0) pass "server up: $IF_SRV up, web port $WEB_PORT listening" ;;
  1) die "server up exited early: $(tail -n 5 "$WPT_SCRATCH/logs/server.log" | tr '\n' '|')" ;;
  *) die "server up: interface or web port $WEB_PORT not ready within 20 s" ;;
esac

# --- the browser -----------------------------------------------------------------------------
# web_step STEP [VAR=VALUE...]: one step of web_test.mjs in the client ns (at most 120 s), its
# PASS/FAIL lines counted here, its other output in logs/web-STEP.log. Fails if the step did.
web_step() {
  local step=$1 line rc=""
  shift
  while IFS= read -r line; do
    case $line in
      PASS:*) pass "web: ${line#PASS: }" ;;
      FAIL:*) fail "web: ${line#FAIL: }" ;;
      EXIT:*) rc=${line#EXIT: } ;;
      *) echo "$line" >>"$WPT_SCRATCH/logs/web-$step.log" ;;
    esac
  done < <(
    ip netns exec "$NS_C" env -i PATH="$PATH" HOME="$WPT_SCRATCH/home" \
      XDG_CONFIG_HOME="$WPT_SCRATCH/home/.config" XDG_CACHE_HOME="$WPT_SCRATCH/home/.cache" \
      TMPDIR="$WPT_SCRATCH/home" WEB_BASE="$BASE" WEB_OUT="$SHOTS" WEB_ADMIN="$ADMIN" \
      WEB_USER="$USER_NAME" WEB_SETUP_LINK="$LINK" "$@" \
      timeout 180 node "$WEB_DIR/web_test.mjs" "$step" 2>>"$WPT_SCRATCH/logs/web-$step.log"
    echo "EXIT: $?"
  )
  [[ $rc == 0 ]] && return 0
  [[ $rc == 124 ]] && fail "web: step $step did not finish within 180 s"
  return 1
}

T0=$EPOCHREALTIME
web_step setup || die "setup in the browser failed"
# qr_text PNG: what zbarimg reads in the image ("" if nothing), bounded.
qr_text() { timeout 20 zbarimg --raw -q "$1" 2>>"$WPT_SCRATCH/logs/zbarimg.log"; }
assert_eq "$(qr_text "$SHOTS/setup-qr.png")" "$(cat "$SHOTS/setup-uri.txt" 2>/dev/null)" \
  "setup: the page's QR code (qr.js) decodes to the otpauth:// URI it shows"
web_step login || die "sign-in in the browser failed"
web_step add || die "adding $USER_NAME in the browser failed"

# --- the QR code and the download are the profile the server wrote --------------------------
CONF=$SDIR/configs/$OUT4_S/wireguard/$USER_NAME.conf
[[ -f $CONF ]] || CONF=$(find "$SDIR" -name "$USER_NAME.conf" -path '*wireguard*' 2>/dev/null | head -n1)
[[ -f $CONF ]] || die "the server wrote no $USER_NAME.conf under $SDIR"
if decoded=$(qr_text "$SHOTS/qr.png"); then
  assert_eq "$decoded" "$(cat "$CONF")" "QR: the page's QR code decodes to $USER_NAME.conf"
else
  fail "QR: zbarimg found no QR code in the screenshot of the page's image (qr.png)"
fi
assert_ok "download: the page's $USER_NAME.conf is the server's" cmp -s "$SHOTS/downloaded.conf" "$CONF"

# --- disable and enable while the user's client pings the server -----------------------------
TUN_S=$(ip -n "$NS_S" -4 -o addr show dev "$IF_SRV" | awk '{ print $4 }' | cut -d/ -f1 | head -n1)
[[ -n $TUN_S ]] || die "no IPv4 address on $IF_SRV"
wpt_new_ifname IF_C
wgq_client_up PID_C "$NS_C" "$CONF" "$IF_C" "$OUT4_S" || die "wireguard-go with $USER_NAME.conf did not start"
PINGLOG=$WPT_SCRATCH/ping.log
nsx "$NS_C" timeout 120 ping -D -n -i 0.2 -W 1 "$TUN_S" >"$PINGLOG" 2>&1 &
wpt_track_pid "$!"
# last_reply: the time (unix seconds) of the latest echo reply, 0 before the first.
last_reply() { sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$PINGLOG" | tail -n1 | grep . || echo 0; }
# replied_after T: a reply came after unix time T.
replied_after() { awk -v l="$(last_reply)" -v t="$1" 'BEGIN { exit !(l > t) }'; }
# silent_for S: no reply for the last S seconds.
silent_for() { awk -v l="$(last_reply)" -v n="$EPOCHREALTIME" -v s="$1" 'BEGIN { exit !(n - l >= s) }'; }

assert_wait 20 "ping: $USER_NAME's client reaches $TUN_S through the tunnel" replied_after 0 ||
  die "the client never reached the server"
web_step disable || fail "disabling $USER_NAME in the browser failed"
T_DIS=$(cat "$SHOTS/disable.time" 2>/dev/null || echo "$EPOCHREALTIME")
if wait_for 10 silent_for 2; then
  stopped=$(awk -v l="$(last_reply)" -v t="$T_DIS" 'BEGIN { d = l - t; printf "%.1f", d < 0 ? 0 : d }')
  assert_ok "disable: the ping stopped ${stopped} s after the page's Disable" \
    awk -v d="$stopped" 'BEGIN { exit !(d <= 5) }'
  sleep 3
  assert_ok "disable: and stays stopped (no reply in 3 more s)" silent_for 3
else
  fail "disable: the ping still gets replies 10 s after the page's Disable"
fi
web_step enable || fail "enabling $USER_NAME in the browser failed"
T_EN=$(cat "$SHOTS/enable.time" 2>/dev/null || echo "$EPOCHREALTIME")
# The client keeps its old session; WireGuard's timers make it handshake again (up to ~15 s).
if wait_for 30 replied_after "$T_EN"; then
  pass "enable: the ping resumed $(awk -v l="$(last_reply)" -v t="$T_EN" 'BEGIN { printf "%.1f", l - t }') s after the page's Enable"
else
  fail "enable: no ping reply within 30 s of the page's Enable"
fi

# --- settings, a one-time link opened twice, an expired session ----------------------------
web_step link || fail "the one-time link step failed"
if decoded=$(qr_text "$SHOTS/link-qr.png"); then
  assert_eq "$decoded" "$(cat "$CONF")" "link: the QR code the link shows decodes to $USER_NAME.conf"
else
  fail "link: zbarimg found no QR code on the one-time link's page (link-qr.png)"
fi
assert_ok "link: its $USER_NAME.conf is the server's" cmp -s "$SHOTS/link.conf" "$CONF"
web_step server || fail "the server-page step failed"
# Age every session past its end in web.db, as twelve hours would.
nsx "$NS_S" python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE sessions SET expires = 1"); db.commit()' "$SDIR/web.db" ||
  fail "could not age the sessions in web.db"
web_step expired || fail "the expired-session step failed"

# --- negative checks, the phone, sign-out; a viewer ------------------------------------------
web_step checks || fail "the checks step failed"
if wp_cli "$NS_S" admins add bob --role viewer --dir "$SDIR" >"$OUT.bob" 2>&1; then
  web_step viewer WEB_ADMIN=bob WEB_SETUP_LINK="$(setup_link "$OUT.bob")" || fail "the viewer step failed"
  web_step admins || fail "the admins step failed"
else
  fail "admins add bob --role viewer: $(head -c 300 "$OUT.bob")"
fi
web_step ratelimit WEB_ADMIN=mallory || fail "the rate-limit step failed"
log "browser steps took $(secs_since "$T0") s"

# The screenshots docs/WEB.md shows (the scratch dir has more: login, disabled, viewer, phone-user).
if [[ -n ${WAYPOST_WEB_SCREENSHOTS:-} ]]; then
  mkdir -p "$WAYPOST_WEB_SCREENSHOTS" &&
    cp "$SHOTS/setup.png" "$SHOTS/users.png" "$SHOTS/phone-users.png" "$SHOTS/user-panel.png" \
      "$SHOTS/server.png" "$SHOTS/link.png" "$WAYPOST_WEB_SCREENSHOTS"/ &&
    log "screenshots copied to $WAYPOST_WEB_SCREENSHOTS"
fi

wp_server_stop "$SPID" RC || fail "server did not exit within 10 s of SIGTERM"
assert_eq "$RC" 0 "server exited 0 on SIGTERM"
wpt_finish
