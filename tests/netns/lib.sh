# shellcheck shell=bash
# Waypost namespace-test library. Source it from a test script:
#
#   source "$(dirname "$0")/lib.sh"
#   wpt_begin wireguard-go wg ip      # root, tools, the implementation under test
#   topo_pair                         # or topo_routed
#   ...
#   wpt_finish                        # prints the summary line, exits non-zero on any FAIL
#
# What it gives a test:
# - a unique id per run (WPT_ID, the test's PID) from which every namespace, veth and tunnel
#   interface name is derived: /var/run/wireguard is shared by all namespaces, so names must
#   not collide with other tests running at the same time. Names stay <= 15 characters.
# - a scratch directory (WPT_SCRATCH) for configs, logs and captures, removed at exit
#   (kept when WPT_KEEP=1).
# - one EXIT/INT/TERM trap that stops `waypost` interfaces it started, kills every recorded PID,
#   deletes every namespace it created and removes the UAPI sockets and pid files of the
#   interfaces it created. Processes are only ever stopped by recorded PID (or PIDs listed by
#   `ip netns pids` for a namespace this run created).
# - the preamble (wpt_begin, wpt_waypost_only), topologies (topo_pair, topo_routed and the
#   topo_chain it is built on), daemon helpers (wireguard-go and waypost from wg-quick style
#   configs; `waypost server` init/start/status/stop), bounded polling, assertions, ping, a
#   checksummed TCP transfer and tcpdump captures.
#
# Functions that record state (PIDs, names) take the name of a variable to set, instead of
# printing a value, because `$(...)` would run them in a subshell and lose what they record.
#
# Environment:
#   WAYPOST_BIN        path to the waypost binary (default /work/main/build/src/waypost)
#   WPT_WAYPOST_IMPL   "waypost" (default) or "wireguard-go": the latter runs wireguard-go
#                      wherever a test would run waypost, to validate the tests' other side.
#                      Assertions about waypost-only behaviour are then skipped.
#   WPT_KEEP=1         keep the scratch directory after the run.
#   WPT_VERBOSE=1      print every helper's progress messages.
#   WPT_WP_LOG_LEVEL   --log-level given to `waypost up` by wp_up (default debug).
# Set before sourcing (for scripts that are not tests, such as bench/run.sh):
#   WPT_NAME           name used in the summary, logs and scratch dir (default: script name)
#   WPT_REPORT_FD      file descriptor for PASS/FAIL/SKIP/SUMMARY lines (default 1)
#   WPT_NO_SUMMARY=1   no SUMMARY line at exit

set -uo pipefail

WPT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WPT_NAME=${WPT_NAME:-$(basename "$0" .sh)}
WPT_REPORT_FD=${WPT_REPORT_FD:-1}
WPT_ID=$$
WPT_START=$SECONDS
WAYPOST_BIN=${WAYPOST_BIN:-/work/main/build/src/waypost}
WPT_WAYPOST_IMPL=${WPT_WAYPOST_IMPL:-waypost}
WPT_UAPI_DIR=/var/run/wireguard
WPT_WP_RUN_DIR=/var/run/waypost
if [[ -x /usr/bin/python3 ]]; then WPT_PY=/usr/bin/python3; else WPT_PY=$(command -v python3); fi
WPT_XFER=$WPT_LIB_DIR/xfer.py
WPT_XFER_BYTES=$((50 * 1024 * 1024))

WPT_SCRATCH=$(mktemp -d "/tmp/wpt-${WPT_NAME}-${WPT_ID}-XXXXXX")
mkdir -p "$WPT_SCRATCH/logs" "$WPT_SCRATCH/cap" "$WPT_SCRATCH/conf" "$WPT_SCRATCH/xfer"

WPT_PIDS=()       # every background process we started
WPT_NSES=()       # every namespace we created
WPT_IFNAMES=()    # every tunnel interface name we handed out (UAPI socket / pid file cleanup)
WPT_WP_IFS=()     # "NS IF" of waypost interfaces, brought down with `waypost down` at exit
WPT_MOUNTS=()     # file systems a test mounted (under its scratch dir), unmounted at exit
WPT_NPASS=0
WPT_NFAIL=0
WPT_NSKIP=0
WPT_SEQ=0
WPT_CLEANED=0

# ---------------------------------------------------------------------------------------------
# Reporting

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S.%3N)" "$WPT_NAME" "$*" >&2; }
vlog() { if [[ ${WPT_VERBOSE:-0} == 1 ]]; then log "$@"; fi; }
pass() { WPT_NPASS=$((WPT_NPASS + 1)); echo "PASS: $*" >&"$WPT_REPORT_FD"; }
fail() { WPT_NFAIL=$((WPT_NFAIL + 1)); echo "FAIL: $*" >&"$WPT_REPORT_FD"; }
skip() { WPT_NSKIP=$((WPT_NSKIP + 1)); echo "SKIP: $*" >&"$WPT_REPORT_FD"; }
# Fatal: record the failure and exit; the EXIT trap cleans up and prints the summary.
die() { fail "$*"; exit 1; }

