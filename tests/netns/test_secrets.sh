#!/usr/bin/env bash
# Secrets never reach logs or status output, and files holding them are private.
#
# Interface mode: two Waypost ends (so both initiator and responder paths log) with a preshared
# key, at --log-level trace, the client rekeying every 3 s (WAYPOST_TEST_REKEY_AFTER), one end
# also writing --log-file. Exercised: handshakes, pings, `wg set` of a new preshared key on both
# ends (and a new peer with its own preshared key, then its removal), `wg showconf`, `wg show`,
# `wg show all dump` (not scanned: wg prints keys there by design), `waypost show` (text and
# --json), a new private key over `wg set`, and `waypost up` on broken configs that contain
# secrets (a syntax error after a valid PrivateKey, a PresharedKey in [Interface], malformed
# keys).
# Server mode: `server init` with users, `server up --log-level trace --log-file`, a
# wireguard-go client from a generated profile through a handshake, `users add`, `users remove`,
# `users list`, `server status` (text and --json).
#
# Asserted: no log file, no CLI diagnostic and no status output contains any private key or
# preshared key involved, in base64 or hex (lower or upper case), whole or as a 12-character
# base64 / 16-digit hex prefix. Control: the same search finds the keys in the config files.
# state.json and every client bundle file (.conf, .png, .mobileconfig) are mode 0600.
# Reported, not asserted: what `waypost up` does with a config readable by group or others, and
# the modes of config.yaml, the state directory and the log files.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wg ip ping timeout wireguard-go
wpt_waypost_only "secrets test inspects waypost's own logs and files"

LOGS=$WPT_SCRATCH/logs
OUTS=$WPT_SCRATCH/out   # CLI output and diagnostics, searched like logs
mkdir -p "$OUTS"

# --- the secrets and the search ---------------------------------------------------------------
SECRETS_FILE=$WPT_SCRATCH/secrets.txt   # "label<TAB>base64" per line
: >"$SECRETS_FILE"
add_secret() { printf '%s\t%s\n' "$1" "$2" >>"$SECRETS_FILE"; }

# leak_scan FILE...: prints "file: label (form)" for every secret form found; 0 if none.
leak_scan() {
  "$WPT_PY" - "$SECRETS_FILE" "$@" <<'EOF'
import base64, sys
forms = []
for line in open(sys.argv[1]):
    label, b64 = line.rstrip("\n").split("\t")
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raw = None  # a malformed key: look for the text itself
    if raw is None or len(raw) != 32:
        forms += [(label, "text", b64.encode()), (label, "text prefix", b64[:12].encode())]
        continue
    h = raw.hex()
    forms += [(label, "base64", b64.encode()), (label, "base64 prefix", b64[:12].encode()),
              (label, "hex", h.encode()), (label, "HEX", h.upper().encode()),
              (label, "hex prefix", h[:16].encode()), (label, "HEX prefix", h[:16].upper().encode())]
found = 0
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    for label, form, needle in forms:
        if needle in data:
            print(f"{path}: {label} ({form})")
            found += 1
sys.exit(1 if found else 0)
EOF
}

# assert_no_secrets WHAT FILE...
assert_no_secrets() {
  local what=$1 out
  shift
  if out=$(leak_scan "$@"); then
    pass "$what: no private or preshared key in $# file(s)"
  else
    fail "$what: secrets found: $(head -n 8 <<<"$out" | sed "s|$WPT_SCRATCH/||" | tr '\n' '|')"
  fi
}

# ================================================================================================
# Interface mode
# ================================================================================================
topo_pair
conf_pair_new
PSK1=$(wg_genpsk)
add_secret "client private key" "$PRIV_C"
add_secret "server private key" "$PRIV_S"
add_secret "preshared key 1" "$PSK1"
conf_interface "$CONF_C" "$PRIV_C" 51001 "$TUN4_C/24,$TUN6_C/64" 1420
conf_peer "$CONF_C" "$PUB_S" "$TUN4_S/32,$TUN6_S/128" "$(endpoint "$OUT4_S" 51002)" "$PSK1"
conf_interface "$CONF_S" "$PRIV_S" 51002 "$TUN4_S/24,$TUN6_S/64" 1420
conf_peer "$CONF_S" "$PUB_C" "$TUN4_C/32,$TUN6_C/128" "" "$PSK1"

# Control: the search finds what it is looking for.
if leak_scan "$CONF_C" >/dev/null; then fail "control: the scan finds nothing in the client config"; else
  pass "control: the scan finds the keys in the client config ($(leak_scan "$CONF_C" | wc -l) forms)"
fi

WPT_WP_LOG_LEVEL=trace wp_up PID_S "$NS_S" "$CONF_S" --log-file "$LOGS/server-file.log" ||
  die "waypost server end did not start"
