"""Lifetimes of open files: files of removed elements, readiness for
poll(2) and O_NONBLOCK, the events stream's lines and its end, and opens
interrupted as they complete. Real daemons, real mounts, real shells."""
import errno
import json
import os
import random
import select
import selectors
import signal
import subprocess
import sys
import threading
import time
import unittest

from harness import DaemonTest, close_quietly, pids_whose_cmdline, read, write
from test_workers import WorkerTest, fd_count, in_syscall
from through_a_peer import ThroughAPeer

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT


def cmdlines_with(marker):
    """Pids of processes whose command line contains `marker`."""
    return pids_whose_cmdline(lambda cmdline: marker.encode() in cmdline)


def kill_all(marker):
    for pid in cmdlines_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def revents(fd, timeout_ms=0):
    """The events poll(2) reports for fd, waiting up to timeout_ms."""
    p = select.poll()
    p.register(fd, POLLIN | POLLOUT)
    got = p.poll(timeout_ms)
    return got[0][1] if got else 0


class LifetimeTest(WorkerTest):
    def chan(self, name, *parts):
        return self.d.chan(name, *parts)

    def opened(self, path, flags):
        fd = os.open(path, flags)
        self.addCleanup(close_quietly, fd)
        return fd

    def no_process(self, marker):
        self.addCleanup(kill_all, marker)
        # A started process would show within the write that started it.
        self.assertEqual(cmdlines_with(marker), [], "a process was started: " + marker)


