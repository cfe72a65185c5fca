"""The processes of a worker through a real mount (issue 6): stdio are
pipes; stdin writes interrupted by signals are exact and leave nothing
queued; every descendant of a worker, also one that left its session, is
counted, signalled and killed with it; and circuitd's stop serves the
mount until its workers are gone, so a worker blocked on the mount cannot
deadlock it, and a parked wait gets the exit status."""
import errno
import hashlib
import json
import os
import signal
import subprocess
import time
import unittest

from harness import DaemonTest, mounted, pids_whose_cmdline, read, write
from test_workers import PY, WorkerTest, children, gone, in_syscall, proc_stat_fields
from through_a_peer import ThroughAPeer

MiB = 1 << 20
# Sleep lengths that name this run's processes in /proc (other test runs
# may share the machine).
TAG = 200000 + os.getpid() % 100000 * 8


def pids_running(*argv):
    """Pids of live processes whose command line is exactly argv."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    return [p for p in pids_whose_cmdline(lambda cmdline: cmdline == want) if not gone(p)]


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def sanitized(pid):
    """Under AddressSanitizer freed memory waits in quarantine: rss then
    says nothing of what is kept."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


class Stdio(WorkerTest):
    def test_cat_dev_stdin_inside_a_worker_reads_what_was_written_to_stdin(self):
        self.start("c", "/bin/sh", "-c", "cat /dev/stdin")
        self.kill_at_exit("c")
        write(self.w("c", "stdin"), "through /dev/stdin\n")
        write(self.w("c", "ctl"), "eof")
        self.assertEqual(read(self.w("c", "stdout")), b"through /dev/stdin\n")
        self.assertEqual(read(self.w("c", "stderr")), b"")
        self.assertEqual(self.wait("c"), b'{"exit":0}\n')

    def test_echo_to_dev_stderr_and_tee_dev_fd_2_inside_a_worker_reach_stderr(self):
        self.start("e", "/bin/sh", "-c", "echo one > /dev/stderr; echo two | tee /dev/fd/2")
        self.assertEqual(self.wait("e"), b'{"exit":0}\n')
        self.assertEqual(read(self.w("e", "stdout")), b"two\n")
        self.assertEqual(read(self.w("e", "stderr")), b"one\ntwo\n")


