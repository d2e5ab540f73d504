#!/usr/bin/env bash
# The path-MTU blackhole of shared/LAB-NOTES.md, reproduced with stock WireGuard peers and then
# fixed by Waypost (docs/MTU.md: path MTU probing, MSS clamping, ICMP toward the local stack).
#
# Lab (mtu_lib.sh; fresh namespaces per case): client -- router -- server, the link next to
# the CLIENT (or, in the upload variant, next to the SERVER) at MTU 1454 on both ends, and the
# router dropping every ICMP frag-needed / packet-too-big it would send or forward. An HTTP
# server (python http.server on [::]:8080, a 2 MiB random file of known SHA-256) runs in the
# server namespace; the client fetches it from the server's tunnel address. Uploads use xfer.py
# (client -> server, SHA-256 compared). Tunnel: client 192.0.2.1/24 fd00:192::1/64, server .2
# / ::2; the server knows the client by its /32 + /128 only (as a road-warrior server does), so
# a Waypost server probes the client's path. A control's transfer must stall for
# MTU_XFER_TIMEOUT (default 20 s); a transfer that must complete is bounded by MTU_DONE_TIMEOUT
# (default 60 s: it ends as soon as it completes, the bound only keeps a busy host from turning
# a slow success into a failure), and so are the waits for Waypost's path MTU search. Each case
# runs with IPv4 and with IPv6 outer transport.
#
# LIMIT below is the largest inner packet whose WireGuard datagram fits the narrow link when
# the sender pads to 16 bytes (interface MTU 1420): IPv4 outer 1392, IPv6 outer 1360.
#
# narrow link next to the CLIENT (downloads, server -> client):
#   (a) control, wireguard-go <-> wireguard-go, MTU 1420 both: pings, a small HTTP GET through
#       the tunnel and a plain routed 2 MiB GET (outside the tunnel) all work, but the 2 MiB
#       GET through the tunnel (inner IPv4 and inner IPv6) does NOT complete within the timeout,
#       and the router dropped ICMP errors. If it completes the lab is wrong: the test dies.
#   (b) Waypost server (MTU 1420) + wireguard-go client (MTU 1420, a stock client): the 2 MiB
#       GET started right after the handshake completes with a matching SHA-256 (inner IPv4 and
#       IPv6) and mss_clamped > 0 (its SYN passed before the search had a verdict on the
#       interface MTU, so it was clamped to what the search had confirmed: see
#       test_mtu_first_flow.sh); the server's path MTU toward the client settles in
#       [LIMIT-7, LIMIT] (the search resolution is 8); a second GET completes.
#       (b0) the same, IPv4 outer only, with WAYPOST_OFFLOADS=0 on the server: the other data
#       path (no TUN TSO, no UDP GSO: the server's stack hands over packets one by one). Before
#       the socket used IP_PMTUDISC_PROBE this was the only IPv4 case that tested the MTU
#       policy: the kernel sent UDP GSO batches without DF and the router fragmented them.
#   (c) Waypost on both ends (server MTU 1420, client MTU automatic): the immediate GET
#       completes; both ends' path MTUs settle in [LIMIT-7, LIMIT]; a GET after that completes
#       and mss_clamped (client + server) > 0.
#   (d) Waypost client (MTU automatic) + wireguard-go server (MTU 1420): the client's automatic
#       MTU must fit the narrow link even after the peer pads to 16 (<= LIMIT), and the GET
#       started right after the handshake completes; the client's path MTU settles in
#       [LIMIT-7, LIMIT], and a GET after that completes with the client's mss_clamped > 0.
# narrow link next to the SERVER (uploads, client -> server):
#   (a) control as above, with uploads: a small upload and a plain routed 2 MiB upload work, the
#       2 MiB upload through the tunnel does NOT complete.
#   (b) Waypost server + wireguard-go client: once the server's path MTU toward the client has
#       dropped to <= LIMIT, a 2 MiB upload completes (MSS clamping of the client's SYN and of
#       the server's SYN-ACK); mss_clamped > 0; the path MTU settles in [LIMIT-7, LIMIT].
#       (An upload a stock client starts before the server's first probe fails, ~2 s after the
#       handshake, cannot be rescued by the server: its lost segments never reach it.)
#   (c) Waypost on both ends (client MTU automatic): the upload started right after the
#       handshake completes, mss_clamped (client + server) > 0; both path MTUs settle in
#       [LIMIT-7, LIMIT]; an upload after that completes.
#
# The four controls run first, side by side (each stall takes the full timeout), and are
# collected at the end, which keeps the whole test at about three minutes. A control transfer
# that completes proves the lab wrong ("LAB BROKEN", a failure). One that fails for another
# reason than a timeout (say the receiver did not start in time on a busy host) proves nothing
# either way, so it is started again in the same lab (at most MTU_CTL_ATTEMPTS times, default 3)
# before it counts as a failure. Setting up the four labs takes longer than the stall window on
# a busy host, so a control found already timed out at the early check is a stall, not an error.
#
# Environment: MTU_XFER_TIMEOUT (s, default 20); MTU_DONE_TIMEOUT (s, default 60);
# MTU_CTL_ATTEMPTS (default 3); MTU_NARROW (default 1454); MTU_FAMILIES
# (default "4 6"); WPT_WAYPOST_IMPL=wireguard-go runs the controls only (every other case
# needs Waypost's MTU policy and is skipped).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2154,SC2317
source "$(dirname "$0")/lib.sh"
# shellcheck source=mtu_lib.sh
source "$(dirname "$0")/mtu_lib.sh"
wpt_begin wireguard-go wg ip nft ping timeout ss sha256sum

