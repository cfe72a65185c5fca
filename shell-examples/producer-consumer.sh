#!/bin/sh
# producer-consumer.sh — a producer pipeline sends lines through a buffered
# channel; a consumer receives them until the channel is closed.
#
# Usage: sh producer-consumer.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# The channel has cap 2. The producer is a pipeline (printf | tr | a loop)
# that sends each line as one message: `printf ... > send` opens send, which
# waits while the buffer is full, and the close after the write delivers the
# message. Then the producer closes the channel. The consumer, started
# first, receives with cat until the receive fails with EPIPE (the channel
# is closed and drained); messages come out in the order they went in.
# Last, the channel's stat shows five sent, five received, none left.
#
# Prints exactly:
#   consumer got: ALPHA
#   consumer got: BRAVO
#   consumer got: CHARLIE
#   consumer got: DELTA
#   consumer got: ECHO
#   consumer: recv failed: Broken pipe
#   {"cap":2,"len":0,"closed":true,"senders_waiting":0,"receivers_waiting":0,"reserved":0,"held":0,"sent":5,"received":5,"uid":0,"gid":0}
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
ch=$mnt/$host/channels/producer-consumer
mkdir "$ch"                # fails if it exists: nothing of yours is touched
err=$(mktemp)
trap 'rmdir "$ch" 2>/dev/null || true; rm -f "$err"' EXIT
trap 'exit 1' INT TERM

echo 2 > "$ch/cap"

# The consumer: one cat per message, until cat fails.
(
  while msg=$(cat "$ch/recv" 2>"$err"); do
    printf 'consumer got: %s\n' "$msg"
  done
  printf 'consumer: recv failed: %s\n' "$(sed 's/.*: //' "$err")"
) &
consumer=$!

# The producer: a pipeline whose last stage sends each line, then closes.
printf '%s\n' alpha bravo charlie delta echo | tr a-z A-Z |
  while IFS= read -r line; do
    printf '%s\n' "$line" > "$ch/send"
  done
echo close > "$ch/close"

wait "$consumer"
cat "$ch/stat"
