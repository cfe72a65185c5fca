"""Hostile peers (issue 8): a peer that holds the cluster key and finishes
the TLS handshake, then sends garbage, a 9P frame over msize, half a frame,
an unknown message or a wrong version; and 1,000 connections that never
finish a handshake. Each is dropped (or, for what 9P answers, answered)
with a log line naming its address, the daemon's memory stays bounded, and
a second member keeps reaching the first through its mount. A seed that
takes a join and never answers is given up on after the link timeout.

The peer is tests/cluster/hostile_peer.cpp ($HOSTILE_PEER): Python's ssl
module has no TLS 1.3 external PSK. Bounds are generous: the suite also
runs under ASan on two busy cores, where rss says nothing of what is kept
(freed memory waits in quarantine) and is only printed."""
import os
import re
import resource
import socket
import subprocess
import time

from harness import ROOT, ClusterKeyTest, Daemon, members, read, wait_until, write
from through_a_peer import free_port
from test_processes import rss, sanitized

HOSTILE_PEER = os.environ.get("HOSTILE_PEER", os.path.join(ROOT, "build/tests/hostile_peer"))
MiB = 1 << 20
LINK_TIMEOUT = 2  # --link-timeout: what a stalled peer is given


class HostilePeers(ClusterKeyTest):
    """h1 and h2 in a cluster, h2 reaching channel c of h1 through its
    mount; hostile peers dial h1."""

    timeout = 60

    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.h1 = self.member("h1")
        self.h2 = self.member("h2", "--join", "127.0.0.1:%d" % self.port)
        wait_until(lambda: members(self.h1) == members(self.h2) == {"h1": "alive", "h2": "alive"},
                   "h1 and h2 to list each other alive")
        os.mkdir(self.h1.chan("c"))
        write(self.h1.chan("c", "cap"), "1")
        self.serves_on()  # h2's link to h1 is made before the first figure
        self.rss0 = rss(self.h1.proc.pid)

    def member(self, name, *args):
        port = self.port if name == "h1" else free_port()
        d = Daemon(name=name, args=("--key", self.key, "--listen", "127.0.0.1:%d" % port,
                                    "--link-timeout", str(LINK_TIMEOUT), *args))
        self.addCleanup(d.cleanup)
        return d

    def peer(self, behaviour, *args, wait=10):
        """Runs hostile_peer against h1: what it printed, and its address."""
        r = subprocess.run([HOSTILE_PEER, self.key, "127.0.0.1:%d" % self.port, behaviour, *args],
                           capture_output=True, timeout=wait + 20, env={**os.environ, "HOSTILE_WAIT": str(wait)})
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, "hostile_peer %s: %s%s" % (behaviour, out, r.stderr.decode()))
        return out, re.search(r"^from (\S+)$", out, re.M).group(1)

    def logged(self, address, words):
        """Waits for h1's log line about `address` that holds `words`."""
        wait_until(lambda: any(address in line and words in line for line in self.h1.log().splitlines()),
                   lambda: "h1 to log %r about %s:\n%s" % (words, address, self.h1.log()), timeout=10)

    def serves_on(self):
        """h1 is alive, and h2 sends to and receives from h1's channel through its mount."""
        self.assertTrue(self.h1.alive(), "h1 died:\n" + self.h1.log())
        write(self.h2.path("h1", "channels", "c", "send"), "hi\n")
        self.assertEqual(read(self.h2.path("h1", "channels", "c", "recv")), b"hi\n")
        listed = members(self.h2)
        self.assertEqual((listed["h1"], listed["h2"]), ("alive", "alive"))

    def bounded(self, what, bound=32 * MiB):
        grown = rss(self.h1.proc.pid) - self.rss0
        print("\n  %s: h1 rss %+.1f MiB" % (what, grown / MiB), end=" ")
        if not sanitized(self.h1.proc.pid):
            self.assertLess(grown, bound)

    def dropped(self, behaviour, words, *args):
        """hostile_peer `behaviour` is closed by h1, which logs `words`
        about it, and h1 serves on."""
        out, address = self.peer(behaviour, *args)
        self.assertIn("closed by peer", out)
        self.logged(address, words)
        self.serves_on()
        return out

    def test_garbage_after_the_handshake_is_dropped(self):
        self.dropped("garbage", "asks for nothing circuit serves")
        self.bounded("garbage")

    def test_a_session_byte_then_garbage_is_dropped(self):
        self.dropped("p-garbage", "no member name")
        self.bounded("p-garbage")

    def test_a_frame_over_the_negotiated_msize_is_dropped(self):
        out = self.dropped("over-msize", "over msize 8192")
        self.assertIn("Rversion 8192 9P2000.L", out)
        self.bounded("over msize")

    def test_half_a_frame_then_the_end_of_the_link_is_logged(self):
        out, address = self.peer("truncated-close")
        self.assertIn("closed with half a Tattach sent", out)
        self.logged(address, "ended inside a frame")
        self.serves_on()
        self.bounded("truncated, closed")

    def test_half_a_frame_then_silence_is_dropped_after_the_link_timeout(self):
        start = time.time()
        self.dropped("truncated-stall", "unfinished")
        self.assertLess(time.time() - start, 10 * LINK_TIMEOUT)
        self.bounded("truncated, silent")

    def test_silence_after_the_handshake_is_dropped_after_the_link_timeout(self):
        self.dropped("silent", "nothing asked")
        self.bounded("silent")

    def test_an_unknown_message_type_is_answered_rlerror_and_logged_once(self):
        before = len(self.h1.log())
        out, address = self.peer("unknown-type", "200")
        self.assertEqual(out.count("tag 1: Rlerror 22"), 200, out)  # EINVAL, each
        self.assertIn("served on", out)
        self.logged(address, "unknown message type 250")
        grown = len(self.h1.log()) - before
        self.assertLess(grown, 2000, "200 unknown messages grew the log by %d bytes" % grown)
        self.serves_on()
        self.bounded("200 unknown messages")

    def test_a_wrong_version_is_answered_unknown_and_nothing_else_is_served_until_a_right_one(self):
        for version in ("9P2000.u", "foo", ""):
            out, address = self.peer("wrong-version", version)
            self.assertIn("Rversion 8192 unknown", out)  # as 9P says: Rversion, not an error
            self.assertIn("tag 1: Rlerror 22", out)      # the attach before a right version
            self.assertIn("Rversion 8192 9P2000.L", out)
            self.assertIn("served on", out)
            self.logged(address, "version")
        self.serves_on()
        self.bounded("wrong versions")

    def test_a_seed_that_takes_a_join_and_never_answers_is_given_up_after_the_link_timeout(self):
        port = free_port()
        seed = subprocess.Popen([HOSTILE_PEER, self.key, "127.0.0.1:%d" % port, "mute-seed"],
                                stdout=subprocess.PIPE, env={**os.environ, "HOSTILE_WAIT": "60"})
        self.addCleanup(lambda: (seed.kill(), seed.wait(), seed.stdout.close()))
        self.assertEqual(seed.stdout.readline(), b"listening\n")
        start = time.time()
        h3 = self.member("h3", "--join", "127.0.0.1:%d" % port, "--join", "127.0.0.1:%d" % self.port)
        self.assertRegex(seed.stdout.readline().decode(), r"^link from 127\.0\.0\.1:\d+$")
        # The mute seed is given up on, its link closed, and h1 tried next.
        self.assertRegex(seed.stdout.readline().decode(), r"^127\.0\.0\.1:\d+ closed after \d+ bytes$")
        wait_until(lambda: members(h3).get("h1") == "alive" and members(self.h1).get("h3") == "alive",
                   lambda: "h3 to join through h1 after the mute seed:\n" + h3.log(), timeout=10 * LINK_TIMEOUT)
        print("h3 joined in %.1f s" % (time.time() - start), end=" ")
        self.assertIn("join: 127.0.0.1:%d does not answer (exchange: no answer within %g s)" % (port, LINK_TIMEOUT),
                      h3.log())
        self.serves_on()

    def test_a_thousand_half_open_connections_cost_bounded_memory_and_a_new_member_still_joins(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        log0 = len(self.h1.log())
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        # Half send nothing; half send the start of a ClientHello (a record
        # header that promises 512 bytes, and 40 of them).
        hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + os.urandom(29)
        for i in range(1000):
            s = socket.socket()
            held.append(s)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
        for i, s in enumerate(held):
            if i % 2:
                wait_until(lambda: s.connect_ex(("127.0.0.1", self.port)) in (0, 106), "a connect")
                s.send(hello)
        self.serves_on()  # links made before go on
        self.bounded("1000 half-open connections")
        start = time.time()
        h3 = self.member("h3", "--join", "127.0.0.1:%d" % self.port)
        wait_until(lambda: members(self.h1).get("h3") == "alive" and "h1" in os.listdir(h3.path()),
                   "h3 to join through h1 while the connections are held", timeout=30)
        write(h3.path("h1", "channels", "c", "send"), "from h3\n")
        self.assertEqual(read(self.h2.path("h1", "channels", "c", "recv")), b"from h3\n")
        print("h3 joined in %.1f s" % (time.time() - start), end=" ")
        # 256 handshakes in progress at once hold ~22 MiB; the 1,000 churn
        # through them (each new one ends the oldest), and malloc keeps
        # some of what they freed: bounded by twice what they hold at once.
        self.bounded("1000 half-open connections, h3 joined", bound=48 * MiB)
        grown = len(self.h1.log()) - log0
        print("log +%d bytes" % grown, end=" ")
        self.assertLess(grown, 256 * 1024)
        for s in held:
            s.close()
        held.clear()
        self.serves_on()


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
