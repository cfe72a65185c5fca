"""Five members as separate hosts (issue 8): each daemon in a network
namespace of its own, with a veth pair to a bridge and an address of its
own; their mounts stay on this machine, so the test reads every member's
view. The suite makes the namespaces and takes them away, also when a
test fails. Bounds are generous (the suite runs under ASan on two busy
cores); the benchmarks measure."""
import os
import re
import signal
import subprocess
import time
import unittest

from harness import ClusterKeyTest, Daemon, errno_of, members, read
from harness import wait_until as wait_for

N = 5
TAG = "c%d" % (os.getpid() % 100000)  # names of this run's namespaces
NET = TAG + "-net"


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.decode()))
    return r


def host_ns(i):
    return "%s-h%d" % (TAG, i + 1)


def address(i):
    return "10.77.%d.%d" % (os.getpid() % 200, i + 1)


def make_network():
    """A bridge in a namespace of its own, and N host namespaces each with
    a veth to it."""
    ip("netns", "add", NET)
    ip("-n", NET, "link", "add", "br0", "type", "bridge")
    ip("-n", NET, "link", "set", "br0", "up")
    for i in range(N):
        ns, port = host_ns(i), "p%d" % (i + 1)
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", NET)
        ip("-n", NET, "link", "set", port, "master", "br0")
        ip("-n", NET, "link", "set", port, "up")
        ip("-n", ns, "addr", "add", address(i) + "/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")


def remove_network():
    for ns in [host_ns(i) for i in range(N)] + [NET]:
        ip("netns", "del", ns, check=False)


class HostsInNamespaces(ClusterKeyTest):
    """`size` members (at most N), h1 first, each in its own namespace of
    the network the class makes; h2... join through h1. Also used by other
    suites (test_libcircuit)."""

    timeout = 120
    size = N

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        remove_network()
        cls.addClassCleanup(remove_network)
        make_network()

    def setUp(self):
        super().setUp()
        self.d = []
        for i in range(self.size):
            args = ["--key", self.key, "--listen", "%s:7000" % address(i)]
            if i:
                args += ["--join", "%s:7000" % address(0)]
            d = Daemon(name="h%d" % (i + 1), args=tuple(args), netns=host_ns(i))
            self.addCleanup(d.cleanup)
            self.d.append(d)
        everyone = {"h%d" % (i + 1): "alive" for i in range(self.size)}
        wait_for(lambda: all(members(d) == everyone for d in self.d), "all %d to know each other" % self.size)


