"""Workers through a real mount and through the socket: real processes
started by writing a spec, their output, input, exit, signals, process
groups, hostile specs, many at once, and what happens to them when circuitd
stops (circuit(4), WORKERS; issue 3). Workers runs on both faces (faces.py;
WorkersOverSocket lists the tests only the mount can run, with why); the
shutdown classes run on the mount."""
import contextlib
import errno
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from faces import FaceTest
from harness import DaemonTest
from through_a_peer import ThroughAPeer

PY = os.path.realpath(sys.executable)  # a real binary, not a shim script
MiB = 1 << 20
BOUND = MiB  # the output buffer bound (output.hpp)
# syscall numbers, to see where a process is blocked (/proc/PID/syscall)
SYSCALLS = {"x86_64": {"read": 0, "write": 1, "openat": 257},
            "aarch64": {"read": 63, "write": 64, "openat": 56}}.get(platform.machine(), {})
STAT_KEYS = {"state", "pid", "path", "started", "exit", "signal", "rss", "cpu", "threads", "fds",
             "procs", "stdin_buffered", "stdout_buffered", "stderr_buffered", "uid", "gid"}


def proc_stat_fields(pid):
    """/proc/PID/stat after the command name: [state, ppid, ...], or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def gone(pid):
    """The process no longer runs: no such pid, or a zombie that only its
    new parent (init) can reap — dead either way."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    f = proc_stat_fields(pid)
    return f is None or f[0] in ("Z", "X")


def children(pid):
    """(pid, state) of every process whose parent is pid."""
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            f = proc_stat_fields(int(e))
            if f and int(f[1]) == pid:
                out.append((int(e), f[0]))
    return out


def wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return f.read()
    except OSError:
        return ""


