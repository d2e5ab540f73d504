#!/usr/bin/env bash
# Waypost throughput / latency / footprint benchmark, side by side with wireguard-go.
#
# Usage (as root):
#   bench/run.sh [--duration S] [--quick] [--json] [--cases LIST] [--ping-count N]
#     --duration S    seconds per iperf3 run (default 10)
#     --quick         smoke run: --duration 2 --ping-count 20
#     --json          print only JSON on stdout (progress and the table go to stderr)
#     --cases LIST    comma-separated subset of: plain,wggo,wp-wggo,wp-wp,esp-sw,esp-wp-sw,esp-wp
#                     (default: all seven)
#     --ping-count N  pings (at 0.02 s intervals) for the RTT figure (default 100)
#   Environment: WAYPOST_BIN (default /work/main/build/src/waypost); WPT_WAYPOST_IMPL=wireguard-go
#   runs wireguard-go in Waypost's place (to check the script itself); WPT_KEEP=1 keeps logs.
#
# Topology (tests/netns/lib.sh "routed"): client ns -- router ns -- server ns over two veth
# links, forwarding in the router. Every case runs iperf3 TCP client->server for S seconds with
# 1 stream and with 4 streams (-P 4), and ping -c N -i 0.02 for the RTT:
#   plain    the routed path itself, no tunnel (outer addresses)
#   wggo     wireguard-go (client) <-> wireguard-go (server), tunnel MTU 1420
#   wp-wggo  Waypost (client) <-> wireguard-go (server), tunnel MTU 1420
#   wp-wp    Waypost (client) <-> Waypost (server), tunnel MTU 1420
#   esp-sw     strongSwan charon + kernel-libipsec at both ends: IKEv2 PSK, ESP in UDP with
#              aes256gcm16 (Algo's proposals), site to site 10.250.0.1 <-> 10.250.1.2, MTU 1400
#   esp-wp-sw  `waypost ipsec` (client, initiator) <-> strongSwan (server)
#   esp-wp     `waypost ipsec` at both ends
# ESP cases also measure the IKE_SA + CHILD_SA setup time: the median of 5 initiations by the
# client's CLI (swanctl --initiate / waypost ipsec initiate, each after a terminate), and report
# throughput, added RTT and setup time as ratios over esp-sw ("x sw").
# Per daemon: peak RSS (VmHWM from /proc/<pid>/status at the end of the case) and CPU seconds
# (utime+stime from /proc/<pid>/stat, consumed during the two iperf3 runs), each summed over the
# daemon's process tree. RTT is the median of the N pings (the mean is in the JSON too: on a
# small VM a few pings wait milliseconds for the hypervisor, whichever daemon forwards them, and
# they decide a mean). Added RTT = tunnel RTT - plain RTT (the plain case's, else a baseline
# taken when the topology comes up); "x wggo" after it is that added RTT over wireguard-go's.
# A case whose daemon is missing or fails to carry traffic prints "n/a" with the reason and the
# run goes on.
# Exit status: 0 unless the topology or the plain case fails. See bench/README.md.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DURATION=10
PING_COUNT=100
JSON=0
CASES=plain,wggo,wp-wggo,wp-wp,esp-sw,esp-wp-sw,esp-wp
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
while (($#)); do
  case $1 in
    --duration) DURATION=${2:?}; shift 2 ;;
    --quick) DURATION=2 PING_COUNT=20; shift ;;
    --json) JSON=1; shift ;;
    --cases) CASES=${2:?}; shift 2 ;;
    --ping-count) PING_COUNT=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 && $DURATION -le 120 ]] || { echo "--duration: 1..120" >&2; exit 2; }
[[ $PING_COUNT =~ ^[0-9]+$ && $PING_COUNT -ge 1 && $PING_COUNT -le 1000 ]] || { echo "--ping-count: 1..1000" >&2; exit 2; }

WPT_NAME=bench WPT_REPORT_FD=2 WPT_NO_SUMMARY=1 WPT_WP_LOG_LEVEL=info
# shellcheck source=../tests/netns/lib.sh
source "$BENCH_DIR/../tests/netns/lib.sh"
# shellcheck source=proc_figures.sh
source "$BENCH_DIR/proc_figures.sh"
wpt_begin --no-waypost wireguard-go wg ip ping iperf3 ss timeout swanctl
RESULTS=$WPT_SCRATCH/results.tsv
: >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)

