#!/bin/sh
# goroutines.sh — call the functions of a running C++ program from the
# shell, and list, inspect and cancel its goroutines, as libcircuit's rt.go
# does from C++.
#
# Usage: sh goroutines.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#   SERVICE (environment) is libcircuit's example program `service`
#   (libcircuit/examples/service.cpp); it defaults to the one this checkout
#   builds, build/examples/service.
#
# The worker HOST/workers/service runs the program, which serves its
# goroutines/ in the worker's directory once it started: goroutine 1 is
# its main. A call is written to goroutines/go, opened for reading and
# writing, and its result read back from the same open: each call runs on
# a thread of its own, a goroutine of its own, listed while it runs. `take`
# waits on the channel HOST/channels/service-in: its stat says what it
# waits on, its stack names it, and `cancel` in its ctl makes the wait
# throw, which is its result. A second take gets a message sent from the
# shell (a chan<std::string> carries JSON). `eof` in the worker's ctl ends
# the program's stdin, and it ends.
#
# Prints exactly:
#   goroutines: 1 error go help
#   1: main, running
#   square(7): {"value":49}
#   take runs as goroutine 3, waiting: recv /HOST/channels/service-in
#   its stack names take: yes
#   cancelled: {"error":"take on HOST: recv: /HOST/channels/service-in/recv: cancelled (ctl cancel of goroutine 3)"}
#   take again, and a send: {"value":"hello"}
#   goroutines: 1 error go help
#   ended: {"exit":0}
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
service=${SERVICE:-$(cd "$(dirname "$0")/.." && pwd)/build/examples/service}
[ -x "$service" ] || { echo "$0: no program $service (make build, or set SERVICE)" >&2; exit 1; }
w=$mnt/$host/workers/service
c=$mnt/$host/channels/service-in
g=$w/goroutines
[ ! -e "$w" ] && [ ! -e "$c" ] || { echo "$0: $w or $c exists already" >&2; exit 1; }
cleanup() {
  exec 3>&- 4>&- 5>&-
  if [ -d "$w" ]; then
    echo kill > "$w/ctl" 2>/dev/null || true   # fails if it ended already
    cat "$w/wait" >/dev/null 2>&1 || true
    rmdir "$w" 2>/dev/null || true
  fi
  rmdir "$c" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM
field() {  # the string field $1 of one JSON line of stat
  sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p'
}
listed() { ls "$g" | tr '\n' ' ' | sed 's/ $//'; }
within() {  # runs "$@" until it succeeds, for at most 10 s
  i=0
  until "$@"; do
    i=$((i + 1))
    [ "$i" -le 1000 ] || { echo "$0: not within 10 s: $*" >&2; exit 1; }
    sleep 0.01
  done
}
served() { [ -e "$g/1/stat" ]; }
waiting() { [ "$(field state < "$g/$1/stat" 2>/dev/null)" = waiting ]; }
only_main() { [ "$(listed)" = "1 error go help" ]; }

mkdir "$c"
mkdir "$w"
printf '{"path":"%s"}\n' "$service" > "$w/spec"
within served  # its files appear once the program started
echo "goroutines: $(listed)"
stat=$(cat "$g/1/stat")
echo "1: $(echo "$stat" | field fn), $(echo "$stat" | field state)"

exec 3<>"$g/go"
echo '{"fn":"square","args":[7]}' >&3
echo "square(7): $(cat <&3)"
exec 3>&-

exec 4<>"$g/go"
printf '{"fn":"take","args":["/%s/channels/service-in"]}\n' "$host" >&4
within waiting 3
echo "take runs as goroutine 3, waiting: $(field waiting < "$g/3/stat")"
if grep -q 'take(circuit::chan' "$g/3/stack"; then echo "its stack names take: yes"; else echo "its stack names take: no"; fi
echo cancel > "$g/3/ctl"
echo "cancelled: $(cat <&4)"
exec 4>&-

exec 5<>"$g/go"
printf '{"fn":"take","args":["/%s/channels/service-in"]}\n' "$host" >&5
echo '"hello"' > "$c/send"
echo "take again, and a send: $(cat <&5)"
exec 5>&-

within only_main  # each goroutine goes once it returned
echo "goroutines: $(listed)"
echo eof > "$w/ctl"
echo "ended: $(cat "$w/wait")"
rmdir "$w" "$c"
