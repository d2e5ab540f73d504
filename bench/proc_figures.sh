# Process figures for the benchmarks, summed over a daemon's process tree (a daemon that forks
# helpers is measured whole). Sourced by bench/run.sh and bench/dns.sh.

# tree_pids PID: PID and its descendants.
tree_pids() {
  local p
  echo "$1"
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree_pids "$p"; done
}

# cpu_ticks PID: utime+stime in clock ticks (fields 14 and 15 of /proc/<pid>/stat), summed over
# the tree; "" if PID is gone.
cpu_ticks() {
  [[ -n ${1:-} && -r /proc/$1/stat ]] || return 0
  local p
  for p in $(tree_pids "$1"); do sed -e 's/^.*) //' "/proc/$p/stat" 2>/dev/null; done |
    awk '{ t += $12 + $13 } END { print t + 0 }'
}

# status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM), summed over the tree; ""
# if PID is gone.
status_kb() {
  [[ -n ${1:-} && -r /proc/$1/status ]] || return 0
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/status" 2>/dev/null; done |
    awk -v k="$2:" '$1 == k { s += $2 } END { print s + 0 }'
}