# Print the tail of every log in the scratch dir: called on failure so ctest output explains it.
wpt_dump_logs() {
  local f
  for f in "$WPT_SCRATCH"/logs/*; do
    [[ -s $f ]] || continue
    echo "----- tail of ${f#"$WPT_SCRATCH"/} -----" >&2
    tail -n 25 "$f" >&2
  done
}

wpt_finish() {
  exit $((WPT_NFAIL > 0 ? 1 : 0))
}

# ---------------------------------------------------------------------------------------------
# Cleanup

wpt_track_pid() { WPT_PIDS+=("$1"); }

# wpt_pid_alive PID: the process exists and is not a zombie (works from subshells too, where
# `wait` cannot be used on the parent's children).
wpt_pid_alive() {
  local st
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
  [[ -n $st && $st != Z ]]
}

# wpt_wait_exit PID SECS: poll every 0.1 s until PID has exited; fails if it still runs after
# SECS (whole seconds).
wpt_wait_exit() {
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    wpt_pid_alive "$pid" || return 0
    sleep 0.1
  done
  ! wpt_pid_alive "$pid"
}

# wpt_stop_pid PID [GRACE_S]: stop one recorded PID: TERM, wait up to GRACE_S (default 3) s,
# then KILL.
wpt_stop_pid() {
  local pid=$1
  wpt_pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  wpt_wait_exit "$pid" "${2:-3}" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# secs_since EPOCHREALTIME_VALUE: seconds elapsed since then, one decimal.
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

wpt_cleanup() {
  local rc=$? entry ns ifn pid
  ((WPT_CLEANED)) && return
  WPT_CLEANED=1
  trap - EXIT INT TERM
  if ((rc != 0 || WPT_NFAIL > 0)); then wpt_dump_logs; fi
  # 1. waypost interfaces: the orderly way first (runs PreDown/PostDown, removes routes).
  if [[ $WPT_WAYPOST_IMPL == waypost ]]; then
    for entry in "${WPT_WP_IFS[@]}"; do
      read -r ns ifn <<<"$entry"
      [[ -S $WPT_UAPI_DIR/$ifn.sock || -f $WPT_WP_RUN_DIR/$ifn.pid ]] || continue
      timeout 10 ip netns exec "$ns" "$WAYPOST_BIN" down "$ifn" >/dev/null 2>&1
    done
  fi
  # 2. every process we recorded.
  for pid in "${WPT_PIDS[@]}"; do wpt_stop_pid "$pid"; done
  # 3. anything still living in our namespaces (e.g. a daemon that forked away from us).
  for ns in "${WPT_NSES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for ns in "${WPT_NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  # 4. per-interface files in the shared run directories.
  for ifn in "${WPT_IFNAMES[@]}"; do
    rm -f "$WPT_UAPI_DIR/$ifn.sock" "$WPT_UAPI_DIR/$ifn.name" "$WPT_WP_RUN_DIR/$ifn.pid"
  done
  # 5. mounts, before the scratch dir that holds them goes.
  for entry in "${WPT_MOUNTS[@]}"; do umount -l "$entry" 2>/dev/null; done
  if [[ ${WPT_KEEP:-0} == 1 ]]; then
    log "scratch kept: $WPT_SCRATCH"
  else
    rm -rf "$WPT_SCRATCH"
  fi
  if ((rc == 0 && WPT_NFAIL > 0)); then rc=1; fi
  if [[ ${WPT_NO_SUMMARY:-0} != 1 ]]; then
    echo "SUMMARY: $WPT_NAME: $([[ $rc == 0 ]] && echo PASS || echo FAIL)" \
      "($WPT_NPASS passed, $WPT_NFAIL failed, $WPT_NSKIP skipped, $((SECONDS - WPT_START)) s)" >&"$WPT_REPORT_FD"
  fi
  exit "$rc"
}
trap wpt_cleanup EXIT
trap 'fail "interrupted"; exit 130' INT
trap 'fail "terminated"; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Preconditions

wpt_require_root() {
  [[ $(id -u) == 0 ]] || die "$WPT_NAME needs root (network namespaces)"
}

wpt_require_tools() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "required tool missing: $t"; done
}

# The implementation under test is available (waypost binary, or wireguard-go in its place).
wpt_require_waypost() {
  if [[ $WPT_WAYPOST_IMPL == wireguard-go ]]; then
    log "NOTE: WPT_WAYPOST_IMPL=wireguard-go: wireguard-go stands in for waypost (validation run)"
    wpt_require_tools wireguard-go wg
  elif [[ $WPT_WAYPOST_IMPL == waypost ]]; then
    [[ -x $WAYPOST_BIN ]] || die "waypost binary not found or not executable: $WAYPOST_BIN (set WAYPOST_BIN)"
  else
    die "unknown WPT_WAYPOST_IMPL=$WPT_WAYPOST_IMPL"
  fi
}

wpt_is_real_waypost() { [[ $WPT_WAYPOST_IMPL == waypost ]]; }

# wpt_begin [--no-waypost] TOOL...: the checks every test script starts with: root, the tools it
# needs, and the implementation under test (wpt_require_waypost; not with --no-waypost, for
# scripts that run only wireguard-go or cope with a missing waypost themselves).
wpt_begin() {
  local need_wp=1
  if [[ ${1:-} == --no-waypost ]]; then need_wp=0; shift; fi
  wpt_require_root
  wpt_require_tools "$@"
  ((need_wp)) && wpt_require_waypost
  return 0
}

# wpt_waypost_only REASON: what follows is about waypost itself: when wireguard-go stands in for
# it (WPT_WAYPOST_IMPL=wireguard-go), SKIP with REASON and finish the test here.
wpt_waypost_only() {
  wpt_is_real_waypost && return 0
  skip "$1"
  wpt_finish
}

# ---------------------------------------------------------------------------------------------
# Polling and assertions

# wait_for TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds; gives up once TIMEOUT_S
# (fractions allowed) of wall time have passed, however long each CMD takes.
wait_for() {
  local t=$1 deadline
  shift
  deadline=$(( ${EPOCHREALTIME/./} + $(awk -v t="$t" 'BEGIN { printf "%d", t * 1000000 }') ))
  while true; do
    "$@" >/dev/null 2>&1 && return 0
    (( ${EPOCHREALTIME/./} < deadline )) || return 1
    sleep 0.1
  done
}

assert_ok() { # assert_ok MSG CMD...
  local msg=$1
  shift
  if "$@"; then pass "$msg"; else fail "$msg"; return 1; fi
}

assert_not() { # assert_not MSG CMD...: CMD must fail
  local msg=$1
  shift
  if "$@"; then fail "$msg"; return 1; else pass "$msg"; fi
}

assert_eq() { # assert_eq ACTUAL EXPECTED MSG
  if [[ $1 == "$2" ]]; then pass "$3"; else fail "$3 (got '$1', expected '$2')"; return 1; fi
}

assert_ne() { # assert_ne ACTUAL UNEXPECTED MSG
  if [[ $1 != "$2" ]]; then pass "$3"; else fail "$3 (got '$1')"; return 1; fi
}

assert_match() { # assert_match TEXT ERE MSG (case-insensitive)
  if grep -Eiq -- "$2" <<<"$1"; then pass "$3"; else
    fail "$3 (no match for /$2/ in: $(head -c 400 <<<"$1" | tr '\n' '|'))"
    return 1
  fi
}

assert_contains() { # assert_contains TEXT FIXED_STRING MSG
  if grep -Fq -- "$2" <<<"$1"; then pass "$3"; else
    fail "$3 ('$2' not in: $(head -c 400 <<<"$1" | tr '\n' '|'))"
    return 1
  fi
}

assert_wait() { # assert_wait TIMEOUT_S MSG CMD...
  local t=$1 msg=$2
  shift 2
  if wait_for "$t" "$@"; then pass "$msg"; else fail "$msg (not within ${t}s)"; return 1; fi
}

# ---------------------------------------------------------------------------------------------
# Names, namespaces, links

# wpt_name VAR SUFFIX: sets VAR to a run-unique short name "w<id><suffix>" (<= 15 chars).
wpt_name() {
  local n="w${WPT_ID}$2"
  ((${#n} <= 15)) || die "name too long: $n"
  printf -v "$1" '%s' "$n"
}

# wpt_new_ifname VAR: a fresh tunnel interface name for this run (w<id>t<n>).
wpt_new_ifname() {
  WPT_SEQ=$((WPT_SEQ + 1))
  wpt_name "$1" "t$WPT_SEQ"
  WPT_IFNAMES+=("${!1}")
}

# ns_create VAR ROLE: creates namespace "wpt<id>-ROLE" with lo up, sets VAR to its name.
ns_create() {
  local ns="wpt${WPT_ID}-$2"
  ip netns add "$ns" || die "ip netns add $ns failed"
  WPT_NSES+=("$ns")
  ip -n "$ns" link set lo up
  printf -v "$1" '%s' "$ns"
}

nsx() { # nsx NS CMD...: run CMD inside NS
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# veth_link NS1 IF1 NS2 IF2: a veth pair with one end in each namespace, both up.
veth_link() {
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || die "veth $2<->$4 failed"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# ns_addr NS IF ADDR/PLEN...: add addresses (IPv6 ones with nodad, so they are usable at once).
ns_addr() {
  local ns=$1 dev=$2 a
  shift 2
  for a in "$@"; do
    if [[ $a == *:* ]]; then
      ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || die "addr $a on $ns/$dev failed"
    else
      ip -n "$ns" addr add "$a" dev "$dev" || die "addr $a on $ns/$dev failed"
    fi
  done
}

# Outer (underlay) and inner (tunnel) addresses, the same names in every topology.
TUN4_C=10.241.0.1
TUN4_S=10.241.0.2
TUN6_C=fd00:a241::1
TUN6_S=fd00:a241::2

# topo_pair: client ns <-> server ns on one veth.
#   NS_C/VETH_C 192.168.241.1/24 fd00:241::1/64  <->  NS_S/VETH_S 192.168.241.2/24 fd00:241::2/64
topo_pair() {
  ns_create NS_C client
  ns_create NS_S server
  wpt_name VETH_C vc
  wpt_name VETH_S vs
  veth_link "$NS_C" "$VETH_C" "$NS_S" "$VETH_S"
  OUT4_C=192.168.241.1 OUT4_S=192.168.241.2 OUT6_C=fd00:241::1 OUT6_S=fd00:241::2
  ns_addr "$NS_C" "$VETH_C" "$OUT4_C/24" "$OUT6_C/64"
  ns_addr "$NS_S" "$VETH_S" "$OUT4_S/24" "$OUT6_S/64"
  wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$OUT4_S" || die "pair: no IPv4 connectivity"
  wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$OUT6_S" || die "pair: no IPv6 connectivity"
  vlog "topology pair: $NS_C/$VETH_C <-> $NS_S/$VETH_S"
}

# topo_chain SUFFIX NET4_C NET6_C NET4_S NET6_S [NARROW_SIDE NARROW_MTU]: client ns -- router
# ns -- server ns on two veth links, forwarding on in the router (the lab of topo_routed, of
# mtu_lab_up in mtu_lib.sh and of test_doctor). Namespaces client|router|server<SUFFIX>, veths
# vc|vrc|vrs|vs<SUFFIX>. NET4_* are /24 networks given by their first three octets
# ("192.168.242"), NET6_* /64 networks by their prefix up to "::" ("fd00:242:"): the client is
# .1 / ::1 on its link, the server .2 / ::2 on its, the router .254 / ::fe on both, and client
# and server have default routes via the router. NARROW_SIDE "client" or "server": the link next
# to that end gets NARROW_MTU on both its ends. Returns once the client pings the server over
# IPv4 and IPv6. Sets NS_C NS_R NS_S VETH_C VETH_RC VETH_RS VETH_S OUT4_C OUT6_C OUT4_S OUT6_S
# GW4_C GW6_C GW4_S GW6_S.
topo_chain() {
  local sfx=$1 c4=$2 c6=$3 s4=$4 s6=$5 narrow=${6:-} mtu=${7:-}
  ns_create NS_C "client$sfx"
  ns_create NS_R "router$sfx"
  ns_create NS_S "server$sfx"
  wpt_name VETH_C "vc$sfx"
  wpt_name VETH_RC "vrc$sfx"
  wpt_name VETH_RS "vrs$sfx"
  wpt_name VETH_S "vs$sfx"
  veth_link "$NS_C" "$VETH_C" "$NS_R" "$VETH_RC"
  veth_link "$NS_R" "$VETH_RS" "$NS_S" "$VETH_S"
  OUT4_C=$c4.1 GW4_C=$c4.254 OUT6_C=$c6:1 GW6_C=$c6:fe
  OUT4_S=$s4.2 GW4_S=$s4.254 OUT6_S=$s6:2 GW6_S=$s6:fe
  ns_addr "$NS_C" "$VETH_C" "$OUT4_C/24" "$OUT6_C/64"
  ns_addr "$NS_R" "$VETH_RC" "$GW4_C/24" "$GW6_C/64"
  ns_addr "$NS_R" "$VETH_RS" "$GW4_S/24" "$GW6_S/64"
  ns_addr "$NS_S" "$VETH_S" "$OUT4_S/24" "$OUT6_S/64"
  case $narrow in
    client)
      ip -n "$NS_C" link set dev "$VETH_C" mtu "$mtu"
      ip -n "$NS_R" link set dev "$VETH_RC" mtu "$mtu"
      ;;
    server)
      ip -n "$NS_R" link set dev "$VETH_RS" mtu "$mtu"
      ip -n "$NS_S" link set dev "$VETH_S" mtu "$mtu"
      ;;
    "") ;;
    *) die "topo_chain: narrow side must be client or server" ;;
  esac
  nsx "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip -n "$NS_C" route add default via "$GW4_C"
  ip -n "$NS_C" -6 route add default via "$GW6_C"
  ip -n "$NS_S" route add default via "$GW4_S"
  ip -n "$NS_S" -6 route add default via "$GW6_S"
  wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$OUT4_S" || die "routed lab$sfx: no IPv4 connectivity"
  wait_for 5 nsx "$NS_C" ping -c 1 -W 1 "$OUT6_S" || die "routed lab$sfx: no IPv6 connectivity"
  vlog "topology routed$sfx: $NS_C -- $NS_R -- $NS_S${narrow:+, MTU $mtu next to the $narrow}"
}

# topo_routed: the standard topo_chain.
#   NS_C/VETH_C  192.168.242.1/24  fd00:242::1/64   --  VETH_RC 192.168.242.254 fd00:242::fe  (NS_R)
#   NS_S/VETH_S  192.168.243.2/24  fd00:243::2/64   --  VETH_RS 192.168.243.254 fd00:243::fe  (NS_R)
topo_routed() { topo_chain "" 192.168.242 fd00:242: 192.168.243 fd00:243:; }

# ---------------------------------------------------------------------------------------------
# Keys and wg-quick style configuration files

wg_genkey() { wg genkey; }
wg_pub() { wg pubkey <<<"$1"; }
wg_genpsk() { wg genpsk; }

# endpoint ADDR PORT: "a.b.c.d:p" or "[v6]:p"
endpoint() { if [[ $1 == *:* ]]; then echo "[$1]:$2"; else echo "$1:$2"; fi; }

# conf_path VAR IFNAME: path of the config file for IFNAME in the scratch dir.
conf_path() { printf -v "$1" '%s' "$WPT_SCRATCH/conf/$2.conf"; }

# conf_pair_new: fresh keys and interface names for a client/server tunnel: sets PRIV_C PUB_C
# PRIV_S PUB_S, IF_C IF_S (wpt_new_ifname) and CONF_C CONF_S (their config paths; the files are
# written with conf_interface / conf_peer).
conf_pair_new() {
  PRIV_C=$(wg_genkey) PRIV_S=$(wg_genkey)
  PUB_C=$(wg_pub "$PRIV_C") PUB_S=$(wg_pub "$PRIV_S")
  wpt_new_ifname IF_C
  wpt_new_ifname IF_S
  conf_path CONF_C "$IF_C"
  conf_path CONF_S "$IF_S"
}

# conf_interface FILE PRIVKEY LISTENPORT ADDRESSES [MTU] [EXTRA_LINE...]
#   ADDRESSES comma-separated with prefix lengths; LISTENPORT or MTU may be "" to omit.
conf_interface() {
  local f=$1 key=$2 port=$3 addrs=$4 mtu=${5:-}
  shift 4
  (($#)) && shift
  {
    echo "[Interface]"
    echo "PrivateKey = $key"
    [[ -n $port ]] && echo "ListenPort = $port"
    [[ -n $addrs ]] && echo "Address = $addrs"
    [[ -n $mtu ]] && echo "MTU = $mtu"
    local l
    for l in "$@"; do echo "$l"; done
  } >"$f"
  chmod 600 "$f"
}

# conf_peer FILE PUBKEY ALLOWEDIPS [ENDPOINT] [PSK] [KEEPALIVE]
conf_peer() {
  local f=$1
  {
    echo
    echo "[Peer]"
    echo "PublicKey = $2"
    [[ -n ${5:-} ]] && echo "PresharedKey = $5"
    echo "AllowedIPs = $3"
    [[ -n ${4:-} ]] && echo "Endpoint = $4"
    [[ -n ${6:-} ]] && echo "PersistentKeepalive = $6"
  } >>"$f"
}

# conf_strip CONF: the config without wg-quick's own keys, as `wg setconf` wants it.
conf_strip() {
  awk '{ l = tolower($0) }
       l ~ /^[ \t]*(address|dns|mtu|table|preup|postup|predown|postdown|saveconfig)[ \t]*=/ { next }
       { print }' "$1"
}

# conf_section_values SECTION CONF KEY: the comma/space separated values of KEY in every
# [SECTION] section (Interface or Peer) of CONF, one per line.
conf_section_values() {
  awk -v sect="[$(tr '[:upper:]' '[:lower:]' <<<"$1")]" -v key="$(tr '[:upper:]' '[:lower:]' <<<"$3")" '
       /^[ \t]*\[/ { insect = (index(tolower($0), sect) > 0); next }
       insect { line = $0; sub(/#.*/, "", line)
                if (match(tolower(line), "^[ \t]*" key "[ \t]*=")) {
                  v = substr(line, RLENGTH + 1); gsub(/[ \t]/, "", v)
                  n = split(v, parts, ","); for (i = 1; i <= n; i++) if (parts[i] != "") print parts[i] } }' "$2"
}

