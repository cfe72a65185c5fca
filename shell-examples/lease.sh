#!/bin/sh
# lease.sh — a channel and a worker that live only as long as a descriptor
# of this shell: an open of their `lease` file holds them, and its last
# close removes them (a running worker is killed first), however it comes:
# `exec 3>&-`, or this shell's exit or death. Writing `keep` lets go.
#
# Usage: sh lease.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# The worker sleeps for a minute; closing descriptor 4 kills and removes
# it. A subshell that inherits descriptor 3 and exits does not end the
# lease: only the last close does. The third element is kept, and the
# script removes it itself.
#
# Prints exactly:
#   held: scratch sleeper
#   after a subshell exits: scratch sleeper
#   after exec 3>&- and 4>&-:
#   kept after its close: kept
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
h=$mnt/$host
trap 'rmdir "$h/channels/kept" 2>/dev/null || true' EXIT
trap 'exit 1' INT TERM

# elements NAME...: which of the names are there now.
elements() {
  out=
  for n in "$@"; do
    if [ -d "$h/channels/$n" ] || [ -d "$h/workers/$n" ]; then out="$out $n"; fi
  done
  echo "$out"
}

# gone NAME: waits (at most 5 s) until NAME is gone (the last close is
# asynchronous: close(2) returns before the daemon hears of it).
gone() {
  i=0
  while [ -d "$h/channels/$1" ] || [ -d "$h/workers/$1" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "$0: $1 is still there" >&2; exit 1; }
    sleep 0.05
  done
}

mkdir "$h/channels/scratch"
exec 3>"$h/channels/scratch/lease"
mkdir "$h/workers/sleeper"
exec 4>"$h/workers/sleeper/lease"
echo '{"path":"/bin/sleep","args":["60"]}' > "$h/workers/sleeper/spec"
echo "held:$(elements scratch sleeper)"

( : ) # a subshell: it has its own copy of descriptors 3 and 4, and exits
echo "after a subshell exits:$(elements scratch sleeper)"

exec 3>&- 4>&-
gone scratch
gone sleeper
echo "after exec 3>&- and 4>&-:$(elements scratch sleeper)"

mkdir "$h/channels/kept"
exec 3>"$h/channels/kept/lease"
echo keep >&3
exec 3>&-
sleep 0.2
echo "kept after its close:$(elements kept)"