T=${MTU_XFER_TIMEOUT:-20}
TD=${MTU_DONE_TIMEOUT:-60}
CTL_ATTEMPTS=${MTU_CTL_ATTEMPTS:-3}
FAMILIES=${MTU_FAMILIES:-4 6}
BIG=$((2 * 1024 * 1024))
PORT=8080
WWW=$WPT_SCRATCH/www
mkdir -p "$WWW"
head -c "$BIG" /dev/urandom >"$WWW/f2m"
head -c 1000 /dev/urandom >"$WWW/small"
SHA=$(sha256sum "$WWW/f2m" | cut -d' ' -f1)
SHA_SMALL=$(sha256sum "$WWW/small" | cut -d' ' -f1)

url4() { echo "http://$MTU_TUN4_S:$PORT/$1"; }
url6() { echo "http://[$MTU_TUN6_S]:$PORT/$1"; }
outer_url() { if [[ $1 == 6 ]]; then echo "http://[$OUT6_S]:$PORT/$2"; else echo "http://$OUT4_S:$PORT/$2"; fi; }

# lab SIDE FAM SIMPL CIMPL CMTU SMTU [SERVER_ENV...]: a fresh lab with the HTTP server and the
# tunnel up (first ping answered, so the handshake is done). Returns non-zero after a FAIL.
lab() {
  local side=$1 fam=$2 simpl=$3 cimpl=$4 cmtu=$5 smtu=$6
  shift 6
  mtu_lab_up "$side"
  http_serve HTTP_PID "$NS_S" :: "$PORT" "$WWW" "$WPT_SCRATCH/logs/http-$MTU_LAB_SEQ.log" ||
    { fail "$L HTTP server did not start"; return 1; }
  mtu_conf_pair "$cmtu" "$smtu" "$fam"
  PID_S="" PID_C=""
  if [[ $simpl == wp ]]; then
    local a
    for a in "$@"; do local -x "$a"; done  # the server's environment, for this call only
    wp_up PID_S "$NS_S" "$CONF_S" || { fail "$L server did not come up"; return 1; }
    for a in "$@"; do unset "${a%%=*}"; done
  else
    wggo_up PID_S "$NS_S" "$CONF_S" || { fail "$L server did not come up"; return 1; }
  fi
  if [[ $cimpl == wp ]]; then
    wp_up PID_C "$NS_C" "$CONF_C" || { fail "$L client did not come up"; return 1; }
  else
    wggo_up PID_C "$NS_C" "$CONF_C" || { fail "$L client did not come up"; return 1; }
  fi
  if ! ping_ok "$NS_C" "$MTU_TUN4_S" 10; then
    fail "$L no ping through the tunnel (handshake)"
    return 1
  fi
  ping_ok "$NS_C" "$MTU_TUN6_S" 3 || { fail "$L no inner IPv6 ping through the tunnel"; return 1; }
  log "$L tunnel up (client $IF_C, server $IF_S)"
}

label() { # label SIDE FAM CASE DESC
  L="[narrow@$1 IPv$2-outer ($3) $4]"
}