# conf_values CONF KEY: the values of KEY in [Interface], one per line.
conf_values() { conf_section_values Interface "$@"; }

# conf_peer_values CONF KEY: the values of KEY in every [Peer] section, one per line.
conf_peer_values() { conf_section_values Peer "$@"; }

conf_ifname() { basename "$1" .conf; }

# ---------------------------------------------------------------------------------------------
# Daemons

wg_sock() { echo "$WPT_UAPI_DIR/$1.sock"; }

# iface_up NS IF: the interface exists and is up.
iface_up() { ip -n "$1" link show dev "$2" 2>/dev/null | grep -q '[<,]UP[,>]'; }

# iface_ready NS IF: the tunnel interface exists, is up and answers on its UAPI socket.
iface_ready() { iface_up "$1" "$2" && wg show "$2" >/dev/null 2>&1; }

# iface_configure NS IF CONF: what wg-quick does after creating the interface: addresses, MTU,
# link up, a route per AllowedIPs entry (no default-route policy routing: tests never use /0).
iface_configure() {
  local ns=$1 ifn=$2 conf=$3 a mtu pfx
  for a in $(conf_values "$conf" Address); do ns_addr "$ns" "$ifn" "$a"; done
  mtu=$(conf_values "$conf" MTU | head -n1)
  [[ -n $mtu ]] && ip -n "$ns" link set dev "$ifn" mtu "$mtu"
  ip -n "$ns" link set dev "$ifn" up
  for pfx in $(wg show "$ifn" allowed-ips | cut -f2- | tr ' ' '\n' | grep -v '^(none)$'); do
    if [[ $pfx == *:* ]]; then
      ip -n "$ns" -6 route replace "$pfx" dev "$ifn"
    else
      ip -n "$ns" route replace "$pfx" dev "$ifn"
    fi
  done
}

