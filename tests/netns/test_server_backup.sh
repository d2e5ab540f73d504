#!/usr/bin/env bash
# `waypost server backup` / `restore` and upgrades of an older server directory (issue 18):
# a real WireGuard client (wireguard-go, its profile never touched) keeps connecting across a
# backup, a wipe and a restore, and across the in-place upgrade of a config.yaml written before
# config_version existed.
#
# Topology: client ns 198.51.100.2/24 ── server ns 198.51.100.1/24 (veth, nothing else)
#
# Checks:
#   backup    while the server runs: an archive (-o FILE, mode 0600, and on stdout) whose first
#             member is manifest.json; a terminal as stdout is refused
#   refusals  restore onto the running server without --force; a damaged, a truncated and a
#             non-archive file, each with the reason and nothing written
#   restore   after the directory is wiped: every file back with its bytes and mode; the same
#             client (same profile, still running) reaches the server again; a second restore
#             without --force is refused, with --force it keeps the old directory aside
#   debug     `waypost debug` on the running server: [OK] lines for the server, its firewall table
#             and forwarding, doctor's findings; no user name, endpoint address or key in it
#   upgrade   a config.yaml without config_version: `server upgrade-check` shows the changes and
#             writes nothing; `server up` migrates it after writing backups/pre-upgrade-*.tar.zst
#             (mode 0600, restorable) and the client connects; a config.yaml or state.json from a
#             newer Waypost stops `server up` with a message saying so
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2154,SC2317
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout sha256sum tar zstd
wpt_waypost_only "backup and restore are Waypost's own"

UP_S=198.51.100.1 UP_C=198.51.100.2
PORT=51997

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
wp_server_init "$NS_S" "$SDIR" "$OUT.init" --endpoint "$UP_S" --users phone,laptop \
  --interface "$IF_SRV" --port "$PORT" --ipv6 off || die "server init failed: $(head -c 600 "$OUT.init")"
pass "server init"
server_ready() { wp_server_running "$NS_S" "$SDIR"; }
start_server() { # start_server LOGNAME
  wp_server_start SRV_PID "$NS_S" "$WPT_SCRATCH/logs/$1.log" 30 server_ready --dir "$SDIR"
}
start_server server1 || die "server up failed: $(tail -5 "$WPT_SCRATCH/logs/server1.log")"

# The phone's profile, as the user installed it: a copy that nothing here changes.
PROFILE=$WPT_SCRATCH/phone-profile.conf
cp "$SDIR/configs/$UP_S/wireguard/phone.conf" "$PROFILE"
wpt_new_ifname IF_C
wgq_client_up WG_PID "$NS_C" "$PROFILE" "$IF_C" "$UP_S" || die "phone's WireGuard client did not start"
ip -n "$NS_C" route add 10.49.0.1/32 dev "$IF_C"
assert_wait 15 "phone reaches the server's tunnel address" ping_ok "$NS_C" 10.49.0.1

# --- backup --------------------------------------------------------------------------------
ARCH=$WPT_SCRATCH/backup.tar.zst
assert_ok "server backup -o FILE while the server runs" wp server backup --dir "$SDIR" -o "$ARCH"
assert_eq "$(stat -c %a "$ARCH")" 600 "the archive is 0600 (it holds every private key)"
assert_eq "$(tar --zstd -tf "$ARCH" 2>/dev/null | head -1)" manifest.json "manifest.json is the archive's first member"
assert_match "$(tar --zstd -tf "$ARCH" 2>/dev/null)" '^server/pki/ca\.key$' "the CA key is in the archive"
assert_not "no lock file in the archive" grep -q '^server/\.lock$' <(tar --zstd -tf "$ARCH")
wp server backup --dir "$SDIR" >"$WPT_SCRATCH/stdout.tar.zst" 2>"$OUT.stdout"
assert_eq "$(tar --zstd -tf "$WPT_SCRATCH/stdout.tar.zst" 2>/dev/null | head -1)" manifest.json "server backup > FILE writes the archive to stdout"
tty_out=$(script -qec "$(printf '%q ' "${WPT_WP_CLI[@]}") server backup --dir $SDIR" /dev/null 2>&1)
assert_match "$tty_out" 'binary archive: redirect it' "a terminal as stdout is refused"
SUMS=$(cd "$SDIR" && sha256sum config.yaml state.json pki/ca.key ipsec/x509ca/cacert.pem ipsec/private/server.key)

