#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test Waypost has. Idempotent. Run as root:
# the namespace tests create network namespaces, TUN devices and firewall tables (all their own,
# all removed afterwards).
#
# Stages:
#   1. release build (g++): unit tests, fuzz-corpus replays, namespace tests against real peers
#      (among them scripts/run.sh's first run, and the Debian package built from this build's
#      binary, installed, upgraded and purged in a systemd-nspawn container);
#      lint: clang-format --dry-run -Werror on every file, clang-tidy (.clang-tidy) on every
#      TU that can have changed since the lint base (.ci/lint-base, a commit whose whole tree
#      passed; scripts/lint.sh says how; LINT_FULL=1 checks every TU)
#   2. clang ASan+UBSan build with libFuzzer instrumentation: unit tests, then each fuzz target
#      for FUZZ_SECONDS (default 10)
#   3. clang TSan build: the unit tests that run threads
# The builds of stages 2 and 3 and lint run in the background from the start, at the lowest
# priority: CI is CPU-bound on 2 cores, and the namespace tests leave cores idle while they
# wait on timers and peers.
# Environment: FUZZ_SECONDS, SKIP_NETNS=1, SKIP_SANITIZERS=1, SKIP_LINT=1 (for quick local
# iterations only).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh --test || exit 1

passed=0
failed=0
failures=()
stage_times=()
# Stage banners carry the elapsed time, and the summary repeats them: CI keeps only the tail of
# the output, and the whole run has to stay well inside its time limit.
# Each entry also says how busy the cores were since the previous one (from /proc/stat): what
# to shorten first is what keeps them busy.
cpu_prev=
cpu_busy=
update_cpu_busy() {
  local -a f
  read -ra f </proc/stat
  local idle=$((f[4] + f[5])) total=0 v
  for v in "${f[@]:1}"; do total=$((total + v)); done
  cpu_busy='   -'
  if [[ -n $cpu_prev ]]; then
    local dt=$((total - ${cpu_prev% *})) di=$((idle - ${cpu_prev#* }))
    ((dt > 0)) && cpu_busy=$(printf '%3d%%' $((100 * (dt - di) / dt)))
  fi
  cpu_prev="$total $idle"
}
note() {
  update_cpu_busy
  printf '\n=== %s (at %d s; cores %s busy since the last banner) ===\n' "$*" "$SECONDS" "$cpu_busy"
  stage_times+=("$(printf '%5d s  %s busy before  %s' "$SECONDS" "$cpu_busy" "$*")")
}

# Runs ctest and adds its counts to the totals.
# run_ctest DIR LABEL [CTEST ARGS...]
run_ctest() {
  local dir=$1 label=$2 out
  shift 2
  out=$(mktemp)
  ctest --test-dir "$dir" -L "$label" --output-on-failure --timeout 900 "$@" 2>&1 | tee "$out"
  local line total fails
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    failures+=("ctest $dir -L $label produced no result")
  else
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
    ((fails == 0)) || failures+=("$dir: $fails failed (label $label)")
  fi
  rm -f "$out"
}

# Runs the GoogleTest binary BIN split into one shard per core, side by side, and adds its counts
# to the totals. ctest would start the binary once per test (800 processes: 4 minutes under
# ASan); one process per shard is the same tests in a fraction of the time. Only failing tests
# are printed (--gtest_brief); a shard that dies (a sanitizer report) shows its last lines.
run_gtest() {
  local bin=$1 label=$2 n i np nf
  local -a outs=() pids=()
  n=$(nproc)
  for ((i = 0; i < n; i++)); do
    outs+=("$(mktemp)")
    GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i "$bin" --gtest_brief=1 >"${outs[i]}" 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < n; i++)); do
    wait "${pids[i]}"
    np=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\.$/\1/p' "${outs[i]}" | tail -1)
    nf=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below:$/\1/p' "${outs[i]}" | tail -1)
    if [[ -z "$np$nf" ]]; then
      tail -80 "${outs[i]}"
      failed=$((failed + 1))
      failures+=("$label: shard $i of $n did not finish")
    else
      grep -E '^\[  FAILED  \]|Failure$|^Expected|^  Actual|^Value of|^Which is' "${outs[i]}" | head -200
      passed=$((passed + ${np:-0}))
      failed=$((failed + ${nf:-0}))
      [[ -z "$nf" ]] || failures+=("$label: $nf tests failed")
    fi
    echo "$label, shard $i of $n: ${np:-0} passed, ${nf:-0} failed"
    rm -f "${outs[i]}"
  done
}

# The unit tests of build directory DIR: the GoogleTest binary (run_gtest), then through ctest
# the other tests labelled unit, which are labelled unit_other too. A unit test in neither would
# be skipped silently: the counts are compared first.
run_unit() {
  local dir=$1 all gt other
  all=$(ctest --test-dir "$dir" -N -L '^unit$' | grep -cE '^ *Test +#')
  other=$(ctest --test-dir "$dir" -N -L '^unit_other$' | grep -cE '^ *Test +#')
  gt=$("$dir/tests/waypost_unit_tests" --gtest_list_tests | grep -c '^  ')
  if ((all != gt + other)); then
    failed=$((failed + 1))
    failures+=("$dir: $all tests labelled unit, but $gt in waypost_unit_tests and $other labelled unit_other")
  fi
  run_gtest "$dir/tests/waypost_unit_tests" "$dir unit tests"
  run_ctest "$dir" '^unit_other$'
}

note "stage 1: release build"
# Tests on explicitly: scripts/run.sh configures the same build directory without them.
# Lint needs only the compile database, which configuring writes: it starts right away, at the
# lowest priority, and takes what the build leaves of the cores and then what the namespace
# tests leave (they mostly wait on timers and peers, and are written to pass on a busy
# machine, issue 17). Its report is printed once the namespace tests are done.
lint_pid=
lint_log=$(mktemp)
configured=0
# -g1 (line tables and function names: backtraces still name file:line) instead of -g: full
# debug info is a third of the compile time at -O2, and the tests never need local variables.
if cmake -S "$ROOT" -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAYPOST_TESTS=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null; then
  configured=1
  if [[ "${SKIP_LINT:-0}" != 1 ]]; then
    note "stage 1: lint (clang-format, clang-tidy), in the background"
    nice -n 19 bash scripts/lint.sh build >"$lint_log" 2>&1 &
    lint_pid=$!
  fi
fi
# The sanitizer builds need nothing from stage 1 either: they start now too, at the lowest
# priority, one after the other, and take what the release build, the tests and lint leave of
# the cores; stages 2 and 3 then wait only for what is left of them. Each build's exit status
# goes to a file; its output is shown when it failed.
san_pid=
san_dir=$(mktemp -d)
if [[ "${SKIP_SANITIZERS:-0}" != 1 ]]; then
  note "stages 2 and 3: sanitizer builds, in the background"
  (
    # -O1 with line tables only: sanitizer reports keep file:line, the builds stay quick.
    CC=clang CXX=clang++ nice -n 19 cmake -S "$ROOT" -B build-asan -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
      -DWAYPOST_SANITIZE=address,undefined -DWAYPOST_FUZZ=ON >/dev/null &&
      nice -n 19 ninja -C build-asan -j"$(nproc)" waypost_unit_and_fuzz >"$san_dir/asan.log" 2>&1
    # Renamed into place: stage 2 polls for the file and must never read it half written.
    echo $? >"$san_dir/asan.rc.tmp" && mv "$san_dir/asan.rc.tmp" "$san_dir/asan.rc"
    CC=clang CXX=clang++ nice -n 19 cmake -S "$ROOT" -B build-tsan -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
      -DWAYPOST_SANITIZE=thread >/dev/null &&
      nice -n 19 ninja -C build-tsan -j"$(nproc)" waypost_threaded_tests >"$san_dir/tsan.log" 2>&1
    echo $? >"$san_dir/tsan.rc"
  ) &
  san_pid=$!
fi
if ((configured)) && ninja -C build -j"$(nproc)"; then
  note "stage 1: unit tests"
  run_unit build
  if [[ "${SKIP_NETNS:-0}" != 1 ]]; then
    note "stage 1: namespace tests against wireguard-go and strongSwan, $(nproc) at a time"
    run_ctest build netns -j"$(nproc)"
  fi
  if [[ -n $lint_pid ]]; then
    if wait "$lint_pid"; then lint_ok=1; else lint_ok=0; fi
    note "stage 1: lint report"
    cat "$lint_log"
    if ((lint_ok)); then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      failures+=("lint: clang-format or clang-tidy findings")
    fi
  fi
  rm -f "$lint_log"
else
  failed=$((failed + 1))
  failures+=("release build failed")
  [[ -n $lint_pid ]] && wait "$lint_pid"
fi

# san_built NAME: the background build NAME (asan, tsan) succeeded; prints its output if not.
san_built() {
  if [[ $(cat "$san_dir/$1.rc" 2>/dev/null) == 0 ]]; then return 0; fi
  tail -60 "$san_dir/$1.log" 2>/dev/null
  return 1
}

if [[ -n $san_pid ]]; then
  note "stage 2: clang ASan+UBSan build (+ libFuzzer): waiting for the background build"
  # Only the ASan build: the TSan build goes on behind it.
  while [[ ! -e $san_dir/asan.rc ]] && kill -0 "$san_pid" 2>/dev/null; do sleep 1; done
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if san_built asan; then
    note "stage 2: unit tests under ASan+UBSan"
    run_unit build-asan
    note "stage 2: fuzzing each target for ${FUZZ_SECONDS:-10} s, $(nproc) at a time"
    # Each fuzzer is one process on one core: as many run at once as there are cores. Results
    # are collected in target order once a batch is done.
    fuzzers=(build-asan/tests/fuzz/*_fuzz)
    for ((i = 0; i < ${#fuzzers[@]}; i += $(nproc))); do
      batch=("${fuzzers[@]:i:$(nproc)}")
      declare -A work=() pid=()
      for f in "${batch[@]}"; do
        name=$(basename "$f")
        work[$name]=$(mktemp -d)
        cp -r "tests/fuzz/corpus/$name/." "${work[$name]}/" 2>/dev/null || true
        "$f" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=2048 \
          -artifact_prefix="${work[$name]}/" "${work[$name]}" >"${work[$name]}.log" 2>&1 &
        pid[$name]=$!
      done
      for f in "${batch[@]}"; do
        name=$(basename "$f")
        w=${work[$name]}
        if wait "${pid[$name]}"; then
          passed=$((passed + 1))
          echo "fuzz $name: ok ($(grep -Eo 'Done [0-9]+ runs' "$w.log" | tail -1))"
        else
          failed=$((failed + 1))
          failures+=("fuzz $name found a crash")
          tail -40 "$w.log"
          ls "$w"/crash-* "$w"/leak-* "$w"/timeout-* 2>/dev/null
        fi
        rm -rf "$w" "$w.log"
      done
      unset work pid
    done
  else
    failed=$((failed + 1))
    failures+=("ASan/UBSan build failed")
  fi

  note "stage 3: clang TSan build (the unit tests that run threads: tests/CMakeLists.txt)"
  wait "$san_pid"
  if san_built tsan; then
    TSAN_OPTIONS=halt_on_error=1 run_gtest build-tsan/tests/waypost_threaded_tests "TSan unit tests"
  else
    failed=$((failed + 1))
    failures+=("TSan build failed")
  fi
fi

rm -rf "$san_dir"
note "summary"
printf '%s\n' "${stage_times[@]}"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
((failed == 0))
