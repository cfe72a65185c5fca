#!/bin/sh
# errors.sh — a refused call fails with an errno, and the directory's
# `error` file says why, for your session only.
#
# Usage: sh errors.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# Each attempt below runs in a new channel's directory: a cap that is not a
# number, one too large, a good one, a second one (cap is set once), a write
# to a read-only file, a read of a write-only file, a tryrecv on an empty
# channel, and a bad channel name. For each refused one it prints what the
# `error` file says right after (channels/error for the mkdir). Then
# another Unix session (setsid) reads an empty `error` file: errors are
# kept per session. The channel is still as it was: cap 2. HOST below
# stands for the host name.
#
# Prints exactly:
#   $ echo abc > cap
#     refused: cap: "abc" is not a number
#   $ echo 2000000 > cap
#     refused: cap: "2000000" is too large; the limit is 1048576
#   $ echo 2 > cap
#     ok
#   $ echo 3 > cap
#     refused: cap: already fixed at 2 (set, or the channel was used); cap is set once, before first use
#   $ echo hi > stat
#     refused: stat: read-only file
#   $ cat send
#     refused: send: write-only file; open it for writing
#   $ cat tryrecv
#     refused: tryrecv: channel /HOST/channels/errors is empty and no sender waits
#   $ mkdir '../bad name'
#     refused: mkdir /HOST/channels: name has the character ' '; names are letters, digits, '.', '_' and '-'
#   another session's error file: ""
#   cap is still 2
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
ch=$mnt/$host/channels/errors
mkdir "$ch"                # fails if it exists: nothing of yours is touched
trap 'cd /; rmdir "$ch" 2>/dev/null || true' EXIT
trap 'exit 1' INT TERM

# attempt COMMAND [ERROR-FILE]: runs COMMAND here; if it fails, prints what
# ERROR-FILE (default: this directory's error) says.
attempt() {
  printf '$ %s\n' "$1"
  if (eval "$1") >/dev/null 2>&1; then
    echo '  ok'
  else
    printf '  refused: %s\n' "$(cat "${2:-error}")"
  fi
}

cd "$ch"
attempt 'echo abc > cap'
attempt 'echo 2000000 > cap'
attempt 'echo 2 > cap'
attempt 'echo 3 > cap'
attempt 'echo hi > stat'
attempt 'cat send'
attempt 'cat tryrecv'
attempt "mkdir '../bad name'" ../error
printf 'another session'"'"'s error file: "%s"\n' "$(setsid -w cat error)"
printf 'cap is still %s\n' "$(cat cap)"
