#!/usr/bin/env bash
# Lint stage: (a) clang-format --dry-run -Werror on every tracked *.cc/*.h, (b) clang-tidy with the
# repo's .clang-tidy on every project translation unit in BUILD_DIR/compile_commands.json (tracked
# files only, so CMake's compiler-id probes and anything generated are skipped; headers are covered
# through HeaderFilterRegex). Both run over $(nproc) jobs. Prints the findings, then one summary
# line; exits non-zero on any finding or tool failure.
#
# Usage: scripts/lint.sh [BUILD_DIR]   (default: build; it must be configured, the top-level
#        CMakeLists.txt exports compile_commands.json; generated sources, if any, must be built)
# Environment: LINT_JOBS (default: nproc), CLANG_FORMAT / CLANG_TIDY (default: the -14 binaries,
#        the versions the tree is checked with), SKIP_FORMAT=1 / SKIP_TIDY=1, LINT_FULL=1.
#
# clang-tidy and the lint base. clang-tidy costs about as much CPU as a whole build (its matchers
# walk every declaration of every header, the standard library's and nlohmann/json's included),
# and CI's time on 2 cores is CPU-bound. So by default it checks the translation units that can
# have changed since the commit in .ci/lint-base, a commit on which the whole tree passed
# clang-tidy (a CI run that passed, or `LINT_FULL=1 scripts/lint.sh`): a TU is checked when it
# or a project header it includes, directly or not, changed since then (committed or not). A
# change to .clang-tidy (the checks), a changed line of the top-level CMakeLists.txt that sets
# compile flags, definitions or the language standard (a new find_package or dependency changes
# no existing TU's flags), a base that is not in the history (a shallow clone), or LINT_FULL=1
# checks everything. Findings in unchanged files cannot appear: their TU and every project file
# it reads are what passed at the base. (A change to how this script runs clang-tidy needs a
# full run and a new base.)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
JOBS=${LINT_JOBS:-$(nproc)}
pick() { command -v "$1" >/dev/null && echo "$1" || echo "$2"; }
CLANG_FORMAT=${CLANG_FORMAT:-$(pick clang-format-14 clang-format)}
CLANG_TIDY=${CLANG_TIDY:-$(pick clang-tidy-14 clang-tidy)}
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

format_bad=0
format_failed=0
if [[ "${SKIP_FORMAT:-0}" != 1 ]]; then
  git ls-files -z -- '*.cc' '*.h' >"$work/format-files"
  # --dry-run -Werror prints "file:line:col: error: code should be clang-formatted" per hunk.
  xargs -0 -P "$JOBS" -n 16 "$CLANG_FORMAT" --dry-run -Werror <"$work/format-files" \
    >"$work/format.out" 2>&1 || format_failed=1
  format_bad=$(grep -oE '^[^:]+:[0-9]+:[0-9]+: error: code should be clang-formatted' \
    "$work/format.out" | cut -d: -f1 | sort -u | wc -l)
  grep -E 'error:' "$work/format.out" | head -50
  ((format_bad > 0)) && format_failed=1
fi

tidy_tus=0
tidy_findings=0
tidy_failed=0
if [[ "${SKIP_TIDY:-0}" != 1 ]]; then
  db="$BUILD/compile_commands.json"
  if [[ ! -f "$db" ]]; then
    echo "lint: $db missing; configure first: cmake -S . -B $BUILD -G Ninja" >&2
    exit 2
  fi
  # Project TUs: the database's entries for tracked files, each file once. clang-tidy checks a
  # file once per entry, and the fuzz replay driver has one entry per fuzz target.
  # The unit tests (tests/unit/) are left to the compilers by default: they are built with
  # -Wall -Wextra -Werror by g++ and again by clang in the ASan stage, are formatted
  # like the rest, and are the heaviest TUs to analyse (GoogleTest's macros): CI's 45 minutes
  # are CPU-bound on 2 cores, and these are where clang-tidy finds the least. LINT_TIDY_UNIT=1
  # checks them too.
  if [[ "${LINT_TIDY_UNIT:-0}" == 1 ]]; then
    git ls-files -- '*.cc' '*.cpp' '*.c' >"$work/tracked"
  else
    git ls-files -- '*.cc' '*.cpp' '*.c' ':!tests/unit/' >"$work/tracked"
  fi
  # Files changed since the lint base (committed, staged or not), or "ALL".
  base=$(tr -d ' \n' <"$ROOT/.ci/lint-base" 2>/dev/null)
  if [[ "${LINT_FULL:-0}" == 1 || -z $base ]] || ! git cat-file -e "$base^{commit}" 2>/dev/null; then
    echo ALL >"$work/changed"
    tidy_scope="all TUs${base:+ (LINT_FULL=1 or lint base $base not in this clone)}"
  else
    { git diff --name-only "$base" -- && git ls-files --others --exclude-standard; } | sort -u >"$work/changed"
    flags_changed=0
    if git diff "$base" -- CMakeLists.txt | grep -qE \
      '^[-+][^-+].*(add_compile_options|add_compile_definitions|add_definitions|add_link_options|CMAKE_[A-Z_]*FLAGS|CMAKE_CXX_STANDARD|CMAKE_CXX_EXTENSIONS|WERROR|_FORTIFY|fsanitize)'; then
      flags_changed=1
    fi
    if grep -qE '^\.clang-tidy$' "$work/changed" || ((flags_changed)); then
      echo ALL >"$work/changed"
      tidy_scope="all TUs (.clang-tidy or the compile flags in CMakeLists.txt changed since lint base ${base:0:12})"
    else
      tidy_scope="TUs changed since lint base ${base:0:12} (.ci/lint-base; LINT_FULL=1 for all)"
    fi
  fi
  python3 - "$db" "$ROOT" "$work/tracked" "$work/compile_commands.json" "$work/tus" \
    "$work/changed" <<'PY' || exit 2
