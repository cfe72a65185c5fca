"""Another member's files through this mount, as a shell uses them: what
the kernel keeps of them in its cache, and an open of `send` whose holder
dies. Each must behave as the owner's own mount does (circuit(4), Other
members). Two members on loopback ports."""
import errno
import os
import signal
import subprocess
import time

import ninep
from harness import errno_of, members, read, wait_until as wait_for, write
from test_cluster import ClusterTest


class RemoteFiles(ClusterTest):
    size = 2

    def chan(self, i, name, *parts):
        """Channel `name` of h1, on member i's mount."""
        return self.at(i, "h1", "channels", name, *parts)

    def make(self, name, cap=1):
        os.mkdir(self.chan(0, name))
        write(self.chan(0, name, "cap"), str(cap))


class CachedEntries(RemoteFiles):
    """h2's kernel keeps entries of h1's files for a second; h1 can remove
    and make them meanwhile without h2 knowing."""

    def remake(self, name):
        os.rmdir(self.chan(0, name))
        self.make(name)

    def test_a_channel_remade_on_its_owner_is_the_new_one_at_once_through_a_peer(self):
        self.make("r")
        read(self.chan(1, "r", "stat"))  # h2's kernel holds r and r/stat
        self.remake("r")
        # The new channel, from the first call: not ENOENT for a second.
        self.assertIn(b'"sent":0', read(self.chan(1, "r", "stat")))
        write(self.chan(1, "r", "trysend"), "new\n")
        self.assertEqual(read(self.chan(0, "r", "recv")), b"new\n")  # waits: delivered at the release

    def test_a_channel_listed_then_remade_is_walked_into_at_once(self):
        self.make("l")
        os.listdir(self.chan(1, "l"))  # h2's kernel holds l, not l/stat
        self.remake("l")
        self.assertIn(b'"sent":0', read(self.chan(1, "l", "stat")))
        self.remake("l")
        self.assertTrue(os.path.isdir(self.chan(1, "l")))  # stat(2) by path

    def test_a_channel_removed_on_its_owner_is_enoent_through_a_peer_never_estale(self):
        self.make("g")
        read(self.chan(1, "g", "stat"))
        os.listdir(self.chan(1, "g"))
        os.rmdir(self.chan(0, "g"))
        for path in (self.chan(1, "g", "stat"), self.chan(1, "g")):
            self.assertEqual(errno_of(read, path), errno.ENOENT)
            self.assertEqual(errno_of(os.stat, path), errno.ENOENT)
        self.assertEqual(errno_of(os.listdir, self.chan(1, "g")), errno.ENOENT)
        self.assertEqual(errno_of(read, self.chan(1, "nosuch", "stat")), errno.ENOENT)

    def test_a_shell_in_a_channel_remade_under_it_gets_enoent_as_on_the_owner(self):
        """Its working directory is the removed channel: no walk can reach
        the new one from there, so ENOENT, as a shell on h1 gets."""
        self.make("w")
        read(self.chan(1, "w", "stat"))
        for i in (0, 1):
            script = 'cd "$1" && rmdir "$2" && mkdir "$2" && cat stat'
            p = subprocess.run(["sh", "-c", script, "sh", self.chan(i, "w"), self.chan(0, "w")],
                               capture_output=True, timeout=20)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b"No such file or directory", p.stderr, "member %d" % (i + 1))
            # The path from the top finds the new one.
            self.assertIn(b'"sent":0', read(self.chan(1, "w", "stat")))

    def test_an_open_descriptor_of_a_removed_channel_still_fails_with_enoent(self):
        self.make("d")
        fd = os.open(self.chan(1, "d", "send"), os.O_WRONLY)
        try:
            os.write(fd, b"a")
            self.remake("d")
            self.assertEqual(errno_of(os.write, fd, b"b"), errno.ENOENT)
            time.sleep(1.2)  # past the kernel's copy of its attributes
            self.assertEqual(errno_of(os.fstat, fd), errno.ENOENT)
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
        self.assertIn(b'"sent":0', read(self.chan(1, "d", "stat")))


