#!/usr/bin/env bash
# Runs inside the throwaway Debian 12 container of test_package.sh, as a boot-time service, with
# systemd as PID 1 and the packages in /pkg: install, use, upgrade, remove and purge the package.
# Prints PASS:/FAIL: lines (test_package.sh reports them) and details to /out/detail.
# Usage: package_checks.sh OLD_VERSION NEW_VERSION
# shellcheck disable=SC2016 # the single-quoted checks are expanded by the sh that runs them
set -uo pipefail
v1=$1 v2=$2
arch=$(dpkg --print-architecture)
deb1=/pkg/waypost_${v1}_${arch}.deb deb2=/pkg/waypost_${v2}_${arch}.deb
exec 3>>/out/detail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

ok() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; }
# check MSG CMD...: CMD must succeed (its output goes to the detail log).
check() {
  local msg=$1
  shift
  echo "--- $(date +%T.%3N) $msg: $*" >&3
  if "$@" >&3 2>&1; then ok "$msg"; else bad "$msg"; fi
}
check_not() {
  local msg=$1
  shift
  echo "--- $(date +%T.%3N) $msg: ! $*" >&3
  if "$@" >&3 2>&1; then bad "$msg"; else ok "$msg"; fi
}
installed_version() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' waypost 2>/dev/null; }
exposure() { systemd-analyze security "$@" 2>/dev/null | sed -nE 's/.*Overall exposure level for .*: ([0-9.]+).*/\1/p'; }
at_most_3() { awk -v e="$1" 'BEGIN { exit !(e != "" && e <= 3.0) }'; }
main_pid() { systemctl show -p MainPID --value waypost-server; }

# --- a clean start: nothing of Waypost in this copy of the host ---------------------------------
if dpkg-query -W waypost >/dev/null 2>&1; then dpkg --purge waypost >&3 2>&1; fi
rm -rf /etc/waypost /var/log/waypost /run/waypost /etc/systemd/system/waypost-server.service.d
getent group waypost >/dev/null && groupdel waypost

# --- install ------------------------------------------------------------------------------------
check "dpkg -i $v1 installs (dependencies met, postinst ok)" dpkg -i "$deb1"
check "installed version is $v1" test "$(installed_version)" = "ii $v1"
check "waypost --version runs" sh -c 'waypost --version | grep -q "^waypost "'
for f in /usr/bin/waypost /lib/systemd/system/waypost-server.service /lib/systemd/system/waypost@.service \
  /usr/share/bash-completion/completions/waypost /usr/share/zsh/vendor-completions/_waypost \
  /usr/share/waypost/grafana/waypost-server.json /usr/share/doc/waypost/IPSEC.md \
  /usr/share/doc/waypost/MIGRATING.md; do
  check "ships $f" test -f "$f"
done
for page in waypost waypost-server waypost.conf; do
  check "man -w $page finds the page" man -w "$page"
done
check "man waypost renders" sh -c 'MANWIDTH=80 man waypost 2>/dev/null | grep -q "waypost up"'
check "postinst created the system group waypost" sh -c 'getent group waypost && [ "$(getent group waypost | cut -d: -f3)" -lt 1000 ]'
check "no conffiles and nothing shipped in /etc" sh -c '[ -z "$(dpkg-query -W -f="\${Conffiles}" waypost)" ] && ! dpkg -L waypost | grep -q "^/etc"'
check "waypost-server is neither enabled nor started by the install" \
  sh -c '[ "$(systemctl is-enabled waypost-server)" = disabled ] && ! systemctl is-active -q waypost-server'
e=$(exposure waypost-server)
echo "exposure (running systemd): $e" >&3
check "systemd-analyze security waypost-server: exposure $e <= 3.0" at_most_3 "$e"
e=$(exposure --offline=true /lib/systemd/system/waypost-server.service)
check "systemd-analyze security --offline: exposure $e <= 3.0" at_most_3 "$e"

# --- without `server init`, the unit fails and says what to do -----------------------------------
systemctl start waypost-server >&3 2>&1
sleep 0.5
check "a server that was never initialised does not start" sh -c '! systemctl is-active -q waypost-server'
check "... and its log says to run waypost server init" \
  sh -c 'journalctl -u waypost-server --no-pager | grep -q "waypost server init"'