class InterruptedStdin(WorkerTest):
    def test_4_mib_written_to_stdin_under_sigusr1_arrive_exactly_once(self):
        # The worker reads nothing until "go" exists, so the writer blocks
        # and each SIGUSR1 interrupts a write: the first one after part of
        # it went into the pipe (a short count), the others before any did
        # (EINTR, which Python retries). Each interruption is seen by the
        # writer's handler, which prints a byte.
        go = os.path.join(self.d.dir, "go")
        self.start("s", "/bin/sh", "-c", "while [ ! -e %s ]; do sleep 0.01; done; exec sha256sum" % go)
        self.kill_at_exit("s")
        data = bytes(range(256)) * (4 * MiB // 256)
        writer = self.spawn([PY, "-c", "import os, signal\n"
                             "signal.signal(signal.SIGUSR1, lambda *_: os.write(1, b's'))\n"
                             "fd = os.open('workers/s/stdin', os.O_WRONLY)\n"
                             "data = memoryview(bytes(range(256)) * (4 << 12))\n"
                             "short = 0\n"
                             "for i in range(4):\n"
                             "    chunk = data[i << 20:(i + 1) << 20]\n"
                             "    while chunk:\n"
                             "        n = os.write(fd, chunk)\n"
                             "        short += n < len(chunk)\n"
                             "        chunk = chunk[n:]\n"
                             "os.close(fd)\n"
                             "print('', short, flush=True)\n"],
                            stdout=subprocess.PIPE)
        for _ in range(6):
            self.wait_for(lambda: in_syscall(writer.pid, "write"), "the writer to block in write")
            writer.send_signal(signal.SIGUSR1)
            self.assertEqual(writer.stdout.read(1), b"s")
        open(go, "w").close()
        out, _ = writer.communicate(timeout=30)
        self.assertEqual(writer.returncode, 0)
        self.assertGreaterEqual(int(out.split()[-1]), 1, "no write was cut short: %r" % out)
        write(self.w("s", "ctl"), "eof")
        self.assertEqual(self.wait("s"), b'{"exit":0}\n')
        self.assertEqual(read(self.w("s", "stdout")).decode(), hashlib.sha256(data).hexdigest() + "  -\n")

    def test_300_interrupted_1_mib_stdin_writes_leave_nothing_queued_even_after_rmdir(self):
        self.start("s", "/bin/sleep", "1000")  # never reads its stdin
        self.kill_at_exit("s")
        rss0 = rss(self.d.proc.pid)
        writer = self.spawn([PY, "-c", "import os, signal\n"
                             "class Cut(Exception): pass\n"
                             "def cut(*_): raise Cut()\n"
                             "signal.signal(signal.SIGALRM, cut)\n"
                             "fd = os.open('workers/s/stdin', os.O_WRONLY)\n"
                             "data = b'x' * (1 << 20)\n"
                             "cuts = 0\n"
                             "for i in range(300):\n"
                             "    try:\n"
                             "        signal.setitimer(signal.ITIMER_REAL, 0.005)\n"
                             "        os.write(fd, data)\n"
                             "        signal.setitimer(signal.ITIMER_REAL, 0)\n"
                             "    except Cut:\n"
                             "        cuts += 1\n"
                             "print(cuts, flush=True)\n"],
                            stdout=subprocess.PIPE)
        out, _ = writer.communicate(timeout=50)
        self.assertGreater(int(out), 250, "the writes were not interrupted")
        st = self.wstat("s")
        self.assertEqual(st["stdin_buffered"], 0)
        grown = rss(self.d.proc.pid) - rss0
        print("\n  300 interrupted 1 MiB stdin writes: circuitd rss %+.1f MiB" % (grown / MiB), end=" ")
        bounded = not sanitized(self.d.proc.pid)
        if bounded:
            self.assertLess(grown, 32 * MiB)
        write(self.w("s", "ctl"), "kill")
        self.wait("s")
        os.rmdir(self.w("s"))
        if bounded:
            self.assertLess(rss(self.d.proc.pid) - rss0, 32 * MiB)


class Descendants(WorkerTest):
    ORPHAN = '(trap "" TERM; exec sleep %d) & exec sleep %d'

    def orphan_worker(self, name, n):
        self.start(name, "/bin/sh", "-c", self.ORPHAN % (n, n + 1))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in pids_running("sleep", str(n))])
        self.wait_for(lambda: self.wstat(name)["procs"] == 2 and pids_running("sleep", str(n))
                      and pids_running("sleep", str(n + 1)), "both sleeps to run")

    def test_stop_kills_a_descendant_that_ignores_term_after_its_leader_died_of_it(self):
        self.orphan_worker("o", TAG)
        write(self.w("o", "ctl"), "grace 1\nstop\n")
        self.assertEqual(self.wait("o"), b'{"signal":"TERM"}\n')
        self.wait_for(lambda: self.wstat("o")["procs"] == 0, "the orphan to be killed after the grace")
        self.assertEqual(pids_running("sleep", str(TAG)), [])
        self.assertErrno(errno.ESRCH, write, self.w("o", "signal"), "TERM")

    def test_signal_and_kill_reach_a_descendant_while_it_lives_and_esrch_comes_only_after(self):
        self.orphan_worker("o", TAG + 2)
        write(self.w("o", "ctl"), "grace 60\nstop\n")
        self.assertEqual(self.wait("o"), b'{"signal":"TERM"}\n')
        st = self.wstat("o")
        self.assertEqual((st["state"], st["procs"]), ("signaled", 1))
        write(self.w("o", "signal"), "TERM")  # it ignores TERM, but it is there to get it
        self.assertEqual(len(pids_running("sleep", str(TAG + 2))), 1)
        write(self.w("o", "ctl"), "kill")
        self.wait_for(lambda: self.wstat("o")["procs"] == 0, "kill to end the orphan")
        self.assertEqual(pids_running("sleep", str(TAG + 2)), [])
        self.assertErrno(errno.ESRCH, write, self.w("o", "signal"), "TERM")
        self.assertIn("no process of it is left", self.err("o"))
        self.assertEqual(self.wait("o"), b'{"signal":"TERM"}\n')  # the leader's status stays

    def test_rmdir_of_an_ended_worker_kills_what_it_left_running_in_another_session(self):
        self.start("b", "/bin/sh", "-c", "setsid sleep %d & exit 0" % (TAG + 4))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in pids_running("sleep", str(TAG + 4))])
        self.assertEqual(self.wait("b"), b'{"exit":0}\n')
        self.wait_for(lambda: pids_running("sleep", str(TAG + 4)), "the background sleep to run")
        self.assertEqual(self.wstat("b")["procs"], 1)
        os.rmdir(self.w("b"))
        self.wait_for(lambda: not pids_running("sleep", str(TAG + 4)), "the background sleep to be killed")

    def test_stat_counts_every_live_process_of_the_worker(self):
        self.start("n", "/bin/sh", "-c", "sleep 1000 & sleep 1000 & echo up; wait")
        self.kill_at_exit("n")
        self.assertEqual(self.first_line("n"), b"up\n")
        self.assertEqual(self.wstat("n")["procs"], 3)
        write(self.w("n", "ctl"), "kill")
        self.assertEqual(self.wait("n"), b'{"signal":"KILL"}\n')
        self.wait_for(lambda: self.wstat("n")["procs"] == 0, "every process to end")


