"""What the daemon writes as text: stat and spec JSON that any value keeps
valid, help that lists every stat field from the table that makes the JSON,
a man page that agrees with both, and error texts and log lines of bounded
length (issue 6, items 2, 16, 17, 19)."""
import json
import os
import re
import tempfile

from harness import ROOT, DaemonTest, read, write

MAN = os.path.join(ROOT, "man")
KiB = 1 << 10


def stat_block(help_text):
    """The names under "stat fields" in a help text, in order."""
    m = re.search(r"\nstat fields[^\n]*:\n((?:  \S[^\n]*\n)+)", help_text)
    return [line.split()[0] for line in m.group(1).splitlines()] if m else []


class StatJson(DaemonTest):
    """Item 19: stat, spec and wait are JSON whatever the values hold."""

    def nasty_program(self):
        """An executable whose absolute path holds quotes, backslashes and
        control characters: a symlink to /bin/echo in a fresh directory."""
        d = tempfile.mkdtemp(prefix="circuit-text-")
        self.addCleanup(lambda: (os.unlink(path), os.rmdir(d)))
        path = os.path.join(d, 'q"uo\\te\x01\x1f\t\x7f\u00e9')
        os.symlink("/bin/echo", path)
        return path

    def test_a_spec_of_quotes_backslashes_controls_and_60_KB_strings_reads_back_as_the_same_json(self):
        path = self.nasty_program()
        long = "x" * (60 * KiB)
        args = ['say "hi"', "back\\slash", "ctl\x01\x02\x1b[0m\n\r", long + "\\\"", "\u00e9\u4e2d"]
        env = ["LONG=" + long + '"\\\n', "TAB=\t"]
        spec = {"path": path, "args": args, "env": env}
        w = self.d.host("workers", "w")
        os.mkdir(w)
        write(os.path.join(w, "spec"), json.dumps(spec))
        self.assertEqual(read(os.path.join(w, "wait")), b'{"exit":0}\n')
        got_spec = read(os.path.join(w, "spec"))
        self.assertTrue(got_spec.endswith(b"}\n"))
        self.assertEqual(got_spec.count(b"\n"), 1)
        self.assertEqual(json.loads(got_spec), spec)
        st = read(os.path.join(w, "stat"))
        self.assertEqual(st.count(b"\n"), 1)
        self.assertEqual(json.loads(st)["path"], path)
        self.assertEqual(read(os.path.join(w, "stdout")).decode(), " ".join(args) + "\n")

    def test_a_channel_stat_keeps_its_keys_and_text(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "2\n")
        write(self.d.chan("a", "send"), "x")
        write(self.d.chan("a", "send"), "y")
        self.wait_for(lambda: self.stat("a")["sent"] == 2, "two sends")
        self.assertEqual(read(self.d.chan("a", "stat")),
                         b'{"cap":2,"len":2,"closed":false,"senders_waiting":0,'
                         b'"receivers_waiting":0,"reserved":0,"sent":2,"received":0}\n')

    def test_a_host_stat_is_one_json_line_with_fixed_decimals(self):
        st = read(self.d.host("stat")).decode()
        self.assertRegex(st, r'^\{"name":"h1","id":"[0-9a-f]{16}","pid":\d+,"started":\d+,'
                             r'"uptime":\d+\.\d{3},"channels":0,"workers":0,"rss":\d+,'
                             r'"max_message":67108864\}\n$')

    def test_a_killed_worker_waits_as_a_json_signal(self):
        w = self.d.host("workers", "s")
        os.mkdir(w)
        write(os.path.join(w, "spec"), '{"path":"/bin/sleep","args":["100"]}')
        write(os.path.join(w, "signal"), "KILL")
        self.assertEqual(read(os.path.join(w, "wait")), b'{"signal":"KILL"}\n')
        st = json.loads(read(os.path.join(w, "stat")))
        self.assertEqual((st["state"], st["exit"], st["signal"]), ("signaled", None, "KILL"))


class Help(DaemonTest):
    """Item 16: help lists every stat field, from the same table as the JSON."""

    def elements(self):
        """(directory, its stat file) for a host, a channel and a worker."""
        os.mkdir(self.d.chan("a"))
        os.mkdir(self.d.host("workers", "w"))
        return [self.d.host(), self.d.chan("a"), self.d.host("workers", "w")]

    def test_the_help_of_each_element_lists_its_stat_fields_in_the_order_of_the_json(self):
        for path in self.elements():
            with self.subTest(path=path):
                keys = list(json.loads(read(os.path.join(path, "stat"))))
                self.assertEqual(stat_block(read(os.path.join(path, "help")).decode()), keys)

    def test_the_channel_help_lists_reserved_and_the_worker_help_the_buffered_fields(self):
        self.elements()
        self.assertIn("reserved", stat_block(read(self.d.chan("a", "help")).decode()))
        fields = stat_block(read(self.d.host("workers", "w", "help")).decode())
        self.assertIn("stdout_buffered", fields)
        self.assertIn("stderr_buffered", fields)

    def test_the_root_help_names_workers(self):
        self.assertIn("workers/", read(self.d.path("help")).decode())


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KiB
    return 0


def write_all(path, data):
    """Writes all of data in one open, as a shell's redirection would,
    going on after short counts; the errno of a failure is the exception's."""
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class Bounded(DaemonTest):
    """Item 2, text part: refusals of huge values keep neither memory nor log."""

    timeout = 120

    def refuse_specs(self, first, count, spec):
        for i in range(first, first + count):
            w = self.d.host("workers", "w%d" % i)
            os.mkdir(w)
            with self.assertRaises(FileNotFoundError):
                write_all(os.path.join(w, "spec"), spec)

    def test_400_refused_specs_with_a_250_KB_path_keep_no_memory_and_little_log(self):
        path = "/no/such/" + "p" * (250 * KiB) + "/end"
        spec = json.dumps({"path": path}).encode()
        self.refuse_specs(0, 20, spec)  # the daemon's allocator warms up
        before, log_before = rss(self.d.proc.pid), os.path.getsize(self.d.log_path)
        self.refuse_specs(20, 380, spec)
        grown = rss(self.d.proc.pid) - before
        logged = os.path.getsize(self.d.log_path) - log_before
        print("\n400 refused 250 KB specs: daemon rss grew %.1f MiB, log %.0f KiB"
              % (grown / (1 << 20), logged / KiB))
        self.assertLess(grown, 8 << 20)
        self.assertLess(logged, 380 * 2 * KiB)
        said = read(self.d.host("workers", "w399", "error")).decode()
        self.assertLessEqual(len(said.encode()), 1 * KiB + 1)
        self.assertRegex(said, r"^bad spec: path /no/such/p+\.\.\.p+/end: no such file\n?$")

    def test_a_repeated_eagain_is_not_logged_but_still_recorded(self):
        os.mkdir(self.d.chan("a"))
        size = os.path.getsize(self.d.log_path)
        for _ in range(50):
            with self.assertRaises(BlockingIOError):
                read(self.d.chan("a", "tryrecv"))
        self.assertEqual(read(self.d.chan("a", "error")).decode().rstrip("\n"),
                         "tryrecv: channel /h1/channels/a is empty")
        with self.assertRaises(OSError):
            write_all(self.d.chan("a", "cap"), b"abc")  # an error that is logged: a marker
        self.wait_for(lambda: "error: cap: " in self.d.log()[size:], "the marker in the log")
        self.assertNotIn("tryrecv", self.d.log()[size:])
