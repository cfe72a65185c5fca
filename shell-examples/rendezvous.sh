#!/bin/sh
# rendezvous.sh — on a channel with cap 0 (the default) a send and a receive
# meet: whichever comes first waits for the other.
#
# Usage: sh rendezvous.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# First the sender comes first: its open of send waits (stat shows
# senders_waiting 1) until a receiver opens recv; then the message passes
# and both return. Then a receiver comes first: its open of recv waits
# (receivers_waiting 1) until a sender delivers. With nobody waiting on the
# other side, trysend fails at once with EAGAIN (the shell's redirection
# fails), and nothing is left behind.
#
# Prints exactly:
#   sender waits: "senders_waiting":1
#   receiver got: hello from the sender
#   sender returned with status 0
#   receiver waits: "receivers_waiting":1
#   receiver got: hello from the second sender
#   trysend with no receiver: refused
#   {"cap":0,"len":0,"closed":false,"senders_waiting":0,"receivers_waiting":0,"reserved":0,"held":0,"sent":2,"received":2,"uid":0,"gid":0}
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
ch=$mnt/$host/channels/rendezvous
mkdir "$ch"                # fails if it exists: nothing of yours is touched
out=$(mktemp)
trap 'rmdir "$ch" 2>/dev/null || true; rm -f "$out"' EXIT
trap 'exit 1' INT TERM

# wait_stat FIELD VALUE: waits (at most 5 s) until the channel's stat shows
# "FIELD":VALUE, then prints that much of it.
wait_stat() {
  i=0
  until grep -q "\"$1\":$2," "$ch/stat"; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "$0: gave up waiting for $1 $2" >&2; exit 1; }
    sleep 0.05
  done
  grep -o "\"$1\":$2" "$ch/stat"
}

# A sender first: its open parks until a receiver comes.
echo 'hello from the sender' > "$ch/send" &
sender=$!
printf 'sender waits: '
wait_stat senders_waiting 1
printf 'receiver got: %s\n' "$(cat "$ch/recv")"
status=0
wait "$sender" || status=$?
printf 'sender returned with status %d\n' "$status"

# A receiver first: its open parks until a sender delivers.
cat "$ch/recv" > "$out" &
receiver=$!
printf 'receiver waits: '
wait_stat receivers_waiting 1
echo 'hello from the second sender' > "$ch/send"
wait "$receiver"
printf 'receiver got: %s\n' "$(cat "$out")"

# Nobody is waiting now: trysend does not wait, it fails.
if { echo 'nobody hears this' > "$ch/trysend"; } 2>/dev/null; then
  echo 'trysend with no receiver: sent'
else
  echo 'trysend with no receiver: refused'
fi
cat "$ch/stat"