class DescendantsWithoutCgroups(Descendants):
    """The same, on a daemon that makes no cgroups (--no-cgroups, as where
    it is not root or cgroup2 is read-only): a reaper per worker."""
    daemon_args = ("--no-cgroups",)


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def own_cgroup(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        return [line.strip() for line in f if line.startswith("0::")]


class SetsidChild(WorkerTest):
    """A worker whose child leaves its session (setsid) and sleeps on: the
    worker's rmdir and the daemon's stop kill it, with cgroups or without."""
    daemon_args = ("--grace", "1")
    stopped = False

    def check_daemon_alive(self):
        if not self.stopped:  # one test stops it on purpose
            super().check_daemon_alive()

    def setsid_worker(self, name, n):
        self.start(name, "/bin/sh", "-c", "setsid sleep %d & echo up; exec sleep %d" % (n, n + 1))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in
                                 pids_running("sleep", str(n)) + pids_running("sleep", str(n + 1))])
        self.assertEqual(self.first_line(name), b"up\n")
        self.wait_for(lambda: pids_running("sleep", str(n)) and pids_running("sleep", str(n + 1)),
                      "both sleeps to run")
        (stray,) = pids_running("sleep", str(n))
        self.assertNotEqual(os.getsid(stray), os.getsid(self.wstat(name)["pid"]))
        self.assertEqual(self.wstat(name)["procs"], 2)

    def test_rmdir_kills_the_child_that_left_the_session(self):
        self.setsid_worker("s", TAG + 10)
        write(self.w("s", "ctl"), "kill")
        self.assertEqual(self.wait("s"), b'{"signal":"KILL"}\n')
        os.rmdir(self.w("s"))
        self.wait_for(lambda: not pids_running("sleep", str(TAG + 10)), "the setsid sleep to be killed")

    def test_the_daemons_stop_kills_the_child_that_left_the_session(self):
        self.setsid_worker("s", TAG + 12)
        self.stopped = True
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertEqual(pids_running("sleep", str(TAG + 12)), [])
        self.assertEqual(pids_running("sleep", str(TAG + 13)), [])
        self.assertIn("workers stopped (0 needed SIGKILL)", self.d.log())


class SetsidChildWithoutCgroups(SetsidChild):
    daemon_args = ("--grace", "1", "--no-cgroups")