systemctl reset-failed waypost-server >&3 2>&1

# --- the hardened server works ------------------------------------------------------------------
check "waypost server init" waypost server init --endpoint 192.0.2.1 --users phone,laptop
# The container is an overlay of the host, which has strongSwan installed for the interop tests:
# its charon (strongswan-starter) holds UDP 500/4500 here as it would on a user's machine. The
# server must refuse to start saying so; a clean Debian 12 has no IKE daemon, so it goes after.
if systemctl is-active -q strongswan-starter.service 2>/dev/null; then
  systemctl start waypost-server >&3 2>&1
  sleep 0.5
  check "with charon holding UDP 4500 the server does not start" sh -c '! systemctl is-active -q waypost-server'
  check "... and its log names the port and charon" \
    sh -c 'journalctl -u waypost-server --no-pager | grep -q "UDP port [0-9]* is already in use.*charon"'
  systemctl stop waypost-server >&3 2>&1
  systemctl reset-failed waypost-server >&3 2>&1
  systemctl disable --now strongswan-starter.service >&3 2>&1
fi
check "systemctl enable --now waypost-server" systemctl enable --now waypost-server
# Why it is not running, in the test's output, when it is not.
systemctl is-active -q waypost-server || journalctl -u waypost-server --no-pager -n 30 >&3 2>&1
check "the server is active (Type=notify: it reported ready)" systemctl is-active -q waypost-server
check "waypost show lists wp0" sh -c 'waypost show | grep -q "^interface: wp0"'
check "IP forwarding on (net.* sysctls writable under ProtectKernelTunables)" \
  test "$(cat /proc/sys/net/ipv4/ip_forward)" = 1
check "its nftables table exists" nft list table inet waypost-wp0
check "no privilege-drop warning in the journal" \
  sh -c '! journalctl -u waypost-server --no-pager | grep -q "could not drop privileges"'
check "the control socket is root:waypost 0660" test "$(stat -c '%U:%G %a' /run/waypost/wp0.sock)" = "root:waypost 660"
check "the UAPI socket stays root-only" test "$(stat -c '%U:%G %a' /run/wireguard/wp0.sock)" = "root:root 600"
useradd -M -G waypost wpreader && useradd -M wpother
check "a member of group waypost reads status (waypost show)" \
  sh -c 'runuser -u wpreader -- waypost show | grep -q "^interface: wp0"'
check_not "a member of group waypost cannot take the server down" runuser -u wpreader -- waypost down wp0
check "the server is still up after that attempt" systemctl is-active -q waypost-server
check_not "a user outside the group cannot connect" \
  sh -c 'runuser -u wpother -- waypost show wp0'
check "... and waypost show tells them why instead of listing nothing" \
  sh -c 'out=$(runuser -u wpother -- waypost show 2>&1) && exit 1; echo "$out" | grep -q "needs root or group waypost"'
check "waypost users add reaches the running server" sh -c 'waypost users add tablet | grep -q "applied the change"'
check "systemctl reload waypost-server (users sync)" systemctl reload waypost-server
check "the server still runs after the reload" systemctl is-active -q waypost-server
# Under systemd the log goes to the journal as entries with fields, not as lines on stderr.
check "the journal has the server's entries with WAYPOST_USER (journalctl WAYPOST_USER=tablet)" \
  sh -c 'journalctl --no-pager -o cat WAYPOST_USER=tablet | grep -q "user tablet added"'
check "... with SYSLOG_IDENTIFIER=waypost and no time stamp of its own in the message" \
  sh -c 'journalctl --no-pager -o cat SYSLOG_IDENTIFIER=waypost | grep -q "^server .* ready"'

