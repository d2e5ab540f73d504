#!/usr/bin/env bash
# Renders the man pages from their one source, docs/man/*.scd (scdoc), into OUTDIR:
# docs/man/waypost.1.scd -> OUTDIR/waypost.1. Used by debian/rules and the `man` CMake target.
# Usage: build-man.sh OUTDIR
set -euo pipefail
out=${1:?usage: build-man.sh OUTDIR}
src="$(cd "$(dirname "$0")/.." && pwd)/docs/man"
command -v scdoc >/dev/null || { echo "build-man: scdoc is missing (apt-get install scdoc)" >&2; exit 1; }
mkdir -p "$out"
for page in "$src"/*.scd; do
  name=$(basename "$page" .scd)
  scdoc <"$page" >"$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name"
done
