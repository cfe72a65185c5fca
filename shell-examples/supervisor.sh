#!/bin/sh
# supervisor.sh — a supervisor loop: it starts a worker, blocks in an open
# of its `wait` until the process ends, says how it ended, and starts it
# again; after 3 restarts it gives up.
#
# Usage: sh supervisor.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# The worker HOST/workers/supervisor runs a small shell script that says
# which run it is, works for 0.1 s and ends: with exit status N on run N,
# except run 2, which dies of SIGKILL. A worker runs one process: to restart
# it, the supervisor removes the ended worker (rmdir) and makes it again
# (mkdir, then a spec). `cat wait` blocks without any polling and gives
# {"exit":N} or {"signal":"NAME"}; the process's output, which waited in
# the daemon, is read after it ended. If the supervisor is interrupted, it
# stops the running worker (`stop` in ctl: SIGTERM, then SIGKILL after the
# grace period, here 1 s) and removes it.
#
# Prints exactly:
#   run 1: working
#   run 1 ended: {"exit":1}; restarting
#   run 2: working
#   run 2 ended: {"signal":"KILL"}; restarting
#   run 3: working
#   run 3 ended: {"exit":3}; restarting
#   run 4: working
#   run 4 ended: {"exit":4}; restarted 3 times, giving up
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
w=$mnt/$host/workers/supervisor
[ ! -e "$w" ] || { echo "$0: $w exists already" >&2; exit 1; }
cleanup() {
  [ -d "$w" ] || return 0
  rmdir "$w" 2>/dev/null && return 0           # not running: removed
  echo stop > "$w/ctl" 2>/dev/null || true     # fails if it ended meanwhile
  cat "$w/wait" >/dev/null 2>&1 || true
  rmdir "$w" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

script='echo "run $1: working"; sleep 0.1; [ "$1" != 2 ] || kill -KILL $$; exit "$1"'
restarts=0 run=1
while :; do
  mkdir "$w"
  echo 'grace 1' > "$w/ctl"
  printf '{"path":"/bin/sh","args":["-c","%s","worker","%d"]}\n' \
    "$(printf '%s' "$script" | sed 's/[\\"]/\\&/g')" "$run" > "$w/spec"
  how=$(cat "$w/wait")         # blocks until the process ends
  cat "$w/stdout"
  rmdir "$w"
  if [ "$restarts" -eq 3 ]; then
    echo "run $run ended: $how; restarted $restarts times, giving up"
    break
  fi
  echo "run $run ended: $how; restarting"
  restarts=$((restarts + 1)) run=$((run + 1))
done
