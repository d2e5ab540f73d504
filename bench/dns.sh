#!/usr/bin/env bash
# Waypost's DNS resolver under load, side by side with dnsmasq serving the same block list.
#
# Usage (as root):
#   bench/dns.sh [--duration S] [--quick] [--json] [--cases LIST] [--outstanding N]
#                [--domains N] [--names N]
#     --duration S     seconds of dnsperf load per case and daemon (default 10)
#     --quick          smoke run: --duration 3
#     --json           print only JSON on stdout (progress and the table go to stderr)
#     --cases LIST     comma-separated subset of: cached,blocked (default: both)
#     --outstanding N  queries dnsperf keeps in flight (-q, default 100)
#     --domains N      synthetic domains in the block list (default 100000)
#     --names N        distinct names per query set (default 1000)
#   Environment: WAYPOST_BIN (default /work/main/build/src/waypost); WPT_KEEP=1 keeps the
#   scratch directory (logs, lists, dnsperf output).
#
# Two namespaces (tests/netns/lib.sh "pair"): the client ns runs dnsperf with source address
# 10.49.255.254 (inside Waypost's client pool 10.49.0.0/16, so Waypost answers it); the server
# ns runs, each on its own address, answered over the veth:
#   unbound    10.53.0.1:53   the upstream of both: local-data for the allowed names
#   waypost    10.49.0.1:53   `waypost server up` (resolver on the server's tunnel address),
#                             dns_adblocking on, plain DNS to unbound, DNSSEC off
#   dnsmasq    10.53.0.53:53  --server=unbound --addn-hosts=<the block list> --cache-size=10000
# Both daemons read the same generated hosts-format block list ("0.0.0.0 name", --domains
# entries, StevenBlack-like names). Cases, each measured on both daemons in turn with one
# dnsperf client thread (-c 1 -T 1), -q N outstanding, A queries, for S seconds:
#   cached   --names allowed names that unbound serves, after a warm-up (two passes through
#            the set at -q 20) on each daemon: answered from the daemon's own cache (the
#            upstream's CPU use during the case is reported to show it stays idle)
#   blocked  --names names taken evenly from the block list (exact names: dnsmasq's hosts
#            entries do not cover subdomains), answered 0.0.0.0 by both
# Reported per case and daemon: queries/s, qps waypost / dnsmasq, lost %, average and max
# latency, the daemon's CPU seconds during the case (and as % of one core), its CPU
# microseconds per answered query, dnsperf's own CPU % (a load generator near 100 % means the
# figure is dnsperf's limit, not the daemon's) and the upstream's CPU seconds (0 when cached).
# Per daemon: RSS once started with the list loaded (VmRSS before any load), RSS at the end,
# peak RSS (VmHWM) at the end, all summed over the daemon's process tree. Without dnsperf the
# load cases print n/a (scripts/install-deps.sh installs it); a daemon that is missing or does
# not come up prints n/a and the other still runs. Exit status 0 unless the setup fails.
# See bench/README.md.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DURATION=10
JSON=0
CASES=cached,blocked
OUTSTANDING=100
DOMAINS=100000
NAMES=1000
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
while (($#)); do
  case $1 in
    --duration) DURATION=${2:?}; shift 2 ;;
    --quick) DURATION=3; shift ;;
    --json) JSON=1; shift ;;
    --cases) CASES=${2:?}; shift 2 ;;
    --outstanding) OUTSTANDING=${2:?}; shift 2 ;;
    --domains) DOMAINS=${2:?}; shift 2 ;;
    --names) NAMES=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 300 ]] || { echo "--duration: 1..300" >&2; exit 2; }
[[ $OUTSTANDING =~ ^[0-9]+$ && $OUTSTANDING -ge 1 && $OUTSTANDING -le 1000 ]] || { echo "--outstanding: 1..1000" >&2; exit 2; }
[[ $DOMAINS =~ ^[0-9]+$ && $DOMAINS -ge 1000 && $DOMAINS -le 2000000 ]] || { echo "--domains: 1000..2000000" >&2; exit 2; }
[[ $NAMES =~ ^[0-9]+$ && $NAMES -ge 10 && $NAMES -le 50000 ]] || { echo "--names: 10..50000" >&2; exit 2; }
((NAMES <= DOMAINS)) || { echo "--names must not exceed --domains" >&2; exit 2; }