WPT_WP_LOG_LEVEL=trace WAYPOST_TEST_REKEY_AFTER=3 wp_up PID_C "$NS_C" "$CONF_C" || die "waypost client did not start"
assert_ok "handshake and ping (PSK)" ping_ok "$NS_C" "$TUN4_S" 10
# A few rekeys (every 3 s while traffic flows).
hs=$(latest_handshake "$IF_S" "$PUB_C")
nsx "$NS_C" ping -n -q -c 16 -i 0.5 "$TUN4_S" >/dev/null 2>&1
hs2=$(latest_handshake "$IF_S" "$PUB_C")
assert_ne "$hs2" "$hs" "the client rekeyed while pinging (latest handshake $hs -> $hs2)"

# wg set: a new preshared key on both ends, then traffic.
PSK2=$(wg_genpsk)
add_secret "preshared key 2" "$PSK2"
wg set "$IF_C" peer "$PUB_S" preshared-key <(echo "$PSK2") || fail "wg set preshared-key (client)"
wg set "$IF_S" peer "$PUB_C" preshared-key <(echo "$PSK2") || fail "wg set preshared-key (server)"
nsx "$NS_C" ping -n -q -c 10 -i 0.5 "$TUN4_S" >/dev/null 2>&1
assert_ok "ping after the preshared key change" ping_ok "$NS_C" "$TUN4_S" 10
# A new peer with its own preshared key, then its removal.
PRIV_X=$(wg_genkey) PSK3=$(wg_genpsk)
PUB_X=$(wg_pub "$PRIV_X")
add_secret "extra peer's preshared key" "$PSK3"
wg set "$IF_S" peer "$PUB_X" preshared-key <(echo "$PSK3") allowed-ips 10.241.0.99/32 endpoint 192.168.241.99:51009 ||
  fail "wg set new peer"
nsx "$NS_S" ping -n -q -c 2 -W 1 10.241.0.99 >/dev/null 2>&1  # staged, handshake attempt, dropped
wg showconf "$IF_S" >"$WPT_SCRATCH/showconf.txt" 2>&1
assert_contains "$(cat "$WPT_SCRATCH/showconf.txt")" "$PRIV_S" "wg showconf prints the private key (UAPI get works)"
wg set "$IF_S" peer "$PUB_X" remove || fail "wg set peer remove"
# (`wg show all dump` prints private keys by design: run it, but it is wg's output, not scanned.)
wg show all dump >"$WPT_SCRATCH/wg-show-all-dump.txt" 2>&1
wg show "$IF_C" >"$OUTS/wg-show.txt" 2>&1
wp_show "$NS_C" "$IF_C" >"$OUTS/waypost-show-client.json"
wp_show "$NS_S" "$IF_S" >"$OUTS/waypost-show-server.json"
timeout 5 ip netns exec "$NS_S" "$WAYPOST_BIN" show "$IF_S" >"$OUTS/waypost-show-server.txt" 2>&1
assert_match "$(cat "$OUTS/waypost-show-client.json")" '"counters"' "waypost show --json answered"
# A new private key over UAPI (the tunnel breaks; only the logging matters here).
PRIV_N=$(wg_genkey)
add_secret "private key set over UAPI" "$PRIV_N"
wg set "$IF_S" private-key <(echo "$PRIV_N") || fail "wg set private-key"
nsx "$NS_C" ping -n -q -c 2 -W 1 "$TUN4_S" >/dev/null 2>&1

# Broken configs that hold secrets: the diagnostics must not echo them.
PRIV_B=$(wg_genkey) PSK_B=$(wg_genpsk)
add_secret "broken config private key" "$PRIV_B"
add_secret "broken config preshared key" "$PSK_B"
broken() { # broken NAME: writes $WPT_SCRATCH/conf/NAME.conf from stdin (0600), runs waypost up
  local f=$WPT_SCRATCH/conf/$1.conf
  cat >"$f"
  chmod 600 "$f"
  timeout 15 ip netns exec "$NS_C" "$WAYPOST_BIN" up --foreground --log-level trace "$f" \
    >"$OUTS/broken-$1.txt" 2>&1 </dev/null
  echo "exit $?" >>"$OUTS/broken-$1.txt"
}
wpt_name BAD1 b1
wpt_name BAD2 b2
wpt_name BAD3 b3
WPT_IFNAMES+=("$BAD1" "$BAD2" "$BAD3")
broken "$BAD1" <<EOF
[Interface]
PrivateKey = $PRIV_B
ListenPort = not-a-port
[Peer]
PublicKey = $PUB_S
PresharedKey = $PSK_B
AllowedIPs = 10.99.0.0/24
EOF
broken "$BAD2" <<EOF
[Interface]
PrivateKey = $PRIV_B
PresharedKey = $PSK_B
[Peer]
PublicKey = $PUB_S
AllowedIPs = 10.99.0.0/24
EOF
broken "$BAD3" <<EOF
[Interface]
PrivateKey = ${PRIV_B%?}x
[Peer]
PublicKey = $PUB_S
PresharedKey = ${PSK_B:1}
AllowedIPs = 10.99.0.0/24
EOF
add_secret "malformed private key" "${PRIV_B%?}x"
add_secret "malformed preshared key" "${PSK_B:1}"
for b in "$BAD1" "$BAD2" "$BAD3"; do
  assert_match "$(cat "$OUTS/broken-$b.txt")" "exit [1-9]" "broken config $b is refused"