# wggo_up PIDVAR NS CONF: start wireguard-go in NS with the wg-quick style CONF (interface
# named after the file), apply it with `wg setconf` and `ip`; log in $WPT_SCRATCH/logs/IF.log.
wggo_up() {
  local pvar=$1 ns=$2 conf=$3 ifn pid log
  ifn=$(conf_ifname "$conf")
  log=$WPT_SCRATCH/logs/$ifn.log
  [[ " ${WPT_IFNAMES[*]} " == *" $ifn "* ]] || WPT_IFNAMES+=("$ifn")
  ip netns exec "$ns" env LOG_LEVEL="${WPT_WGGO_LOG_LEVEL:-verbose}" wireguard-go -f "$ifn" >"$log" 2>&1 &
  pid=$!
  wpt_track_pid "$pid"
  printf -v "$pvar" '%s' "$pid"
  if ! wait_for 20 test -S "$(wg_sock "$ifn")"; then
    fail "wireguard-go $ifn in $ns did not start within 20 s"
    return 1
  fi
  if ! wg setconf "$ifn" <(conf_strip "$conf") 2>>"$log"; then
    fail "wg setconf $ifn failed"
    return 1
  fi
  iface_configure "$ns" "$ifn" "$conf"
  vlog "wireguard-go $ifn up in $ns (pid $pid)"
}

# wp_up PIDVAR NS CONF [EXTRA_ARGS...]: start the implementation under test in the foreground
# (`waypost up --foreground --log-level debug [EXTRA_ARGS] CONF`, output to logs/IF.log) and wait
# until its interface is up and answers on the UAPI socket. With WPT_WAYPOST_IMPL=wireguard-go
# it is wggo_up instead. Returns non-zero (after a FAIL line) if it does not come up.
wp_up() {
  local pvar=$1 ns=$2 conf=$3 ifn pid log
  shift 3
  if ! wpt_is_real_waypost; then
    wggo_up "$pvar" "$ns" "$conf"
    return
  fi
  ifn=$(conf_ifname "$conf")
  log=$WPT_SCRATCH/logs/$ifn.log
  [[ " ${WPT_IFNAMES[*]} " == *" $ifn "* ]] || WPT_IFNAMES+=("$ifn")
  WPT_WP_IFS+=("$ns $ifn")
  ip netns exec "$ns" "$WAYPOST_BIN" up --foreground --log-level "${WPT_WP_LOG_LEVEL:-debug}" "$@" "$conf" \
    >"$log" 2>&1 &
  pid=$!
  wpt_track_pid "$pid"
  printf -v "$pvar" '%s' "$pid"
  local i
  for ((i = 0; i < 300; i++)); do
    iface_ready "$ns" "$ifn" && break
    if ! wpt_pid_alive "$pid"; then
      fail "waypost up $ifn exited early"
      return 1
    fi
    sleep 0.1
  done
  if ! iface_ready "$ns" "$ifn"; then
    fail "waypost $ifn in $ns not up within 30 s"
    return 1
  fi
  vlog "waypost $ifn up in $ns (pid $pid)"
}

# wp_logfile IF: where wp_up / wggo_up put that interface's log.
wp_logfile() { echo "$WPT_SCRATCH/logs/$1.log"; }

# Stop a daemon started by wp_up / wggo_up (by its recorded PID; waypost via `waypost down`).
daemon_stop() { # daemon_stop NS IF PID
  if wpt_is_real_waypost && [[ " ${WPT_WP_IFS[*]} " == *"$1 $2"* ]]; then
    timeout 10 ip netns exec "$1" "$WAYPOST_BIN" down "$2" >/dev/null 2>&1
  fi
  wpt_stop_pid "$3"
}

# latest_handshake IF PEERPUB: unix time of the last handshake with that peer (0 = never).
latest_handshake() {
  wg show "$1" latest-handshakes 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}
# peer_endpoint IF PEERPUB: the endpoint `wg show` reports for that peer ("(none)" if unknown).
peer_endpoint() {
  wg show "$1" endpoints 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}
handshake_done() { local t; t=$(latest_handshake "$1" "$2"); [[ -n $t && $t != 0 ]]; }

# ---------------------------------------------------------------------------------------------
# Traffic

# ping_ok NS ADDR [TRIES]: succeeds once a ping gets an answer (first one may wait for a
# handshake); bounded by TRIES (default 10) one-second attempts.
ping_ok() {
  local i tries=${3:-10}
  for ((i = 0; i < tries; i++)); do
    ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  return 1
}

# ping_none NS ADDR [COUNT]: succeeds if none of COUNT pings (default 3) is answered.
ping_none() {
  ! ip netns exec "$1" ping -n -q -c "${3:-3}" -i 0.3 -W 1 "$2" >/dev/null 2>&1
}

# ping_stats NS DST COUNT INTERVAL: "median mean" of the round-trip times in ms ("" on failure).
ping_stats() {
  ip netns exec "$1" ping -n -c "$3" -i "$4" -W 2 "$2" 2>/dev/null |
    sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -g |
    awk '{ v[NR] = $1; s += $1 } END {
      if (NR == 0) exit
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.3f %.3f\n", m, s / NR }'
}

# xfer_start HANDLE NS_FROM NS_TO DST_ADDR [BYTES] [RATE_BYTES_PER_S] [TIMEOUT_S]
# Background transfer of BYTES (default 50 MiB) from NS_FROM to DST_ADDR (an address of NS_TO).
xfer_start() {
  local h=$1 from=$2 to=$3 dst=$4 bytes=${5:-$WPT_XFER_BYTES} rate=${6:-0} tmo=${7:-60}
  local d=$WPT_SCRATCH/xfer/$h port pid
  mkdir -p "$d"
  echo "$from -> $to ($dst)" >"$d/desc"
  echo "$tmo" >"$d/timeout"
  port=$((20000 + (RANDOM % 20000)))
  ip netns exec "$to" timeout $((tmo + 5)) "$WPT_PY" "$WPT_XFER" recv --bind "$dst" --port "$port" \
    --ready "$d/ready" --progress "$d/progress" --timeout "$tmo" >"$d/recv.json" 2>"$d/recv.err" &
  pid=$!
  wpt_track_pid "$pid"
  echo "$pid" >"$d/recv.pid"
  # Bounded generously: a Python start-up on a busy host can take seconds.
  if ! wait_for 30 test -f "$d/ready"; then
    echo "receiver did not start: $(cat "$d/recv.err")" >"$d/error"
    return 1
  fi
  ip netns exec "$from" timeout $((tmo + 5)) "$WPT_PY" "$WPT_XFER" send --host "$dst" --port "$port" \
    --bytes "$bytes" --rate "$rate" --timeout "$tmo" >"$d/send.json" 2>"$d/send.err" &
  pid=$!
  wpt_track_pid "$pid"
  echo "$pid" >"$d/send.pid"
}

xfer_running() { wpt_pid_alive "$(cat "$WPT_SCRATCH/xfer/$1/send.pid" 2>/dev/null)"; }

# xfer_received HANDLE: bytes the receiver has read so far (0 before the first byte).
xfer_received() { local n; n=$(cat "$WPT_SCRATCH/xfer/$1/progress" 2>/dev/null); echo "${n:-0}"; }

# xfer_received_at_least HANDLE BYTES: the receiver has read at least BYTES.
xfer_received_at_least() { (($(xfer_received "$1") >= $2)); }

# xfer_wait HANDLE: wait for both ends (each bounded by its own timeout), compare byte counts
# and SHA-256; prints one line with the throughput. Returns 0 if the data arrived intact.
xfer_wait() {
  local d=$WPT_SCRATCH/xfer/$1 pid secs
  [[ -f $d/error ]] && { echo "xfer $1: $(cat "$d/error")"; return 1; }
  secs=$(($(cat "$d/timeout") + 15))
  for pid in $(<"$d/send.pid") $(<"$d/recv.pid"); do
    wpt_wait_exit "$pid" "$secs"
    wait "$pid" 2>/dev/null
  done
  "$WPT_PY" - "$d" "$(cat "$d/desc")" <<'EOF'
import json, sys
d, desc = sys.argv[1], sys.argv[2]
def load(name):
    try:
        with open(f"{d}/{name}.json") as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception:
        try:
            err = open(f"{d}/{name}.err").read().strip()
        except Exception:
            err = ""
        return {"error": err or f"no result from {name}"}
s, r = load("send"), load("recv")
if "error" in s or "error" in r:
    print(f"xfer {desc}: failed: sender: {s.get('error', 'ok')}; receiver: {r.get('error', 'ok')}")
    sys.exit(1)
ok = s["bytes"] == r["bytes"] and s["sha256"] == r["sha256"]
print(f"xfer {desc}: {r['bytes'] / 1048576:.1f} MiB in {r['seconds']:.2f} s = {r['mbit_s']:.0f} Mbit/s, "
      f"sha256 {'match' if ok else 'MISMATCH'} ({r['sha256'][:16]}...)")
sys.exit(0 if ok else 1)
EOF
}