WPT_NAME=bench-dns WPT_REPORT_FD=2 WPT_NO_SUMMARY=1
# shellcheck source=../tests/netns/lib.sh
source "$BENCH_DIR/../tests/netns/lib.sh"
# shellcheck source=proc_figures.sh
source "$BENCH_DIR/proc_figures.sh"
wpt_begin --no-waypost ip ping ps timeout
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$WPT_SCRATCH/results.tsv
DAEMONS=$WPT_SCRATCH/daemons.tsv
: >"$RESULTS"
: >"$DAEMONS"
DATA=$WPT_SCRATCH/data
mkdir -p "$DATA"

CLIENT_ADDR=10.49.255.254   # dnsperf's source: inside Waypost's client pool
UPSTREAM_ADDR=10.53.0.1     # unbound
WP_ADDR=10.49.0.1           # Waypost's resolver: first host of wireguard_network_ipv4
DM_ADDR=10.53.0.53          # dnsmasq
DNSPERF=$(command -v dnsperf || true)
DNSMASQ=$(command -v dnsmasq || { [[ -x /usr/sbin/dnsmasq ]] && echo /usr/sbin/dnsmasq; } || true)
UNBOUND=$(command -v unbound || { [[ -x /usr/sbin/unbound ]] && echo /usr/sbin/unbound; } || true)

# ---------------------------------------------------------------------------------------------
# Process figures (tree_pids, cpu_ticks and status_kb come from proc_figures.sh)

# children_cpu_s VAR: sets VAR to the user+system CPU seconds of this shell's waited-for
# children so far (bash `times`, second line; not in $(...), whose subshell has no children of
# ours), taken around the foreground dnsperf for the load generator's CPU.
children_cpu_s() {
  times >"$WPT_SCRATCH/times.txt"
  printf -v "$1" '%s' "$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2])
                                                               s += p[1] * 60 + p[2] }
                                          printf "%.3f", s }' "$WPT_SCRATCH/times.txt")"
}
# secs A B: (B - A) ticks as seconds; "" if either is missing.
secs() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }'; }

# ---------------------------------------------------------------------------------------------
# Data: block list, query sets, unbound's local data

cat >"$WPT_SCRATCH/gen.py" <<'PYEOF'
# Deterministic synthetic data: a StevenBlack-like hosts block list, the blocked query set
# (names spread evenly over the list), allowed names (unbound local-data) and their query set.
import random, sys
out, n_block, n_names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240601)
alpha = "abcdefghijklmnopqrstuvwxyz"
alnum = alpha + "0123456789"
tlds = ["com"] * 10 + ["net"] * 4 + ["org"] * 2 + ["io", "info", "xyz", "de", "ru", "co.uk", "online", "site"]
words = ["ads", "ad", "track", "tracker", "metrics", "stats", "pixel", "analytics", "banner", "click",
         "cdn", "tag", "log", "beacon", "sync", "telemetry", "counter", "promo", "affiliate", "popup"]
def label(lo, hi):
    return rng.choice(alpha) + "".join(rng.choice(alnum) for _ in range(rng.randint(lo, hi) - 1))
def blocked_name():
    parts = []
    k = rng.random()
    if k < 0.35:
        parts.append(rng.choice(words) + str(rng.randint(0, 99)))
    elif k < 0.6:
        parts.append(label(2, 10))
    if rng.random() < 0.15:
        parts.append(label(2, 8))
    parts.append(label(4, 14) + (("-" + rng.choice(words)) if rng.random() < 0.2 else ""))
    parts.append(rng.choice(tlds))
    return ".".join(parts)
seen, blocked, allowed = set(), [], []
while len(blocked) < n_block:
    d = blocked_name()
    if d not in seen:
        seen.add(d)
        blocked.append(d)
while len(allowed) < n_names:
    d = "www." + label(4, 12) + "-ok." + rng.choice(tlds)
    if d not in seen:
        seen.add(d)
        allowed.append(d)
with open(out + "/blocklist.hosts", "w") as f:
    f.write("# Synthetic block list for bench/dns.sh (hosts format, like StevenBlack's)\n")
    f.write("# Number of unique domains: %d\n\n127.0.0.1 localhost\n127.0.0.1 localhost.localdomain\n"
            "255.255.255.255 broadcasthost\n::1 localhost\n\n# Start of entries\n" % n_block)
    for d in blocked:
        f.write("0.0.0.0 " + d + "\n")
