#!/usr/bin/env bash
# Builds the Debian package: out/waypost_<version>_<arch>.deb (and its -dbgsym, .changes and
# .buildinfo). The version is debian/changelog's, the one place it is kept (CMake reads it too).
#
#   build-deb.sh                     compile from source with dpkg-buildpackage -us -uc -b
#   build-deb.sh --prebuilt BIN      package BIN, an already built waypost, instead of compiling
#                                    (CI packages the binary its first stage built)
#   build-deb.sh --version V         package as version V (a changelog entry added to the copy
#                                    that is built; the upgrade test uses it)
#   build-deb.sh --out DIR           put the results in DIR instead of out/
#
# The package is built from a copy of the tracked and untracked-but-not-ignored files in
# build-deb/ (dpkg-buildpackage writes its results next to the source tree, which must not be
# the parent of the checkout). Installs what it needs first (scripts/install-deps.sh --package).
# ccache is used when present, but so far few of its objects are reused between package builds
# (a from-source build takes 6-11 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

prebuilt="" version="" out="$ROOT/out"
while (($#)); do
  case $1 in
    --prebuilt) prebuilt=$(realpath "${2:?--prebuilt needs a file}"); shift 2 ;;
    --version) version=${2:?--version needs a version}; shift 2 ;;
    --out) out=$(realpath -m "${2:?--out needs a directory}"); shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-deb: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -n $prebuilt && ! -x $prebuilt ]]; then
  echo "build-deb: $prebuilt is not an executable" >&2
  exit 1
fi

bash scripts/install-deps.sh --package

work=$ROOT/build-deb
src=$work/waypost
mkdir -p "$work"
# One build at a time in build-deb/ (a second one would delete the first one's tree).
exec 9>"$work/.lock"
flock 9
rm -rf "$src" "$work"/waypost_* "$work"/waypost-dbgsym_*
mkdir -p "$src" "$out"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "build-deb: needs a git checkout" >&2; exit 1; }
git ls-files -z --cached --others --exclude-standard |
  grep -zv '^debian/.*\.substvars$' | tar --null -T - -cf - | tar -xf - -C "$src"

if [[ -n $version ]]; then
  # A new top entry, as dch would write it; only in the copy.
  {
    printf 'waypost (%s) unstable; urgency=medium\n\n  * Package built as version %s by scripts/build-deb.sh.\n\n' \
      "$version" "$version"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l debian/changelog -S Maintainer)" "$(date -R)"
    cat debian/changelog
  } >"$src/debian/changelog"
fi

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} nocheck"
if [[ -n $prebuilt ]]; then
  export WAYPOST_PREBUILT=$prebuilt
  # Building nothing, so the build dependencies need not be checked (-d); the binary's shared
  # library dependencies still come from dpkg-shlibdeps.
  flags=(-d)
else
  flags=()
  command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR=$work
fi
(cd "$src" && dpkg-buildpackage -us -uc -b "${flags[@]}")

v=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
for f in "$work/waypost_${v}_${arch}.deb" "$work/waypost-dbgsym_${v}_${arch}.deb" \
  "$work/waypost_${v}_${arch}.changes" "$work/waypost_${v}_${arch}.buildinfo"; do
  [[ -e $f ]] && mv "$f" "$out/"
done
rm -rf "$src"
echo "build-deb: $out/waypost_${v}_${arch}.deb"