# xfer_field HANDLE KEY: a field of the receiver's JSON result, after xfer_wait: seconds (first
# byte to EOF), max_wait (the longest wait for data after the first byte), bytes, mbit_s.
xfer_field() { json_file_field "$WPT_SCRATCH/xfer/$1/recv.json" "$2"; }

# xfer NS_FROM NS_TO DST_ADDR [BYTES] [RATE] [TIMEOUT]: foreground transfer; 0 if intact.
xfer() {
  WPT_SEQ=$((WPT_SEQ + 1))
  local h="x$WPT_SEQ"
  xfer_start "$h" "$@" || { xfer_wait "$h"; return 1; }
  xfer_wait "$h"
}

# assert_xfer MSG NS_FROM NS_TO DST_ADDR [BYTES]: PASS/FAIL with the throughput line.
assert_xfer() {
  local msg=$1 out=$WPT_SCRATCH/xfer/last.out
  shift
  if xfer "$@" >"$out" 2>&1; then pass "$msg: $(cat "$out")"; else
    fail "$msg: $(cat "$out")"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Captures (tcpdump, always bounded by a duration and optionally by a packet count)

# cap_start HANDLE NS IF DURATION_S FILTER [COUNT]: capture to $WPT_SCRATCH/cap/HANDLE.pcap.
cap_start() {
  local h=$1 ns=$2 ifn=$3 dur=$4 filter=$5 count=${6:-}
  local f=$WPT_SCRATCH/cap/$h pid
  local cargs=()
  [[ -n $count ]] && cargs=(-c "$count")
  ip netns exec "$ns" timeout "$dur" tcpdump -i "$ifn" -n -U -s 256 "${cargs[@]}" -w "$f.pcap" \
    "$filter" >"$f.out" 2>"$f.err" &
  pid=$!
  wpt_track_pid "$pid"
  echo "$pid" >"$f.pid"
  wait_for 5 grep -q "listening on" "$f.err" || { echo "tcpdump did not start: $(cat "$f.err")" >&2; return 1; }
}

# cap_wait HANDLE: wait until the capture ends (its duration or count is reached).
cap_wait() { wait "$(cat "$WPT_SCRATCH/cap/$1.pid")" 2>/dev/null; return 0; }

# cap_read HANDLE [FILTER]: the capture as text, one packet per line, epoch timestamps.
cap_read() {
  tcpdump -r "$WPT_SCRATCH/cap/$1.pcap" -n -tt -q ${2:+"$2"} 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# A standard tunnel between the client and server namespaces of a topology

# tunnel_up CLIENT_IMPL SERVER_IMPL OUTER_FAMILY PSK INITIATOR [CLIENT_KEEPALIVE]
#   *_IMPL: wggo (wireguard-go) or wp (the implementation under test, see wp_up)
#   OUTER_FAMILY: 4 or 6 (which outer addresses the Endpoint uses); PSK: 0 or 1
#   INITIATOR: client | server | both -- which side(s) get an Endpoint for the other
# Tunnel: client 10.241.0.1/24 fd00:a241::1/64 port 51001, server .2 / ::2 port 51002, MTU 1420.
# Sets IF_C IF_S PID_C PID_S PRIV_C PUB_C PRIV_S PUB_S PSK_KEY CONF_C CONF_S.
tunnel_up() {
  local cimpl=$1 simpl=$2 fam=$3 usepsk=$4 init=$5 ka=${6:-} ep_c="" ep_s=""
  conf_pair_new
  PSK_KEY=""
  ((usepsk)) && PSK_KEY=$(wg_genpsk)
  if [[ $fam == 6 ]]; then
    [[ $init == client || $init == both ]] && ep_c=$(endpoint "$OUT6_S" 51002)
    [[ $init == server || $init == both ]] && ep_s=$(endpoint "$OUT6_C" 51001)
  else
    [[ $init == client || $init == both ]] && ep_c=$(endpoint "$OUT4_S" 51002)
    [[ $init == server || $init == both ]] && ep_s=$(endpoint "$OUT4_C" 51001)
  fi
  conf_interface "$CONF_C" "$PRIV_C" 51001 "$TUN4_C/24,$TUN6_C/64" 1420
  conf_peer "$CONF_C" "$PUB_S" "$TUN4_S/32,$TUN6_S/128" "$ep_c" "$PSK_KEY" "$ka"
  conf_interface "$CONF_S" "$PRIV_S" 51002 "$TUN4_S/24,$TUN6_S/64" 1420
  conf_peer "$CONF_S" "$PUB_C" "$TUN4_C/32,$TUN6_C/128" "$ep_s" "$PSK_KEY"
  PID_C="" PID_S=""
  _impl_up "$simpl" PID_S "$NS_S" "$CONF_S" || return 1
  _impl_up "$cimpl" PID_C "$NS_C" "$CONF_C" || return 1
}

_impl_up() { # _impl_up wggo|wp PIDVAR NS CONF
  case $1 in
    wggo) wggo_up "$2" "$3" "$4" ;;
    wp) wp_up "$2" "$3" "$4" ;;
    *) die "unknown implementation $1" ;;
  esac
}

# tunnel_handshaked: both ends of the tunnel_up tunnel report a handshake with each other.
tunnel_handshaked() { handshake_done "$IF_C" "$PUB_S" && handshake_done "$IF_S" "$PUB_C"; }

# tunnel_down: stop both ends started by tunnel_up.
tunnel_down() {
  [[ -n ${PID_C:-} ]] && daemon_stop "$NS_C" "$IF_C" "$PID_C"
  [[ -n ${PID_S:-} ]] && daemon_stop "$NS_S" "$IF_S" "$PID_S"
  PID_C="" PID_S=""
}

impl_label() { case $1 in wggo) echo wireguard-go ;; wp) wpt_is_real_waypost && echo waypost || echo "waypost(=wireguard-go)" ;; sw) echo strongswan-libipsec ;; wpi) echo waypost-ipsec ;; esac; }

# ---------------------------------------------------------------------------------------------
# Full-tunnel clients from generated profiles, HTTP downloads, JSON

