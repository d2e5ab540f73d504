#!/usr/bin/env bash
# The Debian package: built from the binary under test (scripts/build-deb.sh --prebuilt: no second
# compile), checked with lintian, then installed, used, upgraded, removed and purged in a
# throwaway Debian 12 container booted with systemd (systemd-nspawn on an overlay of the host's
# root with a tmpfs upper layer, its own network namespace, no network): the units run for real.
#   - lintian: no E: or W: finding
#   - the second package is the first repacked as version <v>+test1, for the upgrade
#   - inside (tests/netns/package_checks.sh): files, man pages, group, no conffiles, not enabled
#     on install, exposure <= 3.0, the hardened server up with TUN, sysctl and nftables, status
#     for group members only, completion, upgrade keeps keys and drop-ins and restarts a running
#     server, remove stops it, purge leaves nothing but the keys in /etc/waypost
#   - the host is untouched: its dpkg status of waypost, its /etc/waypost and its groups
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
wpt_begin --no-waypost dpkg-buildpackage dh scdoc dpkg-deb lintian systemd-nspawn systemd-analyze mount flock
[[ -x $WAYPOST_BIN ]] || die "waypost binary not found or not executable: $WAYPOST_BIN (set WAYPOST_BIN)"
SRC=${WAYPOST_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
S=$WPT_SCRATCH
T0=$EPOCHREALTIME

# --- cleanup of what this test mounts, then the library's cleanup ------------------------------
C=$S/container
nspawn_dir_existed=0
[[ -d /run/systemd/nspawn ]] && nspawn_dir_existed=1
NSPAWN_PID=""
pkg_cleanup() {
  # The container first (SIGTERM to timeout(1), which passes it on: nspawn shuts the container down).
  [[ -n $NSPAWN_PID ]] && wpt_stop_pid "$NSPAWN_PID" 20
  umount -l "$C/root" 2>/dev/null
  umount -l "$C/rw" 2>/dev/null
  rm -rf "$C"
  # systemd-nspawn leaves empty lock and propagation directories behind on a host without systemd.
  if ((!nspawn_dir_existed)); then
    rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn 2>/dev/null
  fi
  return 0
}
trap 'rc=$?; pkg_cleanup; (exit $rc); wpt_cleanup' EXIT

host_state() {
  dpkg-query -W -f='${db:Status-Abbrev}${Version}\n' waypost 2>/dev/null || echo "not installed"
  getent group waypost || echo "no group"
  find /etc/waypost -maxdepth 1 2>/dev/null | sort | xargs -r sha256sum 2>/dev/null
  ls -d /var/log/waypost 2>/dev/null
}
host_before=$(host_state)

# --- the packages --------------------------------------------------------------------------------
mkdir -p "$S/pkg" "$S/out"
log "building the package from $WAYPOST_BIN"
DEB_BUILD_OPTIONS=noautodbgsym bash "$SRC/scripts/build-deb.sh" --prebuilt "$WAYPOST_BIN" \
  --out "$S/pkg" >"$S/logs/build-deb.log" 2>&1 || die "scripts/build-deb.sh --prebuilt failed"
arch=$(dpkg --print-architecture)
v1=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
v2=$v1+test1
deb1=$S/pkg/waypost_${v1}_${arch}.deb
assert_ok "build-deb.sh made waypost_${v1}_${arch}.deb" test -f "$deb1"
[[ -f $deb1 ]] || die "no package to test"
log "built in $(secs_since "$T0") s"

lintian --tag-display-limit 0 "$S/pkg/waypost_${v1}_${arch}.changes" >"$S/logs/lintian.log" 2>&1
assert_not "lintian: no error or warning" grep -E '^(E|W): ' "$S/logs/lintian.log"

# The upgrade's package: the same files under a higher version.
dpkg-deb -R "$deb1" "$S/repack"
sed -i "s/^Version: .*/Version: $v2/" "$S/repack/DEBIAN/control"
dpkg-deb -Zgzip -b "$S/repack" "$S/pkg/waypost_${v2}_${arch}.deb" >/dev/null || die "repack failed"
rm -rf "$S/repack"

offline=$(systemd-analyze security --offline=true "$SRC/dist/systemd/waypost-server.service" 2>/dev/null |
  sed -nE 's/.*Overall exposure level for .*: ([0-9.]+).*/\1/p')
log "systemd-analyze security --offline exposure of waypost-server.service: $offline"
assert_ok "exposure of dist/systemd/waypost-server.service ($offline) <= 3.0" \
  awk -v e="$offline" 'BEGIN { exit !(e != "" && e <= 3.0) }'

# --- the container ---------------------------------------------------------------------------------
mkdir -p "$C/rw" "$C/root"
mount -t tmpfs tmpfs "$C/rw" || die "tmpfs mount failed"
mkdir -p "$C/rw/upper" "$C/rw/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$C/rw/upper,workdir=$C/rw/work" "$C/root" ||
  die "overlay mount failed"
R=$C/root
install -m 0755 "$SRC/tests/netns/package_checks.sh" "$R/usr/local/sbin/waypost-package-checks"
cat >"$R/etc/systemd/system/waypost-package-checks.service" <<UNIT
[Unit]
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=file:/out/report
StandardError=file:/out/stderr
ExecStart=/usr/local/sbin/waypost-package-checks $v1 $v2
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT
ln -sf /etc/systemd/system/waypost-package-checks.service \
  "$R/etc/systemd/system/multi-user.target.wants/waypost-package-checks.service"
# This host's image forbids maintainer scripts to start or stop services (a Docker-style
# /usr/sbin/policy-rc.d that exits 101); a Debian 12 machine has none, and with it the upgrade's
# restart and the removal's stop would not be tested.
rm -f "$R/usr/sbin/policy-rc.d"
# A short boot: nothing that waits for a terminal or the network.
rm -f "$R"/etc/systemd/system/*.wants/{ssh,cron,getty@tty1,networking,systemd-networkd,wireguard-go}.service
log "booting the container"
T1=$EPOCHREALTIME
# In the background, so that a signal to this test is handled at once (the trap stops it by PID).
timeout 240 systemd-nspawn -q -D "$R" --boot --private-network --register=no --keep-unit \
  --bind-ro="$S/pkg:/pkg" --bind="$S/out:/out" --bind=/dev/net/tun </dev/null >"$S/logs/console.log" 2>&1 &
NSPAWN_PID=$!
wait "$NSPAWN_PID"
log "container ran for $(secs_since "$T1") s"
cp "$S/out/detail" "$S/logs/detail.log" 2>/dev/null
cp "$S/out/stderr" "$S/logs/checks-stderr.log" 2>/dev/null

while IFS= read -r line; do
  case $line in
    PASS:*) pass "container: ${line#PASS: }" ;;
    FAIL:*) fail "container: ${line#FAIL: }" ;;
    SKIP:*) skip "container: ${line#SKIP: }" ;;
  esac
done <"$S/out/report"
assert_ok "the checks in the container ran to the end" grep -qx DONE "$S/out/report"

# --- the host ----------------------------------------------------------------------------------
pkg_cleanup
assert_eq "$(host_state)" "$host_before" "the host's waypost package state, group, /etc/waypost and logs are untouched"
log "package test took $(secs_since "$T0") s"
wpt_finish