class WorkingDirectory(RemoteFiles):
    def test_a_working_directory_in_another_members_directory_outlives_member_events(self):
        """`cd /circuit/h1` on h2, then member events: h1's first link,
        made when first needed, and h1 suspected and alive again. At each
        h2's kernel forgets what it cached below /h1, not /h1 itself, so
        pwd still works (it failed with ENOENT) and relative paths reach
        h1's files."""
        self.addCleanup(os.chdir, os.getcwd())
        top = self.at(1, "h1")
        os.chdir(top)
        os.mkdir("channels/p")  # the first call that needs h1: the link is made
        time.sleep(0.3)  # the kernel is told of the event off the loop
        self.assertEqual(os.getcwd(), top)
        self.d[0].proc.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: members(self.d[1])["h1"] != "alive", "h2 to suspect h1", timeout=20)
        finally:
            self.d[0].proc.send_signal(signal.SIGCONT)
        wait_for(lambda: members(self.d[1])["h1"] == "alive", "h1 alive again on h2", timeout=20)
        time.sleep(0.3)
        self.assertEqual(os.getcwd(), top)
        self.assertIn("p", os.listdir("channels"))
        write("channels/p/cap", "1")
        write("channels/p/send", "here")
        self.assertEqual(read(self.chan(0, "p", "recv")), b"here")


class DyingHolder(RemoteFiles):
    """All or nothing (circuit(4), send): a holder of an open of send that
    dies of a signal aborts the message, whichever member's mount it used;
    a child that inherited the descriptor can neither add to the message
    nor deliver it."""

    def abort_with_a_child_left(self, path, sync):
        """Opens `path`, writes "a", forks a child that keeps the
        descriptor, dies of SIGKILL; the child then writes "b" and "c",
        fsyncs if `sync`, and closes. Returns the child's errno names."""
        r, w = os.pipe()
        holder = os.fork()
        if holder == 0:  # the holder; its child outlives it
            try:
                os.close(r)
                fd = os.open(path, os.O_WRONLY)
                os.write(fd, b"a")
                if os.fork() == 0:
                    time.sleep(0.5)  # the holder is dead by then
                    calls = [lambda: os.write(fd, b"b"), lambda: os.write(fd, b"c")]
                    calls += [lambda: os.fsync(fd)] if sync else []
                    calls += [lambda: os.close(fd)]
                    out = []
                    for call in calls:
                        e = errno_of(call)
                        out.append(errno.errorcode.get(e, "ok") if e else "ok")
                    os.write(w, " ".join(out).encode())
                    os._exit(0)
                os.kill(os.getpid(), signal.SIGKILL)
            finally:
                os._exit(1)
        os.close(w)
        os.waitpid(holder, 0)
        with os.fdopen(r, "rb") as f:
            return f.read().decode().split()

    def test_a_child_left_with_the_descriptor_can_neither_add_nor_deliver_locally_or_through_a_peer(self):
        for i in (0, 1):
            for sync in (True, False):
                name = "k%d%d" % (i, sync)
                self.make(name, cap=5)
                got = self.abort_with_a_child_left(self.chan(i, name, "send"), sync)
                self.assertEqual(got, ["EBADF", "EBADF"] + (["EBADF"] if sync else []) + ["ok"],
                                 "through h%d's mount, fsync %s" % (i + 1, sync))
                stat = read(self.chan(0, name, "stat"))
                self.assertIn(b'"sent":0', stat)
                self.assertIn(b'"reserved":0', stat)
                self.assertEqual(errno_of(read, self.chan(0, name, "tryrecv")), errno.EAGAIN)
                # The channel serves on: a message sent now is the only one
                # (a receive that waits: through a peer, the last close
                # delivers just after close(2) returns).
                write(self.chan(i, name, "send"), "next")
                self.assertEqual(read(self.chan(0, name, "recv")), b"next")
                self.assertEqual(errno_of(read, self.chan(0, name, "tryrecv")), errno.EAGAIN)