class RemovedElements(LifetimeTest):
    """Every open file of a removed element fails with ENOENT, and nothing
    starts; a receiver holding a message, and a wait holding the status,
    still read them."""

    def test_a_spec_written_through_a_descriptor_opened_before_rmdir_starts_nothing(self):
        marker = "987.%d" % os.getpid()
        spec = '{"path":"/bin/sleep","args":["%s"]}' % marker
        r = self.sh("cd workers && mkdir g && exec 4> g/spec && rmdir g && "
                    "echo '%s' >&4; echo $?; /bin/echo '%s' >&4" % (spec, spec), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"1\n")  # dash's echo says "I/O error" for any errno
        self.assertIn(b"/bin/echo: write error: No such file or directory", r.stderr)
        self.no_process(marker)
        self.assertEqual(self.entries(), [])

    def test_a_spec_and_stat_open_for_reading_before_rmdir_read_enoent(self):
        self.mk("g")
        spec = self.opened(self.w("g", "spec"), os.O_RDONLY)
        stat = self.opened(self.w("g", "stat"), os.O_RDONLY)
        os.rmdir(self.w("g"))
        self.assertErrno(errno.ENOENT, os.read, spec, 100)
        self.assertErrno(errno.ENOENT, os.read, stat, 100)

    def test_stdin_signal_and_ctl_opened_before_rmdir_fail_with_enoent(self):
        self.mk("g")
        fds = {name: self.opened(self.w("g", name), os.O_WRONLY) for name in ("stdin", "signal", "ctl")}
        os.rmdir(self.w("g"))
        self.assertErrno(errno.ENOENT, os.write, fds["stdin"], b"input\n")
        self.assertErrno(errno.ENOENT, os.write, fds["signal"], b"TERM\n")
        self.assertErrno(errno.ENOENT, os.write, fds["ctl"], b"kill\n")
        # The words are in the error file of the directory that held it.
        self.assertIn(b"/workers/g/ctl: its directory was removed", read(self.d.host("workers", "error")))

    def test_a_send_opened_before_rmdir_fails_its_write_with_enoent(self):
        os.mkdir(self.chan("c"))
        write(self.chan("c", "cap"), "1")
        fd = self.opened(self.chan("c", "send"), os.O_WRONLY)  # holds the one place
        os.rmdir(self.chan("c"))
        self.assertErrno(errno.ENOENT, os.write, fd, b"late")
        self.assertIn(b"/channels/c/send: its directory was removed", read(self.d.host("channels", "error")))
        os.mkdir(self.chan("c"))  # a new channel of the name starts afresh, empty
        self.assertErrno(errno.EAGAIN, read, self.chan("c", "tryrecv"))

    def test_a_receiver_that_took_a_message_before_rmdir_reads_it_to_the_end(self):
        os.mkdir(self.chan("c"))
        write(self.chan("c", "cap"), "1")
        write(self.chan("c", "send"), b"0123456789")
        self.wait_for(lambda: self.stat("c")["len"] == 1, "the message to be delivered")
        fd = self.opened(self.chan("c", "recv"), os.O_RDONLY)
        self.assertEqual(os.read(fd, 4), b"0123")
        os.rmdir(self.chan("c"))
        self.assertEqual(os.read(fd, 100), b"456789")
        self.assertEqual(os.read(fd, 100), b"")

    def test_a_wait_that_has_the_status_still_reads_it_after_rmdir(self):
        self.start("g", "/bin/true")
        fd = self.opened(self.w("g", "wait"), os.O_RDONLY)
        os.rmdir(self.w("g"))
        self.assertEqual(os.read(fd, 100), b'{"exit":0}\n')

    def test_stdout_held_by_a_background_child_fails_parked_and_later_reads_with_enoent(self):
        marker = "321.%d" % os.getpid()
        self.addCleanup(kill_all, marker)
        self.start("g", "/bin/sh", "-c", "sleep %s & echo hi" % marker)
        fd = self.opened(self.w("g", "stdout"), os.O_RDONLY)
        self.assertEqual(os.read(fd, 100), b"hi\n")
        self.assertEqual(self.wait("g"), b'{"exit":0}\n')
        cat = self.spawn(["cat", "workers/g/stdout"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(cat.pid, "read"), "cat to park in read(stdout)")
        os.rmdir(self.w("g"))
        self.assertNotEqual(cat.wait(5), 0)
        self.assertIn(b"No such file or directory", cat.stderr.read())
        self.assertErrno(errno.ENOENT, os.read, fd, 100)
        self.assertErrno(errno.ENOENT, os.read, fd, 100)

    def test_a_fuzz_of_mkdir_open_rmdir_and_spec_writes_leaves_no_process_and_no_descriptor(self):
        fds0 = self.warm_up()
        marker = "654.%d" % os.getpid()
        self.addCleanup(kill_all, marker)
        seed = int(time.time())
        rng = random.Random(seed)
        spec = '{"path":"/bin/sleep","args":["%s"]}' % marker
        lines = ["cd workers"]
        for _ in range(400):
            name, fd = "w%d" % rng.randrange(2), 3 + rng.randrange(2)
            lines.append(rng.choice([
                "mkdir %s 2>/dev/null" % name,
                "command exec %d> %s/spec 2>/dev/null" % (fd, name),
                "command exec %d> %s/ctl 2>/dev/null" % (fd, name),
                "command exec %d< %s/stdout 2>/dev/null" % (fd, name),
                "rmdir %s 2>/dev/null" % name,
                "echo '%s' >&%d 2>/dev/null" % (spec, fd),
                "echo kill >&%d 2>/dev/null" % fd,
                "command exec %d>&- 2>/dev/null" % fd,
            ]))
        lines.append("true")
        self.sh("\n".join(lines), timeout=30)
        # Every process the daemon started is in a directory: kill, wait, remove.
        for name in self.entries():
            if self.wstat(name)["state"] == "running":
                write(self.w(name, "ctl"), "kill")
                self.wait(name)
            os.rmdir(self.w(name))
        self.wait_for(lambda: cmdlines_with(marker) == [],
                      "no sleep left (seed %d): %r" % (seed, cmdlines_with(marker)))
        self.wait_for(lambda: fd_count(self.d.proc.pid) == fds0,
                      "the daemon's descriptors to come back to %d (seed %d)" % (fds0, seed))


class Readiness(LifetimeTest):
    """poll(2) tells the truth for stdout, stderr and events; O_NONBLOCK
    reads give EAGAIN when nothing is there; O_NONBLOCK opens act as the
    try-files."""

    def test_poll_on_an_empty_stdout_waits_until_the_process_writes(self):
        self.start("e", "/bin/cat")
        self.kill_at_exit("e")
        fd = self.opened(self.w("e", "stdout"), os.O_RDONLY)
        self.assertEqual(revents(fd), 0)
        write(self.w("e", "stdin"), "x\n")
        self.assertEqual(revents(fd, 10000), POLLIN)
        self.assertEqual(os.read(fd, 100), b"x\n")
        self.assertEqual(revents(fd), 0)
        write(self.w("e", "ctl"), "eof")
        self.assertEqual(revents(fd, 10000), POLLIN)  # end of file is readable
        self.assertEqual(os.read(fd, 100), b"")

    def test_poll_on_stderr_waits_until_the_process_writes_to_it(self):
        self.start("e", "/bin/sh", "-c", "read x; echo $x >&2; read y")
        self.kill_at_exit("e")
        fd = self.opened(self.w("e", "stderr"), os.O_RDONLY)
        self.assertEqual(revents(fd), 0)
        write(self.w("e", "stdin"), "oops\n")
        self.assertEqual(revents(fd, 10000), POLLIN)
        self.assertEqual(os.read(fd, 100), b"oops\n")

    def test_poll_on_events_waits_for_the_next_event(self):
        fd = self.opened(self.d.path("events"), os.O_RDONLY)
        self.assertEqual(revents(fd), POLLIN)  # the join lines
        self.assertEqual(os.read(fd, 100), b"join h1\n")
        self.assertEqual(revents(fd), 0)
        os.mkdir(self.chan("a"))
        self.assertEqual(revents(fd, 10000), POLLIN)
        self.assertEqual(os.read(fd, 100), b"new /h1/channels/a\n")
        self.assertEqual(revents(fd), 0)

    def test_a_poll_waiting_on_stdout_wakes_at_rmdir_and_the_read_fails_with_enoent(self):
        self.mk("n")
        fd = self.opened(self.w("n", "stdout"), os.O_RDONLY)
        got = []
        t = threading.Thread(target=lambda: got.append(revents(fd, 10000)))
        t.start()
        time.sleep(0.2)  # let the poll wait; if it has not yet, it sees the removal at once
        os.rmdir(self.w("n"))
        t.join(15)
        self.assertEqual(got, [POLLIN])
        self.assertErrno(errno.ENOENT, os.read, fd, 100)

    def test_files_that_never_wait_are_always_ready(self):
        os.mkdir(self.chan("c"))
        for path, flags, want in ((self.d.host("stat"), os.O_RDONLY, POLLIN),
                                  (self.d.path("help"), os.O_RDONLY, POLLIN),
                                  (self.chan("c", "cap"), os.O_RDWR, POLLIN | POLLOUT),
                                  (self.chan("c", "close"), os.O_WRONLY, POLLOUT),
                                  (self.d.host("ctl"), os.O_WRONLY, POLLOUT)):
            fd = self.opened(path, flags)
            self.assertEqual(revents(fd), want, path)

    def test_an_event_loop_with_selectors_collects_two_workers_output_and_events(self):
        self.start("a", "/bin/cat")
        self.kill_at_exit("a")
        self.start("b", "/bin/cat")
        self.kill_at_exit("b")
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        names = {}
        for name, path in (("a", self.w("a", "stdout")), ("b", self.w("b", "stdout")),
                           ("events", self.d.path("events"))):
            fd = self.opened(path, os.O_RDONLY | os.O_NONBLOCK)
            sel.register(fd, selectors.EVENT_READ, name)
            names[name] = fd
        got = {"a": b"", "b": b"", "events": b""}
        write(self.w("b", "stdin"), "to b\n")
        write(self.w("a", "stdin"), "to a\n")
        os.mkdir(self.chan("x"))
        want = {"a": b"to a\n", "b": b"to b\n", "events": b"join h1\nnew /h1/channels/x\n"}
        while got != want:
            ready = sel.select(timeout=10)
            self.assertTrue(ready, "nothing ready; got %r" % got)
            for key, _ in ready:
                got[key.data] += os.read(key.fd, 100)
            for k in got:
                self.assertTrue(want[k].startswith(got[k]), got)
        self.assertEqual(sel.select(timeout=0), [])

    def test_o_nonblock_reads_of_stdout_stderr_and_events_give_eagain_when_nothing_is_there(self):
        self.start("e", "/bin/sh", "-c", "read x; echo $x; echo $x >&2; read y")
        self.kill_at_exit("e")
        out = self.opened(self.w("e", "stdout"), os.O_RDONLY | os.O_NONBLOCK)
        err = self.opened(self.w("e", "stderr"), os.O_RDONLY | os.O_NONBLOCK)
        ev = self.opened(self.d.path("events"), os.O_RDONLY | os.O_NONBLOCK)
        self.assertEqual(os.read(ev, 100), b"join h1\n")
        for fd in (out, err, ev):
            self.assertErrno(errno.EAGAIN, os.read, fd, 100)
        write(self.w("e", "stdin"), "hi\n")
        self.assertEqual(revents(out, 10000), POLLIN)
        self.assertEqual(revents(err, 10000), POLLIN)
        self.assertEqual(os.read(out, 100), b"hi\n")
        self.assertEqual(os.read(err, 100), b"hi\n")
        self.assertErrno(errno.EAGAIN, os.read, out, 100)
        os.mkdir(self.chan("c"))
        self.assertEqual(os.read(ev, 100), b"new /h1/channels/c\n")
        # the mode of the moment counts: fcntl clears O_NONBLOCK, the read waits
        os.set_blocking(out, True)
        write(self.w("e", "stdin"), "bye\n")
        self.assertEqual(os.read(out, 100), b"")  # the process ended: end of file

    def test_o_nonblock_opens_of_recv_send_and_wait_act_as_the_try_files(self):
        os.mkdir(self.chan("c"))
        nb = os.O_NONBLOCK
        self.assertErrno(errno.EAGAIN, os.open, self.chan("c", "recv"), os.O_RDONLY | nb)
        self.assertErrno(errno.EAGAIN, os.open, self.chan("c", "send"), os.O_WRONLY | nb)
        self.start("s", "/bin/cat")
        self.kill_at_exit("s")
        self.assertErrno(errno.EAGAIN, os.open, self.w("s", "wait"), os.O_RDONLY | nb)
        # and when ready, they succeed at once
        os.mkdir(self.chan("b"))
        write(self.chan("b", "cap"), "1")
        fd = os.open(self.chan("b", "send"), os.O_WRONLY | nb)
        os.write(fd, b"m")
        os.close(fd)
        self.wait_for(lambda: self.stat("b")["len"] == 1, "the message to be delivered")
        fd = os.open(self.chan("b", "recv"), os.O_RDONLY | nb)
        self.assertEqual(os.read(fd, 10), b"m")
        os.close(fd)
        write(self.w("s", "ctl"), "eof")
        self.wait(("s"))
        fd = os.open(self.w("s", "wait"), os.O_RDONLY | nb)
        self.assertEqual(os.read(fd, 100), b'{"exit":0}\n')
        os.close(fd)


class EventLines(LifetimeTest):
    def events(self):
        fd = self.opened(self.d.path("events"), os.O_RDONLY)
        self.assertEqual(os.read(fd, 100), b"join h1\n")
        return fd

    def test_a_short_read_of_events_returns_whole_lines_only(self):
        fd = self.events()
        os.mkdir(self.chan("a"))
        os.rmdir(self.chan("a"))
        # 19 + 20 bytes wait; a read of 30 takes the first line only
        self.assertEqual(os.read(fd, 30), b"new /h1/channels/a\n")
        self.assertEqual(os.read(fd, 30), b"gone /h1/channels/a\n")
        os.mkdir(self.chan("b"))
        os.mkdir(self.chan("c"))
        self.assertEqual(os.read(fd, 38), b"new /h1/channels/b\nnew /h1/channels/c\n")

    def test_a_line_longer_than_the_read_comes_in_pieces_then_lines_are_whole_again(self):
        fd = self.events()
        os.mkdir(self.chan("abc"))
        os.mkdir(self.chan("d"))
        self.assertEqual(os.read(fd, 8), b"new /h1/")
        self.assertEqual(os.read(fd, 8), b"channels")
        self.assertEqual(os.read(fd, 10), b"/abc\n")  # the next line does not fit
        self.assertEqual(os.read(fd, 30), b"new /h1/channels/d\n")


class EventsAtStop(LifetimeTest):
    def check_daemon_alive(self):
        pass  # the test stops the daemon

    def test_a_read_of_events_waiting_when_circuitd_stops_returns_end_of_file(self):
        fd = self.opened(self.d.path("events"), os.O_RDONLY)
        self.assertEqual(os.read(fd, 100), b"join h1\n")
        got = []

        def reader():
            try:
                got.append(os.read(fd, 100))
            except OSError as e:
                got.append(e.errno)
            # After that, the daemon (or, once it is gone, the kernel) answers.
            try:
                got.append(os.read(fd, 100))
            except OSError as e:
                got.append(e.errno)

        t = threading.Thread(target=reader)
        t.start()
        self.wait_for(lambda: in_syscall(t.native_id, "read"),
                      "the reader to wait in read(events)")
        self.d.proc.terminate()
        t.join(15)
        self.assertEqual(got[0], b"")
        self.assertIn(got[1], (b"", errno.ECONNABORTED, errno.ENOTCONN))


class InterruptedOpens(LifetimeTest):
    def test_sigint_landing_on_a_blocked_cat_recv_as_a_sender_arrives_loses_nothing(self):
        """Drives the reply of an open that the caller gives up on as it
        completes (the ASan build checks the reply path); every message is
        received by cat or is still in the channel."""
        os.mkdir(self.chan("c"))
        rng = random.Random(7)
        for i in range(40):
            cat = self.spawn(["cat", "channels/c/recv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.wait_for(lambda: self.stat("c")["receivers_waiting"] == 1, "cat to wait in recv")
            msg = b"m%d" % i
            sender = subprocess.Popen(["sh", "-c", "printf %s > channels/c/send" % msg.decode()],
                                      cwd=self.d.host(), stderr=subprocess.PIPE)
            self.addCleanup(self.reap, sender)
            time.sleep(rng.random() * 0.004)
            cat.send_signal(signal.SIGINT)
            cat.wait(10)
            out = cat.stdout.read()
            # cat printed it, or read it all and died before printing it
            # (received), or gave up first: then the message is delivered,
            # being delivered, or its sender waits for the next receiver.
            self.wait_for(lambda: any(self.stat("c")[k] for k in ("len", "reserved", "senders_waiting"))
                          or self.stat("c")["received"] == i + 1, "round %d to settle" % i)
            if self.stat("c")["received"] == i:
                self.assertEqual(out, b"", "round %d" % i)
                self.assertEqual(read(self.chan("c", "recv")), msg, "round %d" % i)
            else:
                self.assertIn(out, (msg, b""), "round %d" % i)
            self.assertEqual(sender.wait(10), 0, sender.stderr.read())
            self.assertEqual((self.stat("c")["len"], self.stat("c")["received"]), (0, i + 1))
        self.assertTrue(self.d.alive())


    def test_a_receiver_killed_by_sigint_after_reading_every_byte_keeps_the_message(self):
        """It died before it read the end of file, but it had the message:
        it is not put back for another receiver to get a second time."""
        os.mkdir(self.chan("k"))
        write(self.chan("k", "cap"), "1")
        write(self.chan("k", "send"), "once")
        code = ("import os, signal, sys\n"
                "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                "sys.stdout.write(os.read(fd, 4).decode()); sys.stdout.flush()\n"
                "os.kill(os.getpid(), signal.SIGINT)\n")
        r = subprocess.run([sys.executable, "-c", code, self.chan("k", "recv")], capture_output=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (-signal.SIGINT, b"once"), r.stderr)
        self.wait_for(lambda: self.stat("k")["received"] == 1 or self.stat("k")["len"] == 1, "the message to settle")
        self.assertEqual((self.stat("k")["len"], self.stat("k")["received"]), (0, 1))


class RemovedElementsThroughAPeer(ThroughAPeer, RemovedElements):
    """Files kept open across an rmdir on their owner, held through h2."""


class InterruptedOpensThroughAPeer(ThroughAPeer, InterruptedOpens):
    """SIGINT on opens parked on h1, through h2's mount."""


if __name__ == "__main__":
    unittest.main()


class OpenReplyLost(unittest.TestCase):
    """An open whose reply cannot reach the kernel any more (the FUSE
    connection was aborted while it was parked) is undone: a message it
    took goes back, and the socket, still served while the daemon stops,
    receives it."""

    def test_a_message_taken_by_an_open_whose_reply_is_lost_goes_back_to_the_channel(self):
        from harness import Daemon
        from test_command import CIRCUIT
        conns = "/sys/fs/fuse/connections"
        with open("/proc/mounts") as f:
            have = any(line.split()[2] == "fusectl" for line in f)
        # Its directory is empty while no FUSE mount is up, mounted or not.
        if not have and subprocess.run(["mount", "-t", "fusectl", "none", conns]).returncode:
            self.skipTest("no fusectl to abort a FUSE connection with")
        d = Daemon(args=("--grace", "5"))
        self.addCleanup(d.cleanup)
        os.mkdir(d.chan("a"))
        write(d.chan("a", "cap"), "1")
        # A worker that ignores TERM holds the daemon's stop for the grace
        # period, during which the socket is still served.
        w = d.host("workers", "stubborn")
        os.mkdir(w)
        write(os.path.join(w, "spec"), json.dumps({"path": "/bin/sh", "args": ["-c", "trap '' TERM; sleep 30"]}))
        cat = subprocess.Popen(["cat", d.chan("a", "recv")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (cat.kill(), cat.wait()))
        deadline = time.time() + 10
        while json.loads(read(d.chan("a", "stat")))["receivers_waiting"] != 1:
            self.assertLess(time.time(), deadline, "cat did not park on recv")
            time.sleep(0.01)
        minor = os.minor(os.stat(d.mnt).st_dev)
        with open(os.path.join(conns, str(minor), "abort"), "w") as f:
            f.write("1")
        env = dict(os.environ, CIRCUIT_SOCKET=d.sock)
        sent = subprocess.run([CIRCUIT, "write", "/h1/channels/a/send"], input=b"kept", env=env,
                              capture_output=True, timeout=10)
        self.assertEqual(sent.returncode, 0, sent.stderr)
        got = subprocess.run([CIRCUIT, "cat", "/h1/channels/a/recv"], env=env, capture_output=True, timeout=10)
        self.assertEqual((got.returncode, got.stdout), (0, b"kept"), got.stderr)
        self.assertIn("the caller was gone; dropped as never opened", d.log())
