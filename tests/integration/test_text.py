"""What the daemon writes as text: stat and spec JSON that any value keeps
valid, help that lists every stat field from the table that makes the JSON,
a man page that agrees with both, and error texts and log lines of bounded
length (issue 6, items 2, 16, 17, 19)."""
import errno
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from harness import CIRCUITD, ROOT, DaemonTest, errno_of, mounted, read, write
from test_examples import man_sections, tagged
from through_a_peer import ThroughAPeer

MAN = os.path.join(ROOT, "man")
KiB = 1 << 10


def stat_block(help_text):
    """The names under "stat fields" in a help text, in order."""
    m = re.search(r"\nstat fields[^\n]*:\n((?:  \S[^\n]*\n)+)", help_text)
    return [line.split()[0] for line in m.group(1).splitlines()] if m else []


def roff_entry(roff, tag):
    """The text of the .TP paragraph tagged `tag` in `roff`, with its nested
    .RS/.RE blocks: up to the next .TP, .PP or .SS at its own level."""
    m = re.search(r"^\.TP\n\.B %s\n" % re.escape(tag), roff, re.M)
    if not m:
        return None
    depth, out = 0, []
    for line in roff[m.end():].splitlines(keepends=True):
        if depth == 0 and re.match(r"\.(TP|PP|SS|SH)\b", line):
            break
        if line.startswith(".RS"):
            depth += 1
        elif line.startswith(".RE"):
            depth -= 1
            if depth == 0:
                out.append(line)
                break
        out.append(line)
    return "".join(out)


def man_stat(roff):
    """(fields tagged in a stat entry, in order; the keys of its JSON example)."""
    entry = roff_entry(roff, "stat")
    if entry is None:
        return [], []
    fields = re.findall(r"^\.TP\n\.B (\S+)\n", entry, re.M)
    ex = re.search(r"^\.EX\n(.*?)^\.EE", entry, re.M | re.S)
    example = json.loads(ex.group(1).replace("\n", "")) if ex else {}
    return fields, list(example)


def help_files(help_text):
    """The names in the "files:" block of a help text."""
    block = help_text.split("files:\n")[1].split("\n\n")[0]
    return [line.split()[0] for line in block.splitlines()]


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
                         b'"receivers_waiting":0,"reserved":0,"held":0,"sent":2,"received":0,'
                         b'"uid":0,"gid":0}\n')

    def test_a_host_stat_is_one_json_line_with_fixed_decimals(self):
        st = read(self.d.host("stat")).decode()
        self.assertRegex(st, r'^\{"name":"h1","id":"[0-9a-f]{16}","pid":\d+,"started":\d+,'
                             r'"uptime":\d+\.\d{3},"channels":0,"workers":0,"rss":\d+,'
                             r'"max_message":67108864,"sessions":1,"fids":\d+,"requests":1\}\n$')

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


class Man(DaemonTest):
    """Item 16: circuit(4) agrees with help and with the stat JSON."""

    def setUp(self):
        super().setUp()
        self.man4 = man_sections(os.path.join(MAN, "circuit.4"))
        os.mkdir(self.d.chan("a"))
        os.mkdir(self.d.host("workers", "w"))

    def kinds(self):
        """(directory, its section of circuit(4))"""
        return [(self.d.path(), "The root: /circuit"),
                (self.d.host(), "A host: /circuit/HOST"),
                (self.d.host("channels"), "The channels directory: /circuit/HOST/channels"),
                (self.d.chan("a"), "A channel: /circuit/HOST/channels/NAME"),
                (self.d.host("workers"), "The workers directory: /circuit/HOST/workers"),
                (self.d.host("workers", "w"), "A worker: /circuit/HOST/workers/NAME")]

    def test_circuit_4_lists_each_stat_field_in_the_order_of_the_json_and_no_other(self):
        for path, section in self.kinds():
            if not os.path.exists(os.path.join(path, "stat")):
                continue
            with self.subTest(section=section):
                keys = list(json.loads(read(os.path.join(path, "stat"))))
                fields, example = man_stat(self.man4[section])
                self.assertEqual(fields, keys, "the fields under stat in circuit(4)")
                self.assertEqual(example, keys, "the keys of the JSON example in circuit(4)")

    def test_every_file_of_each_help_is_described_in_circuit_4(self):
        common = self.man4["Files in every directory"]
        for path, section in self.kinds():
            for name in help_files(read(os.path.join(path, "help")).decode()):
                with self.subTest(section=section, name=name):
                    roff = common if name in ("help", "error") else self.man4[section]
                    self.assertTrue(tagged(roff, name), "%s is not described" % name)

    def test_a_spec_of_a_lone_newline_starts_nothing_and_fails_nothing_as_circuit_4_says(self):
        w = self.d.host("workers", "w")
        write(os.path.join(w, "spec"), "\n")
        self.assertEqual(json.loads(read(os.path.join(w, "stat")))["state"], "new")
        self.assertEqual(read(os.path.join(w, "error")), b"")
        self.assertIn('a spec of a lone\nnewline\n.RB (\\(lq "echo > spec" \\(rq),\n'
                      "which starts nothing and leaves the worker new.",
                      self.man4["A worker: /circuit/HOST/workers/NAME"])

    def test_a_refused_close_says_what_circuit_4_quotes(self):
        self.assertEqual(errno_of(write, self.d.chan("a", "close"), "shut\n"), errno.EINVAL)
        said = read(self.d.chan("a", "error")).decode().rstrip("\n")
        self.assertEqual(said, 'close: write "close" to close the channel, not "shut"')
        roff = said.replace('"', "\\(dq")
        self.assertIn('.RB (\\(lq "%s" \\(rq' % roff, self.man4["A channel: /circuit/HOST/channels/NAME"])


