"""Clients of the socket face that send requests without end: one that
never reads the replies, one whose writes park (circuitd(8) --socket,
circuit-wire(7) TAGS). The daemon stops reading them, others are served,
and its memory stays bounded, also when the files are another member's,
whose replies come back later than the client's next requests do."""
import json
import os
import resource
import socket
import struct
import time
import unittest

import ninep
from harness import Daemon, read, write
from ninep import NOTAG, O_RDONLY, O_WRONLY, Tattach, Tlopen, Tread, Tversion, Twalk, frame
from test_socket import SocketTest, daemon_rss_kib
from test_permissions import STRANGER, as_user, ensure_users, needs_root
from test_store import program, sha
from test_text import sanitized
from through_a_peer import ThroughAPeer

KiB, MiB = 1024, 1 << 20
READS = 60000  # each its own tag: fewer than 9P's 65535 tags


class Floods(SocketTest):
    timeout = 120

    def serving(self):
        """The daemon whose socket the client speaks to."""
        return getattr(self.d, "via", self.d)

    def opened(self, names, mode=O_RDONLY):
        """A connection with msize 1 MiB and fid 1 open on /names."""
        c = self.conn()
        c.send(NOTAG, Tversion(MiB))
        c.recv()
        c.send(1, Tattach(0))
        c.recv()
        c.send(2, Twalk(0, 1, names))
        self.assertEqual(c.recv().type, "walk")
        c.send(3, Tlopen(1, mode))
        self.assertEqual(c.recv().type, "lopen")
        return c

    def flood(self, c, reads=READS):
        """Up to `reads` reads of 1 MiB of fid 1, sent until the daemon
        stops taking them; no reply is read. The bytes it took, and one
        read's."""
        c.sock.setblocking(False)
        reqs = b"".join(frame(ninep.T["read"], tag, struct.pack("<IQI", 1, 0, MiB)) for tag in range(1, reads + 1))
        sent, stalled = 0, 0
        deadline = time.time() + 20
        while time.time() < deadline and sent < len(reqs):
            try:
                sent += c.sock.send(reqs[sent:sent + 65536])
                stalled = 0
            except BlockingIOError:
                stalled += 1
                if stalled > 50:
                    break  # the daemon stopped reading this connection
                time.sleep(0.01)
        if reads == READS:
            self.assertLess(sent, len(reqs), "the daemon took every request of a client that reads nothing")
        return sent, len(reqs) // reads

    def others_are_served(self):
        self.assertIn("h1", self.client().listdir(""))
        self.assertIn("h1", os.listdir(self.d.mnt))

    def test_a_client_that_never_reads_its_replies_does_not_stop_others_nor_grow_the_daemon_without_bound(self):
        big = self.opened(["h1", "help"])
        pid = self.serving().proc.pid
        before = daemon_rss_kib(pid)
        sent, size = self.flood(big)
        self.others_are_served()
        time.sleep(1)  # replies still on their way from another member come in
        grown = daemon_rss_kib(pid)
        print("\nA client that never reads: %d bytes of requests taken, circuitd's RSS %d -> %d KiB"
              % (sent, before, grown))
        self.assertLess(grown - before, 32 * KiB, "circuitd's RSS went from %d to %d KiB after %d bytes of requests"
                        % (before, grown, sent))
        # Once the client reads, every request it sent whole is answered,
        # in order: the requests held back are served.
        big.sock.setblocking(True)
        big.sock.settimeout(10)
        help_text = read(self.d.host("help"))
        for tag in range(1, sent // size + 1):
            r = big.recv()
            self.assertEqual((r.type, r.tag, r.data), ("read", tag, help_text))
        self.assertTrue(self.d.alive())

    def test_reads_whose_replies_are_a_mebibyte_each_are_held_at_64_mib_of_replies_owed(self):
        # 300 reads: unbounded, the daemon would hold 300 MiB of replies
        # (and 60,000 would hold 60 GiB, more than this machine has).
        data = program("/bin/echo", "slow-reader", size=2 * MiB)
        name = sha(data)
        with open(self.d.host("bin", name), "wb") as f:
            f.write(data)
        big = self.opened(["h1", "bin", name])
        pid = self.serving().proc.pid
        before = daemon_rss_kib(pid)
        sent, size = self.flood(big, 300)
        self.assertEqual(sent // size, 300)
        self.others_are_served()
        time.sleep(2)
        grown = daemon_rss_kib(pid)
        print("\nA client that never reads the replies of 300 reads of 1 MiB: circuitd's RSS %d -> %d KiB"
              % (before, grown))
        # At most 64 MiB of replies owed and 1 MiB waiting to be sent
        # (connection.hpp), where 60,000 reads would bring 60 GiB.
        if not sanitized(pid):  # ASan keeps freed memory in quarantine
            self.assertLess(grown - before, 96 * KiB)
        big.sock.setblocking(True)
        big.sock.settimeout(10)
        for tag in range(1, sent // size + 1):
            r = big.recv()
            self.assertEqual((r.type, r.tag, r.data), ("read", tag, data[:MiB - 11]))  # msize less Rread's 11
        self.assertTrue(self.d.alive())


    def test_writes_that_park_on_a_full_stdin_are_held_at_64_mib_in_flight(self):
        # A process that never reads its stdin: each write of 1 MiB parks
        # once the pipe and the worker's buffer are full, holding its
        # bytes. 300 of them: unbounded, the daemon would hold 300 MiB.
        os.mkdir(self.d.host("workers", "s"))
        with open(self.d.host("workers", "s", "spec"), "w") as f:
            f.write(json.dumps({"path": "/bin/sleep", "args": ["1000"]}))
        big = self.opened(["h1", "workers", "s", "stdin"], O_WRONLY)
        pids = {self.serving().proc.pid, self.d.proc.pid}  # through a peer, h1 holds what h2 carries
        before = {p: daemon_rss_kib(p) for p in pids}
        data = b"w" * (MiB - 64)
        reqs = b"".join(frame(ninep.T["write"], tag, struct.pack("<IQI", 1, 0, len(data)) + data)
                        for tag in range(10, 310))
        big.sock.setblocking(False)
        sent, stalled = 0, 0
        while sent < len(reqs) and stalled < 200:
            try:
                sent += big.sock.send(reqs[sent:sent + MiB])
                stalled = 0
            except BlockingIOError:
                stalled += 1
                time.sleep(0.01)
        self.assertLess(sent, len(reqs), "the daemon took 300 MiB of writes that park")
        self.others_are_served()
        time.sleep(1)
        grown = {p: daemon_rss_kib(p) - before[p] for p in pids}
        print("\nA client whose 300 writes of 1 MiB park: %.0f MiB taken, circuitd's RSS grew %s KiB"
              % (sent / MiB, sorted(grown.values())))
        for p in pids:
            if not sanitized(p):  # ASan keeps freed memory in quarantine
                self.assertLess(grown[p], 96 * KiB)
        # Signalled, the process ends; the writes parked on it fail, the
        # held ones are served (and fail), and the connection goes on.
        write(self.d.host("workers", "s", "signal"), "KILL")
        big.sock.setblocking(True)
        big.sock.settimeout(10)
        big.sock.sendall(reqs[sent:])
        answered = {big.recv().tag for _ in range(300)}
        self.assertEqual(answered, set(range(10, 310)))
        self.assertTrue(self.d.alive())


class Relays(SocketTest):
    """A daemon that mounted this one's socket (circuit(4) ctl mount)
    carries all its callers on one connection, as root attaching for each
    (n_uname): their parked reads must not hold one another."""

    def test_eighty_parked_reads_of_1_mib_from_a_relay_do_not_hold_its_next_requests(self):
        os.mkdir(self.d.host("workers", "s"))
        with open(self.d.host("workers", "s", "spec"), "w") as f:
            f.write(json.dumps({"path": "/bin/sh", "args": ["-c", "read x; echo $x"]}))
        c = self.conn()
        c.send(NOTAG, Tversion(MiB))
        c.recv()
        c.send(1, Tattach(0, "relay-session", "", 0))  # root, for uid 0: as wire::mount attaches
        self.assertEqual(c.recv().type, "attach")
        for i in range(80):
            fid = 10 + i
            c.send(2, Twalk(0, fid, ["h1", "workers", "s", "stdout"]))
            self.assertEqual(c.recv().type, "walk")
            c.send(3, Tlopen(fid, O_RDONLY))
            self.assertEqual(c.recv().type, "lopen")
            c.send(100 + i, Tread(fid, 0, MiB))  # parks until the process writes or ends
        c.send(4, Twalk(0, 5, ["h1", "help"]))
        r = c.recv()
        self.assertEqual((r.tag, r.type), (4, "walk"))
        write(self.d.host("workers", "s", "stdin"), b"go\n")
        got = {c.recv().tag for _ in range(80)}
        self.assertEqual(got, set(range(100, 180)))


class OutOfDescriptors(SocketTest):
    """Connections without end, from anyone (connecting needs no
    permission): once the daemon has no descriptor left for the next, it
    neither spins nor floods its log, and accepts again when some close."""

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.d.proc.pid) as f:
            return sum(map(int, f.read().rsplit(")", 1)[1].split()[11:13]))

    def test_a_daemon_out_of_descriptors_waits_and_accepts_again_when_some_close(self):
        pid = self.d.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir("/proc/%d/fd" % pid)) + 20, hard))
        self.addCleanup(lambda: self.d.alive() and resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard)))
        held = []
        for _ in range(40):  # the kernel queues what the daemon cannot take
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.d.sock)
            held.append(s)
        self.wait_for(lambda: "socket: accept: Too many open files" in self.d.log(), "the daemon to run out")
        before = self.cpu_ticks()
        time.sleep(1)
        self.assertLess(self.cpu_ticks() - before, 20)  # of 100 a second: not spinning
        self.assertEqual(self.d.log().count("socket: accept:"), 1)
        for s in held:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        c = self.client()  # version and attach: served again
        self.assertEqual(c.read_file("h1/help")[:4], read(self.d.host("help"))[:4])
        self.wait_for(lambda: "socket: accepting connections again" in self.d.log(), "the daemon to say so")

    def test_the_daemon_takes_its_hard_descriptor_limit_and_its_workers_start_with_the_soft_one(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.assertGreater(hard, 512, "this machine's hard limit is too low for the test")
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # systemd gives services 1024
        try:
            d = Daemon(name="h1")
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.addCleanup(d.cleanup)
        self.assertEqual(resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE), (hard, hard))
        w = d.host("workers", "w")
        os.mkdir(w)
        write(w + "/spec", json.dumps({"path": "/bin/sh", "args": ["-c", "ulimit -Sn; ulimit -Hn"]}))
        self.assertEqual(read(w + "/stdout"), b"256\n%d\n" % hard)