# endpoint_host ENDPOINT: the host part of "a.b.c.d:p" or "[v6]:p".
endpoint_host() {
  local e=${1%:*}
  e=${e#[}
  echo "${e%]}"
}

# wgq_client_up PIDVAR NS CONF IFNAME UPLINK_GW: what `wg-quick up CONF` does for a full-tunnel
# profile (AllowedIPs 0.0.0.0/0, ::/0), with plain routes instead of wg-quick's fwmark policy
# routing: a host route to each peer's Endpoint via UPLINK_GW (an IPv4 or IPv6 gateway on the
# client's uplink), then wireguard-go IFNAME loaded with the WireGuard-only keys (`wg setconf` of
# conf_strip), the Address(es), the MTU, link up, and a route per AllowedIPs entry through the
# tunnel (0.0.0.0/0 and ::/0 become the default routes). DNS is ignored. The profile is copied
# to $WPT_SCRATCH/conf/IFNAME.conf (wggo_up names the interface after the file).
wgq_client_up() {
  local pvar=$1 ns=$2 conf=$3 ifn=$4 gw=$5 copy ep host
  [[ -r $conf ]] || { fail "client profile $conf not readable"; return 1; }
  conf_path copy "$ifn"
  cp "$conf" "$copy" && chmod 600 "$copy"
  for ep in $(conf_peer_values "$conf" Endpoint); do
    host=$(endpoint_host "$ep")
    if [[ $host == *:* ]]; then
      ip -n "$ns" -6 route replace "$host/128" via "$gw" || { fail "route to $host via $gw in $ns"; return 1; }
    else
      ip -n "$ns" route replace "$host/32" via "$gw" || { fail "route to $host via $gw in $ns"; return 1; }
    fi
  done
  wggo_up "$pvar" "$ns" "$copy"
}

# http_serve PIDVAR NS ADDR PORT DIR LOG: python's http.server for DIR on ADDR:PORT in NS (one
# request line per download in LOG, client address first); waits until it listens.
http_serve() {
  local pvar=$1 ns=$2 addr=$3 port=$4 dir=$5 log=$6 pid
  ip netns exec "$ns" "$WPT_PY" -u -m http.server --bind "$addr" --directory "$dir" "$port" >"$log" 2>&1 &
  pid=$!
  wpt_track_pid "$pid"
  printf -v "$pvar" '%s' "$pid"
  wait_for 20 tcp_listening "$ns" "$port"
}

# tcp_listening NS PORT: something in NS listens on TCP PORT.
tcp_listening() { ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; }

# http_get_start HANDLE NS URL [RATE_BYTES_PER_S] [TIMEOUT_S]: background download with
# httpget.py (checksum, duration, longest wait for data) from NS.
http_get_start() {
  local h=$1 ns=$2 url=$3 rate=${4:-0} tmo=${5:-60} d=$WPT_SCRATCH/http pid
  mkdir -p "$d"
  echo "$url" >"$d/$h.url"
  echo "$tmo" >"$d/$h.timeout"
  rm -f "$d/$h.json" "$d/$h.err"
  ip netns exec "$ns" timeout $((tmo + 5)) "$WPT_PY" "$WPT_LIB_DIR/httpget.py" "$url" --rate "$rate" \
    --timeout "$tmo" >"$d/$h.json" 2>"$d/$h.err" &
  pid=$!
  wpt_track_pid "$pid"
  echo "$pid" >"$d/$h.pid"
}

http_get_running() { wpt_pid_alive "$(cat "$WPT_SCRATCH/http/$1.pid" 2>/dev/null)"; }

# http_get_wait HANDLE SHA256: wait (bounded by the download's own timeout) and print one line;
# 0 if it succeeded and the body's SHA-256 is SHA256.
http_get_wait() {
  local h=$1 want=$2 d=$WPT_SCRATCH/http pid
  pid=$(cat "$d/$h.pid")
  wpt_wait_exit "$pid" $(($(cat "$d/$h.timeout") + 10))
  wait "$pid" 2>/dev/null
  "$WPT_PY" - "$d/$h" "$(cat "$d/$h.url")" "$want" <<'PYEOF'
import json, sys
base, url, want = sys.argv[1:4]
try:
    r = json.loads(open(base + ".json").read().strip().splitlines()[-1])
except Exception:
    r = None
err = open(base + ".err").read().strip()
if r is None:
    print(f"GET {url}: failed: {err or 'no result'}")
    sys.exit(1)
ok = not err and r["status"] == 200 and r["sha256"] == want
print(f"GET {url}: {r['bytes'] / 1048576:.1f} MiB in {r['seconds']:.2f} s = {r['mbit_s']:.0f} Mbit/s, "
      f"longest wait {r['max_wait']:.2f} s, sha256 {'match' if r['sha256'] == want else 'MISMATCH'}"
      + (f" ({err})" if err else ""))
sys.exit(0 if ok else 1)
PYEOF
}

# http_field HANDLE KEY: a field of the download's JSON result (after http_get_wait).
http_field() { json_file_field "$WPT_SCRATCH/http/$1.json" "$2"; }

# assert_http_get MSG HANDLE NS URL SHA256 [RATE] [TIMEOUT]: foreground download, PASS/FAIL
# with the summary line.
assert_http_get() {
  local msg=$1 h=$2 out
  shift 2
  http_get_start "$h" "$1" "$2" "${4:-0}" "${5:-60}"
  if out=$(http_get_wait "$h" "$3"); then pass "$msg: $out"; else fail "$msg: $out"; return 1; fi
}

# json_q EXPR: evaluate the Python expression EXPR over j, the JSON read from stdin; strings are
# printed as they are, anything else as JSON (true, null, [...]). Empty output on bad JSON.
json_q() {
  "$WPT_PY" -c '
import json, sys
try:
    j = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception as e:
    print(f"json_q: {e}", file=sys.stderr)
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$1"
}

# json_file_field FILE KEY: KEY of the JSON object on FILE's last line (xfer.py, httpget.py
# results; empty on failure).
json_file_field() {
  "$WPT_PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' \
    "$1" "$2" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Server mode (`waypost server ...`; test_server, test_faults, test_dns, test_doctor,
# test_secrets, bench/dns.sh)

# The CLI that answers `server ...` commands: waypost, or with WPT_WAYPOST_IMPL=wireguard-go the
# stand-in standin_server.py (wireguard-go + wg + nft), to validate test_server's other side.
if [[ $WPT_WAYPOST_IMPL == waypost ]]; then
  WPT_WP_CLI=("$WAYPOST_BIN")
else
  WPT_WP_CLI=("$WPT_PY" "$WPT_LIB_DIR/standin_server.py")
fi

# wp_cli NS ARGS...: that CLI in NS, bounded by 30 s.
wp_cli() {
  local ns=$1
  shift
  timeout 30 ip netns exec "$ns" "${WPT_WP_CLI[@]}" "$@"
}

# wp_server_init NS DIR LOG ARGS...: `server init --dir DIR ARGS` in NS, output in LOG.
wp_server_init() {
  local ns=$1 dir=$2 log=$3
  shift 3
  wp_cli "$ns" server init --dir "$dir" "$@" >"$log" 2>&1
}

# wp_server_status NS DIR: `server status --dir DIR --json` (empty on failure).
wp_server_status() { wp_cli "$1" server status --dir "$2" --json 2>/dev/null; }

# wp_server_running NS DIR: the status says running.
wp_server_running() { [[ $(wp_server_status "$1" "$2" | json_q 'j["running"]') == true ]]; }

# wp_server_start PIDVAR NS LOG TIMEOUT_S READY ARGS...: `server up ARGS` in the background in NS
# (output in LOG, PID recorded and set in PIDVAR), then poll the command READY (no arguments: a
# function of the caller) every 0.1 s until it succeeds. Returns 0 once READY, 1 if the server
# exited first, 2 if it was not READY within TIMEOUT_S (wall time; it keeps running then).
wp_server_start() {
  local pvar=$1 ns=$2 log=$3 tmo=$4 ready=$5 pid deadline
  shift 5
  ip netns exec "$ns" "${WPT_WP_CLI[@]}" server up "$@" >"$log" 2>&1 &
  pid=$!
  wpt_track_pid "$pid"
  printf -v "$pvar" '%s' "$pid"
  deadline=$(( ${EPOCHREALTIME/./} + tmo * 1000000 ))
  while true; do
    "$ready" >/dev/null 2>&1 && return 0
    wpt_pid_alive "$pid" || return 1
    (( ${EPOCHREALTIME/./} < deadline )) || return 2
    sleep 0.1
  done
}

# wp_server_stop PID [RCVAR]: SIGTERM, up to 10 s for it to exit (then SIGKILL, and return 1);
# its exit status goes to RCVAR.
wp_server_stop() {
  local pid=$1 ok=0 st
  kill -TERM "$pid" 2>/dev/null
  if ! wpt_wait_exit "$pid" 10; then
    kill -KILL "$pid" 2>/dev/null
    ok=1
  fi
  wait "$pid" 2>/dev/null
  st=$?
  [[ -n ${2:-} ]] && printf -v "$2" '%s' "$st"
  return "$ok"
}

# server_cfg_set CFG KEY YAML: replace a top-level key of a server's config.yaml (with its
# indented lines) by "KEY: YAML", atomically, keeping the file's mode; fails if KEY is absent.
server_cfg_set() {
  "$WPT_PY" - "$@" <<'PYEOF'
import os, sys
path, key, value = sys.argv[1:4]
lines = open(path).read().splitlines(True)
out, i, found = [], 0, False
while i < len(lines):
    if lines[i].startswith(key + ":"):
        out.append(f"{key}: {value}\n")
        found = True
        i += 1
        while i < len(lines) and lines[i][:1] in (" ", "\t"):
            i += 1
        continue
    out.append(lines[i])
    i += 1
if not found:
    sys.exit(f"{key} not in {path}")
with open(path + ".tmp", "w") as f:
    f.write("".join(out))
os.chmod(path + ".tmp", os.stat(path).st_mode & 0o7777)
os.replace(path + ".tmp", path)
PYEOF
}

# ---------------------------------------------------------------------------------------------
# Daemon counters and resource use, the flood tool, and a UDP impairment relay
# (test_faults, test_flood, test_no_leak, test_secrets)

# wp_show NS IF: `waypost show IF --json` (empty on failure; bounded by 5 s).
wp_show() { timeout 5 ip netns exec "$1" "$WAYPOST_BIN" show "$2" --json 2>/dev/null; }

# wp_counter NS IF NAME: one of the "counters" of wp_show ("" on failure).
wp_counter() { wp_show "$1" "$2" | json_q "j['counters']['$3']" 2>/dev/null; }

# proc_cpu_ticks PID: user + system CPU time of PID (all its threads) in clock ticks.
proc_cpu_ticks() { sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

# proc_status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM, ...).
proc_status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# proc_threads PID: number of threads of PID.
proc_threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

# wg_flood_find VAR: sets VAR to the wg_flood tool (WG_FLOOD_BIN, else next to WAYPOST_BIN's
# build tree: $(dirname WAYPOST_BIN)/../tests/tools/wg_flood); fails if it is not executable.
wg_flood_find() {
  local f=${WG_FLOOD_BIN:-$(dirname "$WAYPOST_BIN")/../tests/tools/wg_flood}
  [[ -x $f ]] || return 1
  printf -v "$1" '%s' "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
}

# udp_impair_start PIDVAR NS LISTEN UPSTREAM [--loss P] [--dup P] [--reorder P]
#                  [--delay-max-ms MS] [--duration S]
# A UDP relay in NS standing in for a lossy path (the kernel here has no netem): datagrams to
# LISTEN ("a.b.c.d:p" or "[v6]:p") go to UPSTREAM from an ephemeral port, and the upstream's
# answers go back to the last sender seen on LISTEN. Each datagram, in each direction, is
# dropped with probability --loss; otherwise sent twice with probability --dup; each copy is
# held back for a uniform 1..--delay-max-ms ms with probability --reorder (so later datagrams
# overtake it), else forwarded at once. Bounded by --duration (default 600 s). Statistics
# (JSON: received, dropped, duplicated, delayed, sent, send_errors) are rewritten every second
# to $WPT_SCRATCH/impair-PID.json; udp_impair_stats PID prints them.
udp_impair_start() {
  local pvar=$1 ns=$2 listen=$3 upstream=$4 pid ready
  shift 4
  _udp_impair_write_script
  ready=$WPT_SCRATCH/impair-ready.$RANDOM$RANDOM
  ip netns exec "$ns" "$WPT_PY" "$WPT_SCRATCH/udp_impair.py" --listen "$listen" --upstream "$upstream" \
    --ready "$ready" --stats-dir "$WPT_SCRATCH" "$@" >>"$WPT_SCRATCH/logs/impair.log" 2>&1 &
  pid=$!
  wpt_track_pid "$pid"
  printf -v "$pvar" '%s' "$pid"
  wait_for 10 test -f "$ready" || { fail "UDP impairment relay on $listen did not start"; return 1; }
}

udp_impair_stats() { cat "$WPT_SCRATCH/impair-$1.json" 2>/dev/null; }

_udp_impair_write_script() {
  [[ -f $WPT_SCRATCH/udp_impair.py ]] && return 0
  cat >"$WPT_SCRATCH/udp_impair.py" <<'PYEOF'
import argparse, heapq, json, os, random, select, signal, socket, time

def endpoint(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--upstream", required=True)
ap.add_argument("--loss", type=float, default=0.0)
ap.add_argument("--dup", type=float, default=0.0)
ap.add_argument("--reorder", type=float, default=0.0)
ap.add_argument("--delay-max-ms", type=float, default=50.0)
ap.add_argument("--duration", type=float, default=600.0)
ap.add_argument("--ready", required=True)
ap.add_argument("--stats-dir", required=True)
a = ap.parse_args()
rng = random.random
lfam, laddr = endpoint(a.listen)
ufam, uaddr = endpoint(a.upstream)
down = socket.socket(lfam, socket.SOCK_DGRAM)
down.bind(laddr)
up = socket.socket(ufam, socket.SOCK_DGRAM)
up.connect(uaddr)
for s in (down, up):
    s.setblocking(False)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
        except OSError:
            pass
stats = dict(received=0, dropped=0, duplicated=0, delayed=0, sent=0, send_errors=0)
stats_path = os.path.join(a.stats_dir, f"impair-{os.getpid()}.json")
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
def write_stats():
    tmp = stats_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, stats_path)
write_stats()
open(a.ready, "w").write("ready\n")
client = None
heap = []
seq = 0
def send(sock, data, dst):
    try:
        if dst is None:
            sock.send(data)
        else:
            sock.sendto(data, dst)
        stats["sent"] += 1
    except OSError:
        stats["send_errors"] += 1
poller = select.poll()
poller.register(down, select.POLLIN)
poller.register(up, select.POLLIN)
dfd = down.fileno()
deadline = time.monotonic() + a.duration
next_stats = time.monotonic() + 1
delay_max = a.delay_max_ms / 1000.0
while not stop:
    now = time.monotonic()
    if now >= deadline:
        break
    while heap and heap[0][0] <= now:
        _, _, sock, data, dst = heapq.heappop(heap)
        send(sock, data, dst)
    if now >= next_stats:
        write_stats()
        next_stats = now + 1
    timeout = min(next_stats, deadline) - now
    if heap:
        timeout = min(timeout, heap[0][0] - now)
    try:
        events = poller.poll(max(0, int(timeout * 1000) + 1) if timeout > 0 else 0)
    except InterruptedError:
        continue
    for fd, _ in events:
        sock = down if fd == dfd else up
        for _ in range(256):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # e.g. ECONNREFUSED reported on the connected upstream socket
            stats["received"] += 1
            if sock is down:
                client = addr
                out, dst = up, None
            else:
                if client is None:
                    continue
                out, dst = down, client
            if rng() < a.loss:
                stats["dropped"] += 1
                continue
            copies = 1
            if rng() < a.dup:
                copies = 2
                stats["duplicated"] += 1
            for _ in range(copies):
                if a.reorder > 0 and rng() < a.reorder:
                    stats["delayed"] += 1
                    seq += 1
                    heapq.heappush(heap, (time.monotonic() + 0.001 + rng() * max(0.0, delay_max - 0.001), seq, out, data, dst))
                else:
                    send(out, data, dst)
write_stats()
PYEOF
}

# ---------------------------------------------------------------------------------------------
# strongSwan as the IPsec peer: charon with kernel-libipsec (userspace ESP in UDP; this kernel
# has no ESP), one private instance per namespace (../shared/LAB-NOTES.md): its own
# strongswan.conf, swanctl directory, vici socket and /run (bind-mounted inside `ip netns exec`'s
# private mount namespace, because charon's pid file path is compiled in), its log in logs/.

# sw_start NS: starts charon in NS; its state directory is sw_dir NS, its PID SW_PID. Waits for
# the vici socket. charon binds UDP 500 and 4500 on every address of NS. SW_CHARON_EXTRA, if
# set, is one more line of charon settings ("signature_authentication = no").
sw_dir() { echo "$WPT_SCRATCH/sw-$1"; }
sw_start() {
  local ns=$1 dir
  dir=$(sw_dir "$ns")
  mkdir -p "$dir/run" "$dir/resolv" "$WPT_SCRATCH/logs"
  mkdir -p "$dir/swanctl"/{conf.d,x509,x509ca,x509aa,x509ocsp,x509crl,x509ac,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
  cat >"$dir/strongswan.conf" <<SWEOF
charon {
  ${SW_CHARON_EXTRA:-}
  # kdf is needed for key derivation; kernel-libipsec must come before kernel-netlink.
  load = random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey sha1 sha2 hmac gcm aes kdf kernel-libipsec kernel-netlink socket-default vici resolve
  plugins {
    vici { socket = unix://$dir/charon.vici }
    resolve { file = $dir/resolv/resolv.conf }
  }
  filelog {
    charon-log {
      path = $WPT_SCRATCH/logs/charon-$ns.log
      time_format = %H:%M:%S
      default = 1
      ike = 2
      cfg = 2
      flush_line = yes
    }
  }
  syslog { daemon { default = -1 } }
}
SWEOF
  STRONGSWAN_CONF=$dir/strongswan.conf ip netns exec "$ns" \
    sh -c "mount --bind '$dir/run' /run && exec /usr/lib/ipsec/charon" >/dev/null 2>&1 &
  SW_PID=$!
  wpt_track_pid "$SW_PID"
  wait_for 15 test -S "$dir/charon.vici" || die "charon in $ns did not open its vici socket"
}

# sw_ctl NS ARGS...: swanctl against that namespace's charon.
sw_ctl() {
  local ns=$1 dir
  dir=$(sw_dir "$ns")
  shift
  SWANCTL_DIR=$dir/swanctl STRONGSWAN_CONF=$dir/strongswan.conf \
    timeout 60 swanctl "$@" --uri "unix://$dir/charon.vici"
}

# sw_load NS CONF_TEXT: writes swanctl.conf and loads everything (connections, secrets, pools).
sw_load() {
  printf '%s\n' "$2" >"$(sw_dir "$1")/swanctl/swanctl.conf"
  sw_ctl "$1" --load-all --noprompt >/dev/null 2>&1
}

# sw_sas NS: `swanctl --list-sas` as text (IKE SAs with state, CHILD SAs with INSTALLED, TS).
sw_sas() { sw_ctl "$1" --list-sas 2>/dev/null; }

# ike_peer_find VAR: the ike_peer tool (IKE_PEER_BIN, else next to WAYPOST_BIN's build tree).
ike_peer_find() {
  local f=${IKE_PEER_BIN:-$(dirname "$WAYPOST_BIN")/../tests/tools/ike_peer}
  [[ -x $f ]] || return 1
  printf -v "$1" '%s' "$f"
}

# ---------------------------------------------------------------------------------------------
# ESP tunnels between the client and server namespaces: strongSwan (charon + kernel-libipsec,
# "sw") or `waypost ipsec` ("wpi") at either end, PSK, site to site between 10.250.0.1 (client,
# on lo) and 10.250.1.2 (server, on lo), the client initiating. For benchmarks and tests that
# compare implementations. Sets ESP_IN_C ESP_IN_S PID_C PID_S ESP_CIMPL ESP_SIMPL, and ESP_NAME /
# ESP_NAME_S, the `waypost ipsec` instance names at the client / server (control sockets live in
# one /run shared by every namespace, so the two ends need different names).

ESP_IN_C=10.250.0.1
ESP_IN_S=10.250.1.2
ESP_PSK='0sv+NkxY9LLZvwj4qCC2o/gGrWDF2d21jL'

# _esp_conf SIDE LOCAL_ADDR REMOTE_ADDR PROPOSALS ESP_PROPOSALS: swanctl.conf text for one end.
_esp_conf() {
  local side=$1 local_addr=$2 remote_addr=$3 ike=$4 esp=$5 lts rts lid rid
  if [[ $side == client ]]; then
    lts=10.250.0.0/24 rts=10.250.1.0/24 lid=sun.example.org rid=moon.example.org
  else
    lts=10.250.1.0/24 rts=10.250.0.0/24 lid=moon.example.org rid=sun.example.org
  fi
  cat <<CONF
connections {
  gw {
    local_addrs = $local_addr
    remote_addrs = $remote_addr
    proposals = $ike
    local { auth = psk
            id = $lid }
    remote { auth = psk
             id = $rid }
    children { net { local_ts = $lts
                     remote_ts = $rts
                     esp_proposals = $esp } }
  }
}
secrets { ike-1 { id-1 = moon.example.org
                  id-2 = sun.example.org
                  secret = $ESP_PSK } }
CONF
}

# _esp_end_up IMPL NS NAME PIDVAR CONF_TEXT
_esp_end_up() {
  local impl=$1 ns=$2 name=$3 conf
  case $impl in
    sw)
      sw_start "$ns"
      printf -v "$4" '%s' "$SW_PID"
      sw_load "$ns" "$5" || return 1
      ;;
    wpi)
      mkdir -p "$WPT_SCRATCH/conf"
      conf=$WPT_SCRATCH/conf/$name.conf
      printf '%s\n' "$5" >"$conf"
      chmod 600 "$conf"
      timeout 20 ip netns exec "$ns" "$WAYPOST_BIN" ipsec up "$conf" \
        --log-level "${WPT_WP_LOG_LEVEL:-debug}" --log-file "$WPT_SCRATCH/logs/ipsec-$ns.log" \
        >/dev/null 2>&1 || return 1
      printf -v "$4" '%s' "$(cat "/var/run/waypost/ipsec/$name.pid")"
      wpt_track_pid "${!4}"
      ;;
    *) die "unknown IPsec implementation $impl" ;;
  esac
}

# esp_tunnel_up CIMPL SIMPL [IKE_PROPOSALS] [ESP_PROPOSALS]: both ends up and configured (the
# SAs are not established yet: esp_initiate does that).
esp_tunnel_up() {
  local cimpl=$1 simpl=$2 ike=${3:-aes256gcm16-prfsha512-ecp384} esp=${4:-aes256gcm16-ecp384}
  ESP_CIMPL=$cimpl ESP_SIMPL=$simpl PID_C="" PID_S=""
  wpt_name ESP_NAME espc
  wpt_name ESP_NAME_S esps
  ip -n "$NS_C" addr replace "$ESP_IN_C/32" dev lo
  ip -n "$NS_S" addr replace "$ESP_IN_S/32" dev lo
  _esp_end_up "$simpl" "$NS_S" "$ESP_NAME_S" PID_S "$(_esp_conf server "$OUT4_S" "$OUT4_C" "$ike" "$esp")" || return 1
  _esp_end_up "$cimpl" "$NS_C" "$ESP_NAME" PID_C "$(_esp_conf client "$OUT4_C" "$OUT4_S" "$ike" "$esp")" || return 1
}

# esp_initiate: the client brings the CHILD SA up (returns once it is up, or fails).
esp_initiate() {
  case $ESP_CIMPL in
    sw) sw_ctl "$NS_C" --initiate --child net --timeout 20 >/dev/null 2>&1 ;;
    wpi) timeout 30 ip netns exec "$NS_C" "$WAYPOST_BIN" ipsec initiate "$ESP_NAME" --child net >/dev/null 2>&1 ;;
  esac
}

