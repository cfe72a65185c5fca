"""The `circuit` command (cmd/): ls, cat, write, mkdir, rmdir and stat on
circuit's files through the daemon's 9P socket, with the exit status and
errno words a shell user expects. Real daemons; the mount checks what the
command did."""
import os
import signal
import subprocess

from harness import DaemonTest, read, write

CIRCUIT = os.path.abspath(os.environ.get(
    "CIRCUIT", os.path.join(os.path.dirname(__file__), "../../build/circuit")))


class CommandTest(DaemonTest):
    def circuit(self, *args, stdin=b"", env=None, timeout=20):
        e = dict(os.environ, CIRCUIT_SOCKET=self.d.sock)
        e.pop("CIRCUIT_HOST", None)
        e.update(env or {})
        return subprocess.run([CIRCUIT, *args], input=stdin, capture_output=True, env=e,
                              timeout=timeout)

    def assertRan(self, r, out=None):
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stderr, b"")
        if out is not None:
            self.assertEqual(r.stdout, out)

    def test_ls_lists_a_directory_sorted_one_name_a_line(self):
        self.mkchan("b")
        self.mkchan("a")
        self.assertRan(self.circuit("ls", "/h1/channels"), b"a\nb\nerror\nhelp\n")
        self.assertRan(self.circuit("ls", "/"), b"error\nevents\nh1\nhelp\nmembers\nsysname\n")

    def test_ls_of_a_file_prints_its_path(self):
        self.assertRan(self.circuit("ls", "/h1/help"), b"/h1/help\n")

    def test_mkdir_makes_a_channel_the_mount_sees_and_rmdir_removes_it(self):
        self.assertRan(self.circuit("mkdir", "/h1/channels/c"))
        self.assertTrue(os.path.isdir(self.d.chan("c")))
        self.assertRan(self.circuit("rmdir", "/h1/channels/c"))
        # The mount's kernel forgets the entry once the daemon's invalidator
        # has told it, just after the rmdir's answer (circuit(1) NOTES).
        self.wait_for(lambda: not os.path.exists(self.d.chan("c")), "the mount to forget the channel")

    def test_write_sends_stdin_as_one_message_the_mount_receives(self):
        self.mkchan("a", cap=1)
        self.assertRan(self.circuit("write", "/h1/channels/a/send", stdin=b"hello\nworld\n"))
        self.assertEqual(self.stat("a")["len"], 1)
        self.assertEqual(read(self.d.chan("a", "recv")), b"hello\nworld\n")

    def test_write_of_empty_stdin_sends_an_empty_message(self):
        self.mkchan("a", cap=1)
        self.assertRan(self.circuit("write", "/h1/channels/a/send"))
        self.assertEqual(self.stat("a")["len"], 1)
        self.assertEqual(read(self.d.chan("a", "recv")), b"")

    def test_a_message_longer_than_one_9p_write_is_still_one_message(self):
        self.mkchan("a", cap=1)
        data = bytes(range(256)) * (5 << 10)  # 1.25 MiB: two Twrites at 1 MiB msize
        self.assertRan(self.circuit("write", "/h1/channels/a/send", stdin=data))
        self.assertEqual(self.stat("a")["len"], 1)
        self.assertRan(self.circuit("cat", "/h1/channels/a/recv"), data)

    def test_cat_of_recv_waits_for_a_message_sent_through_the_mount(self):
        self.mkchan("a")
        p = self.spawn([CIRCUIT, "cat", "/h1/channels/a/recv"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=dict(os.environ, CIRCUIT_SOCKET=self.d.sock))
        self.wait_for(lambda: self.stat("a")["receivers_waiting"] == 1, "circuit cat to park")
        write(self.d.chan("a", "send"), b"ping\n")
        out, err = p.communicate(timeout=10)
        self.assertEqual((p.returncode, out, err), (0, b"ping\n", b""))

    def test_a_cat_killed_while_it_waits_leaves_no_receiver_and_takes_no_message(self):
        self.mkchan("a", cap=1)
        p = self.spawn([CIRCUIT, "cat", "/h1/channels/a/recv"], stdout=subprocess.PIPE,
                       env=dict(os.environ, CIRCUIT_SOCKET=self.d.sock))
        self.wait_for(lambda: self.stat("a")["receivers_waiting"] == 1, "circuit cat to park")
        p.send_signal(signal.SIGINT)
        p.wait(10)
        self.wait_for(lambda: self.stat("a")["receivers_waiting"] == 0, "the session to end")
        write(self.d.chan("a", "send"), b"kept\n")
        self.assertEqual(read(self.d.chan("a", "recv")), b"kept\n")

    def test_a_refusal_prints_the_errno_words_then_the_error_file_and_exits_1(self):
        self.mkchan("a")
        r = self.circuit("write", "/h1/channels/a/trysend", stdin=b"x")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, b"circuit: write /h1/channels/a/trysend: "
                                   b"Resource temporarily unavailable\n"
                                   b"circuit: trysend: channel /h1/channels/a has no waiting receiver (cap 0)\n")
        self.assertEqual(self.stat("a")["len"], 0)

    def test_a_missing_path_is_no_such_file_or_directory(self):
        r = self.circuit("cat", "/h1/channels/nosuch/recv")
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        self.assertEqual(r.stderr,
                         b"circuit: cat /h1/channels/nosuch/recv: No such file or directory\n")

    def test_mkdir_of_a_taken_name_is_file_exists_with_the_core_s_words(self):
        self.mkchan("a")
        r = self.circuit("mkdir", "/h1/channels/a")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, b"circuit: mkdir /h1/channels/a: File exists\n"
                                   b"circuit: mkdir: a already exists in /h1/channels\n")

    def test_several_paths_go_on_after_a_failure_and_exit_1(self):
        self.mkchan("a")
        r = self.circuit("ls", "/h1/nosuch", "/h1/channels")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"a\nerror\nhelp\n")
        self.assertEqual(r.stderr, b"circuit: ls /h1/nosuch: No such file or directory\n")

    def test_stat_prints_the_attributes(self):
        self.mkchan("a")
        r = self.circuit("stat", "/h1/channels/a")
        self.assertRan(r)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0:2], ["path /h1/channels/a", "type directory"])
        self.assertEqual([l.split()[0] for l in lines],
                         ["path", "type", "mode", "uid", "gid", "size", "mtime", "qid"])

    def test_without_a_daemon_it_says_which_socket_it_tried(self):
        r = self.circuit("--name", "nosuchhost", "ls", "/")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, b"circuit: /run/circuit/nosuchhost.sock: "
                                   b"No such file or directory\n")
        r = self.circuit("ls", "/", env={"CIRCUIT_SOCKET": "/nonexistent/s"})
        self.assertEqual(r.stderr, b"circuit: /nonexistent/s: No such file or directory\n")

    def test_usage_errors_exit_2(self):
        for args in [(), ("ls",), ("frob", "/"), ("write", "/a", "/b"), ("--bogus", "ls", "/")]:
            r = self.circuit(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(b"usage: circuit", r.stderr)

    def test_the_man_page_example_runs_as_printed(self):
        page = open(os.path.join(os.path.dirname(__file__), "../../man/circuit.1")).read()
        example = page.split(".SH EXAMPLES\n.EX\n")[1].split("\n.EE")[0].splitlines()
        script, expected = [], []
        for line in example:
            if line.startswith("$ export CIRCUIT_SOCKET="):
                continue  # the test's daemon has its own socket
            if line.startswith("$ "):
                script.append(line[2:].replace("circuit ", CIRCUIT + " ", 1))
            else:
                expected.append(line)
        r = subprocess.run(["bash", "-e", "-c", "\n".join(script)], capture_output=True,
                           env=dict(os.environ, CIRCUIT_SOCKET=self.d.sock), timeout=20)
        self.assertEqual((r.returncode, r.stderr.decode()), (0, ""))
        self.assertEqual(r.stdout.decode().splitlines(), expected)