class FiveHosts(HostsInNamespaces):
    def state_of(self, name, on):
        return [members(self.d[i]).get(name) for i in on]

    def test_a_host_cut_from_everyone_is_down_on_all_others_and_alive_again_after_the_heal(self):
        others = range(1, N)
        cut = "p1"  # h1's port on the bridge
        # h3's mount has walked into h1 before the cut: it holds those
        # names through it (member_remote.hpp: walked again on a new link).
        self.assertEqual(errno_of(os.listdir, self.d[2].path("h1", "channels")), 0)
        ip("-n", NET, "link", "set", cut, "down")
        try:
            t0 = time.monotonic()
            wait_for(lambda: self.state_of("h1", others) == ["down"] * (N - 1), "h1 to be down on all others")
            print("\n  h1 cut off: down on all others in %.2f s" % (time.monotonic() - t0), end=" ")
        finally:
            ip("-n", NET, "link", "set", cut, "up")
        t0 = time.monotonic()
        # Within 10 s: the refutation, not the periodic full exchange (30 s).
        wait_for(lambda: self.state_of("h1", others) == ["alive"] * (N - 1),
                 lambda: "h1 to be alive again on all; views: %r" % [members(d) for d in self.d], 10)
        print("alive again on all %.2f s after the heal" % (time.monotonic() - t0), end=" ")
        wait_for(lambda: errno_of(os.listdir, self.d[2].path("h1", "channels")) == 0, "h1 to be served again")

    def test_a_cut_link_between_two_members_that_reach_the_others_makes_neither_down(self):
        # The cut sends no reset: the link between h1 and h2 goes silent.
        # Calls over it fail with EHOSTUNREACH within the link timeout (3 s;
        # the bounds here are generous), not after TCP's retries, a receive
        # parked across it included; the error file says so; and after the
        # heal the names h2's mount holds are served again.
        a, b = 0, 1
        os.mkdir(self.d[a].path("h1", "channels", "cut"))
        with open(self.d[a].path("h1", "channels", "cut", "cap"), "w") as f:
            f.write("1")
        self.assertEqual(errno_of(os.listdir, self.d[b].path("h1", "channels")), 0)  # h2 has a link to h1
        parked = subprocess.Popen(["cat", self.d[b].path("h1", "channels", "cut", "recv")],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(parked.wait)
        self.addCleanup(parked.kill)
        stat = self.d[a].path("h1", "channels", "cut", "stat")
        wait_for(lambda: b'"receivers_waiting":1' in read(stat), "the receive from h2 to park on h1")
        ip("-n", host_ns(a), "route", "add", "blackhole", address(b) + "/32")
        ip("-n", host_ns(b), "route", "add", "blackhole", address(a) + "/32")
        try:
            ls = subprocess.run(["ls", self.d[b].path("h1", "channels")], capture_output=True, timeout=30)
            self.assertIn(b"No route to host", ls.stderr)
            self.assertIn(b"No route to host", parked.communicate(timeout=30)[1])
            self.assertTrue(read(self.d[b].path("h1", "error")).startswith(b"host unreachable: h1 ("))
            deadline = time.time() + 8
            while time.time() < deadline:
                for i in range(N):
                    m = members(self.d[i])
                    self.assertNotEqual(m.get("h1"), "down", "h1 declared down on h%d" % (i + 1))
                    self.assertNotEqual(m.get("h2"), "down", "h2 declared down on h%d" % (i + 1))
                time.sleep(0.1)
        finally:
            ip("-n", host_ns(a), "route", "del", "blackhole", address(b) + "/32", check=False)
            ip("-n", host_ns(b), "route", "del", "blackhole", address(a) + "/32", check=False)
        # h1 ended the session of h2's that the cut left silent: its receive went.
        self.assertIn(b'"receivers_waiting":0', read(stat))
        wait_for(lambda: errno_of(os.listdir, self.d[b].path("h1", "channels")) == 0, "h1 to be served to h2 again")
        # h2 dialed h1 again each second of the cut, and said so once per
        # reason, not each second; then that the link works again.
        retries = re.findall(r"cluster: link to h1: .*trying again", self.d[b].log())
        self.assertGreaterEqual(len(retries), 1, self.d[b].log())
        self.assertLessEqual(len(retries), 3, self.d[b].log())
        wait_for(lambda: "cluster: link to h1: works again" in self.d[b].log(), "h2 to log the link back")
        subprocess.run(["sh", "-c", "echo healed > \"$1\"/send", "sh", self.d[b].path("h1", "channels", "cut")],
                       check=True, timeout=20)
        self.assertEqual(read(self.d[a].path("h1", "channels", "cut", "recv")), b"healed\n")

    def test_a_daemon_stopped_for_one_second_is_suspected_at_most(self):
        seen = set()
        self.d[4].proc.send_signal(signal.SIGSTOP)
        try:
            deadline = time.time() + 1
            while time.time() < deadline:
                seen.update(self.state_of("h5", range(N - 1)))
                time.sleep(0.05)
        finally:
            self.d[4].proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 4
        while time.time() < deadline:
            seen.update(self.state_of("h5", range(N - 1)))
            time.sleep(0.05)
        self.assertNotIn("down", seen)
        wait_for(lambda: self.state_of("h5", range(N - 1)) == ["alive"] * (N - 1), "h5 alive on all")


if __name__ == "__main__":
    unittest.main(verbosity=2)