# iperf_gbps DST STREAMS: Gbit/s received by the server ("" on failure).
iperf_gbps() {
  local dst=$1 streams=$2 port=$((5201 + RANDOM % 1000)) spid out=$WPT_SCRATCH/iperf-$1-$2.json
  ip netns exec "$NS_S" timeout $((DURATION + 30)) iperf3 -s -1 -B "$dst" -p "$port" >/dev/null 2>&1 &
  spid=$!
  wpt_track_pid "$spid"
  if ! wait_for 5 tcp_listening "$NS_S" "$port"; then
    wpt_stop_pid "$spid"
    return 1
  fi
  timeout $((DURATION + 20)) ip netns exec "$NS_C" iperf3 -c "$dst" -p "$port" -t "$DURATION" \
    -P "$streams" --connect-timeout 5000 -J >"$out" 2>"$out.err"
  wpt_stop_pid "$spid"
  "$WPT_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("%.3f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' "$out" 2>/dev/null
}

# record NAME STATUS G1 G4 RTT DAEMONS RTT_MEAN SETUP_MS SETUP_CLI_MS: one result row; DAEMONS
# "role:impl:pid:rss_kb:cpu_s ..."
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# esp_setup_ms: "WIRE CLI", the medians in milliseconds of 5 terminate + initiate cycles. WIRE is
# measured on the client's link, the same way for every implementation: from the first
# IKE_SA_INIT request to the IKE_AUTH response (retries such as INVALID_KE_PAYLOAD included).
# CLI is the initiating command's own run time (process start-up and its wait included).
esp_setup_ms() { # esp_setup_ms CASE
  local i t0 cli=() wire
  cap_start "setup-$1" "$NS_C" "$VETH_C" 120 'udp port 500 or (udp port 4500 and udp[8:4] = 0)' || return 1
  for i in 1 2 3 4 5; do
    esp_terminate
    sleep 0.3
    t0=${EPOCHREALTIME/./}
    esp_initiate || return 1
    cli+=($(((${EPOCHREALTIME/./} - t0) / 1000)))
  done
  sleep 0.2
  wpt_stop_pid "$(cat "$WPT_SCRATCH/cap/setup-$1.pid")" 3
  # tcpdump names IKEv2 exchanges: ikev2_init[I] (request), ikev2_auth[R] (response).
  wire=$(tcpdump -r "$WPT_SCRATCH/cap/setup-$1.pcap" -n -tt 2>/dev/null | awk '
    /ikev2_init\[I\]/ { if (start == "") start = $1 }
    /ikev2_auth\[R\]/ { if (start != "") { printf "%.1f\n", ($1 - start) * 1000; start = "" } }' |
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
  echo "${wire:-} $(printf '%s\n' "${cli[@]}" | sort -n | sed -n 3p)"
}

# case_logs: the last lines of both daemons' logs of the current case, to stderr.
case_logs() {
  local f
  for f in "$(wp_logfile "${IF_C:-}")" "$(wp_logfile "${IF_S:-}")" "$WPT_SCRATCH"/logs/ipsec-*.log \
    "$WPT_SCRATCH"/logs/charon-*.log; do
    [[ -s $f ]] && { echo "--- tail of $(basename "$f")" >&2; tail -n 5 "$f" >&2; }
  done
}

# run_case NAME DST CLIENT_IMPL SERVER_IMPL (impls empty for the plain case)
# tunnel_for_case CLIENT_IMPL SERVER_IMPL: brings the case's tunnel up (WireGuard: wggo/wp;
# ESP: sw/wpi, established here); case_down takes it down again.
tunnel_for_case() {
  case $1 in
    sw | wpi) esp_tunnel_up "$1" "$2" && esp_initiate ;;
    *) tunnel_up "$1" "$2" 4 0 client ;;
  esac
}
case_down() {
  case ${1:-} in
    sw | wpi) esp_tunnel_down ;;
    *) tunnel_down ;;
  esac
}

