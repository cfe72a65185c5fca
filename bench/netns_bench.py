#!/usr/bin/env python3
"""netns_bench — five members as separate hosts in network namespaces (the
topology of tests/integration/test_netns.py, whose network code it uses):
how long the others take to see a host go and come back.

Usage: netns_bench.py CIRCUITD [REPEATS]   (root and `ip` needed; default 5)

Each scenario runs REPEATS times; each time is from the event until every
other member's `members` file says so (polled through their mounts every
20 ms):
  SIGKILL -> down on all: h5 is killed; then restarted (a new incarnation)
      and alive on all again before the next repeat;
  isolation -> down on all: h1's port on the bridge goes down, after the
      cluster has been quiet for SETTLE seconds (every member's own health
      score, which a refutation raises, back to zero);
  heal -> alive on all: the port comes up again;
  isolation again at once: h1 is cut off again as soon as it is alive on
      all, without the quiet: what the last heal stirred up may still be
      settling (the suspicions h1 held of the others while cut off reach
      them, they refute, and a refutation raises a member's score).
Output, per scenario: median and max over the repeats, and every time:
  SIGKILL -> down on all others: median 1.52 s, max 1.80 s (target <= 3 s) [1.52 1.40 ...]
The namespaces, daemons and mounts go when it ends, also on failure or a
signal. Exit status 1 if a wait gives up (30 s)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

if len(sys.argv) < 2:
    sys.exit(__doc__)
os.environ["CIRCUITD"] = os.path.abspath(sys.argv[1])
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integration"))

from harness import CIRCUITD, Daemon, members, sweep_stale_mounts  # noqa: E402
import test_netns as net  # noqa: E402

N = net.N
# Seconds of quiet before a cut: a health score falls by one per
# successful probe (0.5 s) and is at most 8.
SETTLE = 5
SETTLED = "isolation -> down on all others"
AGAIN = "isolation again at once after a heal -> down on all others"


def on_signal(sig, _frame):
    raise KeyboardInterrupt("signal %d" % sig)


def wait_states(hosts, name, state, t0):
    """Seconds from t0 until every host lists `name` as `state`."""
    while True:
        if all(members(h).get(name) == state for h in hosts):
            return time.monotonic() - t0
        if time.monotonic() - t0 > 30:
            views = [members(h) for h in hosts]
            raise RuntimeError("gave up waiting for %s to be %s on all others: %r" % (name, state, views))
        time.sleep(0.02)


def args_of(i, key):
    args = ["--key", key, "--listen", "%s:7000" % net.address(i)]
    if i:
        args += ["--join", "%s:7000" % net.address(0)]
    return args


def sigkill(d, key, i):
    t0 = time.monotonic()
    d[i].proc.kill()
    d[i].proc.wait()
    took = wait_states([d[j] for j in range(N) if j != i], d[i].name, "down", t0)
    subprocess.run(["fusermount3", "-u", "-z", d[i].mnt], capture_output=True)
    d[i].start(args_of(i, key))
    wait_states(d, d[i].name, "alive", time.monotonic())
    return took


def isolation(d, i, times, cut):
    port = "p%d" % (i + 1)
    others = [d[j] for j in range(N) if j != i]
    net.ip("-n", net.NET, "link", "set", port, "down")
    try:
        times[cut].append(wait_states(others, d[i].name, "down", time.monotonic()))
    finally:
        net.ip("-n", net.NET, "link", "set", port, "up")
    times["heal -> alive on all others"].append(wait_states(others, d[i].name, "alive", time.monotonic()))


def report(what, xs):
    s = sorted(xs)
    print("%s: median %.2f s, max %.2f s (target <= 3 s) [%s]" % (
        what, s[len(s) // 2], s[-1], " ".join("%.2f" % x for x in xs)), flush=True)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    sweep_stale_mounts()
    keydir = tempfile.mkdtemp(prefix="circuit-bench-key-")
    key = os.path.join(keydir, "key")
    d = []
    try:
        subprocess.run([CIRCUITD, "keygen", key], check=True, capture_output=True)
        net.remove_network()
        net.make_network()
        for i in range(N):
            d.append(Daemon(name="h%d" % (i + 1), args=tuple(args_of(i, key)), netns=net.host_ns(i)))
        for h in d:
            for i in range(N):
                wait_states([h], "h%d" % (i + 1), "alive", time.monotonic())
        times = {"SIGKILL -> down on all others": [], SETTLED: [], AGAIN: [], "heal -> alive on all others": []}
        for _ in range(REPEATS):
            times["SIGKILL -> down on all others"].append(sigkill(d, key, N - 1))
        for _ in range(REPEATS):
            time.sleep(SETTLE)
            isolation(d, 0, times, SETTLED)
            isolation(d, 0, times, AGAIN)
        print("five netns hosts on a bridge, %d repeats (killed: h5, restarted each time; cut off: h1, "
              "after %d s of quiet and again at once):" % (REPEATS, SETTLE))
        for what, xs in times.items():
            report(what, xs)
        return 0
    except (RuntimeError, KeyboardInterrupt) as e:
        print("netns_bench: %s" % e, file=sys.stderr)
        return 1
    finally:
        for h in d:
            try:
                h.cleanup()
            except Exception as e:  # its check of the op counts; the rest must go all the same
                print("netns_bench: %s: %s" % (h.name, e), file=sys.stderr)
        net.remove_network()
        shutil.rmtree(keydir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