done
log "broken config diagnostics: $(cat "$OUTS"/broken-*.txt | grep -v '^exit' | head -c 600 | tr '\n' '|')"

# Group/world-readable config: report what `waypost up` does (not asserted).
readable_check() { # readable_check MODE
  local mode=$1 f ifn rc
  wpt_new_ifname ifn
  f=$WPT_SCRATCH/conf/$ifn.conf
  conf_interface "$f" "$(wg_genkey)" "" "10.98.0.1/24" 1420
  chmod "$mode" "$f"
  add_secret "mode $mode config private key" "$(conf_values "$f" PrivateKey)"
  WPT_WP_IFS+=("$NS_C $ifn")
  timeout 10 ip netns exec "$NS_C" "$WAYPOST_BIN" up --foreground --log-level debug "$f" \
    >"$OUTS/readable-$mode.txt" 2>&1 </dev/null &
  local pid=$!
  wpt_track_pid "$pid"
  wait_for 5 bash -c "! kill -0 $pid 2>/dev/null || ip -n '$NS_C' link show dev '$ifn' 2>/dev/null | grep -q UP"
  if wpt_pid_alive "$pid"; then
    log "REPORT: waypost up with a mode $mode config STARTED; output: $(head -c 300 "$OUTS/readable-$mode.txt" | tr '\n' '|')"
    READABLE_RESULT+="mode $mode: starts ($(grep -ci 'warn' "$OUTS/readable-$mode.txt") warning line(s)); "
    timeout 10 ip netns exec "$NS_C" "$WAYPOST_BIN" down "$ifn" >/dev/null 2>&1
    wpt_stop_pid "$pid"
  else
    wait "$pid"
    rc=$?
    log "REPORT: waypost up with a mode $mode config exits $rc: $(head -c 300 "$OUTS/readable-$mode.txt" | tr '\n' '|')"
    READABLE_RESULT+="mode $mode: refused (exit $rc); "
  fi
}
READABLE_RESULT=""
readable_check 644
readable_check 640
log "REPORT: readable configs: $READABLE_RESULT"
pass "readable-config behaviour recorded: $READABLE_RESULT"