class ReadingIsActing(DaemonTest):
    """Item 17: tools that read every file take messages; every text says so."""

    def test_the_root_help_and_both_man_pages_say_to_keep_indexers_and_backups_out(self):
        root_help = read(self.d.path("help")).decode()
        for word in ("grep -r", "consume messages", "PRUNEPATHS", "backup"):
            self.assertIn(word, root_help)
        man4 = man_sections(os.path.join(MAN, "circuit.4"))
        self.assertTrue(tagged(man4["CONVENTIONS"], "Reading is acting"))
        man8 = man_sections(os.path.join(MAN, "circuitd.8"))
        for roff in (man4["CONVENTIONS"], man8["INDEXERS AND BACKUPS"]):
            for word in ("grep \\-r", "PRUNEPATHS", "fuse.circuit", "excludes", "consume"):
                self.assertIn(word, roff)

    def test_a_grep_of_the_whole_mount_takes_a_message_as_the_texts_warn(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "1")
        write(self.d.chan("a", "send"), "needle\n")
        self.wait_for(lambda: self.stat("a")["len"] == 1, "the message in the buffer")
        r = subprocess.run(["grep", "-r", "-D", "skip", "needle", self.d.host("channels")],
                           capture_output=True, timeout=20)
        self.assertIn(b"recv:needle", r.stdout)
        self.assertEqual(self.stat("a")["len"], 0)


class RunDaemon(unittest.TestCase):
    """Item 17: `make run` (tools/run-daemon) prints the warning once."""

    def test_run_daemon_warns_once_that_reading_takes_messages(self):
        d = tempfile.mkdtemp(prefix="circuit-test-")
        mnt, log = os.path.join(d, "mnt"), os.path.join(d, "log")

        def cleanup():
            ctl = os.path.join(mnt, "rd", "ctl")
            if os.path.exists(ctl):
                write(ctl, "stop")
            deadline = time.time() + 10
            while mounted(mnt) and time.time() < deadline:
                time.sleep(0.05)
            if mounted(mnt):
                subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            subprocess.run(["rm", "-rf", d])

        self.addCleanup(cleanup)
        r = subprocess.run(["sh", os.path.join(ROOT, "tools", "run-daemon"), CIRCUITD, "rd", mnt, log],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        self.assertEqual(out.count("grep -r"), 1, out)
        self.assertIn("PRUNEPATHS", out)
        self.assertIn("Keep %s out of them" % mnt, out)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KiB
    return 0


def sanitized(pid):
    """Whether the process runs under AddressSanitizer (its rss then says
    nothing of leaks: freed memory waits in quarantine)."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


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
        if not sanitized(self.d.proc.pid):  # ASan keeps freed memory in quarantine
            self.assertLess(grown, 8 << 20)
        self.assertLess(logged, 380 * 2 * KiB)
        self.assertLessEqual(max(len(line) for line in self.d.log().splitlines()), 2048 + 64)
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
                         "tryrecv: channel /h1/channels/a is empty and no sender waits")
        with self.assertRaises(OSError):
            write_all(self.d.chan("a", "cap"), b"abc")  # an error that is logged: a marker
        self.wait_for(lambda: "error: cap: " in self.d.log()[size:], "the marker in the log")
        self.assertNotIn("tryrecv", self.d.log()[size:])


class BoundedThroughAPeer(ThroughAPeer, Bounded):
    """The same refusals made through h2's mount: h1 keeps neither memory
    nor log, and h2, which carries them, logs nothing of them."""

    def test_the_member_that_carries_the_refusals_logs_none_of_them(self):
        path = "/no/such/" + "p" * (250 * KiB) + "/end"
        size = os.path.getsize(self.d.via.log_path)
        self.refuse_specs(0, 50, json.dumps({"path": path}).encode())
        self.assertNotIn("no/such", self.d.via.log()[size:])


class DebugLog(DaemonTest):
    """Item 2: --debug logs the EAGAIN that the default level leaves out."""

    daemon_args = ("--debug",)

    def test_with_debug_an_eagain_is_logged(self):
        os.mkdir(self.d.chan("a"))
        with self.assertRaises(BlockingIOError):
            read(self.d.chan("a", "tryrecv"))
        self.wait_for(lambda: "error: tryrecv: channel /h1/channels/a is empty" in self.d.log(),
                      "the EAGAIN in the log")
