#!/bin/sh
# run-command.sh — run a command as a worker and collect its output, its
# error output and its exit status.
#
# Usage: sh run-command.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# `run NAME PATH [ARG...]` makes the worker HOST/workers/run-command-NAME
# (mkdir), starts it by writing a JSON spec to its `spec`, copies its own
# standard input to the worker's `stdin` and then writes `eof` to its `ctl`
# (stdin stays open across writers until eof), prints what the process
# wrote to stdout and to stderr, each line tagged, and the exit status that
# `wait` gives, and removes the worker (rmdir). stdout and stderr are read
# at the same time: output waits in the daemon until it is read, and a
# process with 1 MiB of unread output blocks in its write.
#
# The spec gives "env" and "dir": when "env" is there it is the process's
# whole environment (no HOME here), and "dir" is its working directory.
# Three commands run: a shell that writes to both outputs and exits with
# status 3; tr, fed two lines on stdin; a shell that kills itself with
# SIGTERM, for which `wait` names the signal.
#
# Prints exactly:
#   greet: stdout: hello from /tmp, HOME=unset
#   greet: stderr: oops
#   greet: {"exit":3}
#   upper: stdout: ALPHA
#   upper: stdout: BRAVO
#   upper: {"exit":0}
#   term: {"signal":"TERM"}
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
workers=$mnt/$host/workers
err=$(mktemp)

# dispose WORKER: removes it; a running one is killed first (rmdir of a
# running worker fails with EBUSY).
dispose() {
  [ -d "$1" ] || return 0
  rmdir "$1" 2>/dev/null && return 0
  echo kill > "$1/ctl" 2>/dev/null || true   # fails if it ended meanwhile
  cat "$1/wait" >/dev/null 2>&1 || true
  rmdir "$1" 2>/dev/null || true
}
trap 'for n in greet upper term; do dispose "$workers/run-command-$n"; done; rm -f "$err"' EXIT
trap 'exit 1' INT TERM

# json STRING: STRING as a JSON string (enough for text without control
# characters: backslashes and double quotes are escaped).
json() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }

run() {
  name=$1 path=$2
  shift 2
  w=$workers/run-command-$name
  args=
  for a in "$@"; do args="$args${args:+,}$(json "$a")"; done
  mkdir "$w"               # fails if it exists: nothing of yours is touched
  printf '{"path":%s,"args":[%s],"env":["GREETING=hello","PATH=/usr/bin:/bin"],"dir":"/tmp"}\n' \
    "$(json "$path")" "$args" > "$w/spec"
  cat "$w/stderr" > "$err" &
  reader=$!
  cat > "$w/stdin"         # the script's stdin, to the process
  echo eof > "$w/ctl"
  sed "s/^/$name: stdout: /" "$w/stdout"
  wait "$reader"
  sed "s/^/$name: stderr: /" "$err"
  printf '%s: %s\n' "$name" "$(cat "$w/wait")"
  rmdir "$w"
}

run greet /bin/sh -c 'echo "$GREETING from $PWD, HOME=${HOME:-unset}"; echo oops >&2; exit 3' </dev/null
printf '%s\n' alpha bravo | run upper /usr/bin/tr a-z A-Z
run term /bin/sh -c 'kill -TERM $$' </dev/null
