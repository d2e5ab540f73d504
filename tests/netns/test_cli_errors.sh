#!/usr/bin/env bash
# Waypost's command line: key tools and the errors of `waypost up`. Every `up` runs inside a
# namespace of this test, so nothing can reach the host's network namespace.
#   - genkey/genpsk print 44-char base64 of 32 bytes, fresh each time; pubkey (stdin -> stdout)
#     agrees with `wg pubkey` on waypost's and wg's keys and on an unclamped key; pubkey rejects
#     garbage with a non-zero exit
#   - `up` on a malformed conf exits non-zero, names the line number and the key, and leaves no
#     interface or UAPI socket behind (bad ListenPort value, unknown key, bad base64 key)
#   - `up` (background) returns with the interface up and a live PID in
#     /var/run/waypost/<if>.pid; a second `up` of the same name exits non-zero saying the
#     interface exists, and leaves the first daemon running; `down` removes the interface and
#     the daemon exits
#   - `up` without /dev/net/tun (bind-mounted empty dir, via unshare --mount) exits non-zero
#     and says so (mentions /dev/net/tun or TUN)
#   - `up` as uid/gid 65534 (setpriv) exits non-zero and says root or CAP_NET_ADMIN is needed
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2016,SC2153
source "$(dirname "$0")/lib.sh"
wpt_begin wg ip timeout unshare setpriv base64 mount
wpt_waypost_only "every check here is about the waypost binary (wireguard-go stands in for it)"
WP=$WAYPOST_BIN
OUT=$WPT_SCRATCH/out

is_key() { [[ $1 =~ ^[A-Za-z0-9+/]{43}=$ ]] && [[ $(base64 -d <<<"$1" 2>/dev/null | wc -c) == 32 ]]; }

# --- keys --------------------------------------------------------------------------------------
k1=$(timeout 10 "$WP" genkey) k2=$(timeout 10 "$WP" genkey)
assert_ok "genkey prints a base64 32-byte key" is_key "$k1"
assert_ne "$k1" "$k2" "two genkey runs differ"
assert_eq "$(timeout 10 "$WP" pubkey <<<"$k1")" "$(wg pubkey <<<"$k1")" "pubkey of a waypost key matches wg pubkey"
wk=$(wg genkey)
assert_eq "$(timeout 10 "$WP" pubkey <<<"$wk")" "$(wg pubkey <<<"$wk")" "pubkey of a wg key matches wg pubkey"
raw=$(head -c 32 /dev/urandom | base64) # most likely not clamped
assert_eq "$(timeout 10 "$WP" pubkey <<<"$raw")" "$(wg pubkey <<<"$raw")" "pubkey of an unclamped key matches wg pubkey"
p1=$(timeout 10 "$WP" genpsk) p2=$(timeout 10 "$WP" genpsk)
assert_ok "genpsk prints a base64 32-byte key" is_key "$p1"
assert_ne "$p1" "$p2" "two genpsk runs differ"
assert_not "pubkey rejects garbage" eval 'timeout 10 "$WP" pubkey <<<"not-a-key" >/dev/null 2>&1'

# --- malformed configs -------------------------------------------------------------------------
ns_create NS_E cli

# run_up NAME ARGS...: `waypost up ARGS` in NS_E, output to $OUT.NAME, status in RC.
run_up() {
  local name=$1
  shift
  timeout 20 ip netns exec "$NS_E" "$WP" up "$@" >"$OUT.$name" 2>&1 </dev/null
  RC=$?
}

no_leftovers() { # no_leftovers IF
  ! ip -n "$NS_E" link show dev "$1" >/dev/null 2>&1 && [[ ! -S $WPT_UAPI_DIR/$1.sock ]]
}

priv=$(wg genkey) peer=$(wg_pub "$(wg genkey)")
# malformed_case NAME LINE KEY CONTENT: CONTENT has the offending KEY on line LINE.
malformed_case() {
  local name=$1 line=$2 key=$3 content=$4 ifn conf
  wpt_new_ifname ifn
  WPT_WP_IFS+=("$NS_E $ifn")
  conf_path conf "$ifn"
  printf '%s\n' "$content" >"$conf"
  [[ $(sed -n "${line}p" "$conf") == "$key"* ]] || die "test bug: line $line of $name is not $key"
  run_up "$name" "$conf"
  local msg
  msg=$(head -c 600 "$OUT.$name")
  assert_ne "$RC" 0 "malformed ($name): up exits non-zero"
  assert_match "$msg" "(line[^0-9]{0,3}$line([^0-9]|\$)|:$line([^0-9]|\$))" "malformed ($name): error names line $line"
  assert_match "$msg" "$key" "malformed ($name): error names the key $key"
  assert_ok "malformed ($name): no interface or socket left behind" no_leftovers "$ifn"
}
malformed_case bad-port 3 ListenPort "[Interface]
PrivateKey = $priv
ListenPort = banana
Address = 10.241.9.1/24"
malformed_case unknown-key 7 Frobnicate "[Interface]
PrivateKey = $priv
Address = 10.241.9.1/24

[Peer]
PublicKey = $peer
Frobnicate = yes
AllowedIPs = 10.241.9.2/32"
malformed_case bad-key 6 PublicKey "[Interface]
PrivateKey = $priv
ListenPort = 51020