# esp_terminate: the client deletes the IKE SA.
esp_terminate() {
  case $ESP_CIMPL in
    sw) sw_ctl "$NS_C" --terminate --ike gw --timeout 10 >/dev/null 2>&1 ;;
    wpi) timeout 10 ip netns exec "$NS_C" "$WAYPOST_BIN" ipsec terminate "$ESP_NAME" --ike gw >/dev/null 2>&1 ;;
  esac
}

# esp_tunnel_down: both ends stopped.
esp_tunnel_down() {
  local impl ns name pid end
  for end in "$ESP_CIMPL $NS_C $ESP_NAME ${PID_C:-}" "$ESP_SIMPL $NS_S $ESP_NAME_S ${PID_S:-}"; do
    read -r impl ns name pid <<<"$end"
    [[ -z $pid ]] && continue
    [[ $impl == wpi ]] && timeout 10 ip netns exec "$ns" "$WAYPOST_BIN" ipsec down "$name" >/dev/null 2>&1
    wpt_stop_pid "$pid" 5
  done
  PID_C="" PID_S=""
}

# ---------------------------------------------------------------------------------------------
# `waypost ipsec` instances

# wp_ipsec NS ARGS...: `waypost ipsec ARGS` in NS, bounded by 40 s.
wp_ipsec() {
  local ns=$1
  shift
  timeout 40 ip netns exec "$ns" "$WAYPOST_BIN" ipsec "$@"
}
# wpi_up NS CONF: `waypost ipsec up CONF` in NS (the instance is named after CONF), logging at
# debug level to logs/ipsec-NS.log; its output in ipsec-up.out; tracks the daemon's PID.
wpi_up() {
  chmod 600 "$2"
  wp_ipsec "$1" up "$2" --log-file "$WPT_SCRATCH/logs/ipsec-$1.log" --log-level debug \
    >"$WPT_SCRATCH/ipsec-up.out" 2>&1 || return 1
  wpt_track_pid "$(wpi_pid "$(basename "$2" .conf)")"
}
wpi_pid() { cat "/var/run/waypost/ipsec/$1.pid" 2>/dev/null; }
# wpi_status NS NAME: `waypost ipsec status NAME --json`.
wpi_status() { wp_ipsec "$1" status "$2" --json 2>/dev/null; }
# wpi_log NS: the instance's log in NS.
wpi_log() { cat "$WPT_SCRATCH/logs/ipsec-$1.log"; }