def wchar(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError("no wchar")


def in_syscall(pid, name):
    """The process sleeps inside that system call."""
    f = proc_stat_fields(pid)
    try:
        with open("/proc/%d/syscall" % pid) as s:
            nr = s.read().split()[0]
    except OSError:
        return False
    return f is not None and f[0] == "S" and nr == str(SYSCALLS.get(name, "unknown on this machine"))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def read_until(fd, want, limit=1 << 16):
    """Reads fd until exactly `want` has come (or more, or EOF)."""
    got = b""
    while len(got) < len(want):
        chunk = fd.read(limit)
        if not chunk:
            break
        got += chunk
    return got


class WorkerTest(FaceTest, DaemonTest):
    """Paths are the mount's (self.w, self.d.host); the calls go through
    the face (faces.py): read, write, mkdir, rmdir, ls, exists, and
    open_read/open_write, whose files read, write and close."""

    def rel(self, path):
        return os.path.relpath(path, self.d.mnt)

    def close_errno(self, refused):
        """What a close after a refusal gives: the refusal, except from a
        close(2) on another member's mount (circuit(4), Other members); a
        9P clunk says the owner's verdict through a peer too."""
        return refused if self.close_repeats_refusal or self.face != "mount" else 0

    def read(self, path, nonblock=False):
        return self.f.read(self.rel(path), nonblock)

    def write(self, path, data):
        self.f.write(self.rel(path), data)

    def mkdir(self, path):
        self.f.mkdir(self.rel(path))

    def rmdir(self, path):
        self.f.rmdir(self.rel(path))

    def ls(self, path):
        return self.f.ls(self.rel(path))

    def exists(self, path):
        return self.f.exists(self.rel(path))

    def open_read(self, path):
        return self.f.open_read(self.rel(path))

    def open_write(self, path):
        return self.f.open_write(self.rel(path))

    def w(self, name, *parts):
        return self.d.host("workers", name, *parts)

    def mk(self, name):
        self.mkdir(self.w(name))

    def start(self, name, path, *args, **extra):
        spec = {"path": path, "args": list(args), **extra}
        self.mk(name)
        self.write(self.w(name, "spec"), json.dumps(spec))
        return spec

    def wstat(self, name):
        return json.loads(self.read(self.w(name, "stat")))

    def start_ready(self, name, script):
        """Starts a python script that prints "ready" once set up; returns
        its stdout, opened, past that line. The caller closes it."""
        self.start(name, PY, "-c", script)
        self.kill_at_exit(name)
        fd = self.open_read(self.w(name, "stdout"))
        self.assertEqual(read_until(fd, b"ready\n"), b"ready\n")
        return fd

    def first_line(self, name):
        """The first line the worker writes to stdout (the rest stays there)."""
        fd = self.open_read(self.w(name, "stdout"))
        try:
            line = b""
            while not line.endswith(b"\n"):
                chunk = fd.read(64)
                if not chunk:
                    self.fail("stdout of %s ended before a whole line" % name)
                line += chunk
        finally:
            fd.close()
        return line

    def wait(self, name):
        return self.read(self.w(name, "wait"))

    def err(self, name=None):
        path = self.w(name, "error") if name else self.d.host("workers", "error")
        return self.read(path).decode()

    def refused(self, expected_errno, path, data, words):
        self.assertErrno(expected_errno, self.write, path, data)
        msg = self.read(os.path.join(os.path.dirname(path), "error")).decode()
        for word in words:
            self.assertIn(word, msg)
        self.assertTrue(msg.endswith("\n"), msg)
        return msg

    def kill_at_exit(self, name):
        """Cleanup for a worker that may still run: killed, waited for."""
        def cleanup():
            if self.d.alive() and self.exists(self.w(name)) and self.wstat(name)["state"] == "running":
                try:
                    self.write(self.w(name, "ctl"), "kill")
                except ProcessLookupError:
                    pass  # it ended between the stat and the kill
                self.wait(name)
        self.addCleanup(cleanup)

    def entries(self):
        """The workers, without the directory's own help and error files."""
        return sorted(set(self.ls(self.d.host("workers"))) - {"help", "error"})

    @contextlib.contextmanager
    def stall_guard(self, what, seconds=10):
        """Fails the test, instead of hanging it, when reads make no progress
        for `seconds`; call the yielded function after each chunk."""
        got = [0]

        def on_alarm(*_):
            raise AssertionError("%s stalled: nothing for %ds after %d bytes" % (what, seconds, got[0]))

        def progress(n):
            got[0] += n
            signal.alarm(seconds)

        old = signal.signal(signal.SIGALRM, on_alarm)
        left = signal.alarm(seconds)
        t0 = time.monotonic()
        try:
            yield progress
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            signal.alarm(max(1, int(left - (time.monotonic() - t0))))

    def warm_up(self):
        """Runs one worker to its end and removes it, so that what the daemon
        opens once (and keeps) is open before descriptors are counted."""
        self.start("warm", "/bin/true")
        self.assertEqual(self.wait("warm"), b'{"exit":0}\n')
        self.assertEqual(self.read(self.w("warm", "stdout")), b"")
        self.rmdir(self.w("warm"))
        return fd_count(self.d.proc.pid)

    def zombies(self):
        return [c for c in children(self.d.proc.pid) if c[1] == "Z"]


class Workers(WorkerTest):
    # ---- output, exit codes, deaths ----

    def test_mkdir_makes_a_new_worker_with_every_file_and_a_new_state(self):
        self.mk("a")
        self.assertEqual(sorted(self.ls(self.w("a"))),
                         sorted(["help", "error", "spec", "stdin", "stdout", "stderr", "wait", "trywait",
                                 "result", "lease", "signal", "ctl", "stat"]))
        self.assertEqual(self.read(self.w("a", "stat")),
                         b'{"state":"new","pid":0,"path":null,"started":0,"exit":null,"signal":null,'
                         b'"rss":0,"cpu":0.00,"threads":0,"fds":0,"procs":0,"stdin_buffered":0,"stdout_buffered":0,'
                         b'"stderr_buffered":0,"uid":0,"gid":0}\n')
        self.assertEqual(self.read(self.w("a", "spec")), b"")
        self.assertEqual(json.loads(self.read(self.d.host("stat")))["workers"], 1)
        self.rmdir(self.w("a"))
        self.assertEqual(self.entries(), [])

    def test_help_documents_the_files_the_ctl_commands_and_one_reader_per_byte(self):
        self.assertIn("mkdir NAME makes an empty worker", self.read(self.d.host("workers", "help")).decode())
        self.mk("a")
        text = self.read(self.w("a", "help")).decode()
        for word in ("spec", "stdin", "stdout", "stderr", "wait", "trywait", "signal", "ctl", "stat",
                     "kill", "stop", "grace SECONDS", "eof", "each byte goes to one reader",
                     "cat wait"):
            self.assertIn(word, text)

    def test_bin_echo_prints_to_stdout_and_wait_gives_exit_0(self):
        self.start("a", "/bin/echo", "hello", "world")
        self.assertEqual(self.read(self.w("a", "stdout")), b"hello world\n")
        self.assertEqual(self.read(self.w("a", "stderr")), b"")
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')
        self.assertEqual(self.read(self.w("a", "trywait")), b'{"exit":0}\n')
        self.assertEqual(self.read(self.w("a", "spec")), b'{"path":"/bin/echo","args":["hello","world"]}\n')
        st = self.wstat("a")
        self.assertEqual(set(st), STAT_KEYS)
        self.assertEqual((st["state"], st["path"], st["exit"], st["signal"]), ("exited", "/bin/echo", 0, None))
        self.assertGreater(st["pid"], 0)
        # reading stdout again after its end gives end of file at once
        self.assertEqual(self.read(self.w("a", "stdout")), b"")

    def test_the_shell_runs_a_command_and_collects_its_output(self):
        r = self.sh("mkdir workers/ls && echo '{\"path\":\"/bin/sh\",\"args\":[\"-c\",\"echo out; echo err >&2\"]}'"
                    " > workers/ls/spec && cat workers/ls/stdout workers/ls/stderr workers/ls/wait && rmdir workers/ls")
        self.assertEqual(r.stdout, b'out\nerr\n{"exit":0}\n')
        self.assertEqual(r.stderr, b"")

    def test_exit_code_3_is_what_wait_and_stat_report(self):
        self.start("a", "/bin/sh", "-c", "exit 3")
        self.assertEqual(self.wait("a"), b'{"exit":3}\n')
        st = self.wstat("a")
        self.assertEqual((st["state"], st["exit"], st["signal"]), ("exited", 3, None))

    def test_env_and_dir_reach_the_process(self):
        d = tempfile.mkdtemp(prefix="circuit-test-dir-")
        self.addCleanup(os.rmdir, d)
        self.start("a", "/bin/sh", "-c", 'echo "$K|$(pwd)|${HOME-unset}"', env=["K=V=W"], dir=d)
        self.assertEqual(self.read(self.w("a", "stdout")), ("V=W|%s|unset\n" % d).encode())
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')
        self.assertEqual(json.loads(self.read(self.w("a", "spec"))),
                         {"path": "/bin/sh", "args": ["-c", 'echo "$K|$(pwd)|${HOME-unset}"'], "env": ["K=V=W"],
                          "dir": d})

    def test_death_by_term_and_by_kill_is_reported_as_the_signal(self):
        for sig in ("TERM", "KILL"):
            with self.subTest(sig=sig):
                name = "by" + sig
                self.start(name, "/bin/sleep", "1000")
                self.write(self.w(name, "signal"), sig)
                self.assertEqual(self.wait(name), ('{"signal":"%s"}\n' % sig).encode())
                st = self.wstat(name)
                self.assertEqual((st["state"], st["exit"], st["signal"]), ("signaled", None, sig))

    def test_death_by_segv_is_reported_as_segv(self):
        self.start("a", "/bin/sh", "-c", "ulimit -c 0; kill -SEGV $$")
        self.assertEqual(self.wait("a"), b'{"signal":"SEGV"}\n')
        st = self.wstat("a")
        self.assertEqual((st["state"], st["exit"], st["signal"]), ("signaled", None, "SEGV"))

    def test_trywait_fails_with_eagain_while_new_or_running_and_says_why(self):
        self.mk("a")
        self.assertErrno(errno.EAGAIN, self.read, self.w("a", "trywait"))
        self.assertEqual(self.err("a"), "trywait: worker /h1/workers/a is new\n")
        self.write(self.w("a", "spec"), json.dumps({"path": "/bin/sleep", "args": ["1000"]}))
        self.kill_at_exit("a")
        self.assertErrno(errno.EAGAIN, self.read, self.w("a", "trywait"))
        self.assertEqual(self.err("a"), "trywait: worker /h1/workers/a is running\n")
        # O_NONBLOCK on wait is trywait
        self.assertErrno(errno.EAGAIN, self.read, self.w("a", "wait"), True)
        self.write(self.w("a", "signal"), "KILL")
        self.assertEqual(self.wait("a"), b'{"signal":"KILL"}\n')
        self.assertEqual(self.read(self.w("a", "trywait")), b'{"signal":"KILL"}\n')

    def test_stat_of_a_running_worker_reads_its_process_from_proc(self):
        before = int(time.time())
        self.start("a", "/bin/sleep", "1000")
        self.kill_at_exit("a")
        pid = self.wstat("a")["pid"]
        self.wait_for(lambda: wchan(pid) == "hrtimer_nanosleep", "sleep to run and sleep")
        st = self.wstat("a")
        self.assertEqual(set(st), STAT_KEYS)
        self.assertEqual((st["state"], st["path"], st["exit"], st["signal"]), ("running", "/bin/sleep", None, None))
        fields = proc_stat_fields(st["pid"])
        self.assertIsNotNone(fields)
        self.assertEqual(int(fields[1]), self.d.proc.pid)           # the daemon's child
        self.assertEqual((int(fields[2]), int(fields[3])), (st["pid"], st["pid"]))  # its own group and session
        self.assertGreaterEqual(st["started"], before)
        self.assertLessEqual(st["started"], int(time.time()))
        self.assertGreater(st["rss"], 0)
        self.assertEqual(st["rss"] % os.sysconf("SC_PAGE_SIZE"), 0)
        self.assertEqual(st["threads"], 1)
        self.assertEqual(st["fds"], 3)  # stdin, stdout, stderr: nothing of the daemon leaks in
        self.assertEqual(sorted(os.listdir("/proc/%d/fd" % st["pid"])), ["0", "1", "2"])
        self.assertEqual(st["stdout_buffered"], 0)
        self.assertIsInstance(st["cpu"], float)
        self.write(self.w("a", "ctl"), "kill")
        self.assertEqual(self.wait("a"), b'{"signal":"KILL"}\n')
        st = self.wstat("a")
        self.assertEqual((st["state"], st["signal"], st["rss"], st["threads"], st["fds"]), ("signaled", "KILL", 0, 0, 0))

    # ---- big output, back-pressure ----

    def test_200_mib_written_to_stdout_reach_the_reader_byte_for_byte(self):
        size = 200 * MiB
        script = ("import os, sys, hashlib\n"
                  "h = hashlib.sha256(); left = %d\n"
                  "while left:\n"
                  "    b = os.urandom(min(1 << 20, left)); h.update(b); left -= len(b)\n"
                  "    v = memoryview(b)\n"
                  "    while v: v = v[os.write(1, v):]\n"
                  "sys.stderr.write(h.hexdigest() + '\\n')\n" % size)
        self.start("big", PY, "-c", script)
        self.kill_at_exit("big")
        h, n = hashlib.sha256(), 0
        fd = self.open_read(self.w("big", "stdout"))
        try:
            with self.stall_guard("stdout of the 200 MiB writer") as progress:
                while True:
                    chunk = fd.read(MiB)
                    if not chunk:
                        break
                    h.update(chunk)
                    n += len(chunk)
                    progress(len(chunk))
        finally:
            fd.close()
        self.assertEqual(n, size)
        self.assertEqual(self.read(self.w("big", "stderr")).decode(), h.hexdigest() + "\n")
        self.assertEqual(self.wait("big"), b'{"exit":0}\n')

    def test_a_writer_nobody_reads_blocks_with_flat_rss_and_the_daemon_stays_bounded(self):
        rss0 = json.loads(self.read(self.d.host("stat")))["rss"]
        self.start("z", "/bin/cat", "/dev/zero")
        self.kill_at_exit("z")
        pid = self.wstat("z")["pid"]
        self.wait_for(lambda: self.wstat("z")["stdout_buffered"] >= BOUND, "the output buffer to fill")
        self.wait_for(lambda: in_syscall(pid, "write"), "cat to block in self.write(2)")
        samples = []
        for _ in range(5):
            st = self.wstat("z")
            samples.append((st["rss"], st["stdout_buffered"], wchar(pid)))
            time.sleep(0.1)
        self.assertEqual(len(set(samples)), 1, "the blocked writer moved: %r" % samples)
        rss, buffered, written = samples[0]
        self.assertGreaterEqual(buffered, BOUND)
        self.assertLess(buffered, BOUND + (64 << 10))  # at most one pipe read over the bound
        self.assertLess(written, BOUND + 4 * MiB)       # buffer + pipe + cat's own buffer, nothing more
        self.assertEqual(self.wstat("z")["state"], "running")
        rss1 = json.loads(self.read(self.d.host("stat")))["rss"]
        print("\nblocked writer: %d bytes buffered, cat wrote %d; daemon rss %.1f -> %.1f MiB"
              % (buffered, written, rss0 / MiB, rss1 / MiB))
        self.assertLess(rss1 - rss0, 8 * MiB, "daemon rss grew from %d to %d" % (rss0, rss1))
        # A reader releases the writer; nothing was dropped (all zeros, in order).
        fd = self.open_read(self.w("z", "stdout"))
        try:
            got = 0
            with self.stall_guard("stdout of cat /dev/zero") as progress:
                while got < 16 * MiB:
                    chunk = fd.read(MiB)
                    self.assertEqual(chunk, bytes(len(chunk)))
                    got += len(chunk)
                    progress(len(chunk))
        finally:
            fd.close()
        self.assertGreater(wchar(pid), written)
        self.write(self.w("z", "ctl"), "kill")
        self.assertEqual(self.wait("z"), b'{"signal":"KILL"}\n')

    def test_a_worker_killed_with_a_full_output_buffer_still_gives_its_output_then_eof(self):
        fds0 = self.warm_up()
        self.start("f", "/bin/cat", "/dev/zero")
        self.kill_at_exit("f")
        self.wait_for(lambda: self.wstat("f")["stdout_buffered"] >= BOUND, "the output buffer to fill")
        self.write(self.w("f", "ctl"), "kill")
        self.assertEqual(self.wait("f"), b'{"signal":"KILL"}\n')
        fd = self.open_read(self.w("f", "stdout"))
        try:
            got = 0
            with self.stall_guard("stdout of a killed cat /dev/zero") as progress:
                while True:
                    chunk = fd.read(MiB)
                    if not chunk:
                        break
                    self.assertEqual(chunk, bytes(len(chunk)))
                    got += len(chunk)
                    progress(len(chunk))
        finally:
            fd.close()
        self.assertGreaterEqual(got, BOUND)
        self.assertEqual(self.read(self.w("f", "stdout")), b"")
        self.rmdir(self.w("f"))
        self.assertEqual(fd_count(self.d.proc.pid), fds0, "descriptors left open in the daemon")

    # ---- stdin ----

    def test_a_worker_echoes_stdin_lines_written_one_echo_at_a_time_until_eof(self):
        self.start("e", "/bin/sh", "-c", 'while read l; do echo "got $l"; done; echo done')
        fd = self.open_read(self.w("e", "stdout"))
        try:
            for i in range(5):
                self.sh("echo line%d >> workers/e/stdin" % i)
                self.assertEqual(read_until(fd, b"got line%d\n" % i), b"got line%d\n" % i)
            self.assertEqual(self.wstat("e")["state"], "running")
            self.sh("echo eof > workers/e/ctl")
            self.assertEqual(read_until(fd, b"done\n"), b"done\n")
            self.assertEqual(fd.read(4096), b"")  # end of file
        finally:
            fd.close()
        self.assertEqual(self.wait("e"), b'{"exit":0}\n')

    def test_8_mib_written_to_stdin_reach_the_process_intact(self):
        data = os.urandom(8 * MiB)
        self.start("h", "/usr/bin/sha256sum")
        fd = self.open_write(self.w("h", "stdin"))
        try:
            for off in range(0, len(data), 300000):  # writes that are not pipe-sized
                piece = memoryview(data)[off:off + 300000]
                while piece:
                    piece = piece[fd.write(piece):]
        finally:
            fd.close()
        self.write(self.w("h", "ctl"), "eof")
        self.assertEqual(self.read(self.w("h", "stdout")), hashlib.sha256(data).hexdigest().encode() + b"  -\n")
        self.assertEqual(self.wait("h"), b'{"exit":0}\n')

    def test_stdin_of_a_worker_not_started_or_after_eof_fails_with_epipe(self):
        self.mk("a")
        self.assertErrno(errno.EPIPE, self.write, self.w("a", "stdin"), "x\n")
        self.assertEqual(self.err("a"), "stdin: worker /h1/workers/a takes no more input (not started)\n")
        self.write(self.w("a", "spec"), json.dumps({"path": "/bin/cat"}))
        self.write(self.w("a", "stdin"), "one\n")
        self.write(self.w("a", "ctl"), "eof")
        self.assertErrno(errno.EPIPE, self.write, self.w("a", "stdin"), "two\n")
        self.assertEqual(self.err("a"), "stdin: worker /h1/workers/a takes no more input (closed)\n")
        if self.face == "mount":  # and sh says so in its words
            r = self.sh("/bin/echo three >> workers/a/stdin", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"Broken pipe", r.stderr)
        self.write(self.w("a", "ctl"), "eof")  # twice is harmless
        self.assertEqual(self.read(self.w("a", "stdout")), b"one\n")
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')
        self.assertErrno(errno.EPIPE, self.write, self.w("a", "stdin"), "four\n")

    # ---- several readers ----

    def test_several_readers_of_stdout_each_get_different_bytes_and_together_all_of_them(self):
        records = 100000
        rec = 16  # "%015d\n"
        expected = b"".join(b"%015d\n" % i for i in range(records))
        self.mk("m")
        reader = ("import os, sys\n"
                  "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                  "while True:\n"
                  "    c = os.read(fd, 4096)\n"
                  "    if not c: break\n"
                  "    sys.stdout.buffer.write(len(c).to_bytes(4, 'big') + c)\n")
        readers = [self.spawn([PY, "-c", reader, "workers/m/stdout"], stdout=subprocess.PIPE) for _ in range(4)]
        self.write(self.w("m", "spec"), json.dumps({"path": PY, "args": [
            "-c", "import sys\nfor i in range(%d): sys.stdout.write('%%015d\\n' %% i)\n" % records]}))
        chunks = []
        for p in readers:
            out, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0)
            while out:
                n = int.from_bytes(out[:4], "big")
                chunks.append(out[4:4 + n])
                out = out[4 + n:]
        self.assertEqual(self.wait("m"), b'{"exit":0}\n')
        self.assertEqual(sum(map(len, chunks)), len(expected))
        # Place every chunk in the stream by the first whole record it holds.
        placed, loose = [], []
        for c in chunks:
            i = c.find(b"\n")
            whole = c[i + 1:i + 1 + rec]
            if i < 0 or len(whole) < rec:
                loose.append(c)
                continue
            off = int(whole[:15]) * rec - (i + 1)
            self.assertEqual(c, expected[off:off + len(c)], "a chunk that is not in the stream")
            placed.append((off, len(c)))
        placed.sort()
        pos, gaps = 0, []
        for off, n in placed:
            self.assertGreaterEqual(off, pos, "a byte read twice")
            if off > pos:
                gaps.append(expected[pos:off])
            pos = off + n
        if pos < len(expected):
            gaps.append(expected[pos:])
        # Short chunks fill the gaps exactly.
        for gap in gaps:
            while gap:
                fit = [c for c in loose if gap.startswith(c)]
                self.assertTrue(fit, "bytes never read: %r" % gap[:40])
                c = max(fit, key=len)
                loose.remove(c)
                gap = gap[len(c):]
        self.assertEqual(loose, [])

    # ---- many at once ----

    def test_200_workers_started_at_once_by_a_shell_loop_all_run_and_are_reaped(self):
        fds0 = self.warm_up()
        self.sh("for i in $(seq 200); do"
                " (mkdir workers/w$i && echo '{\"path\":\"/bin/echo\",\"args\":[\"'$i'\"]}' > workers/w$i/spec) &"
                " done; wait", timeout=60)
        self.assertEqual(len(self.entries()), 200)
        for i in range(1, 201):
            name = "w%d" % i
            self.assertEqual(self.wait(name), b'{"exit":0}\n', name)
            self.assertEqual(self.read(self.w(name, "stdout")), b"%d\n" % i, name)
        self.assertEqual(self.zombies(), [])
        self.assertEqual(children(self.d.proc.pid), [])
        self.sh("for i in $(seq 200); do rmdir workers/w$i; done")
        self.assertEqual(self.entries(), [])
        self.assertEqual(json.loads(self.read(self.d.host("stat")))["workers"], 0)
        self.assertEqual(fd_count(self.d.proc.pid), fds0, "descriptors left open in the daemon")

    # ---- Ctrl-C ----

    def test_sigint_on_a_blocked_cat_wait_returns_at_once_and_leaves_the_worker_running(self):
        self.start("a", "/bin/sleep", "1000")
        self.kill_at_exit("a")
        cat = self.spawn(["cat", "workers/a/wait"], stdout=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(cat.pid, "openat"), "cat to block in open(wait)")
        t0 = time.monotonic()
        cat.send_signal(signal.SIGINT)
        rc = cat.wait(5)
        print("\nSIGINT to a cat parked on wait: returned in %.1f ms" % ((time.monotonic() - t0) * 1000))
        self.assertEqual(rc, -signal.SIGINT)
        self.assertEqual(cat.stdout.read(), b"")
        self.assertEqual(self.wstat("a")["state"], "running")
        # nothing left behind: a later wait works
        later = self.spawn(["cat", "workers/a/wait"], stdout=subprocess.PIPE)
        self.write(self.w("a", "signal"), "TERM")
        self.assertEqual(later.communicate(timeout=5)[0], b'{"signal":"TERM"}\n')
        self.assertEqual(self.wait("a"), b'{"signal":"TERM"}\n')
        self.rmdir(self.w("a"))

    # ---- hostile specs ----

    def test_hostile_specs_are_refused_with_the_errno_and_a_message_naming_the_field(self):
        noexec = os.path.join(self.d.dir, "noexec")
        with open(noexec, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(noexec, 0o644)
        # exec(2) says ENOENT for a script whose interpreter is missing: the
        # words name the interpreter, and only for a file anyone may read.
        nointerp, hidden = os.path.join(self.d.dir, "nointerp"), os.path.join(self.d.dir, "hidden")
        for path, mode in ((nointerp, 0o755), (hidden, 0o711)):
            with open(path, "w") as f:
                f.write("#!  /no/such/interpreter -e\necho hi\n")
            os.chmod(path, mode)
        cases = [
            ("not JSON", "hello", errno.EINVAL, ["bad spec: not JSON"]),
            ("trailing garbage", '{"path":"/bin/echo"} x', errno.EINVAL, ["bad spec: not JSON"]),
            ("a JSON array", '["/bin/echo"]', errno.EINVAL, ["bad spec: must be a JSON object, not array"]),
            ("a JSON string", '"/bin/echo"', errno.EINVAL, ["bad spec: must be a JSON object, not string"]),
            ("path a number", '{"path": 7}', errno.EINVAL, ['bad spec: "path" must be a string']),
            ("path relative", '{"path": "bin/echo"}', errno.EINVAL, ['"path" must be an absolute path']),
            ("args with a non-string", '{"path":"/bin/echo","args":["a",1]}', errno.EINVAL,
             ['bad spec: "args" must be an array of strings; element 1 is int64']),
            ("args not an array", '{"path":"/bin/echo","args":"a"}', errno.EINVAL,
             ['"args" must be an array of strings']),
            ("1 MiB of args", json.dumps({"path": "/bin/echo", "args": ["x" * 1024] * 1024}), errno.EFBIG,
             ["bad spec: over the limit of 262144 bytes"]),
            ("a directory", '{"path":"/tmp"}', errno.EISDIR, ["bad spec: path /tmp is a directory"]),
            ("no execute bit", json.dumps({"path": noexec}), errno.EACCES,
             ["bad spec: path %s is not executable" % noexec]),
            ("a missing path", '{"path":"/no/such/binary"}', errno.ENOENT,
             ["bad spec: path /no/such/binary: no such file"]),
            ("a missing interpreter", json.dumps({"path": nointerp}), errno.ENOENT,
             ["spawn %s: its interpreter /no/such/interpreter: No such file or directory" % nointerp]),
            ("a missing interpreter of a file others may not read", json.dumps({"path": hidden}), errno.ENOENT,
             ["spawn %s: No such file or directory (the file is there: what it needs to run is not" % hidden]),
            ("env without =", '{"path":"/bin/echo","env":["A=1","NOEQUALS"]}', errno.EINVAL,
             ['bad spec: "env" entries are NAME=VALUE; "NOEQUALS" is not']),
            ("env starting with =", '{"path":"/bin/echo","env":["=x"]}', errno.EINVAL, ['"env" entries']),
            ("env with a non-string", '{"path":"/bin/echo","env":[null]}', errno.EINVAL,
             ['"env" must be an array of strings; element 0 is null']),
            ("an unknown field", '{"path":"/bin/echo","colour":"red"}', errno.EINVAL,
             ['bad spec: unknown field "colour"']),
            ("a missing path field", '{"args":["x"]}', errno.EINVAL, ['bad spec: "path" or "binary" is required']),
            ("dir a number", '{"path":"/bin/echo","dir":1}', errno.EINVAL, ['"dir" must be a string']),
            ("dir missing", '{"path":"/bin/echo","dir":"/no/such/dir"}', errno.ENOENT,
             ["bad spec: dir /no/such/dir: no such directory"]),
            ("a NUL in a string", '{"path":"/bin/echo","args":["a\\u0000b"]}', errno.EINVAL,
             ["strings may not contain NUL"]),
            ("nesting too deep", '{"path":"/bin/echo","args":' + "[" * 40 + "]" * 40 + "}", errno.EINVAL,
             ["bad spec: not JSON"]),
        ]
        self.mk("a")
        spec = self.w("a", "spec")
        for what, text, eno, words in cases:
            with self.subTest(what):
                self.refused(eno, spec, text, words)
                self.assertEqual(self.wstat("a")["state"], "new")
                self.assertEqual(self.read(spec), b"")
        self.assertEqual(children(self.d.proc.pid), [], "something was started")
        # the same worker then takes a good spec and works
        self.write(spec, '{"path":"/bin/echo","args":["fine"]}')
        self.assertEqual(self.read(self.w("a", "stdout")), b"fine\n")
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')

    def test_a_spec_cut_short_fails_at_close_and_starts_nothing(self):
        self.mk("a")
        fd = self.open_write(self.w("a", "spec"))
        fd.write(b'{"path": "/bin/ech')
        self.assertErrno(self.close_errno(errno.EINVAL), fd.close)
        self.assertEqual(self.err("a"), "bad spec: incomplete JSON\n")
        self.assertEqual(self.wstat("a")["state"], "new")
        # a spec in two writes starts at the write that completes it
        fd = self.open_write(self.w("a", "spec"))
        try:
            fd.write(b'{"path": "/bin/ech')
            self.assertEqual(self.wstat("a")["state"], "new")
            fd.write(b'o", "args": ["two", "writes"]}\n')
        finally:
            fd.close()
        self.assertEqual(self.read(self.w("a", "stdout")), b"two writes\n")
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')

    def test_a_spec_in_pieces_belongs_to_its_open_and_a_lone_newline_after_it_is_fine(self):
        self.mk("a")
        fd = self.open_write(self.w("a", "spec"))
        try:
            fd.write(b'{"path": "/bin/echo", ')
            self.assertEqual(self.read(self.w("a", "spec")), b"")  # another open, read and closed
            fd.write(b'"args": ["pieces"]}')
            fd.write(b"\n")
        finally:
            fd.close()  # no error: the newline alone is not a second spec
        self.assertEqual(self.read(self.w("a", "stdout")), b"pieces\n")

    def test_eof_before_the_start_starts_the_process_with_stdin_at_end_of_file(self):
        self.mk("a")
        self.write(self.w("a", "ctl"), "eof\n")
        self.write(self.w("a", "spec"), '{"path":"/bin/cat"}')
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')
        self.assertEqual(self.read(self.w("a", "stdout")), b"")

    def test_a_second_spec_on_a_started_worker_is_busy(self):
        self.start("a", "/bin/sleep", "1000")
        self.kill_at_exit("a")
        self.refused(errno.EBUSY, self.w("a", "spec"), '{"path":"/bin/echo"}',
                     ["spec: worker /h1/workers/a was started already; make a new one"])
        self.assertEqual(json.loads(self.read(self.w("a", "spec")))["path"], "/bin/sleep")
        self.write(self.w("a", "ctl"), "kill")
        self.wait("a")
        self.refused(errno.EBUSY, self.w("a", "spec"), '{"path":"/bin/echo"}', ["was started already"])
        self.assertEqual(self.wstat("a")["signal"], "KILL")

    # ---- process groups, kill, stop ----

    def test_kill_in_ctl_kills_the_whole_process_group(self):
        self.start("g", "/bin/sh", "-c", "sleep 1000 & echo $!; wait")
        self.kill_at_exit("g")
        line = self.first_line("g")
        child = int(line)
        shell = self.wstat("g")["pid"]
        self.assertEqual(int(proc_stat_fields(child)[2]), shell)  # same process group
        self.write(self.w("g", "ctl"), "kill")
        self.assertEqual(self.wait("g"), b'{"signal":"KILL"}\n')
        self.wait_for(lambda: gone(child), "the background sleep to die")
        self.assertTrue(gone(shell))
        self.assertEqual(self.read(self.w("g", "stdout")), b"")

    def test_stop_escalates_to_kill_after_the_grace_for_a_group_that_ignores_term(self):
        self.start("t", "/bin/sh", "-c", 'trap "" TERM; sleep 1000 & echo $!; wait')
        self.kill_at_exit("t")
        line = self.first_line("t")
        child = int(line)
        self.write(self.w("t", "ctl"), "grace 1\nstop\n")
        self.assertEqual(self.wait("t"), b'{"signal":"KILL"}\n')
        self.wait_for(lambda: gone(child), "the TERM-ignoring sleep to die")

    def test_stop_sends_term_first_and_kill_only_after_the_grace(self):
        script = ("import signal, sys, time\n"
                  "signal.signal(signal.SIGTERM, lambda *a: (sys.stdout.write('TERM\\n'), sys.stdout.flush()))\n"
                  "print('ready', flush=True)\n"
                  "while True: time.sleep(1000)\n")
        fd = self.start_ready("p", script)
        try:
            self.write(self.w("p", "ctl"), "grace 1")
            self.write(self.w("p", "ctl"), "stop")
            self.assertEqual(read_until(fd, b"TERM\n"), b"TERM\n")
            self.assertEqual(self.wait("p"), b'{"signal":"KILL"}\n')
            self.assertEqual(fd.read(64), b"")
        finally:
            fd.close()

    def test_stop_ends_a_process_that_respects_term_by_term(self):
        self.start("s", "/bin/sleep", "1000")
        self.write(self.w("s", "ctl"), "stop")
        self.assertEqual(self.wait("s"), b'{"signal":"TERM"}\n')
        self.refused(errno.ESRCH, self.w("s", "ctl"), "stop", ["signal: worker /h1/workers/s is signaled"])

    def test_bad_grace_values_and_ctl_commands_are_refused(self):
        self.mk("a")
        ctl = self.w("a", "ctl")
        self.refused(errno.EINVAL, ctl, "grace abc", ['grace: "abc" is not a number'])
        self.refused(errno.EINVAL, ctl, "grace -1", ['"-1" is negative'])
        self.refused(errno.ERANGE, ctl, "grace 3601", ["too large", "3600"])
        self.refused(errno.EINVAL, ctl, "frobnicate", ["frobnicate"])
        self.refused(errno.ESRCH, ctl, "kill", ["signal: worker /h1/workers/a is new"])
        self.refused(errno.ESRCH, ctl, "stop", ["is new"])
        self.write(ctl, "eof")  # nothing to close: harmless
        self.assertEqual(self.wstat("a")["state"], "new")

    # ---- the signal file ----

    def test_signal_takes_names_and_numbers_in_every_spelling(self):
        script = ("import signal, sys\n"
                  "def on(s, f): sys.stdout.write(signal.Signals(s).name + '\\n'); sys.stdout.flush()\n"
                  "for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP): signal.signal(s, on)\n"
                  "print('ready', flush=True)\n"
                  "while True: signal.pause()\n")
        fd = self.start_ready("u", script)
        try:
            for text, name in [("USR1", b"SIGUSR1"), ("SIGUSR1", b"SIGUSR1"), ("usr1", b"SIGUSR1"),
                               ("sigusr2", b"SIGUSR2"), ("%d" % signal.SIGUSR1, b"SIGUSR1"),
                               (" HUP \n", b"SIGHUP"), ("%d\n" % signal.SIGHUP, b"SIGHUP")]:
                with self.subTest(text=text):
                    self.write(self.w("u", "signal"), text)
                    self.assertEqual(read_until(fd, name + b"\n"), name + b"\n")
            self.write(self.w("u", "signal"), "9")
            self.assertEqual(self.wait("u"), b'{"signal":"KILL"}\n')
        finally:
            fd.close()

    def test_bad_signals_are_refused_and_signals_to_an_ended_worker_fail_with_esrch(self):
        self.start("a", "/bin/sleep", "1000")
        self.kill_at_exit("a")
        sig = self.w("a", "signal")
        self.refused(errno.EINVAL, sig, "BOGUS", ["signal: unknown signal", "BOGUS"])
        self.refused(errno.EINVAL, sig, "SIG", ["unknown signal"])
        self.refused(errno.EINVAL, sig, "-9", ["unknown signal"])
        self.refused(errno.EINVAL, sig, "0", ["signal: 0 is not a signal"])
        self.refused(errno.ERANGE, sig, "65", ["too large"])
        self.refused(errno.ERANGE, sig, "99999999999999999999999", ["too large"])
        self.refused(errno.EINVAL, sig, "9x", ["not a number"])
        self.refused(errno.EINVAL, sig, "TERM KILL", ["signal: write one signal name or number"])
        self.refused(errno.EINVAL, sig, "\n", ["write one signal"])
        self.refused(errno.EINVAL, sig, b"\xff\x00", ["signal:"])
        self.assertEqual(self.wstat("a")["state"], "running")
        self.write(sig, "KILL")
        self.assertEqual(self.wait("a"), b'{"signal":"KILL"}\n')
        self.refused(errno.ESRCH, sig, "TERM", ["signal: worker /h1/workers/a is signaled"])
        self.mk("b")
        self.refused(errno.ESRCH, self.w("b", "signal"), "TERM", ["signal: worker /h1/workers/b is new"])
        self.start("c", "/bin/true")
        self.wait("c")
        self.refused(errno.ESRCH, self.w("c", "signal"), "TERM", ["is exited"])

    # ---- rmdir ----

    def test_rmdir_of_a_running_worker_is_busy_and_after_its_end_it_works(self):
        self.start("r", "/bin/sleep", "1000")
        self.kill_at_exit("r")
        pid = self.wstat("r")["pid"]
        self.assertErrno(errno.EBUSY, self.rmdir, self.w("r"))
        self.assertEqual(self.err(), "rmdir: worker /h1/workers/r is running (pid %d); kill or stop it first\n" % pid)
        self.assertEqual(self.wstat("r")["state"], "running")
        self.write(self.w("r", "ctl"), "kill")
        self.assertEqual(self.wait("r"), b'{"signal":"KILL"}\n')
        self.rmdir(self.w("r"))
        self.assertFalse(self.exists(self.w("r")))
        self.assertErrno(errno.ESRCH, os.kill, pid, 0)  # reaped: not even a zombie
        self.assertEqual(self.zombies(), [])
        self.mk("r")  # the name can be used again
        self.assertEqual(self.wstat("r")["state"], "new")

    def test_rmdir_fails_parked_readers_of_a_new_worker(self):
        self.mk("n")
        cat = self.spawn(["cat", "workers/n/wait"], stderr=subprocess.PIPE)
        out = self.spawn(["cat", "workers/n/stdout"], stderr=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(cat.pid, "openat"), "cat to park in open(wait)")
        self.wait_for(lambda: in_syscall(out.pid, "read"), "cat to park in self.read(stdout)")
        self.rmdir(self.w("n"))
        self.assertNotEqual(cat.wait(5), 0)
        self.assertIn(b"No such file", cat.stderr.read())
        self.assertNotEqual(out.wait(5), 0)
        self.assertIn(b"No such file", out.stderr.read())

    def test_a_removed_worker_whose_output_nobody_read_leaves_no_descriptor_in_the_daemon(self):
        fds0 = self.warm_up()
        self.start("f", "/bin/cat", "/dev/zero")
        self.kill_at_exit("f")
        self.wait_for(lambda: self.wstat("f")["stdout_buffered"] >= BOUND, "the output buffer to fill")
        self.write(self.w("f", "ctl"), "kill")
        self.assertEqual(self.wait("f"), b'{"signal":"KILL"}\n')
        self.rmdir(self.w("f"))
        self.wait_for(lambda: fd_count(self.d.proc.pid) == fds0,
                      "the daemon to close the pipes of the removed worker (%d open, %d before)"
                      % (fd_count(self.d.proc.pid), fds0), timeout=3)


    # ---- where a worker is, and its result ----

    def test_a_worker_is_told_its_host_its_directory_and_its_daemons_socket_over_what_its_spec_says(self):
        self.start("a", "/bin/sh", "-c", 'echo "$CIRCUIT_HOST|$CIRCUIT_WORKER|$CIRCUIT_SOCKET|$K"',
                   env=["CIRCUIT_WORKER=/forged", "K=V"])
        self.assertEqual(self.read(self.w("a", "stdout")), ("h1|/h1/workers/a|%s|V\n" % self.d.owner_sock).encode())
        self.assertEqual(self.wait("a"), b'{"exit":0}\n')
        # the spec reads back as written: the daemon's variables are not part of it
        self.assertEqual(json.loads(self.read(self.w("a", "spec")))["env"], ["CIRCUIT_WORKER=/forged", "K=V"])

    def test_result_is_empty_until_written_then_each_write_replaces_it_whole(self):
        self.mk("a")
        self.assertEqual(self.read(self.w("a", "result")), b"")
        self.write(self.w("a", "result"), '{"value":[1,2,3]}')
        self.assertEqual(self.read(self.w("a", "result")), b'{"value":[1,2,3]}')
        self.write(self.w("a", "result"), "2")
        self.assertEqual(self.read(self.w("a", "result")), b"2")
        # it stays after the worker ended, for whoever waits for it
        self.start("b", "/bin/true")
        self.write(self.w("b", "result"), "done")
        self.assertEqual(self.wait("b"), b'{"exit":0}\n')
        self.assertEqual(self.read(self.w("b", "result")), b"done")

    def test_result_is_what_was_written_at_each_close_of_a_descriptor_even_while_a_dup_stays_open(self):
        # The kernel's release of the last descriptor comes after close(2)
        # returns, unawaited: a reader right after the close must not race it.
        if self.face != "mount":
            self.skipTest("mount only: dup(2) of a descriptor of the mount")
        self.mk("a")
        path = self.w("a", "result")
        fd = os.open(path, os.O_WRONLY)
        dup = os.dup(fd)
        try:
            os.write(fd, b'{"value":1}')
            os.close(fd)
            # Through a peer's mount the owner sees the last close only.
            self.assertEqual(self.read(path), b'{"value":1}' if self.close_acts_on_owner else b"")
            os.write(dup, b"\n")
        finally:
            os.close(dup)
        if self.close_acts_on_owner:
            self.assertEqual(self.read(path), b'{"value":1}\n')
        else:  # the clunk follows the close(2), unawaited
            self.wait_for(lambda: self.read(path) == b'{"value":1}\n', "the result at the last close")

    def test_a_result_over_the_hosts_max_message_is_refused_with_efbig_and_the_old_one_stays(self):
        self.mk("a")
        self.write(self.w("a", "result"), "old")
        self.write(self.d.host("ctl"), "max-message 16")
        self.refused(errno.EFBIG, self.w("a", "result"), "x" * 17, ["result: over the limit of 16 bytes"])
        self.assertEqual(self.read(self.w("a", "result")), b"old")

    def test_result_writes_out_of_order_are_refused_with_einval_and_words(self):
        self.mk("a")
        path = self.w("a", "result")
        if self.face == "mount":
            fd = os.open(path, os.O_WRONLY)
            try:
                self.assertErrno(errno.EINVAL, os.pwrite, fd, b"x", 5)
                self.assertIn("result: writes must be in order (at offset 0, not 5)", self.err("a"))
            finally:
                # close(2) commits, and says that nothing is kept
                self.assertErrno(self.close_errno(errno.EINVAL), os.close, fd)
        else:
            f = self.f.open_write(self.rel(path))
            f.off = 5
            self.assertErrno(errno.EINVAL, f.write, b"x")
            self.assertIn("result: writes must be in order (at offset 0, not 5)", self.err("a"))
            # the clunk commits, and says that nothing is kept
            self.assertErrno(errno.EINVAL, f.close)
        self.assertIn("result: writes must be in order (at offset 0, not 5); nothing of this open is kept",
                      self.err("a"))
        self.assertEqual(self.read(path), b"")

    def test_serve_is_refused_for_what_is_not_a_socket_and_for_a_worker_not_running(self):
        self.mk("new")
        self.refused(errno.ESRCH, self.w("new", "ctl"), "serve /tmp/x.sock", ["serve: worker /h1/workers/new is new"])
        self.start("a", "/bin/sleep", "30")
        self.kill_at_exit("a")
        for arg, words in (("/etc/passwd", "serve: /etc/passwd is not the absolute path of a socket"),
                           ("relative.sock", "serve: relative.sock is not the absolute path of a socket"),
                           ("/nonexistent/x.sock", "serve: /nonexistent/x.sock is not the absolute path")):
            self.refused(errno.EINVAL, self.w("a", "ctl"), "serve " + arg, [words])
        self.assertEqual(sorted(self.ls(self.w("a")))[:2], ["ctl", "error"])
        self.assertNotIn("goroutines", self.ls(self.w("a")))

    def test_a_writer_killed_mid_result_leaves_the_result_as_it_was(self):
        self.mk("a")
        self.write(self.w("a", "result"), "whole")
        p = subprocess.Popen([PY, "-c", "import os,signal; fd=os.open(%r, os.O_WRONLY); "
                              "os.write(fd, b'half a res'); os.kill(os.getpid(), signal.SIGKILL)"
                              % self.w("a", "result")])
        self.assertEqual(p.wait(5), -signal.SIGKILL)
        self.assertEqual(self.read(self.w("a", "result")), b"whole")


class WorkersOverSocket(Workers):
    """The same, through the socket."""

    face = "socket"
    mount_only = {
        "test_the_shell_runs_a_command_and_collects_its_output": "sh's redirections are the kernel's",
        "test_a_worker_echoes_stdin_lines_written_one_echo_at_a_time_until_eof": "sh's >> is the kernel's O_APPEND",
        "test_several_readers_of_stdout_each_get_different_bytes_and_together_all_of_them":
            "the readers are processes reading the mount",
        "test_200_workers_started_at_once_by_a_shell_loop_all_run_and_are_reaped": "a shell loop on the mount",
        "test_sigint_on_a_blocked_cat_wait_returns_at_once_and_leaves_the_worker_running":
            "it watches cat's system call on the mount",
        "test_rmdir_fails_parked_readers_of_a_new_worker": "it watches cat's system calls on the mount",
        "test_a_writer_killed_mid_result_leaves_the_result_as_it_was": "the writer is a process of the mount",
    }


class WorkersAtShutdown(WorkerTest):
    daemon_args = ("--grace", "1")

    def check_daemon_alive(self):
        pass  # these tests stop the daemon themselves

    def test_circuitd_stopping_stops_its_workers_term_then_kill_after_the_grace_and_logs_it(self):
        self.start("polite", "/bin/sleep", "1000")
        self.start("stubborn", "/bin/sh", "-c", 'trap "" TERM; sleep 1000 & echo $!; wait')
        line = self.first_line("stubborn")
        pids = [self.wstat("polite")["pid"], self.wstat("stubborn")["pid"], int(line)]
        for p in pids:
            self.addCleanup(lambda p=p: gone(p) or os.kill(p, signal.SIGKILL))
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        for p in pids:
            self.wait_for(lambda: gone(p), "pid %d to die" % p)
        log = self.d.log()
        self.assertIn("stopping 2 workers: TERM, then KILL after 1s", log)
        self.assertIn("workers stopped (1 needed SIGKILL)", log)

    def test_circuitd_with_no_running_workers_says_nothing_about_them(self):
        self.start("done", "/bin/true")
        self.wait("done")
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertNotIn("workers", self.d.log())


class WorkersStdinAtShutdown(WorkerTest):
    def test_a_stdin_write_waiting_for_room_ends_short_when_circuitd_stops_and_the_next_fails(self):
        # The write that waits reports what went into the pipe (a short
        # count); the next one fails: EPIPE while the worker's stdin is
        # closed, ENOENT once the stop has retired the worker.
        self.start("s", "/bin/sleep", "1000")  # never reads its stdin
        writer = self.spawn([PY, "-c", "import os,sys\n"
                             "fd = os.open('workers/s/stdin', os.O_WRONLY)\n"
                             "data = b'x' * (4 << 20)\n"
                             "print(0 < os.write(fd, data) < len(data), flush=True)\n"
                             "try:\n    os.write(fd, data)\n"
                             "except OSError as e:\n    print(e.errno, flush=True)\n"],
                            stdout=subprocess.PIPE)
        self.wait_for(lambda: in_syscall(writer.pid, "write"), "the stdin writer to block in write")
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        out, _ = writer.communicate(timeout=10)
        short, failed = out.split()
        self.assertEqual(short, b"True")
        self.assertIn(int(failed), (errno.EPIPE, errno.ENOENT))

    def check_daemon_alive(self):
        pass  # stopped on purpose


class WorkersKeptAtShutdown(WorkerTest):
    daemon_args = ("--keep-workers",)

    def check_daemon_alive(self):
        pass

    def test_with_keep_workers_they_keep_running_after_circuitd_stops(self):
        self.start("k", "/bin/sleep", "1000")
        pid = self.wstat("k")["pid"]
        self.addCleanup(lambda: gone(pid) or os.kill(pid, signal.SIGKILL))
        self.wait_for(lambda: wchan(pid) == "hrtimer_nanosleep", "sleep to run and sleep")
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(10), 0)
        self.assertIn("leaving 1 worker running (--keep-workers)", self.d.log())
        self.assertNotIn("stopping 1 worker", self.d.log())
        self.assertFalse(gone(pid))
        fields = proc_stat_fields(pid)
        self.assertEqual(fields[0], "S")
        self.assertNotEqual(int(fields[1]), self.d.proc.pid)  # outlived its parent
        self.assertEqual(wchan(pid), "hrtimer_nanosleep")  # still in its sleep


if __name__ == "__main__":
    unittest.main(verbosity=2)


# The same through a peer: workers of h1 made, fed and read through h2's
# mount and socket. (Those that stop the daemon are the cluster tests'
# business through a peer: the owner leaves.)

class WorkersThroughAPeer(ThroughAPeer, Workers):
    pass


class WorkersOverSocketThroughAPeer(ThroughAPeer, WorkersOverSocket):
    pass