class SetsidChildOfADaemonThatIsNotRoot(SetsidChild):
    """A daemon that is not root cannot make cgroups: it picks the reaper by
    itself (no --no-cgroups), and its workers run as its own user."""
    daemon_user = "circuit-u1"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from test_permissions import ensure_users
        ensure_users()

    def test_its_workers_run_as_its_user_under_a_reaper_in_no_cgroup_of_its_own(self):
        import pwd
        self.start("u", "/bin/sleep", str(TAG + 14))
        self.kill_at_exit("u")
        pid = self.wstat("u")["pid"]
        self.assertEqual(os.stat("/proc/%d" % pid).st_uid, pwd.getpwnam(self.daemon_user).pw_uid)
        reaper = int(proc_stat_fields(pid)[1])
        self.assertEqual(comm(reaper), "circuit-reaper")
        self.assertNotIn("circuitd-", "".join(own_cgroup(pid)))


class Reaper(WorkerTest):
    """Without cgroups each worker's process runs under a reaper of its own,
    and the daemon reaps what escapes a killed reaper."""
    daemon_args = ("--no-cgroups",)

    def test_the_workers_process_runs_under_circuit_reaper_in_no_cgroup_of_the_daemon(self):
        self.start("r", "/bin/sleep", str(TAG + 20))
        self.kill_at_exit("r")
        pid = self.wstat("r")["pid"]
        reaper = int(proc_stat_fields(pid)[1])
        self.assertEqual(comm(reaper), "circuit-reaper")
        self.assertEqual(int(proc_stat_fields(reaper)[1]), self.d.proc.pid)
        self.assertEqual(own_cgroup(pid), own_cgroup(self.d.proc.pid))
        self.assertEqual(self.wstat("r")["procs"], 1)  # the reaper is not counted

    def test_forty_workers_ending_at_once_with_their_reapers_leave_the_daemon_serving(self):
        # The reaper's end (its pidfd) and its last report (the pipe) come
        # in either order; reading the report after the worker is over once
        # stopped a watch already closed, and the daemon aborted (libuv).
        for i in range(40):
            self.start("e%d" % i, "/bin/true")
        for i in range(40):
            self.assertEqual(self.wait("e%d" % i), b'{"exit":0}\n')
        self.wait_for(lambda: children(self.d.proc.pid) == [], "the daemon to reap every reaper")

    def test_a_program_the_reaper_cannot_execute_fails_the_start_with_its_errno_and_words(self):
        script = os.path.join(self.d.dir, "script")
        with open(script, "w") as f:
            f.write("#!/no/such/interpreter\n")
        os.chmod(script, 0o755)
        self.mk("x")
        self.assertErrno(errno.ENOENT, write, self.w("x", "spec"), '{"path":"%s"}' % script)
        self.assertEqual(self.err("x"),
                         "spawn %s: its interpreter /no/such/interpreter: No such file or directory\n" % script)
        self.assertEqual(self.wstat("x")["state"], "new")
        self.assertEqual(children(self.d.proc.pid), [])  # the reaper was reaped

    def test_what_a_worker_leaves_after_killing_its_own_reaper_is_killed_by_the_daemon(self):
        self.start("k", "/bin/sh", "-c", "setsid sleep %d & sleep 0.2; kill -9 $PPID; exec sleep %d"
                   % (TAG + 22, TAG + 23))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in
                                 pids_running("sleep", str(TAG + 22)) + pids_running("sleep", str(TAG + 23))])
        self.assertEqual(self.wait("k"), b'{"signal":"KILL"}\n')
        self.wait_for(lambda: not pids_running("sleep", str(TAG + 22)) and not pids_running("sleep", str(TAG + 23)),
                      "the daemon to kill what the reaper left")
        self.assertIn("its reaper was killed", self.d.log())
        self.wait_for(lambda: [c for c in children(self.d.proc.pid)] == [], "the daemon to reap them")


