#!/bin/sh
# events.sh — /circuit/events tells who is in the cluster and which
# elements appear and go.
#
# Usage: sh events.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# A reader of events first gets a "join NAME" line for every live host,
# then every event from the moment it opened, and never reaches the end of
# the file. Here a background cat watches while a channel is made and
# removed; then the cat is killed. Only this host's join line and the lines
# about the channel are shown. HOST below stands for the host name.
#
# Prints exactly:
#   join HOST
#   new /HOST/channels/events
#   gone /HOST/channels/events
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
ch=$mnt/$host/channels/events
[ ! -e "$ch" ] || { echo "$0: $ch exists already" >&2; exit 1; }
log=$(mktemp)
watcher=
trap '[ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true; rmdir "$ch" 2>/dev/null || true; rm -f "$log"' EXIT
trap 'exit 1' INT TERM

# wait_for LINE: waits (at most 5 s) until the watcher has seen LINE.
wait_for() {
  i=0
  until grep -qx "$1" "$log"; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "$0: gave up waiting for \"$1\"" >&2; exit 1; }
    sleep 0.05
  done
}

cat "$mnt/events" > "$log" &
watcher=$!
wait_for "join $host"        # the watcher is reading: nothing is missed now
mkdir "$ch"
rmdir "$ch"
wait_for "gone /$host/channels/events"
kill "$watcher"
wait "$watcher" 2>/dev/null || true
watcher=
grep -x -e "join $host" -e "new /$host/channels/events" -e "gone /$host/channels/events" "$log"