class RemoteGoroutines(RemoteFiles):
    """A program's goroutines/go on h1, used through h2's mount by a shell
    whose cat is interrupted: a holder that dies of a signal ends nothing
    of an open that also reads (only a write-only open is aborted at a
    death), so the shell's later read takes the result, as on h1."""

    def start_program(self, name, fn="park"):
        """A libcircuit program on h1 running `fn` on a new channel of h1;
        returns its worker directory on h1's mount."""
        from test_libcircuit import CHAN_TEST
        os.mkdir(self.chan(0, name + "c"))
        w = self.at(0, "h1", "workers", name)
        os.mkdir(w)
        args = '[\\"/h1/channels/%sc\\"]' % name
        spec = '{"path":"%s","args":["--circuit-run","%s","%s"]}' % (os.path.realpath(CHAN_TEST), fn, args)
        write(os.path.join(w, "spec"), spec)
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(w, "goroutines", "1", "stat")):
            self.assertLess(time.time(), deadline, "the program's goroutines to appear")
            time.sleep(0.05)
        return w

    def test_an_interrupted_read_of_a_result_through_a_peer_returns_and_a_later_read_takes_it(self):
        os.mkdir(self.chan(0, "later"))
        w = self.start_program("w")
        script = """exec 3<>workers/w/goroutines/go
            echo '{"fn":"park","args":["/h1/channels/later"]}' >&3
            timeout -s INT 0.5 cat <&3; echo "cat: $?"
            echo 7 > channels/later/send
            cat <&3"""
        r = subprocess.run(["sh", "-c", script], cwd=self.at(1, "h1"), capture_output=True, timeout=30)
        out = r.stdout.decode()
        self.assertIn("cat: 124", out, r.stderr)
        self.assertTrue(out.endswith('{"value":"got 7"}'), (out, r.stderr))
        write(os.path.join(w, "goroutines", "1", "ctl"), "cancel")
        self.assertEqual(read(os.path.join(w, "wait")), b'{"exit":0}\n')

    def test_a_programs_error_file_shows_each_session_its_own_words_locally_and_through_a_peer(self):
        """The daemon attaches to a program once per caller session, as a
        member attaches to another: one shell's refused call is not
        another's error."""
        w = self.start_program("e")
        for i in (0, 1):
            g = os.path.join(self.at(i, "h1", "workers", "e"), "goroutines")
            # The verdict comes with the clunk, which close(2) through a
            # daemon's mount does not wait for (circuit(4)): read until it is there.
            script = "echo '{' > go; for i in $(seq 100); do e=$(cat error); [ -n \"$e\" ] && break; sleep 0.05; done; echo \"$e\""
            own = subprocess.run(["setsid", "-w", "sh", "-c", script], cwd=g, capture_output=True, timeout=20)
            self.assertIn(b"is not whole JSON at the close; nothing ran", own.stdout, own.stderr)
            other = subprocess.run(["setsid", "-w", "cat", "error"], cwd=g, capture_output=True, timeout=20)
            self.assertEqual(other.stdout, b"", "through h%d's mount" % (i + 1))
        write(os.path.join(w, "goroutines", "1", "ctl"), "cancel")

    def test_a_removed_programs_files_fail_with_enoent_held_or_waited_on_locally_and_through_a_peer(self):
        """circuit(4), removed elements: every file of it still open fails
        with ENOENT, reads that wait included; a program's goroutines/ and
        files/ are its worker's files (they said EHOSTUNREACH)."""
        for i in (0, 1):
            name = "p%d" % i
            self.start_program(name, "counter")
            w = self.at(i, "h1", "workers", name)
            os.mkdir(self.chan(0, name + "wait"))
            go = os.open(os.path.join(w, "goroutines", "go"), os.O_RDWR)
            counter = os.open(os.path.join(w, "files", "counter"), os.O_RDWR)
            stat = os.open(os.path.join(w, "goroutines", "1", "stat"), os.O_RDONLY)
            try:
                os.write(go, ('{"fn":"park","args":["/h1/channels/%swait"]}' % name).encode())
                reader = subprocess.Popen(["cat"], stdin=go, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                time.sleep(0.3)  # the result's read waits
                lease = os.open(os.path.join(w, "lease"), os.O_WRONLY)
                os.close(lease)  # the worker is killed and removed at once
                out, err = reader.communicate(timeout=10)
                self.assertIn(b"No such file or directory", err, "through h%d's mount" % (i + 1))
                for fd, call in ((counter, lambda: os.write(counter, b"1")), (counter, lambda: os.read(counter, 10)),
                                 (stat, lambda: os.read(stat, 100)), (go, lambda: os.read(go, 100))):
                    self.assertEqual(errno_of(call), errno.ENOENT, "through h%d's mount" % (i + 1))
            finally:
                for fd in (go, counter, stat):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.assertFalse(os.path.exists(self.at(0, "h1", "workers", name)))


class Closes(RemoteFiles):
    def test_a_close_through_a_peer_returns_0_and_its_refusal_is_in_error_as_on_the_owner(self):
        """circuit(4), Other members: 9P has no close, so the owner's
        verdict at a close (an incomplete spec) is not the close's there."""
        os.mkdir(self.at(0, "h1", "workers", "w"))
        for i, close_errno in ((0, errno.EINVAL), (1, 0)):
            fd = os.open(self.at(i, "h1", "workers", "w", "spec"), os.O_WRONLY)
            os.write(fd, b'{"path":')
            self.assertEqual(errno_of(os.close, fd), close_errno, "through h%d's mount" % (i + 1))
            deadline = time.time() + 10  # through h2, the clunk follows the close
            while read(self.at(i, "h1", "workers", "w", "error")) != b"bad spec: incomplete JSON\n":
                self.assertLess(time.time(), deadline, "the words to reach error through h%d" % (i + 1))
                time.sleep(0.05)


class SessionErrors(RemoteFiles):
    """An `error` file says the last refusal of the reader's own session
    (circuit(4), Errors), through another member's mount as on the owner's:
    h2 attaches to h1 once per caller session, not once per uid."""

    def sh(self, script):
        """A shell in a session of its own, on h2's mount."""
        return subprocess.run(["setsid", "-w", "sh", "-c", script], cwd=self.at(1, "h1", "channels"),
                              capture_output=True, timeout=20)

    def test_two_shell_sessions_on_a_peer_each_read_only_their_own_error(self):
        os.mkdir(self.chan(0, "e"))
        a = self.sh("echo abc > e/cap; cat e/error")
        b = self.sh("echo 99999999999999999999 > e/cap; cat e/error")
        c = self.sh("cat e/error")
        self.assertEqual(a.stdout, b'cap: "abc" is not a number\n')
        self.assertIn(b"is too large", b.stdout)
        self.assertNotIn(b"abc", b.stdout)
        self.assertEqual(c.stdout, b"")
        # The same uid on h1's own mount, in yet another session: nothing.
        self.assertEqual(subprocess.run(["setsid", "-w", "cat", self.chan(0, "e", "error")], capture_output=True,
                                        timeout=20).stdout, b"")

    def test_two_clients_of_a_peers_socket_each_read_only_their_own_error(self):
        os.mkdir(self.chan(0, "s"))
        one, two = ninep.Client(self.d[1].sock), ninep.Client(self.d[1].sock)
        self.addCleanup(one.close)
        self.addCleanup(two.close)
        self.assertEqual(errno_of(one.write_file, "h1/channels/s/cap", "abc"), errno.EINVAL)
        self.assertEqual(one.read_file("h1/channels/s/error"), b'cap: "abc" is not a number\n')
        self.assertEqual(two.read_file("h1/channels/s/error"), b"")
        self.assertEqual(errno_of(two.write_file, "h1/channels/s/cap", "-1"), errno.EINVAL)
        self.assertNotIn(b"abc", two.read_file("h1/channels/s/error"))
        self.assertEqual(one.read_file("h1/channels/s/error"), b'cap: "abc" is not a number\n')