# Background transfers through the tunnel, inner IPv4 and IPv6 side by side: TAG-4 and TAG-6,
# bounded by TIMEOUT (default TD).
dl_start() { # dl_start TAG FILE [TIMEOUT]
  http_get_start "$1-4" "$NS_C" "$(url4 "$2")" 0 "${3:-$TD}"
  http_get_start "$1-6" "$NS_C" "$(url6 "$2")" 0 "${3:-$TD}"
}
up_start() { # up_start TAG BYTES [TIMEOUT]
  xfer_start "$1-4" "$NS_C" "$NS_S" "$MTU_TUN4_S" "$2" 0 "${3:-$TD}"
  xfer_start "$1-6" "$NS_C" "$NS_S" "$MTU_TUN6_S" "$2" 0 "${3:-$TD}"
}
# expect_done KIND TAG MSG: both transfers complete intact.
expect_done() {
  local kind=$1 tag=$2 msg=$3 h out rc ok=0
  for h in "$tag-4" "$tag-6"; do
    if [[ $kind == dl ]]; then out=$(http_get_wait "$h" "$SHA"); else out=$(xfer_wait "$h"); fi && rc=0 || rc=1
    if ((rc == 0)); then pass "$msg, inner IPv${h##*-}: $out"; else
      fail "$msg, inner IPv${h##*-}: $out"
      ok=1
    fi
  done
  return $ok
}
# The controls' transfers. Control TAG keeps its lab (CTL_NSES: client, router and server
# namespaces) until phase 3; its transfers are TAG-4 and TAG-6 (inner IPv4 / IPv6), each bounded
# by the stall window T; CTL_TRIES counts the attempts of each.
# ctl_xfer_start TAG H: (re)start transfer H of control TAG in its lab.
ctl_xfer_start() {
  local tag=$1 h=$2 ns_c ns_s url dst
  read -r ns_c _ ns_s <<<"${CTL_NSES[$tag]}"
  CTL_TRIES[$h]=$((${CTL_TRIES[$h]:-0} + 1))
  if [[ ${CTL_SIDE[$tag]} == client ]]; then
    if [[ ${h##*-} == 6 ]]; then url=$(url6 f2m); else url=$(url4 f2m); fi
    http_get_start "$h" "$ns_c" "$url" 0 "$T"
  else
    rm -rf "$WPT_SCRATCH/xfer/$h"  # a fresh ready file, results and pid files for this attempt
    if [[ ${h##*-} == 6 ]]; then dst=$MTU_TUN6_S; else dst=$MTU_TUN4_S; fi
    xfer_start "$h" "$ns_c" "$ns_s" "$dst" "$BIG" 0 "$T"
  fi
}
ctl_xfer_running() { # ctl_xfer_running TAG H
  if [[ ${CTL_SIDE[$1]} == client ]]; then http_get_running "$2"; else xfer_running "$2"; fi
}
# ctl_xfer_outcome TAG H: waits for transfer H (bounded by its own timeout) and sets CTL_OUT to
# its summary line. Returns 0 if it completed intact (the lab is broken), 1 if it timed out (the
# blackhole stall), 2 if it failed in some other way (says nothing about the lab).
ctl_xfer_outcome() {
  local tag=$1 h=$2 err
  if [[ ${CTL_SIDE[$tag]} == client ]]; then
    CTL_OUT=$(http_get_wait "$h" "$SHA") && return 0
    err=$(cat "$WPT_SCRATCH/http/$h.err" 2>/dev/null)
  else
    CTL_OUT=$(xfer_wait "$h") && return 0
    err=$(cat "$WPT_SCRATCH/xfer/$h/send.err" "$WPT_SCRATCH/xfer/$h/recv.err" 2>/dev/null)
  fi
  if grep -qi 'timed out\|TimeoutError' <<<"$err"; then return 1; fi
  return 2
}
# expect_stall TAG MSG: neither transfer of control TAG completes, and each timed out. A transfer
# that failed for another reason (such as a receiver that did not start in time) is started
# again, up to CTL_ATTEMPTS attempts in all.
expect_stall() {
  local tag=$1 msg=$2 h rc
  for h in "$tag-4" "$tag-6"; do
    while true; do
      ctl_xfer_outcome "$tag" "$h"
      rc=$?
      ((rc == 2 && ${CTL_TRIES[$h]} < CTL_ATTEMPTS)) || break
      log "$msg, inner IPv${h##*-}: attempt ${CTL_TRIES[$h]} failed, not by stalling ($CTL_OUT): again"
      ctl_xfer_start "$tag" "$h"
    done
    case $rc in
      0) fail "LAB BROKEN: $msg, inner IPv${h##*-}: completed ($CTL_OUT): the blackhole is not reproduced, so nothing else here proves anything" ;;
      1) pass "$msg, inner IPv${h##*-}: stalled, not complete within $T s ($CTL_OUT)" ;;
      *) fail "$msg, inner IPv${h##*-}: failed, but not by stalling, in ${CTL_TRIES[$h]} attempts: $CTL_OUT" ;;
    esac
  done
}

# Waypost path MTU checks. path_in_window MSG NS IF PEERPUB FAM: the search has settled (within
# TD s) and the path MTU is in [LIMIT-7, LIMIT].
path_in_window() {
  local msg=$1 ns=$2 ifn=$3 peer=$4 fam=$5 limit mtu
  limit=$(mtu_wg_limit "$fam")
  if ! wait_for "$TD" mtu_path_settled "$ns" "$ifn" "$peer"; then
    fail "$msg: path MTU search not settled within $TD s ($(mtu_path_summary "$ns" "$ifn" "$peer"))"
    return 1
  fi
  mtu=$(mtu_peer_field "$ns" "$ifn" "$peer" path_mtu)
  if [[ $mtu =~ ^[0-9]+$ ]] && ((mtu <= limit && mtu >= limit - 7)); then
    pass "$msg: path MTU $mtu in [$((limit - 7)), $limit] ($(mtu_path_summary "$ns" "$ifn" "$peer"))"
  else
    fail "$msg: path MTU '$mtu' not in [$((limit - 7)), $limit] ($(mtu_path_summary "$ns" "$ifn" "$peer"))"
  fi
}
path_dropped() { # path_dropped NS IF PEERPUB LIMIT: the reported path MTU is at most LIMIT
  local m
  m=$(mtu_peer_field "$1" "$2" "$3" path_mtu)
  [[ $m =~ ^[0-9]+$ ]] && ((m <= $4))
}
counter_positive() { # counter_positive MSG NS IF NAME [NS2 IF2]: NAME (summed over both) > 0
  local v v2=0 shown
  v=$(wp_counter "$2" "$3" "$4")
  shown="'$v'"
  if [[ -n ${5:-} ]]; then
    v2=$(wp_counter "$5" "$6" "$4")
    shown="'$v' + '$v2'"
  fi
  if [[ $v =~ ^[0-9]+$ && $v2 =~ ^[0-9]+$ ]] && ((v + v2 > 0)); then pass "$1: $4 = $shown"; else
    fail "$1: $4 = $shown, expected > 0"
  fi
}
iface_mtu() { ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -o 'mtu [0-9]*' | cut -d' ' -f2; }

# --- Phase 1: the controls, side by side -----------------------------------------------------
declare -A CTL_SIDE CTL_NSES CTL_NS_R CTL_LABEL CTL_TRIES
CTLS=()
for side in client server; do
  for fam in $FAMILIES; do
    label "$side" "$fam" a "control: wireguard-go both ends, MTU 1420"
    lab "$side" "$fam" wggo wggo 1420 1420 || die "$L the control lab did not come up"
    tag=ctl$MTU_LAB_SEQ
    if [[ $side == client ]]; then
      assert_http_get "$L small GET through the tunnel" "$tag-small" "$NS_C" "$(url4 small)" "$SHA_SMALL" 0 "$TD"
      assert_http_get "$L plain routed 2 MiB GET (outside the tunnel) completes" "$tag-plain" "$NS_C" \
        "$(outer_url "$fam" f2m)" "$SHA" 0 "$TD"
    else
      assert_xfer "$L small upload through the tunnel" "$NS_C" "$NS_S" "$MTU_TUN4_S" 1000 0 "$TD"
      if [[ $fam == 6 ]]; then dst=$OUT6_S; else dst=$OUT4_S; fi
      assert_xfer "$L plain routed 2 MiB upload (outside the tunnel) completes" "$NS_C" "$NS_S" "$dst" "$BIG" 0 "$TD"
    fi
    CTLS+=("$tag")
    CTL_SIDE[$tag]=$side CTL_NS_R[$tag]=$NS_R CTL_LABEL[$tag]=$L
    CTL_NSES[$tag]="${MTU_LAB_NSES[*]}"
    MTU_LAB_NSES=()  # kept until phase 3
    ctl_xfer_start "$tag" "$tag-4"
    ctl_xfer_start "$tag" "$tag-6"
  done
done
# A control that completes proves the lab wrong (or broken): stop right here. In a broken lab the
# 2 MiB take a fraction of a second; 3 s more give the last one started time to show it (a busy
# host that is slower than that only delays the verdict to phase 3). A control that already
# ended otherwise either timed out (setting up the labs took longer than its stall window: phase
# 3 counts that as the stall) or failed for another reason: then it is started again now.
sleep 3
for tag in "${CTLS[@]}"; do
  for h in "$tag-4" "$tag-6"; do
    ctl_xfer_running "$tag" "$h" && continue
    ctl_xfer_outcome "$tag" "$h"
    case $? in
      0) die "LAB BROKEN: ${CTL_LABEL[$tag]} the 2 MiB transfer (inner IPv${h##*-}) completed ($CTL_OUT): the blackhole is not reproduced" ;;
      1) log "${CTL_LABEL[$tag]} inner IPv${h##*-}: already timed out (stalled) before the early check" ;;
      *)
        log "${CTL_LABEL[$tag]} inner IPv${h##*-}: attempt ${CTL_TRIES[$h]} failed, not by stalling ($CTL_OUT): again"
        ctl_xfer_start "$tag" "$h"
        ;;
    esac
  done
