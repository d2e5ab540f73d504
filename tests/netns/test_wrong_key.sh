#!/usr/bin/env bash
# Wrong keys: Waypost (server ns) and a wireguard-go peer (client ns), both with each other's
# Endpoint so both sides try to initiate.
#   case "peer-has-wrong-key":   wireguard-go's peer entry has a wrong public key for Waypost
#                                (its initiations carry a MAC1 Waypost cannot verify)
#   case "waypost-unknown-peer": Waypost's peer entry has a wrong public key for wireguard-go
#                                (wireguard-go's initiations decrypt to a static key Waypost
#                                does not know)
# In each case: pings in both directions fail, `wg show <if> latest-handshakes` stays 0 on both
# sides, and Waypost's log has a line with "handshake" and "unknown peer" or "mac1" (any case).
# A control then corrects the wrong key with `wg set` and the tunnel must work.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2154
source "$(dirname "$0")/lib.sh"
wpt_begin wireguard-go wg ip ping timeout

topo_pair

all_zero_handshakes() { # all_zero_handshakes IF: every peer's latest handshake is 0
  local out
  out=$(wg show "$1" latest-handshakes) || return 1
  [[ -n $out ]] && ! awk '$2 != 0 { bad = 1 } END { exit !bad }' <<<"$out"
}

explains_in_log() { # explains_in_log FILE: a line with "handshake" and "unknown peer" or "mac1"
  grep -i 'handshake' "$1" 2>/dev/null | grep -Eiq 'unknown peer|mac1'
}

for case in peer-has-wrong-key waypost-unknown-peer; do
  label="[$case]"
  priv_wp=$(wg_genkey) priv_go=$(wg_genkey) bogus=$(wg_pub "$(wg_genkey)")
  pub_wp=$(wg_pub "$priv_wp") pub_go=$(wg_pub "$priv_go")
  if [[ $case == peer-has-wrong-key ]]; then go_knows=$bogus wp_knows=$pub_go; else go_knows=$pub_wp wp_knows=$bogus; fi
  wpt_new_ifname if_wp
  wpt_new_ifname if_go
  conf_path conf_wp "$if_wp"
  conf_path conf_go "$if_go"
  conf_interface "$conf_wp" "$priv_wp" 51002 "$TUN4_S/24" 1420
  conf_peer "$conf_wp" "$wp_knows" "$TUN4_C/32" "$(endpoint "$OUT4_C" 51001)"
  conf_interface "$conf_go" "$priv_go" 51001 "$TUN4_C/24" 1420
  conf_peer "$conf_go" "$go_knows" "$TUN4_S/32" "$(endpoint "$OUT4_S" 51002)"
  pid_go="" pid_wp=""
  if ! wggo_up pid_go "$NS_C" "$conf_go" || ! wp_up pid_wp "$NS_S" "$conf_wp"; then
    fail "$label daemons did not start"
    [[ -n $pid_wp ]] && daemon_stop "$NS_S" "$if_wp" "$pid_wp"
    [[ -n $pid_go ]] && daemon_stop "$NS_C" "$if_go" "$pid_go"
    continue
  fi
  assert_ok "$label wireguard-go -> waypost ping fails" ping_none "$NS_C" "$TUN4_S" 4
  assert_ok "$label waypost -> wireguard-go ping fails" ping_none "$NS_S" "$TUN4_C" 4
  assert_ok "$label wireguard-go -> waypost ping fails again (after retries)" ping_none "$NS_C" "$TUN4_S" 2
  assert_ok "$label waypost: latest-handshakes all 0" all_zero_handshakes "$if_wp"
  assert_ok "$label wireguard-go: latest-handshakes all 0" all_zero_handshakes "$if_go"
  if wpt_is_real_waypost; then
    log_wp=$(wp_logfile "$if_wp")
    if wait_for 10 explains_in_log "$log_wp"; then
      pass "$label waypost log explains: $(grep -i handshake "$log_wp" | grep -Ei 'unknown peer|mac1' | head -n1)"
    else
      fail "$label waypost log has no line with 'handshake' and 'unknown peer'/'mac1' ($log_wp)"
    fi
  else
    skip "$label waypost log explanation (wireguard-go stands in for waypost)"
  fi
  # Control: correct the wrong key; the same setup must then work.
  if [[ $case == peer-has-wrong-key ]]; then
    wg set "$if_go" peer "$bogus" remove
    wg set "$if_go" peer "$pub_wp" allowed-ips "$TUN4_S/32" endpoint "$(endpoint "$OUT4_S" 51002)"
  else
    wg set "$if_wp" peer "$bogus" remove
    wg set "$if_wp" peer "$pub_go" allowed-ips "$TUN4_C/32" endpoint "$(endpoint "$OUT4_C" 51001)"
  fi
  assert_ok "$label control: with the right key, ping works" ping_ok "$NS_C" "$TUN4_S"
  daemon_stop "$NS_S" "$if_wp" "$pid_wp"
  daemon_stop "$NS_C" "$if_go" "$pid_go"
done
wpt_finish