step = n_block // n_names
with open(out + "/q-blocked.txt", "w") as f:
    for d in blocked[::step][:n_names]:
        f.write(d + " A\n")
with open(out + "/q-cached.txt", "w") as f:
    for d in allowed:
        f.write(d + " A\n")
with open(out + "/unbound-local.conf", "w") as f:
    for i, d in enumerate(allowed):
        f.write('  local-data: "%s. 3600 IN A 198.51.%d.%d"\n' % (d, 100 + i // 250 % 100, i % 250 + 1))
PYEOF

# dnsq.py SRC DST NAME [TIMEOUT]: one A query over UDP; prints the first A record (or
# "rcodeN" without one); exit 1 without an answer.
cat >"$WPT_SCRATCH/dnsq.py" <<'PYEOF'
import random, socket, struct, sys
src, dst, name = sys.argv[1:4]
tmo = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(tmo)
s.sendto(q, (dst, 53))
try:
    r = s.recv(4096)
except OSError:
    sys.exit(1)
rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
if rid != qid:
    sys.exit(1)
def skip(p):
    while True:
        n = r[p]
        if n == 0:
            return p + 1
        if n & 0xC0 == 0xC0:
            return p + 2
        p += n + 1
p = 12
for _ in range(qd):
    p = skip(p) + 4
for _ in range(an):
    p = skip(p)
    t, _, _, rdl = struct.unpack(">HHIH", r[p:p + 10])
    p += 10
    if t == 1 and rdl == 4:
        print(socket.inet_ntoa(r[p:p + 4]))
        sys.exit(0)
    p += rdl
print("rcode%d" % (flags & 15))
PYEOF

log "generating a block list of $DOMAINS domains and query sets of $NAMES names"
"$WPT_PY" "$WPT_SCRATCH/gen.py" "$DATA" "$DOMAINS" "$NAMES" || die "data generation failed"
BLOCKLIST=$DATA/blocklist.hosts
FIRST_BLOCKED=$(awk 'NR == 1 { print $1 }' "$DATA/q-blocked.txt")
FIRST_ALLOWED=$(awk 'NR == 1 { print $1 }' "$DATA/q-cached.txt")

# answers NS DST NAME ADDR [SRC]: DST answers NAME with ADDR, asked from SRC (default
# CLIENT_ADDR) in NS.
answers() {
  [[ $(ip netns exec "$1" timeout 3 "$WPT_PY" "$WPT_SCRATCH/dnsq.py" "${5:-$CLIENT_ADDR}" "$2" "$3" 1 2>/dev/null) == "$4" ]]
}

# ---------------------------------------------------------------------------------------------
# Namespaces: client (dnsperf) -- veth -- server (unbound, waypost, dnsmasq)

topo_pair
ns_addr "$NS_C" "$VETH_C" "$CLIENT_ADDR/32"
ns_addr "$NS_S" lo "$UPSTREAM_ADDR/32" "$DM_ADDR/32"
for a in "$WP_ADDR" "$DM_ADDR"; do
  ip -n "$NS_C" route add "$a/32" via "$OUT4_S" dev "$VETH_C" src "$CLIENT_ADDR" || die "route to $a in $NS_C"
done
# More specific than the 10.49.0.0/16 route Waypost puts on its tunnel interface.
ip -n "$NS_S" route add "$CLIENT_ADDR/32" via "$OUT4_C" dev "$VETH_S" || die "route to $CLIENT_ADDR in $NS_S"

# record_daemon NAME STATUS PID RSS_START_KB: one line per daemon (end figures added later).
record_daemon() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$DAEMONS"; }
daemon_status() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$DAEMONS"; }
# daemon_failed NAME PIDVAR STATUS WHY: a daemon that did not come up: log WHY, record STATUS,
# stop it and clear PIDVAR.
daemon_failed() {
  log "$1 $4"
  record_daemon "$1" "$3" "${!2}" ""
  wpt_stop_pid "${!2}"
  printf -v "$2" '%s' ""
}
# daemon_ok NAME PIDVAR RSSVAR: record a daemon that answers, with its RSS now (set in RSSVAR).
daemon_ok() {
  printf -v "$3" '%s' "$(status_kb "${!2}" VmRSS)"
  record_daemon "$1" ok "${!2}" "${!3}"
}

# --- unbound, the upstream -------------------------------------------------------------------
UB_PID=""
if [[ -n $UNBOUND ]]; then
  {
    printf 'server:\n  interface: %s\n  port: 53\n  do-daemonize: no\n  username: ""\n  chroot: ""\n' "$UPSTREAM_ADDR"
    printf '  directory: "%s"\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  verbosity: 0\n' "$DATA"
    printf '  num-threads: 1\n  so-reuseport: no\n  do-ip6: no\n  access-control: 0.0.0.0/0 allow\n'
    printf '  module-config: "iterator"\n  local-zone: "." static\n'
    cat "$DATA/unbound-local.conf"
    printf 'remote-control:\n  control-enable: no\n'
  } >"$DATA/unbound.conf"
  ip netns exec "$NS_S" "$UNBOUND" -d -c "$DATA/unbound.conf" >"$WPT_SCRATCH/logs/unbound.log" 2>&1 &
  UB_PID=$!
  wpt_track_pid "$UB_PID"
  if ! wait_for 15 answers "$NS_S" "$UPSTREAM_ADDR" "$FIRST_ALLOWED" 198.51.100.1 0.0.0.0; then
    log "unbound did not start: $(tail -n 3 "$WPT_SCRATCH/logs/unbound.log" | tr '\n' '|')"
    wpt_stop_pid "$UB_PID"
    UB_PID=""
  fi
fi
if [[ -n $UB_PID ]]; then
  log "unbound upstream on $UPSTREAM_ADDR (pid $UB_PID)"
else
  log "no upstream (unbound missing or failed): the cached case is n/a"
fi

# --- waypost ---------------------------------------------------------------------------------
WP_PID="" WP_DIR=$WPT_SCRATCH/srv
start_waypost() {
  local ifn rss
  if [[ ! -x $WAYPOST_BIN ]]; then
    record_daemon waypost "n/a: waypost binary not found ($WAYPOST_BIN)" "" ""
    return
  fi
  wpt_new_ifname ifn
  if ! wp_server_init "$NS_S" "$WP_DIR" "$WPT_SCRATCH/logs/waypost-init.log" --endpoint 192.0.2.1 \
    --users bench --interface "$ifn" --port 51820 --ipv6 off; then
    record_daemon waypost "n/a: server init failed" "" ""
    return
  fi
  # Resolver settings: ad blocking with the bench list, plain DNS to unbound, no DNSSEC.
  local cfg=$WP_DIR/config.yaml
  if ! { server_cfg_set "$cfg" dns_adblocking true && server_cfg_set "$cfg" dns_encryption false &&
    server_cfg_set "$cfg" dns_dnssec false && server_cfg_set "$cfg" ipv6 false &&
    server_cfg_set "$cfg" dns_servers $'\n  ipv4:\n    - '"$UPSTREAM_ADDR"$'\n  ipv6: []' &&
    server_cfg_set "$cfg" adblock_lists "[\"$BLOCKLIST\"]"; }; then
    record_daemon waypost "n/a: config.yaml edit failed" "" ""
    return
  fi
  wp_answers() { answers "$NS_C" "$WP_ADDR" "$FIRST_BLOCKED" 0.0.0.0; }
  if ! wp_server_start WP_PID "$NS_S" "$WPT_SCRATCH/logs/waypost.log" 20 wp_answers --dir "$WP_DIR" --log-level info; then
    daemon_failed waypost WP_PID "n/a: resolver did not answer within 20 s" \
      "did not answer: $(tail -n 5 "$WPT_SCRATCH/logs/waypost.log" | tr '\n' '|')"
    return
  fi
  daemon_ok waypost WP_PID rss
  log "waypost resolver on $WP_ADDR (pid $WP_PID): $(grep -o 'DNS block lists: [^(]*([^)]*)' "$WPT_SCRATCH/logs/waypost.log" | head -n1), RSS $((rss / 1024)) MB"
}

# --- dnsmasq ---------------------------------------------------------------------------------
DM_PID=""
start_dnsmasq() {
  local rss
  if [[ -z $DNSMASQ ]]; then
    record_daemon dnsmasq "n/a: dnsmasq not installed (Debian package dnsmasq-base)" "" ""
    return
  fi
  # --user=root: the scratch directory holding the list is root-only (Waypost runs as root too).
  ip netns exec "$NS_S" "$DNSMASQ" --keep-in-foreground --no-resolv --no-hosts \
    --server="$UPSTREAM_ADDR" --listen-address="$DM_ADDR" --bind-interfaces --port=53 \
    --addn-hosts="$BLOCKLIST" --cache-size=10000 --pid-file="$WPT_SCRATCH/dnsmasq.pid" --user=root \
    --log-facility="$WPT_SCRATCH/logs/dnsmasq.log" >"$WPT_SCRATCH/logs/dnsmasq.out" 2>&1 &
  DM_PID=$!
  wpt_track_pid "$DM_PID"
  if ! wait_for 20 answers "$NS_C" "$DM_ADDR" "$FIRST_BLOCKED" 0.0.0.0; then
    daemon_failed dnsmasq DM_PID "n/a: did not answer within 20 s" \
      "did not answer: $(tail -n 3 "$WPT_SCRATCH/logs/dnsmasq.log" "$WPT_SCRATCH/logs/dnsmasq.out" | tr '\n' '|')"
    return
  fi
  daemon_ok dnsmasq DM_PID rss
  log "dnsmasq on $DM_ADDR (pid $DM_PID): $(grep -o 'read [^ ]* - [0-9]* names' "$WPT_SCRATCH/logs/dnsmasq.log" | head -n1), RSS $((rss / 1024)) MB"
}

start_waypost
start_dnsmasq

# ---------------------------------------------------------------------------------------------
# Load

# dnsperf_run OUT ADDR QFILE ARGS...: bounded dnsperf from the client namespace.
dnsperf_run() {
  local out=$1 addr=$2 qfile=$3
  shift 3
  timeout $((DURATION + 30)) ip netns exec "$NS_C" "$DNSPERF" -s "$addr" -a "$CLIENT_ADDR" -d "$qfile" \
    -c 1 -T 1 -t 5 "$@" >"$out" 2>&1
}

# warm NAME ADDR: one pass through the cached set (twice, low concurrency, so nothing is left
# out by the upstream's pace), then check one answer.
warm() {
  dnsperf_run "$WPT_SCRATCH/warm-$1.txt" "$2" "$DATA/q-cached.txt" -n 2 -q 20
  answers "$NS_C" "$2" "$FIRST_ALLOWED" 198.51.100.1
}

# record CASE DAEMON STATUS QPS SENT COMPLETED LOST LAT_AVG LAT_MAX RCODES CPU_S UP_CPU_S CLIENT_CPU_S
record() { local IFS=$'\t'; echo "$*" >>"$RESULTS"; }

# run_case CASE DAEMON ADDR PID
run_case() {
  local case=$1 name=$2 addr=$3 pid=$4 out=$WPT_SCRATCH/dnsperf-$1-$2.txt c0 c1 u0 u1 l0 l1 st qfile
  qfile=$DATA/q-$case.txt
  st=$(daemon_status "$name")
  if [[ $st != ok ]]; then record "$case" "$name" "${st:-n/a: not started}"; return; fi
  if [[ -z $DNSPERF ]]; then
    record "$case" "$name" "n/a: dnsperf not installed (scripts/install-deps.sh installs it)"
    return
  fi
  if [[ $case == cached ]]; then
    if [[ -z $UB_PID ]]; then record "$case" "$name" "n/a: no upstream (unbound)"; return; fi
    if ! warm "$name" "$addr"; then
      record "$case" "$name" "n/a: no answer for $FIRST_ALLOWED after the warm-up pass"
      return
    fi
  fi
  log "$case / $name: dnsperf -q $OUTSTANDING for ${DURATION}s"
  c0=$(cpu_ticks "$pid") u0=$(cpu_ticks "$UB_PID")
  children_cpu_s l0
  dnsperf_run "$out" "$addr" "$qfile" -l "$DURATION" -q "$OUTSTANDING"
  children_cpu_s l1
  c1=$(cpu_ticks "$pid") u1=$(cpu_ticks "$UB_PID")
  # dnsperf 2.x: "Queries sent: N", "Queries completed: N (x%)", "Queries lost: N (x%)",
  # "Response codes: NOERROR N (x%), ...", "Queries per second: X", "Average Latency (s): X (min A, max B)"
  local parsed
  parsed=$(awk '
    /Queries sent:/ { sent = $3 }
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Response codes:/ { sub(/^[ \t]*Response codes:[ \t]*/, ""); gsub(/ \([0-9.]+%\)/, ""); gsub(/, /, ","); gsub(/ /, ":"); rc = $0 }
    /Average Latency \(s\):/ { avg = $4; max = $8; sub(/\)/, "", max) }
    END { if (qps != "") printf "%s\t%s\t%s\t%s\t%s\t%s\t%s", qps, sent, done, lost, avg, max, rc }' "$out")
  if [[ -z $parsed ]]; then
    record "$case" "$name" "n/a: dnsperf failed: $(tail -n 2 "$out" | tr '\n\t' '  ')"
    return
  fi
  record "$case" "$name" ok "$parsed" "$(secs "$c0" "$c1")" "$(secs "$u0" "$u1")" \
    "$(awk -v a="$l0" -v b="$l1" 'BEGIN { printf "%.2f", b - a }')"
  log "$case / $name: $(cut -f1 <<<"$parsed") q/s"
}

for c in ${CASES//,/ }; do
  case $c in
    cached | blocked)
      run_case "$c" waypost "$WP_ADDR" "$WP_PID"
      run_case "$c" dnsmasq "$DM_ADDR" "$DM_PID"
      ;;
    *) log "unknown case: $c (skipped)" ;;
  esac
done

# End figures per daemon: RSS now, peak RSS, CPU over the whole run; Waypost's resolver counters.
END_FIG=$WPT_SCRATCH/end.tsv
: >"$END_FIG"
for entry in "waypost:$WP_PID" "dnsmasq:$DM_PID"; do
  name=${entry%%:*} pid=${entry#*:}
  if [[ -z $pid ]] || ! wpt_pid_alive "$pid"; then continue; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)" \
    "$(secs 0 "$(cpu_ticks "$pid")")" >>"$END_FIG"
done
WP_DNS_STATUS=$WPT_SCRATCH/waypost-dns.json
: >"$WP_DNS_STATUS"
if [[ -n $WP_PID ]]; then
  timeout 10 ip netns exec "$NS_S" "$WAYPOST_BIN" server status --dir "$WP_DIR" --json 2>/dev/null |
    json_q 'j["dns"]' >"$WP_DNS_STATUS" 2>/dev/null
fi

VERSIONS=$WPT_SCRATCH/versions.tsv
{
  [[ -n $DNSPERF ]] && printf 'dnsperf\t%s\n' "$("$DNSPERF" -h 2>&1 | awk '/^Version/ { print $2 }')"
  [[ -n $DNSMASQ ]] && printf 'dnsmasq\t%s\n' "$("$DNSMASQ" --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
  [[ -n $UNBOUND ]] && printf 'unbound\t%s\n' "$("$UNBOUND" -V 2>/dev/null | awk 'NR == 1 { print $2 }')"
  [[ -x $WAYPOST_BIN ]] && printf 'waypost\t%s\n' "$WAYPOST_BIN"
} >"$VERSIONS"

WPT_NFAIL=0
"$WPT_PY" - "$RESULTS" "$DAEMONS" "$END_FIG" "$WP_DNS_STATUS" "$VERSIONS" "$JSON" "$DURATION" \
  "$OUTSTANDING" "$DOMAINS" "$NAMES" "$(nproc)" <<'EOF'
import json, sys
results, daemons_f, end_f, wpdns_f, versions_f, as_json = sys.argv[1:7]
duration, outstanding, domains, names, cpus = map(int, sys.argv[7:12])
num = lambda s: float(s) if s not in ("", None) else None
def rows(path):
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
mb = lambda kb: round(int(kb) / 1024, 1) if kb not in ("", None) else None

cases = []
for r in rows(results):
    case, daemon, status, *rest = r + [""] * 12
    qps, sent, done, lost, avg, mx, rcodes, cpu, up_cpu, cl_cpu = (rest + [""] * 10)[:10]
    c = {"case": case, "daemon": daemon, "status": status, "qps": num(qps),
         "sent": int(sent) if sent else None, "completed": int(done) if done else None,
         "lost": int(lost) if lost else None,
         "lost_pct": round(100 * int(lost) / int(sent), 3) if sent and lost and int(sent) else None,
         "latency_avg_ms": round(float(avg) * 1000, 3) if avg else None,
         "latency_max_ms": round(float(mx) * 1000, 3) if mx else None,
         "rcodes": dict(x.split(":", 1) for x in rcodes.split(",") if ":" in x) or None,
         "cpu_s": num(cpu), "upstream_cpu_s": num(up_cpu), "client_cpu_s": num(cl_cpu)}
    c["cpu_us_per_query"] = (round(c["cpu_s"] * 1e6 / c["completed"], 2)
                             if c["cpu_s"] is not None and c["completed"] else None)
    c["cpu_pct"] = round(100 * c["cpu_s"] / duration, 1) if c["cpu_s"] is not None else None
    c["client_cpu_pct"] = round(100 * c["client_cpu_s"] / duration, 1) if c["client_cpu_s"] is not None else None
    c["rcodes"] = {k: int(v) for k, v in c["rcodes"].items()} if c["rcodes"] else None
    cases.append(c)
by = {(c["case"], c["daemon"]): c for c in cases}
ratios = {}
for case in dict.fromkeys(c["case"] for c in cases):
    a, b = (by.get((case, "waypost")) or {}).get("qps"), (by.get((case, "dnsmasq")) or {}).get("qps")
    ratios[case] = round(a / b, 3) if a is not None and b else None
for c in cases:
    c["x_dnsmasq"] = ratios.get(c["case"]) if c["daemon"] == "waypost" else (1.0 if c["qps"] is not None else None)

end = {r[0]: r[1:] for r in rows(end_f)}
ds = []
for r in rows(daemons_f):
    name, status, pid, rss0 = (r + [""] * 4)[:4]
    rss1, hwm, cpu = (end.get(name, []) + [""] * 3)[:3]
    ds.append({"daemon": name, "status": status, "pid": int(pid) if pid else None,
               "rss_start_mb": mb(rss0), "rss_end_mb": mb(rss1), "peak_rss_mb": mb(hwm), "cpu_s": num(cpu)})
try:
    wpdns = json.load(open(wpdns_f))
except Exception:
    wpdns = None
keys = ("queries", "answered", "blocked", "servfail", "refused", "overload", "timeouts",
        "upstream_failures", "send_errors", "inflight_peak")
for d in ds:
    if d["daemon"] == "waypost" and isinstance(wpdns, dict):
        d["resolver"] = {k: wpdns.get(k) for k in keys}
doc = {"duration_s": duration, "outstanding": outstanding, "blocklist_domains": domains,
       "names_per_set": names, "cpus": cpus, "versions": dict(rows(versions_f)),
       "ratios_waypost_to_dnsmasq": ratios, "cases": cases, "daemons": ds}

def f(v, fmt="%.2f"):
    return "n/a" if v is None else fmt % v
out = ["%-8s %-8s %9s %9s %7s %8s %8s %7s %6s %8s %9s %9s" % (
    "case", "daemon", "qps", "x dnsmasq", "lost %", "avg ms", "max ms", "CPU s", "CPU %", "CPU us/q",
    "dnsperf %", "upstr CPU")]
for c in cases:
    if c["qps"] is None:
        out.append("%-8s %-8s n/a (%s)" % (c["case"], c["daemon"], c["status"].removeprefix("n/a: ")))
        continue
    out.append("%-8s %-8s %9.0f %9s %7s %8s %8s %7s %6s %8s %9s %9s" % (
        c["case"], c["daemon"], c["qps"], f(c["x_dnsmasq"], "%.3f"), f(c["lost_pct"]),
        f(c["latency_avg_ms"], "%.3f"), f(c["latency_max_ms"], "%.1f"), f(c["cpu_s"]),
        f(c["cpu_pct"], "%.0f"), f(c["cpu_us_per_query"], "%.1f"), f(c["client_cpu_pct"], "%.0f"),
        f(c["upstream_cpu_s"])))
out.append("")
out.append("%-8s %13s %11s %12s %11s" % ("daemon", "RSS start MB", "RSS end MB", "peak RSS MB", "CPU s (all)"))
for d in ds:
    if d["status"] != "ok":
        out.append("%-8s n/a (%s)" % (d["daemon"], d["status"].removeprefix("n/a: ")))
        continue
    out.append("%-8s %13s %11s %12s %11s" % (d["daemon"], f(d["rss_start_mb"], "%.1f"), f(d["rss_end_mb"], "%.1f"),
                                            f(d["peak_rss_mb"], "%.1f"), f(d["cpu_s"])))
    if d.get("resolver"):
        out.append("         resolver: " + ", ".join("%s %s" % (k, v) for k, v in d["resolver"].items()))
out.append("")
out.append("%d s per case, dnsperf -c 1 -T 1 -q %d, %d-domain block list, %d names per set, %d CPUs"
           % (duration, outstanding, domains, names, cpus))
table = "\n".join(out)
if as_json == "1":
    print(table, file=sys.stderr)
    print(json.dumps(doc, indent=2))
else:
    print(table)
EOF