done
log "no control completed; Waypost cases run meanwhile"

# --- Phase 2: Waypost ------------------------------------------------------------------------
if wpt_is_real_waypost; then
  for fam in $FAMILIES; do
    limit=$(mtu_wg_limit "$fam")
    if [[ $fam == 6 ]]; then over=80; else over=60; fi

    # (b) Waypost server + stock client, narrow link next to the client: downloads.
    variants=(b)
    [[ $fam == 4 ]] && variants+=(b0)
    for v in "${variants[@]}"; do
      if [[ $v == b0 ]]; then
        label client "$fam" b0 "Waypost server (offloads off) + wireguard-go client, MTU 1420"
        lab client "$fam" wp wggo 1420 1420 WAYPOST_OFFLOADS=0 || { mtu_lab_down; continue; }
      else
        label client "$fam" b "Waypost server + wireguard-go client, MTU 1420"
        lab client "$fam" wp wggo 1420 1420 || { mtu_lab_down; continue; }
      fi
      tag=$v$MTU_LAB_SEQ
      dl_start "$tag" f2m
      expect_done dl "$tag" "$L 2 MiB GET right after the handshake"
      # Its SYN passed before the search had a verdict on the interface MTU: clamped to what the
      # search had confirmed (the floor, at first), not to the interface MTU.
      counter_positive "$L server" "$NS_S" "$IF_S" mss_clamped
      path_in_window "$L server's path MTU toward the client" "$NS_S" "$IF_S" "$PUB_C" "$fam"
      assert_http_get "$L 2 MiB GET after the search settled" "$tag-again" "$NS_C" "$(url4 f2m)" "$SHA" 0 "$TD"
      log "$L server: $(mtu_path_summary "$NS_S" "$IF_S" "$PUB_C")"
      mtu_lab_down
    done

    # (c) Waypost on both ends, narrow link next to the client: downloads.
    label client "$fam" c "Waypost both ends, client MTU automatic"
    if lab client "$fam" wp wp "" 1420; then
      log "$L client's automatic MTU: $(iface_mtu "$NS_C" "$IF_C")"
      tag=c$MTU_LAB_SEQ
      dl_start "$tag" f2m
      expect_done dl "$tag" "$L 2 MiB GET right after the handshake"
      path_in_window "$L server's path MTU toward the client" "$NS_S" "$IF_S" "$PUB_C" "$fam"
      path_in_window "$L client's path MTU toward the server" "$NS_C" "$IF_C" "$PUB_S" "$fam"
      assert_http_get "$L 2 MiB GET after the searches settled" "$tag-again" "$NS_C" "$(url4 f2m)" "$SHA" 0 "$TD"
      counter_positive "$L client + server" "$NS_C" "$IF_C" mss_clamped "$NS_S" "$IF_S"
    fi
    mtu_lab_down

    # (d) Waypost client (automatic MTU) + stock server, narrow link next to the client.
    label client "$fam" d "Waypost client, MTU automatic + wireguard-go server, MTU 1420"
    if lab client "$fam" wggo wp "" 1420; then
      m=$(iface_mtu "$NS_C" "$IF_C")
      if [[ $m =~ ^[0-9]+$ ]] && ((m <= limit && m >= 1280)); then
        pass "$L client's automatic MTU $m fits the narrow link even padded to 16 by the peer (<= $limit)"
      else
        fail "$L client's automatic MTU '$m' does not fit the narrow link once the peer pads it to 16 bytes: a $m-byte inner packet from a peer with MTU 1420 becomes a $(((m + 15) / 16 * 16 + over))-byte datagram > $MTU_NARROW (needs <= $limit)"
      fi
      tag=d$MTU_LAB_SEQ
      dl_start "$tag" f2m
      expect_done dl "$tag" "$L 2 MiB GET right after the handshake"
      path_in_window "$L client's path MTU toward the server" "$NS_C" "$IF_C" "$PUB_S" "$fam"
      assert_http_get "$L 2 MiB GET after the search settled" "$tag-again" "$NS_C" "$(url4 f2m)" "$SHA" 0 "$TD"
      counter_positive "$L client" "$NS_C" "$IF_C" mss_clamped
    fi
    mtu_lab_down

    # (b) Waypost server + stock client, narrow link next to the server: uploads.
    label server "$fam" b "Waypost server + wireguard-go client, MTU 1420"
    if lab server "$fam" wp wggo 1420 1420; then
      if wait_for "$TD" path_dropped "$NS_S" "$IF_S" "$PUB_C" "$limit"; then
        pass "$L server's path MTU toward the client dropped to <= $limit ($(mtu_path_summary "$NS_S" "$IF_S" "$PUB_C"))"
      else
        fail "$L server's path MTU toward the client did not drop to <= $limit within $TD s ($(mtu_path_summary "$NS_S" "$IF_S" "$PUB_C"))"
      fi
      tag=ub$MTU_LAB_SEQ
      up_start "$tag" "$BIG"
      expect_done up "$tag" "$L 2 MiB upload"
      counter_positive "$L server" "$NS_S" "$IF_S" mss_clamped
      path_in_window "$L server's path MTU toward the client" "$NS_S" "$IF_S" "$PUB_C" "$fam"
    fi
    mtu_lab_down

    # (c) Waypost on both ends, narrow link next to the server: uploads.
    label server "$fam" c "Waypost both ends, client MTU automatic"
    if lab server "$fam" wp wp "" 1420; then
      log "$L client's automatic MTU: $(iface_mtu "$NS_C" "$IF_C")"
      tag=uc$MTU_LAB_SEQ
      up_start "$tag" "$BIG"
      expect_done up "$tag" "$L 2 MiB upload right after the handshake"
      counter_positive "$L client + server" "$NS_C" "$IF_C" mss_clamped "$NS_S" "$IF_S"
      path_in_window "$L client's path MTU toward the server" "$NS_C" "$IF_C" "$PUB_S" "$fam"
      path_in_window "$L server's path MTU toward the client" "$NS_S" "$IF_S" "$PUB_C" "$fam"
      assert_xfer "$L 2 MiB upload after the searches settled" "$NS_C" "$NS_S" "$MTU_TUN4_S" "$BIG" 0 "$TD"
    fi
    mtu_lab_down
  done
else
  skip "Waypost cases (b) (c) (d): WPT_WAYPOST_IMPL=$WPT_WAYPOST_IMPL runs the controls only"
fi

# --- Phase 3: the controls' verdicts ---------------------------------------------------------
for tag in "${CTLS[@]}"; do
  L=${CTL_LABEL[$tag]}
  if [[ ${CTL_SIDE[$tag]} == client ]]; then
    expect_stall "$tag" "$L 2 MiB GET through the tunnel"
  else
    expect_stall "$tag" "$L 2 MiB upload through the tunnel"
  fi
  NS_R=${CTL_NS_R[$tag]}
  drops=$(mtu_blackhole_drops)
  if ((drops > 0)); then pass "$L the router dropped $drops ICMP frag-needed/packet-too-big"; else
    fail "$L the router dropped no ICMP error: the stall has another cause"
  fi
  read -r -a MTU_LAB_NSES <<<"${CTL_NSES[$tag]}"
  mtu_lab_down
done
wpt_finish