# run_case NAME DST CLIENT_IMPL SERVER_IMPL (impls empty for the plain case)
run_case() {
  local name=$1 dst=$2 cimpl=${3:-} simpl=${4:-} pids=() roles=() impls=() c0=() i g1 g4 rtt rtt_mean
  local daemons="" setup="" setup_cli=""
  log "case $name: starting"
  if [[ -n $cimpl ]]; then
    if [[ ($cimpl == wp* || $simpl == wp*) ]] && wpt_is_real_waypost && [[ ! -x $WAYPOST_BIN ]]; then
      record "$name" "n/a: waypost binary not found ($WAYPOST_BIN)" "" "" "" ""
      return
    fi
    if ! tunnel_for_case "$cimpl" "$simpl"; then
      record "$name" "n/a: a daemon failed to start or connect" "" "" "" ""
      case_logs
      case_down "$cimpl"
      return
    fi
    pids=("$PID_C" "$PID_S") roles=(client server) impls=("$(impl_label "$cimpl")" "$(impl_label "$simpl")")
  fi
  if ! ping_ok "$NS_C" "$dst" 10; then
    record "$name" "n/a: no ping to $dst" "" "" "" ""
    [[ -n $cimpl ]] && case_logs
    case_down "$cimpl"
    return
  fi
  read -r rtt rtt_mean < <(ping_stats "$NS_C" "$dst" "$PING_COUNT" 0.02)
  for i in "${!pids[@]}"; do c0[i]=$(cpu_ticks "${pids[i]}"); done
  g1=$(iperf_gbps "$dst" 1)
  g4=$(iperf_gbps "$dst" 4)
  for i in "${!pids[@]}"; do
    daemons+="${roles[i]}|${impls[i]}|${pids[i]}|$(status_kb "${pids[i]}" VmHWM)|"
    daemons+="$(awk -v a="${c0[i]:-0}" -v b="$(cpu_ticks "${pids[i]}")" -v t="$CLK_TCK" 'BEGIN { if (b == "") print ""; else printf "%.2f", (b - a) / t }') "
  done
  [[ $cimpl == sw || $cimpl == wpi ]] && read -r setup setup_cli < <(esp_setup_ms "$name")
  if [[ -z $g1 && -z $g4 ]]; then
    record "$name" "n/a: iperf3 failed" "" "" "$rtt" "$daemons" "$rtt_mean" "$setup" "$setup_cli"
  else
    record "$name" ok "$g1" "$g4" "$rtt" "$daemons" "$rtt_mean" "$setup" "$setup_cli"
  fi
  log "case $name: 1 stream ${g1:-n/a} Gbit/s, 4 streams ${g4:-n/a} Gbit/s, rtt ${rtt:-n/a} ms${setup:+, setup $setup ms on the wire, $setup_cli ms by the CLI}"
  case_down "$cimpl"
}

topo_routed
read -r BASE_RTT _ < <(ping_stats "$NS_C" "$OUT4_S" "$PING_COUNT" 0.02)
log "routed topology up; plain RTT ${BASE_RTT:-n/a} ms; iperf3 ${DURATION}s per run"

rc=0
for c in ${CASES//,/ }; do
  case $c in
    plain) run_case plain "$OUT4_S"; grep -q $'^plain\tok' "$RESULTS" || rc=1 ;;
    wggo) run_case wggo "$TUN4_S" wggo wggo ;;
    wp-wggo) run_case wp-wggo "$TUN4_S" wp wggo ;;
    wp-wp) run_case wp-wp "$TUN4_S" wp wp ;;
    esp-sw) run_case esp-sw "$ESP_IN_S" sw sw ;;
    esp-wp-sw) run_case esp-wp-sw "$ESP_IN_S" wpi sw ;;
    esp-wp) run_case esp-wp "$ESP_IN_S" wpi wpi ;;
    *) log "unknown case: $c (skipped)" ;;
  esac
done

# Case failures are reported as n/a rows, not as test failures.
WPT_NFAIL=0
"$WPT_PY" - "$RESULTS" "$JSON" "$DURATION" "$PING_COUNT" "${BASE_RTT:-}" "$WPT_WAYPOST_IMPL" <<'EOF'
import json, sys
path, as_json, duration, ping_count, base_rtt, impl = sys.argv[1:7]
num = lambda s: float(s) if s not in ("", None) else None
rows = []
for line in open(path):
    name, status, g1, g4, rtt, daemons, rtt_mean, setup, setup_cli = (
        line.rstrip("\n").split("\t") + [""] * 9)[:9]
    ds = []
    for d in daemons.split():
        role, impl_name, pid, rss, cpu = (d.split("|") + [""] * 5)[:5]
        ds.append({"role": role, "impl": impl_name, "pid": int(pid),
                   "peak_rss_mb": round(int(rss) / 1024, 1) if rss else None, "cpu_s": num(cpu)})
    rows.append({"case": name, "status": status, "gbps_1": num(g1), "gbps_4": num(g4),
                 "rtt_ms": num(rtt), "rtt_mean_ms": num(rtt_mean), "setup_ms": num(setup),
                 "setup_cli_ms": num(setup_cli),
                 "daemons": ds})
