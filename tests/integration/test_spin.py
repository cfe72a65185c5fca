"""Polling before sleeping (circuitd(8) --spin, libcircuit(3) CIRCUIT_SPIN):
a daemon that was busy sleeps again once requests stop, with any window,
alone and in a cluster whose members keep gossiping; it answers the same
with no window and with the largest; and a libcircuit program works with
any CIRCUIT_SPIN, a value that is not a number included."""
import os
import subprocess
import time
import unittest

from harness import Daemon, DaemonTest, read
from test_cluster import ClusterTest
from test_libcircuit import BUILD

TICK = os.sysconf("SC_CLK_TCK")


def cpu_share(pid, seconds=2.0):
    """The share of one CPU `pid` used (utime + stime) over `seconds`,
    from a moment after the caller's last request (the kernel's own
    requests about closed files trail it)."""
    def ticks():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    time.sleep(0.2)
    before = ticks()
    time.sleep(seconds)
    return (ticks() - before) / TICK / seconds


# Round trips through the mount, each a send and a receive: the daemon
# answers each request quickly, so it polls between them.
BURST = "i=0; while [ $i -lt 300 ]; do echo $i > channels/b/send; cat channels/b/recv > /dev/null; i=$((i+1)); done"

# A daemon that kept polling would use all of a CPU; an idle one a
# hundredth of one at most. The bound is loose for busy CI machines.
IDLE = 0.05


class Idle(DaemonTest):
    def burst(self, d):
        os.mkdir(d.chan("b"))
        with open(d.chan("b", "cap"), "w") as f:
            f.write("1")
        r = subprocess.run(["sh", "-c", BURST], cwd=d.host(), capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_daemon_sleeps_once_requests_stop_with_the_default_and_the_largest_window(self):
        self.burst(self.d)
        self.assertLess(cpu_share(self.d.proc.pid), IDLE)
        big = Daemon(name="h2", args=("--spin", "1000"))
        self.addCleanup(big.cleanup)
        self.burst(big)
        self.assertLess(cpu_share(big.proc.pid), IDLE)

    def test_without_a_window_and_with_the_largest_the_daemon_answers_the_same(self):
        for i, window in enumerate(["0", "1000"]):
            d = Daemon(name="w%d" % i, args=("--spin", window))
            self.addCleanup(d.cleanup)
            os.mkdir(d.chan("c"))
            with open(d.chan("c", "cap"), "w") as f:
                f.write("3")
            r = subprocess.run(["sh", "-c", "for i in 1 2 3; do echo $i > channels/c/send & done; wait; "
                                            "for i in 1 2 3; do cat channels/c/recv; done"],
                               cwd=d.host(), capture_output=True, timeout=30)
            self.assertEqual(sorted(r.stdout.split()), [b"1", b"2", b"3"], (window, r.stderr))
            self.assertIn(b'"len":0', read(d.chan("c", "stat")))


class IdleMembers(ClusterTest):
    size = 2

    def test_members_sleep_once_requests_across_them_stop_while_they_gossip(self):
        os.mkdir(self.at(0, "h1", "channels", "b"))
        with open(self.at(0, "h1", "channels", "b", "cap"), "w") as f:
            f.write("1")
        burst = BURST.replace("300", "100")
        r = subprocess.run(["sh", "-c", burst], cwd=self.at(1, "h1"), capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for d in self.d:
            self.assertLess(cpu_share(d.proc.pid), IDLE, d.name)


class ProgramWindow(ClusterTest):
    size = 2

    def test_the_seed_program_runs_with_any_circuit_spin(self):
        for spin in ["0", "1000", "soon", "-5"]:
            env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock, CIRCUIT_SPIN=spin)
            r = subprocess.run([os.path.join(BUILD, "examples/roundtrip"), "h2"], env=env, capture_output=True,
                               timeout=60)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"Roundtrip complete.\n", b""), spin)


if __name__ == "__main__":
    unittest.main()
