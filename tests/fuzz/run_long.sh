#!/usr/bin/env bash
# Runs every libFuzzer target (or some) for a long time and keeps what they learn.
#
# Usage: tests/fuzz/run_long.sh [--build DIR] [--seconds S] [--cpu-seconds C] [--timeout T]
#                               [--targets a,b] [--out DIR]
#   --build DIR    a build with -DWAYPOST_FUZZ=ON (default build-asan, as scripts/test.sh makes)
#   --seconds S    wall-clock seconds per target (default 3600 = one CPU-hour each on an idle core)
#   --cpu-seconds C  stop a target once it has used C CPU seconds (wall clock limit still applies;
#                  use it with a large --seconds when the fuzzers share the machine, e.g. under
#                  `chrt -i 0`, so that a busy machine does not shorten the run)
#   --timeout T    seconds one input may run before it counts as a hang (default 10; raise it when
#                  the fuzzers may be paused with SIGSTOP, e.g. while a benchmark runs)
#   --targets L    comma-separated subset (default: every *_fuzz in DIR/tests/fuzz)
#   --out DIR      working corpora, crash reproducers and logs (default /var/tmp/waypost-fuzz)
# Ctrl-C (or SIGTERM) stops the running fuzzer cleanly, records its CPU time and starts no other.
# Each target starts from its seeds in tests/fuzz/corpus/<target>/ plus whatever an earlier run
# left in --out, runs single-process (one core) under ASan+UBSan, and prints one line:
#   <target>: <cpu seconds> CPU s, <runs> runs, corpus <n> files, crashes <n>
# CPU time comes from the kernel (/proc/<pid>/stat of the fuzzer), not from the wall clock.
# Crash, leak and timeout reproducers are kept in --out/<target>/artifacts/ ("crashes" counts the
# ones this run wrote); copy the ones you fixed into tests/fuzz/corpus/<target>/ so that every
# test run replays them.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build-asan
SECONDS_PER=3600
CPU_LIMIT=0
UNIT_TIMEOUT=10
TARGETS=
OUT=/var/tmp/waypost-fuzz
while (($#)); do
  case $1 in
    --build) BUILD=${2:?}; shift 2 ;;
    --seconds) SECONDS_PER=${2:?}; shift 2 ;;
    --timeout) UNIT_TIMEOUT=${2:?}; shift 2 ;;
    --cpu-seconds) CPU_LIMIT=${2:?}; shift 2 ;;
    --targets) TARGETS=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ $SECONDS_PER =~ ^[0-9]+$ && $SECONDS_PER -ge 1 ]] || { echo "--seconds: a positive number" >&2; exit 2; }
[[ $UNIT_TIMEOUT =~ ^[0-9]+$ && $UNIT_TIMEOUT -ge 1 ]] || { echo "--timeout: a positive number" >&2; exit 2; }
[[ $CPU_LIMIT =~ ^[0-9]+$ ]] || { echo "--cpu-seconds: a number" >&2; exit 2; }
if [[ -z $TARGETS ]]; then
  TARGETS=$(cd "$BUILD/tests/fuzz" 2>/dev/null && ls -- *_fuzz | paste -sd, -)
fi
[[ -n $TARGETS ]] || { echo "no fuzz targets in $BUILD/tests/fuzz (build with -DWAYPOST_FUZZ=ON)" >&2; exit 2; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tck=$(getconf CLK_TCK)
status=0
interrupted=0
pid=
# Ctrl-C or kill: the running fuzzer is asked to stop (it keeps its corpus), its CPU time is
# recorded like any other run, and no further target starts.
trap 'interrupted=1; [[ -n $pid ]] && kill -INT "$pid" 2>/dev/null' INT TERM
IFS=, read -r -a list <<<"$TARGETS"
for t in "${list[@]}"; do
  bin=$BUILD/tests/fuzz/$t
  [[ -x $bin ]] || { echo "$t: not built" >&2; status=1; continue; }
  dir=$OUT/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -rn "$ROOT/tests/fuzz/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
  touch "$dir/started"  # crashes are counted per run: reproducers written after this
  "$bin" -max_total_time="$SECONDS_PER" -timeout="$UNIT_TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/last.log" 2>&1 &
  pid=$!
  cpu=0
  stopped=0
  # Sample the fuzzer's CPU time until it exits (the last sample is within a second of the end).
  while kill -0 "$pid" 2>/dev/null; do
    if read -r -a st <"/proc/$pid/stat" 2>/dev/null; then cpu=$(((st[13] + st[14]) / tck)); fi
    # libFuzzer ends cleanly on SIGINT: final stats are printed and the corpus is kept.
    if ((CPU_LIMIT > 0 && cpu >= CPU_LIMIT)); then kill -INT "$pid" 2>/dev/null; stopped=1; fi
    sleep 1
  done
  wait "$pid"
  rc=$?
  # A signal that arrives during `wait` ends the wait, not the fuzzer.
  while ((rc > 128)) && kill -0 "$pid" 2>/dev/null; do
    wait "$pid"
    rc=$?
  done
  # 72 is libFuzzer's exit status after SIGINT: the CPU budget was reached, or we were stopped.
  ((rc == 72 && (stopped || interrupted))) && rc=0
  runs=$(grep -Eo 'number_of_executed_units: [0-9]+' "$dir/last.log" | grep -Eo '[0-9]+$' | tail -1)
  # slow-unit-* files only say an input took long on the wall clock (e.g. while paused).
  crashes=$(find "$dir/artifacts" -type f -newer "$dir/started" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  echo "$t: $cpu CPU s, ${runs:-?} runs, corpus $(find "$dir/corpus" -type f | wc -l) files, crashes $crashes (exit $rc)"
  echo "$(date -u +%FT%TZ) $t cpu_s=$cpu runs=${runs:-?} crashes=$crashes exit=$rc" >>"$OUT/history.log"
  ((rc == 0 && crashes == 0)) || status=1
  pid=
  ((interrupted)) && break
done
exit $status