# --- refusals ------------------------------------------------------------------------------
wp server restore "$ARCH" --dir "$SDIR" >"$OUT.r1" 2>&1
assert_eq "$?" 1 "restore onto the running server without --force fails"
assert_match "$(cat "$OUT.r1")" 'a server is running on .*--force' "...saying a server is running and how to override"
head -c $(($(stat -c %s "$ARCH") / 2)) "$ARCH" >"$WPT_SCRATCH/truncated.tar.zst"
cp "$ARCH" "$WPT_SCRATCH/damaged.tar.zst"
size=$(stat -c %s "$ARCH")
printf '\xff\xff\xff\xff' | dd of="$WPT_SCRATCH/damaged.tar.zst" bs=1 seek=$((size / 2)) conv=notrunc status=none
echo "not an archive" >"$WPT_SCRATCH/text.tar.zst"
for bad in truncated damaged text; do
  wp server restore "$WPT_SCRATCH/$bad.tar.zst" --dir "$WPT_SCRATCH/new-$bad" >"$OUT.$bad" 2>&1
  rc=$?
  assert_eq "$rc" 1 "restore of a $bad archive fails"
  assert_match "$(cat "$OUT.$bad")" '(corrupt|truncated|damaged|not a tar).*nothing was changed' "...with the reason: $(head -c 160 "$OUT.$bad")"
  assert_not "...and writes nothing" test -e "$WPT_SCRATCH/new-$bad"
done

# --- wipe and restore ----------------------------------------------------------------------
wp_server_stop "$SRV_PID" || fail "the server did not stop on SIGTERM"
rm -rf "$SDIR"
wp server restore "$ARCH" --dir "$SDIR" >"$OUT.restore" 2>&1
assert_eq "$?" 0 "restore into the wiped directory: $(head -1 "$OUT.restore")"
assert_eq "$(cd "$SDIR" && sha256sum config.yaml state.json pki/ca.key ipsec/x509ca/cacert.pem ipsec/private/server.key)" \
  "$SUMS" "config, state, the CA key and certificate and the server key are back byte for byte"
assert_eq "$(stat -c %a "$SDIR/state.json" "$SDIR/pki/ca.key" "$SDIR" | tr '\n' ' ')" "600 600 700 " \
  "the restored secrets are 0600, the directory 0700"
start_server server2 || die "server up after the restore failed: $(tail -5 "$WPT_SCRATCH/logs/server2.log")"
assert_wait 30 "the same client (same profile) reaches the restored server" ping_ok "$NS_C" 10.49.0.1

# --- waypost debug against the running server ------------------------------------------------
wp debug --dir "$SDIR" >"$OUT.debug" 2>&1
assert_eq "$?" 0 "waypost debug runs"
DBG=$(cat "$OUT.debug")
assert_match "$DBG" '^\[OK\]  running: interface '"$IF_SRV"', 2 user\(s\)' "debug: [OK] the server runs"
assert_match "$DBG" "^\\[OK\\]  nftables table inet waypost-$IF_SRV present" "debug: [OK] its firewall table"
assert_match "$DBG" '^\[OK\]  net.ipv4.ip_forward = 1' "debug: [OK] forwarding"
assert_match "$DBG" '^== waypost doctor ==' "debug: doctor's findings are in it"
assert_match "$DBG" 'user1' "debug: users appear as user1, user2"
PHONE_KEY=$(conf_values "$PROFILE" PrivateKey)
assert_not "debug: no user name, endpoint address or private key in the report" \
  grep -qwE "phone|laptop|${UP_S//./\\.}|${PHONE_KEY//+/\\+}" "$OUT.debug"
wp_server_stop "$SRV_PID" || fail "the server did not stop on SIGTERM"
wp server restore "$ARCH" --dir "$SDIR" >"$OUT.r2" 2>&1
assert_eq "$?" 1 "a second restore without --force fails"
assert_match "$(cat "$OUT.r2")" 'already holds a server.*--force' "...saying the directory holds a server"
wp server restore "$ARCH" --dir "$SDIR" --force >"$OUT.r3" 2>&1
assert_eq "$?" 0 "restore --force replaces it"
kept=$(grep -oE 'kept as [^ ]+' "$OUT.r3" | cut -d' ' -f3)
assert_ok "...keeping the replaced directory ($kept)" test -s "$kept/state.json"