[Peer]
PublicKey = this-is-not-base64!
AllowedIPs = 10.241.9.2/32"

# --- up twice / down ---------------------------------------------------------------------------
wpt_new_ifname IF_E
WPT_WP_IFS+=("$NS_E $IF_E")
conf_path CONF_E "$IF_E"
conf_interface "$CONF_E" "$priv" 51030 "10.241.9.1/24"
conf_peer "$CONF_E" "$peer" 10.241.9.2/32
run_up first "$CONF_E"
assert_eq "$RC" 0 "up (background) succeeds: $(head -c 300 "$OUT.first" | tr '\n' '|')"
daemon_pid=$(cat "$WPT_WP_RUN_DIR/$IF_E.pid" 2>/dev/null)
[[ -n $daemon_pid ]] && wpt_track_pid "$daemon_pid"
assert_ok "up returned with the interface up and answering wg" iface_ready "$NS_E" "$IF_E"
assert_ok "pid file $WPT_WP_RUN_DIR/$IF_E.pid names a live process" wpt_pid_alive "$daemon_pid"
assert_match "$(ip -n "$NS_E" addr show dev "$IF_E" 2>&1)" "10\.241\.9\.1/24" "Address= applied"
run_up second "$CONF_E"
assert_ne "$RC" 0 "second up of the same interface exits non-zero"
assert_match "$(head -c 600 "$OUT.second")" "exist" "second up says the interface exists"
assert_ok "the first daemon still runs" wpt_pid_alive "$daemon_pid"
assert_ok "the interface still answers wg" iface_ready "$NS_E" "$IF_E"
timeout 20 ip netns exec "$NS_E" "$WP" down "$IF_E" >"$OUT.down" 2>&1
assert_eq "$?" 0 "down exits 0: $(head -c 300 "$OUT.down" | tr '\n' '|')"
assert_wait 5 "down removed the interface and its socket" no_leftovers "$IF_E"
assert_wait 5 "the daemon exited after down" eval '! wpt_pid_alive "$daemon_pid"'

# --- no /dev/net/tun ---------------------------------------------------------------------------
wpt_new_ifname IF_T
WPT_WP_IFS+=("$NS_E $IF_T")
conf_path CONF_T "$IF_T"
conf_interface "$CONF_T" "$priv" 51031 "10.241.9.1/24"
mkdir -p "$WPT_SCRATCH/empty"
timeout 20 ip netns exec "$NS_E" unshare --mount sh -c \
  'mount --bind "$1" /dev/net && exec "$2" up --foreground "$3"' sh "$WPT_SCRATCH/empty" "$WP" "$CONF_T" \
  >"$OUT.notun" 2>&1 </dev/null
RC=$?
assert_ne "$RC" 0 "up without /dev/net/tun exits non-zero"
assert_ne "$RC" 124 "up without /dev/net/tun does not hang"
assert_match "$(head -c 600 "$OUT.notun")" "/dev/net/tun|\\btun\\b" "up without /dev/net/tun says so"
assert_ok "no interface left behind without /dev/net/tun" no_leftovers "$IF_T"

# --- a private key others can read is refused ------------------------------------------------
wpt_new_ifname IF_R
WPT_WP_IFS+=("$NS_E $IF_R")
CONF_R=$WPT_SCRATCH/conf/$IF_R.conf
conf_interface "$CONF_R" "$priv" 51033 "10.241.8.1/24"
chmod 644 "$CONF_R"
timeout 20 ip netns exec "$NS_E" "$WP" up --foreground "$CONF_R" >"$OUT.readable" 2>&1 </dev/null
RC=$?
assert_ne "$RC" 0 "up with a group/world-readable private key exits non-zero"
assert_match "$(head -c 600 "$OUT.readable")" "readable by others.*chmod 600" \
  "the refusal says what is wrong and how to fix it"
assert_ok "no interface left behind by the refused config" no_leftovers "$IF_R"

# --- not root ----------------------------------------------------------------------------------
wpt_new_ifname IF_U
WPT_WP_IFS+=("$NS_E $IF_U")
mkdir -p "$WPT_SCRATCH/public"
chmod 711 "$WPT_SCRATCH"
chmod 755 "$WPT_SCRATCH/public"
CONF_U=$WPT_SCRATCH/public/$IF_U.conf
conf_interface "$CONF_U" "$priv" 51032 "10.241.9.1/24"
chmod 644 "$CONF_U"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if ! timeout 10 ip netns exec "$NS_E" "${nobody[@]}" "$WP" genkey >/dev/null 2>&1; then
  skip "uid 65534 cannot run $WP at all (path permissions), not-root check not possible here"
else
  timeout 20 ip netns exec "$NS_E" "${nobody[@]}" "$WP" up --foreground "$CONF_U" >"$OUT.nonroot" 2>&1 </dev/null
  RC=$?
  assert_ne "$RC" 0 "up as uid 65534 exits non-zero"
  assert_ne "$RC" 124 "up as uid 65534 does not hang"
  assert_match "$(head -c 600 "$OUT.nonroot")" "root|CAP_NET_ADMIN" "up as uid 65534 says root/CAP_NET_ADMIN is needed"
  assert_ok "no interface left behind by the non-root attempt" no_leftovers "$IF_U"
fi
wpt_finish
