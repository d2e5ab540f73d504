#!/usr/bin/env bash
# scripts/run.sh, the README's first command, as a newcomer meets it: run inside a namespace of
# this test (never on the host's network), with a state directory in the scratch dir and the
# binary under test (WAYPOST_BIN, so that it does not reconfigure the build).
#   - the first run sets up the server and then says what comes next: every profile file by
#     path (and the files exist), how to add a user, how to install the .deb and enable the
#     unit; then the QR code, before the server is ready
#   - SIGTERM stops it and removes its interface
#   - a second run prints the QR code again but not the first-run text, and says that set-up
#     options are ignored once the server exists
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin ip timeout
wpt_waypost_only "run.sh runs the waypost binary itself"
SRC=${WAYPOST_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
ns_create NS run
wpt_new_ifname IF
STATE=$WPT_SCRATCH/state
EP=192.0.2.1

# run_sh LOG ARGS...: run.sh in the background in NS, its PID in RUN_PID.
run_sh() {
  local log=$1
  shift
  ip netns exec "$NS" env WAYPOST_BIN="$WAYPOST_BIN" bash "$SRC/scripts/run.sh" "$@" >"$log" 2>&1 &
  RUN_PID=$!
  wpt_track_pid "$RUN_PID"
}
# shellcheck disable=SC2317 # called through assert_wait
ready() { grep -q "server $IF ready" "$1"; }
stop_run() {
  wp_server_stop "$RUN_PID" || fail "run.sh's server did not stop within 10 s"
}

# --- first run ---------------------------------------------------------------------------------
LOG1=$WPT_SCRATCH/logs/run1.log
run_sh "$LOG1" --dir "$STATE" --endpoint "$EP" --users phone,laptop --interface "$IF"
assert_wait 30 "first run: the server comes up" ready "$LOG1" || die "run.sh did not start the server"
out=$(cat "$LOG1")
assert_contains "$out" "Waypost is set up" "first run: says what comes next"
for u in phone laptop; do
  for f in "$u.conf" "$u.png" "apple/ios/$u.mobileconfig" "apple/macos/$u.mobileconfig"; do
    path=$STATE/configs/$EP/wireguard/$f
    assert_contains "$out" "$path" "first run: prints the path of $f"
    assert_ok "first run: $f exists" test -f "$path"
  done
done
assert_match "$out" "users add [a-z]+" "first run: says how to add a user"
assert_match "$out" "apt install \./out/waypost_[^ ]+\.deb" "first run: says how to install the .deb"
assert_contains "$out" "systemctl enable --now waypost-server" "first run: says how to enable the service"
assert_contains "$out" "Scan with the WireGuard app" "first run: prints the QR code"
assert_match "$out" "█|▀|▄" "first run: the QR code is drawn in block characters"
order=$(grep -nE "Waypost is set up|Scan with the WireGuard app|server $IF ready" "$LOG1" | cut -d: -f1 | tr '\n' ' ')
assert_ok "first run: the guidance, then the QR code, then the server ($order)" \
  awk -v o="$order" 'BEGIN { n = split(o, a, " "); exit !(n == 3 && a[1] < a[2] && a[2] < a[3]) }'
assert_ok "the interface is up in the namespace" eval "ip -n $NS link show $IF >/dev/null"
stop_run
assert_not "stopping run.sh removes the interface" eval "ip -n $NS link show $IF >/dev/null 2>&1"

# --- second run --------------------------------------------------------------------------------
LOG2=$WPT_SCRATCH/logs/run2.log
run_sh "$LOG2" --dir "$STATE" --endpoint 198.51.100.7
assert_wait 30 "second run: the server comes up" ready "$LOG2" || die "second run did not start"
out=$(cat "$LOG2")
assert_contains "$out" "Scan with the WireGuard app" "second run: prints the QR code again"
assert_not "second run: no first-run text" grep -q "Waypost is set up" "$LOG2"
assert_contains "$out" "ignoring --endpoint 198.51.100.7" "second run: says set-up options are ignored"
stop_run
wpt_finish
