#!/bin/sh
# binary-store.sh — ship a program to a host's binary store and run it from
# there by its sha256, as libcircuit's spawn does.
#
# Usage: sh binary-store.sh [MOUNT [HOST]]
#   MOUNT defaults to /circuit, HOST to the first host in MOUNT/members.
#
# A binary is named by its sha256 (sha256sum's 64 hex digits): cp puts it
# into HOST/bin/ (from any member of a cluster, into any member's store:
# cp ./app /circuit/h2/bin/$sha), and cmp reads it back. A worker spec
# names it with "binary" instead of "path"; bin/stat counts the worker as
# a user of the binary while it runs (here a copy of cat, waiting for the
# end of its stdin). Bytes that are not their name are refused: cp fails
# (its close gets EIO), nothing is kept, and the words are in bin/error.
# The binary is /bin/cat with a line of the script's own after it (an ELF
# runs whatever follows its end), so its name is the script's; rm removes
# it at the end.
#
# Prints exactly:
#   stored: yes, read back whole
#   users while it runs: 1
#   run: hello from the store
#   wrong bytes: refused; kept: no
#   error: bin: content is sha256 ... not its name
#   removed: yes
set -eu
export LC_ALL=C
mnt=${1:-/circuit}
[ -e "$mnt/members" ] || { echo "$0: no circuit mounted at $mnt" >&2; exit 1; }
host=${2:-$(head -n 1 "$mnt/members" | cut -d' ' -f1)}
bin=$mnt/$host/bin
w=$mnt/$host/workers/binary-store
tmp=$(mktemp -d)
sha=

cleanup() {
  if [ -d "$w" ]; then
    echo kill > "$w/ctl" 2>/dev/null || true
    cat "$w/wait" >/dev/null 2>&1 || true
    rmdir "$w" 2>/dev/null || true
  fi
  [ -z "$sha" ] || rm -f "$bin/$sha" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

{ cat /bin/cat; echo "binary-store.sh"; } > "$tmp/app"
sha=$(sha256sum < "$tmp/app" | cut -c1-64)
cp "$tmp/app" "$bin/$sha"
cmp -s "$tmp/app" "$bin/$sha" && echo "stored: yes, read back whole"

mkdir "$w"
echo '{"binary":"'"$sha"'"}' > "$w/spec"
users=$(sed 's/.*"'"$sha"'":{[^}]*"users":\([0-9]*\).*/\1/' "$bin/stat")
echo "users while it runs: $users"
echo "hello from the store" > "$w/stdin"
echo eof > "$w/ctl"
sed 's/^/run: /' "$w/stdout"
cat "$w/wait" > /dev/null
rmdir "$w"

printf 'wrong' > "$tmp/wrong"
other=$(printf 'right' | sha256sum | cut -c1-64)
if cp "$tmp/wrong" "$bin/$other" 2>/dev/null; then verdict=accepted; else verdict=refused; fi
if [ -e "$bin/$other" ]; then kept=yes; else kept=no; fi
echo "wrong bytes: $verdict; kept: $kept"
sed 's/sha256 [0-9a-f]* ([0-9]* bytes), not its name [0-9a-f]*/sha256 ... not its name/; s/^/error: /' "$bin/error"

rm "$bin/$sha"
[ -e "$bin/$sha" ] || echo "removed: yes"
sha=