daemon_stop "$NS_C" "$IF_C" "$PID_C"
daemon_stop "$NS_S" "$IF_S" "$PID_S"
log "interface-mode log files: $(find "$LOGS" -type f -printf "%m %f;")"
[[ -s $LOGS/$IF_C.log ]] && grep -qi trace "$LOGS/$IF_C.log" && log "the client log has trace lines"
assert_ok "the server end wrote its --log-file" test -s "$LOGS/server-file.log"
assert_no_secrets "interface-mode logs" "$LOGS"/*
assert_no_secrets "interface-mode CLI and status output" "$OUTS"/*

# ================================================================================================
# Server mode
# ================================================================================================
SDIR=$WPT_SCRATCH/srv
wpt_new_ifname IF_SRV
WP() { wp_cli "$NS_S" "$@"; }
wp_server_init "$NS_S" "$SDIR" "$OUTS/server-init.txt" --endpoint "$OUT4_S" --users alice,bob --interface "$IF_SRV" \
  --port 51960 || die "server init failed: $(head -c 400 "$OUTS/server-init.txt")"
server_ready() { wg show "$IF_SRV"; }
wp_server_start SPID "$NS_S" "$LOGS/srv-stderr.log" 15 server_ready --dir "$SDIR" --log-level trace \
  --log-file "$LOGS/srv-file.log" || die "server up did not come up: $(tail -n 5 "$LOGS/srv-stderr.log" | tr '\n' '|')"
BUNDLE_DIR=$(dirname "$(find "$SDIR" -name alice.conf | head -n1)")
[[ -d $BUNDLE_DIR ]] || die "no alice.conf generated"
wpt_new_ifname IF_AL
wgq_client_up PID_AL "$NS_C" "$BUNDLE_DIR/alice.conf" "$IF_AL" "$OUT4_S" || die "alice's client did not start"
SRV_TUN4=$(ip -n "$NS_S" -4 -o addr show dev "$IF_SRV" | awk '{ split($4, a, "/"); print a[1]; exit }')
assert_ok "server mode: alice pings the server ($SRV_TUN4)" ping_ok "$NS_C" "$SRV_TUN4" 10
WP users add carol --dir "$SDIR" >"$OUTS/users-add.txt" 2>&1 || fail "users add carol: $(head -c 300 "$OUTS/users-add.txt")"
WP users remove bob --dir "$SDIR" >"$OUTS/users-remove.txt" 2>&1 || fail "users remove bob: $(head -c 300 "$OUTS/users-remove.txt")"
WP users list --dir "$SDIR" >"$OUTS/users-list.txt" 2>&1
WP server status --dir "$SDIR" >"$OUTS/status.txt" 2>&1
WP server status --dir "$SDIR" --json >"$OUTS/status.json" 2>&1
assert_match "$(cat "$OUTS/status.json")" "carol" "server status --json lists carol"
nsx "$NS_C" ping -n -q -c 4 -i 0.3 "$SRV_TUN4" >/dev/null 2>&1
wp_server_stop "$SPID"

# Every key in state.json (server and users, past and present) and in the bundles.
"$WPT_PY" - "$SDIR/state.json" >>"$SECRETS_FILE" <<'EOF'
import json, sys
def walk(o, path):
    if isinstance(o, dict):
        for k, v in o.items():
            if isinstance(v, str) and any(s in k.lower() for s in ("private", "preshared", "psk", "secret")):
                print(f"state.json {path}{k}\t{v}")
            else:
                walk(v, f"{path}{k}.")
    elif isinstance(o, list):
        for i, v in enumerate(o):
            walk(v, f"{path}{i}.")
walk(json.load(open(sys.argv[1])), "")
EOF
for f in "$BUNDLE_DIR"/*.conf; do
  for k in PrivateKey PresharedKey; do
    v=$(grep -i "^[[:space:]]*${k}[[:space:]]*=" "$f" | head -n1 | sed -E 's/^[^=]*=[[:space:]]*//; s/[[:space:]]*$//')
    [[ -n $v ]] && add_secret "$(basename "$f") $k" "$v"
  done
done
n_state=$(grep -c '^state.json' "$SECRETS_FILE")
if ((n_state >= 4)); then pass "state.json holds $n_state secrets to look for"; else
  fail "only $n_state secrets found in state.json (expected the server key and users' keys/PSKs)"
fi
if leak_scan "$SDIR/state.json" >/dev/null; then fail "control: the scan finds nothing in state.json"; else
  pass "control: the scan finds the keys in state.json"
fi
assert_no_secrets "server-mode logs" "$LOGS/srv-file.log" "$LOGS/srv-stderr.log"
assert_no_secrets "server-mode CLI output (init, users add/remove/list, status)" "$OUTS"/server-init.txt \
  "$OUTS"/users-*.txt "$OUTS"/status.*
assert_no_secrets "all logs again (server mode keys in interface-mode logs and vice versa)" "$LOGS"/*

# File modes.
assert_eq "$(stat -c %a "$SDIR/state.json")" 600 "state.json is mode 0600"
# The IKEv2 CA certificate (manual/cacert.pem) is public, 0644 in a 0700 directory; every other
# file holds a private key or the .p12 password.
bad_modes=$(find "$SDIR/configs" -type f ! -perm 600 ! -path '*/ipsec/manual/cacert.pem' -printf '%m %P\n' 2>/dev/null)
n_bundle=$(find "$SDIR/configs" -type f | wc -l)
if [[ -z $bad_modes && $n_bundle -gt 0 ]]; then
  pass "all $n_bundle bundle files (.conf, .png, .mobileconfig, .p12, ...; not cacert.pem) are mode 0600"
  assert_eq "$(find "$SDIR/configs" -type d ! -perm 700 | wc -l)" 0 "every bundle directory is 0700"
else
  fail "bundle files not mode 0600: $(head -n 5 <<<"$bad_modes" | tr '\n' '|') ($n_bundle files)"
fi
other_files=$(find "$SDIR" -type f ! -path "$SDIR/configs/*" ! -name state.json -printf '%m %P\n' | sort | tr '\n' ';')
log "REPORT: other files in the state dir (mode path): $other_files"
log "REPORT: state dir mode $(stat -c %a "$SDIR"), configs dir mode $(stat -c %a "$SDIR/configs" 2>/dev/null)"
log "REPORT: log file modes: $(stat -c '%a %n' "$LOGS/srv-file.log" "$LOGS/server-file.log" | sed "s|$LOGS/||g" | tr '\n' ';')"
# Leftover temporaries of atomic writes would be secrets in unexpected files.
assert_eq "$(find "$SDIR" -type f -name '*.tmp*' | wc -l)" 0 "no temporary files of atomic writes left in the state dir"
wpt_finish