# --- upgrade of a directory from before config_version --------------------------------------
# What Waypost wrote before the key and IKEv2 existed: no config_version, no IKEv2 keys.
grep -vE '^(config_version|ipsec_enabled|strongswan_network|strongswan_network_ipv6):|^# The format of this file' \
  "$SDIR/config.yaml" >"$SDIR/config.yaml.v1"
mv "$SDIR/config.yaml.v1" "$SDIR/config.yaml" && chmod 600 "$SDIR/config.yaml"
# ... and a state.json of version 1 (every user with its private key, as then).
"$WPT_PY" - "$SDIR/state.json" <<'PY'
import json, os, sys
p = sys.argv[1]; j = json.load(open(p)); j["version"] = 1
open(p, "w").write(json.dumps(j, indent=2)); os.chmod(p, 0o600)
PY
V1_SUM=$(sha256sum <"$SDIR/config.yaml")
check=$(wp server upgrade-check --dir "$SDIR" 2>&1)
assert_match "$check" 'config_version 1 \(this Waypost writes 2\), state.json version 1 \(2\)' "upgrade-check names the versions"
assert_match "$check" '\+ strongswan_network_ipv6: f[cd]' "upgrade-check lists the keys it will add"
assert_match "$check" 'Nothing was changed now' "upgrade-check says it changed nothing"
assert_eq "$(sha256sum <"$SDIR/config.yaml")" "$V1_SUM" "...and config.yaml is unchanged"
start_server server3 || die "server up on the old directory failed: $(tail -5 "$WPT_SCRATCH/logs/server3.log")"
assert_match "$(cat "$WPT_SCRATCH/logs/server3.log")" 'upgraded .* to config_version 2' "server up upgrades the directory and says so"
assert_match "$(cat "$SDIR/config.yaml")" '^config_version: 2$' "config.yaml now says config_version: 2"
assert_eq "$(json_q 'j["version"]' <"$SDIR/state.json")" 2 "state.json now says version 2"
pre=$(ls "$SDIR"/backups/pre-upgrade-*-config1-state1.tar.zst 2>/dev/null | head -1)
assert_ok "a backup was written before the upgrade ($pre)" test -s "$pre"
assert_eq "$(stat -c %a "$pre" 2>/dev/null)" 600 "...mode 0600"
assert_eq "$(tar --zstd -xOf "$pre" server/config.yaml 2>/dev/null | sha256sum)" "$V1_SUM" "...holding the old config.yaml"
assert_wait 30 "the client reaches the upgraded server" ping_ok "$NS_C" 10.49.0.1
assert_match "$(wp server upgrade-check --dir "$SDIR" 2>&1)" 'Up to date' "upgrade-check: up to date afterwards"
wp_server_stop "$SRV_PID" || fail "the server did not stop on SIGTERM"

# --- newer than this Waypost -----------------------------------------------------------------
cp "$SDIR/config.yaml" "$WPT_SCRATCH/config.keep"
sed -i 's/^config_version: 2$/config_version: 9/' "$SDIR/config.yaml"
wp server up --dir "$SDIR" >"$OUT.newer" 2>&1
assert_eq "$?" 1 "server up refuses a config.yaml from a newer Waypost"
assert_match "$(cat "$OUT.newer")" 'config_version 9, newer than this Waypost understands' "...saying so: $(head -c 200 "$OUT.newer")"
cp "$WPT_SCRATCH/config.keep" "$SDIR/config.yaml"
"$WPT_PY" - "$SDIR/state.json" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p)); j["version"] = 9; open(p, "w").write(json.dumps(j))
PY
wp server up --dir "$SDIR" >"$OUT.newer2" 2>&1
assert_eq "$?" 1 "server up refuses a state.json from a newer Waypost"
assert_match "$(cat "$OUT.newer2")" 'newer than this Waypost understands' "...saying so: $(head -c 200 "$OUT.newer2")"

wpt_finish