class StopWhileBlockedOnTheMount(WorkerTest):
    daemon_args = ("--grace", "1")

    def check_daemon_alive(self):
        pass  # stopped on purpose

    def test_sigterm_ends_circuitd_while_a_worker_is_blocked_on_the_mount_and_a_wait_gets_term(self):
        os.mkdir(self.d.chan("c"))
        self.start("r", "/bin/cat", self.d.chan("c", "recv"))
        pid = self.wstat("r")["pid"]
        self.addCleanup(lambda: gone(pid) or os.kill(pid, signal.SIGKILL))
        self.wait_for(lambda: in_syscall(pid, "openat"), "the worker to block opening recv")
        waiter = self.spawn(["cat", "workers/r/wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(waiter.pid, "openat"), "cat wait to block")
        t0 = time.monotonic()
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        print("\n  circuitd stopped in %.2f s (grace 1 s)" % (time.monotonic() - t0), end=" ")
        out, err = waiter.communicate(timeout=10)
        self.assertEqual((out, err), (b'{"signal":"TERM"}\n', b""))
        self.assertTrue(gone(pid))
        self.assertFalse(mounted(self.d.mnt))
        self.assertIn("workers stopped (0 needed SIGKILL)", self.d.log())
        self.assertNotIn("did not end in time", self.d.log())
        with open("/proc/self/mounts") as f:
            cgroups = [line.split()[1] for line in f if line.split()[2] == "cgroup2"]
        for top in cgroups[:1]:
            left = [dirpath for dirpath, _, _ in os.walk(top)
                    if os.path.basename(dirpath) == "circuitd-%d" % self.d.proc.pid]
            self.assertEqual(left, [], "the daemon's cgroup is left behind")

    def test_sigterm_kills_what_ignores_term_after_the_grace_and_leaves_no_process(self):
        self.start("o", "/bin/sh", "-c", Descendants.ORPHAN % (TAG + 6, TAG + 7))
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in pids_running("sleep", str(TAG + 6))])
        self.wait_for(lambda: self.wstat("o")["procs"] == 2, "both sleeps to run")
        waiter = self.spawn(["cat", "workers/o/wait"], stdout=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(waiter.pid, "openat"), "cat wait to block")
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertEqual(waiter.communicate(timeout=10)[0], b'{"signal":"TERM"}\n')
        self.assertEqual(pids_running("sleep", str(TAG + 6)), [])
        self.assertEqual(pids_running("sleep", str(TAG + 7)), [])
        self.assertIn("workers stopped (1 needed SIGKILL)", self.d.log())
        self.assertFalse(mounted(self.d.mnt))


class StopWhileBlockedOnTheMountWithoutCgroups(StopWhileBlockedOnTheMount):
    daemon_args = ("--grace", "1", "--no-cgroups")


class KeptAtStop(WorkerTest):
    daemon_args = ("--keep-workers",)

    def check_daemon_alive(self):
        pass  # stopped on purpose

    def test_workers_kept_at_stop_go_back_to_the_daemons_own_cgroup_and_no_group_is_left(self):
        with open("/proc/self/cgroup") as f:
            own = [line for line in f if line.startswith("0::")]
        self.start("k", "/bin/sleep", str(TAG + 8))
        pid = self.wstat("k")["pid"]
        self.addCleanup(lambda: gone(pid) or os.kill(pid, signal.SIGKILL))
        daemon = self.d.proc.pid
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertFalse(gone(pid))
        with open("/proc/%d/cgroup" % pid) as f:
            theirs = [line for line in f if line.startswith("0::")]
        self.assertEqual(theirs, own)  # the test and the daemon share a group
        self.assertNotIn("circuitd-%d" % daemon, "".join(theirs))


if __name__ == "__main__":
    unittest.main(verbosity=2)


# The same through a peer: a writer on h2 of a stdin on h1, interrupted
# while it waits there, hears what h1 took (a short count, or EINTR for
# nothing), never EINTR for bytes that went in.

class StdioThroughAPeer(ThroughAPeer, Stdio):
    """A worker's stdio through h2's mount."""


class DescendantsThroughAPeer(ThroughAPeer, Descendants):
    """What a worker leaves behind, ended by calls made through h2."""


class InterruptedStdinThroughAPeer(ThroughAPeer, InterruptedStdin):
    pass