import json, os, re, sys
db, root, tracked, out, tus, changed_file = sys.argv[1:]
ok = {os.path.join(root, line.strip()) for line in open(tracked) if line.strip()}
seen = {}
for e in json.load(open(db)):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f in ok and f not in seen:
        seen[f] = e
changed = [l.strip() for l in open(changed_file) if l.strip()]
if changed != ["ALL"]:
    changed = {os.path.join(root, c) for c in changed}
    # Project includes are quoted and relative to src/ (the folders' layer-include links point
    # there), the including file's directory, or the test and bench roots.
    roots = [os.path.join(root, d) for d in ("src", "tests/unit", "tests/fuzz", "tests", "bench")]
    include = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
    deps = {}
    def direct(path):
        if path not in deps:
            found = set()
            try:
                text = open(path, errors="replace").read()
            except OSError:
                text = ""
            for inc in include.findall(text):
                for d in [os.path.dirname(path)] + roots:
                    cand = os.path.normpath(os.path.join(d, inc))
                    if os.path.isfile(cand):
                        found.add(cand)
                        break
            deps[path] = found
        return deps[path]
    def closure(path):
        todo, done = [path], set()
        while todo:
            p = todo.pop()
            if p in done:
                continue
            done.add(p)
            todo.extend(direct(p))
        return done
    seen = {f: e for f, e in seen.items() if closure(f) & changed}
json.dump(list(seen.values()), open(out, "w"))
open(tus, "w").write("".join(f + "\n" for f in sorted(seen)))
PY
  tidy_tus=$(wc -l <"$work/tus")
  echo "lint: clang-tidy on $tidy_tus $tidy_scope"
  # One clang-tidy per TU; each writes its own log, so parallel output does not interleave.
  # WarningsAsErrors in .clang-tidy makes clang-tidy exit non-zero on any finding. The database
  # is g++'s: flags only g++ knows (-Wno-restrict, see CMakeLists.txt) must not stop clang.
  export CLANG_TIDY work
  # shellcheck disable=SC2016
  xargs -P "$JOBS" -I{} bash -c '
    log="$work/tidy.${1//\//_}.log"
    "$CLANG_TIDY" -p "$work" --quiet --extra-arg=-Wno-unknown-warning-option "$1" >"$log" 2>&1 ||
      echo "$1" >>"$work/tidy-failed"
  ' _ {} <"$work/tus"
  [[ -s "$work/tidy-failed" ]] && tidy_failed=1
  # A header's finding is reported by every TU that includes it: count each one once.
  cat "$work"/tidy.*.log 2>/dev/null | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' |
    sort -u >"$work/tidy-findings"
  tidy_findings=$(wc -l <"$work/tidy-findings")
  if ((tidy_findings > 0)); then
    cat "$work/tidy-findings"
  elif ((tidy_failed)); then
    # Failed without a diagnostic line (crash, bad database entry): show the logs of those TUs.
    while read -r f; do
      echo "--- clang-tidy $f"
      tail -20 "$work/tidy.${f//\//_}.log"
    done <"$work/tidy-failed"
  fi
fi

status=ok
((format_failed || tidy_failed || tidy_findings > 0)) && status=FAILED
echo "lint: $status: clang-format: $format_bad file(s) not formatted; clang-tidy: $tidy_findings" \
  "finding(s) in $tidy_tus TUs; $((SECONDS - start)) s on $JOBS jobs"
[[ $status == ok ]]