by = {r["case"]: r for r in rows}
base = (by.get("plain") or {}).get("rtt_ms") or num(base_rtt)
def ratio(r, ref, k):
    a, b = r.get(k), (by.get(ref) or {}).get(k)
    return round(a / b, 3) if a is not None and b else None
for r in rows:
    for k in ("gbps_1", "gbps_4"):
        r["x_wggo_" + k[-1]] = ratio(r, "wggo", k)
        r["x_plain_" + k[-1]] = ratio(r, "plain", k)
    r["added_rtt_ms"] = round(r["rtt_ms"] - base, 3) if r["rtt_ms"] is not None and base is not None else None
for r in rows:  # a second pass: wggo's own added RTT must exist first
    r["x_wggo_added_rtt"] = ratio(r, "wggo", "added_rtt_ms")
    if r["case"].startswith("esp-"):
        # ESP cases against strongSwan at both ends.
        for k in ("gbps_1", "gbps_4", "added_rtt_ms", "setup_ms", "setup_cli_ms"):
            r["x_sw_" + k] = ratio(r, "esp-sw", k)
doc = {"duration_s": int(duration), "ping_count": int(ping_count), "plain_rtt_ms": base,
       "waypost_impl": impl, "cases": rows}

def f(v, fmt="%.2f"):
    return "n/a" if v is None else fmt % v
out = []
row = "%-8s %7s %7s %13s %15s %7s %7s %6s %13s %13s"
out.append(row % (
    "case", "1str", "4str", "x wggo", "x plain", "RTT", "+RTT", "x wggo", "peak RSS MB", "CPU s"))
out.append(row % (
    "", "Gbit/s", "Gbit/s", "1str / 4str", "1str / 4str", "ms", "ms", "+RTT", "client/server", "client/server"))
for r in rows:
    if r["status"] != "ok" and r["gbps_1"] is None:
        out.append("%-8s n/a (%s)" % (r["case"], r["status"].removeprefix("n/a: ")))
        continue
    ds = r["daemons"]
    rss = "/".join(f(d["peak_rss_mb"], "%.1f") for d in ds) or "-"
    cpu = "/".join(f(d["cpu_s"]) for d in ds) or "-"
    out.append(row % (
        r["case"], f(r["gbps_1"]), f(r["gbps_4"]),
        f(r["x_wggo_1"]) + " / " + f(r["x_wggo_4"]), f(r["x_plain_1"], "%.3f") + " / " + f(r["x_plain_4"], "%.3f"),
        f(r["rtt_ms"], "%.3f"), f(r["added_rtt_ms"], "%.3f"), f(r["x_wggo_added_rtt"]), rss, cpu))
esp = [r for r in rows if r["case"].startswith("esp-") and r["gbps_1"] is not None]
if esp:
    out.append("")
    erow = "%-10s %16s %10s %10s %10s %10s %10s"
    out.append(erow % ("ESP case", "x sw", "x sw", "setup ms", "x sw", "CLI setup", "x sw"))
    out.append(erow % ("", "1str / 4str", "+RTT", "on wire", "setup", "ms", "CLI"))
    for r in esp:
        out.append(erow % (r["case"], f(r.get("x_sw_gbps_1")) + " / " + f(r.get("x_sw_gbps_4")),
                           f(r.get("x_sw_added_rtt_ms")), f(r["setup_ms"], "%.1f"),
                           f(r.get("x_sw_setup_ms")), f(r["setup_cli_ms"], "%.0f"),
                           f(r.get("x_sw_setup_cli_ms"))))
table = "\n".join(out)
if as_json == "1":
    print(table, file=sys.stderr)
    print(json.dumps(doc, indent=2))
else:
    print(table)
EOF
exit "$rc"