# --- shell completion, against the installed files -----------------------------------------------
if [ -f /usr/share/bash-completion/bash_completion ]; then
  complete_words() {
    bash -c 'source /usr/share/bash-completion/bash_completion
      source /usr/share/bash-completion/completions/waypost
      COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _waypost; echo "${COMPREPLY[*]}"' _ "$@"
  }
  check "bash completes commands" sh -c "echo '$(complete_words waypost "")' | grep -qw server"
  check "bash completes running interfaces" sh -c "echo '$(complete_words waypost show "")' | grep -qw wp0"
  check "bash completes user names" test "$(complete_words waypost users show "")" = "phone laptop tablet"
  check "bash completes ipsec subcommands" test "$(complete_words waypost ipsec di)" = "diagnose"
else
  echo "SKIP: bash completion (bash-completion is not installed)"
fi
if command -v zsh >/dev/null; then
  check "the zsh completion parses" zsh -n /usr/share/zsh/vendor-completions/_waypost
fi

# --- upgrade: state and local configuration kept, a running server restarted -------------------
mkdir -p /etc/systemd/system/waypost-server.service.d
printf '[Service]\nEnvironment=WAYPOST_LOCAL_DROPIN=1\n' >/etc/systemd/system/waypost-server.service.d/local.conf
systemctl daemon-reload
state_sum=$(sha256sum /etc/waypost/state.json /etc/waypost/config.yaml)
pid_before=$(main_pid)
check "dpkg -i $v2 upgrades" dpkg -i "$deb2"
check "installed version is $v2" test "$(installed_version)" = "ii $v2"
check "the upgrade restarted the running server" sh -c "systemctl is-active -q waypost-server && [ \"\$(systemctl show -p MainPID --value waypost-server)\" != '$pid_before' ]"
check "the upgrade kept it enabled" test "$(systemctl is-enabled waypost-server)" = enabled
check "the upgrade kept keys and config.yaml" test "$(sha256sum /etc/waypost/state.json /etc/waypost/config.yaml)" = "$state_sum"
check "the upgrade kept the local drop-in" \
  sh -c 'systemctl show -p Environment waypost-server | grep -q WAYPOST_LOCAL_DROPIN=1'

# --- remove, then purge -------------------------------------------------------------------------
check "dpkg -r removes" dpkg -r waypost
check "removal stopped the server" sh -c '! systemctl is-active -q waypost-server'
check "the interface and its firewall table are gone" sh -c '! ip link show wp0 && ! nft list table inet waypost-wp0'
check "IP forwarding restored" test "$(cat /proc/sys/net/ipv4/ip_forward)" = 0
check "removal keeps /etc/waypost" test -f /etc/waypost/state.json
check "dpkg --purge purges" dpkg --purge waypost
check "dpkg no longer knows the package" \
  sh -c 'case "$(dpkg-query -W -f="\${Status}" waypost 2>/dev/null)" in "" | *" not-installed") ;; *) exit 1 ;; esac'
check "no file of the package is left" sh -c '! ls /usr/bin/waypost /lib/systemd/system/waypost* /usr/share/man/man*/waypost* /usr/share/doc/waypost /usr/share/bash-completion/completions/waypost /usr/share/zsh/vendor-completions/_waypost /usr/share/waypost 2>/dev/null | grep -q .'
check "purge removed the logs directory" test ! -e /var/log/waypost
check "purge removed the enablement symlink" test ! -e /etc/systemd/system/multi-user.target.wants/waypost-server.service
check "purge kept /etc/waypost with the keys (README.Debian)" test -f /etc/waypost/state.json
check "purge kept the admin's drop-in" test -f /etc/systemd/system/waypost-server.service.d/local.conf

# --- purge of a server that was never initialised leaves nothing ---------------------------------
rm -rf /etc/waypost /etc/systemd/system/waypost-server.service.d
systemctl daemon-reload
check "reinstall $v1" dpkg -i "$deb1"
systemctl start waypost-server >/dev/null 2>&1 # fails: not initialised, but makes /etc/waypost
systemctl reset-failed waypost-server >/dev/null 2>&1
check "dpkg --purge after a failed start" dpkg --purge waypost
check "an empty /etc/waypost is removed by purge" test ! -e /etc/waypost
check "nothing under /var/log/waypost or /run/waypost" sh -c '! ls -d /var/log/waypost /run/waypost 2>/dev/null | grep -q .'
echo "DONE"