@needs_root
class ConnectionsPerUser(SocketTest):
    """Connecting takes no permission: a user other than root may hold at
    most --max-connections at once; more are closed as they come."""

    daemon_args = ("--max-connections", "8")

    def setUp(self):
        super().setUp()
        os.chmod(self.d.dir, 0o755)  # the stranger must reach the socket

    def test_a_user_past_the_bound_is_closed_at_once_and_others_and_root_are_served(self):
        ensure_users()
        out = as_user(STRANGER, f"""
import socket, struct
held, closed = [], 0
for _ in range(12):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect({self.d.sock!r})
    s.settimeout(5)
    try:  # a connection past the bound may be closed before the version goes
        s.sendall(struct.pack("<IBHIH", 19, 100, 0xFFFF, 65536, 8) + b"9P2000.L")
        got = s.recv(64)
    except OSError:
        got = b""
    if got:
        held.append(s)
    else:
        closed += 1
out["served"], out["closed"] = len(held), closed
""")
        self.assertEqual(out, {"served": 8, "closed": 4})
        self.assertEqual(self.d.log().count("holds 8 connections, its most (--max-connections)"), 1)
        # Root is not bounded, and a connection of the stranger's that ends
        # gives its place back (the process above has ended: all of them).
        conns = [self.client() for _ in range(12)]
        self.assertEqual(len(conns), 12)
        self.wait_for(lambda: as_user(STRANGER, f"""
import socket, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({self.d.sock!r})
s.settimeout(5)
s.sendall(struct.pack("<IBHIH", 19, 100, 0xFFFF, 65536, 8) + b"9P2000.L")
out["got"] = len(s.recv(64))
""")["got"] > 0, "the stranger's places to come back")


class FloodsThroughAPeer(ThroughAPeer, Floods):
    """The same, with h1's files reached through h2's socket: h2 carries
    each request to h1 and its reply comes back after h2 has read the next
    ones."""


if __name__ == "__main__":
    unittest.main()
