"""The cluster (issue 8), with real daemons on loopback ports: each mount
shows every member, operations cross hosts through the owner's links, a
killed member is seen down everywhere and what waited on it returns
EHOSTDOWN, and no one without the cluster key takes part. Bounds are
generous: the suite also runs under ASan on two busy cores."""
import contextlib
import errno
import grp
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import ninep
from harness import CIRCUITD, ClusterKeyTest, Daemon, errno_of, members, read, sweep_stale_mounts, write
from harness import wait_until as wait_for
from through_a_peer import free_port
from test_permissions import GROUP, MAKER, MEMBER, STRANGER, ensure_users


class ClusterTest(ClusterKeyTest):
    """Three members, h1 first; h2 and h3 join through it."""

    size = 3
    member_args = ()  # given to every member

    def setUp(self):
        super().setUp()
        self.ports = [free_port() for _ in range(self.size)]
        self.d = []
        for i in range(self.size):
            self.d.append(self.member(i))
        wait_for(lambda: all(members(d) == {h: "alive" for h in self.names()} for d in self.d),
                 "every member to list every other alive")

    def names(self):
        return ["h%d" % (i + 1) for i in range(self.size)]

    def member(self, i, extra=()):
        args = ["--key", self.key, "--listen", "127.0.0.1:%d" % self.ports[i]]
        if i > 0:
            args += ["--join", "127.0.0.1:%d" % self.ports[0]]
        d = Daemon(name="h%d" % (i + 1), args=tuple(args) + self.member_args + tuple(extra))
        self.addCleanup(d.cleanup)
        return d

    def at(self, i, *parts):
        """A path on member i's mount."""
        return self.d[i].path(*parts)


class Forwarding(ClusterTest):
    def test_every_mount_shows_every_member(self):
        for d in self.d:
            self.assertEqual(sorted(n for n in os.listdir(d.path()) if n.startswith("h") and n != "help"), self.names())
        self.assertEqual(sorted(os.listdir(self.at(0, "h2"))), sorted(os.listdir(self.d[1].host())))

    def test_each_mounts_sysname_is_its_own_host(self):
        for i, d in enumerate(self.d):
            with open(d.path("sysname"), "rb") as f:
                self.assertEqual(f.read(), ("h%d\n" % (i + 1)).encode())

    def test_a_channel_made_on_h1_is_sent_to_from_h2_and_received_from_h3(self):
        os.mkdir(self.at(0, "h1", "channels", "c"))
        write(self.at(0, "h1", "channels", "c", "cap"), "1")
        write(self.at(1, "h1", "channels", "c", "send"), "across hosts\n")
        self.assertEqual(read(self.at(2, "h1", "channels", "c", "recv")), b"across hosts\n")

    def test_a_worker_started_on_h2_from_h1_has_its_stdout_read_from_h3(self):
        w = self.at(0, "h2", "workers", "w")
        os.mkdir(w)
        write(os.path.join(w, "spec"), '{"path":"/bin/sh","args":["-c","echo on $0","h2"]}')
        self.assertEqual(read(self.at(2, "h2", "workers", "w", "wait")), b'{"exit":0}\n')
        self.assertEqual(read(self.at(2, "h2", "workers", "w", "stdout")), b"on h2\n")

    def test_ctrl_c_on_a_remote_receive_leaves_no_receiver_waiting_on_the_owner(self):
        os.mkdir(self.at(0, "h1", "channels", "z"))
        cat = subprocess.Popen(["cat", self.at(1, "h1", "channels", "z", "recv")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            stat_file = self.at(0, "h1", "channels", "z", "stat")
            wait_for(lambda: b'"receivers_waiting":1' in read(stat_file), "the remote receive to park")
            cat.send_signal(signal.SIGINT)
            cat.communicate(timeout=10)
            wait_for(lambda: b'"receivers_waiting":0' in read(stat_file), "the flush to reach h1", 10)
        finally:
            cat.kill()
            cat.wait()

    def test_large_messages_cross_links_whole_both_ways_at_once(self):
        """Messages of megabytes, many in flight on each link and in both
        directions, arrive byte for byte: a link's TLS records are batched
        into few sends and read 256 KiB at a time (tls_stream.cpp)."""
        import hashlib
        import threading
        os.mkdir(self.at(0, "h1", "channels", "big"))
        write(self.at(0, "h1", "channels", "big", "cap"), "3")
        os.mkdir(self.at(1, "h2", "channels", "back"))
        write(self.at(1, "h2", "channels", "back", "cap"), "2")
        flows = [  # (sender's mount, channel, receiver's mount, messages)
            (1, ("h1", "channels", "big"), 2, [os.urandom((2 << 20) + i * 4099) for i in range(6)]),
            (2, ("h2", "channels", "back"), 0, [os.urandom((1 << 20) + 17 + i) for i in range(4)]),
        ]
        got = {k: [] for k in range(len(flows))}
        errors = []

        def send(mount, chan, msg):
            try:
                fd = os.open(self.at(mount, *chan, "send"), os.O_WRONLY)
                try:
                    for at in range(0, len(msg), 65536):  # a message in many writes
                        os.write(fd, msg[at:at + 65536])
                finally:
                    os.close(fd)
            except OSError as e:
                errors.append("send on %s: %s" % ("/".join(chan), e))

        def receive(k, mount, chan, n):
            try:
                for _ in range(n):
                    got[k].append(read(self.at(mount, *chan, "recv")))
            except OSError as e:
                errors.append("recv on %s: %s" % ("/".join(chan), e))

        threads = []
        for k, (src, chan, dst, msgs) in enumerate(flows):
            threads.append(threading.Thread(target=receive, args=(k, dst, chan, len(msgs)), daemon=True))
            threads += [threading.Thread(target=send, args=(src, chan, m), daemon=True) for m in msgs]
        for t in threads:
            t.start()
        deadline = time.time() + 120
        for t in threads:
            t.join(max(0.1, deadline - time.time()))
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a send or receive still waits after 120 s")
        digest = lambda ms: sorted(hashlib.sha256(m).hexdigest() for m in ms)
        for k, (_, chan, _, msgs) in enumerate(flows):
            self.assertEqual(len(got[k]), len(msgs), "/".join(chan))
            self.assertEqual(digest(got[k]), digest(msgs), "/".join(chan) + ": a message came changed")

    def link_bytes_waiting_at(self, i):
        """The most bytes waiting unread in one of member i's link sockets
        (its side of the links dialed to its port)."""
        out = subprocess.run(["ss", "-tnH", "state", "established", "( sport = :%d )" % self.ports[i]],
                             capture_output=True, text=True, timeout=10).stdout
        return max([int(line.split()[0]) for line in out.splitlines() if line.split()] or [0])

    def test_walk_lopen_write_and_clunk_sent_together_cross_to_the_owner_in_one_go(self):
        # h1 stops reading for a moment: what h2 forwards for the client's
        # one batch waits in h1's socket. The write's 8,000 bytes are there
        # before h1 has answered the walk, so h2 did not wait for it.
        os.mkdir(self.at(0, "h1", "channels", "p"))
        write(self.at(0, "h1", "channels", "p", "cap"), "1")
        os.listdir(self.at(1, "h1", "channels"))  # h2 has attached to h1 as root (a first walk waits for it)
        c = ninep.Client(self.d[1].sock)
        self.addCleanup(c.close)
        batch = b"".join(ninep.frame(m[0], tag, m[1]) for m, tag in [
            (ninep.Twalk(0, 9, ["h1", "channels", "p", "send"]), 11), (ninep.Tlopen(9, ninep.O_WRONLY), 12),
            (ninep.Twrite(9, 0, b"x" * 8000), 13), (ninep.Tclunk(9), 14)])
        self.d[0].proc.send_signal(signal.SIGSTOP)
        try:
            c.send_raw(batch)
            wait_for(lambda: self.link_bytes_waiting_at(0) > 8000, "the whole batch to wait at h1", timeout=5)
        finally:
            self.d[0].proc.send_signal(signal.SIGCONT)
        replies = {}
        for _ in range(4):
            r = c.recv()
            replies[r.tag] = r.type
        self.assertEqual(replies, {11: "walk", 12: "lopen", 13: "write", 14: "clunk"})
        self.assertEqual(read(self.at(2, "h1", "channels", "p", "recv")), b"x" * 8000)

    def test_errors_come_back_with_their_errno_across_hosts(self):
        self.assertEqual(errno_of(os.stat, self.at(1, "h1", "channels", "nosuch")), errno.ENOENT)
        os.mkdir(self.at(1, "h1", "channels", "dup"))
        self.assertEqual(errno_of(os.mkdir, self.at(2, "h1", "channels", "dup")), errno.EEXIST)


class Failures(ClusterTest):
    def test_a_killed_member_is_down_everywhere_and_what_waited_on_it_gets_ehostdown(self):
        os.mkdir(self.at(2, "h3", "channels", "k"))
        cat = subprocess.Popen(["cat", self.at(0, "h3", "channels", "k", "recv")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        events = subprocess.Popen(["cat", self.at(1, "events")], stdout=subprocess.PIPE)
        try:
            wait_for(lambda: b'"receivers_waiting":1' in read(self.at(2, "h3", "channels", "k", "stat")),
                     "the receive to park on h3")
            self.d[2].proc.kill()
            self.d[2].proc.wait(10)
            _, err = cat.communicate(timeout=20)
            self.assertIn(b"Host is down", err)
            for d in self.d[:2]:
                wait_for(lambda: members(d).get("h3") == "down", "h3 to be down on " + d.name)
            self.assertEqual(errno_of(os.listdir, self.at(0, "h3")), errno.EHOSTDOWN)
            self.assertEqual(read(self.at(0, "h3", "error")), b"host down: h3\n")
        finally:
            cat.kill()
            cat.wait()
            events.kill()
            out = events.communicate()[0]
        self.assertIn(b"down h3\n", out)

    def test_a_member_back_from_down_is_used_again_through_the_names_a_mount_holds(self):
        # h2's mount has walked to h1 and into one of its channels: the
        # kernel keeps those names (a shell's working directory is one).
        # h1 stops answering until h2 declares it down, then comes back:
        # the names work again on the new link, not "No route to host" for
        # ever; a file opened before the cut says to open it again.
        os.mkdir(self.at(0, "h1", "channels", "back"))
        write(self.at(0, "h1", "channels", "back", "cap"), "1")
        self.assertIn("channels", os.listdir(self.at(1, "h1")))
        held = os.open(self.at(1, "h1", "channels", "back"), os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, held)
        opened = os.open(self.at(1, "h1", "channels", "back", "stat"), os.O_RDONLY)
        self.addCleanup(os.close, opened)
        self.d[0].proc.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: members(self.d[1]).get("h1") == "down", "h1 to be down on h2")
        finally:
            self.d[0].proc.send_signal(signal.SIGCONT)
        wait_for(lambda: members(self.d[1]).get("h1") == "alive", "h1 to be alive again on h2")
        self.assertIn("channels", os.listdir(self.at(1, "h1")))
        self.assertIn("back", os.listdir(self.at(1, "h1", "channels")))
        fd = os.open("stat", os.O_RDONLY, dir_fd=held)
        try:
            self.assertIn(b'"cap":1', os.read(fd, 4096))
        finally:
            os.close(fd)
        subprocess.run(["sh", "-c", "cd \"$1\" && echo again > send", "sh", self.at(1, "h1", "channels", "back")],
                       check=True, timeout=20)
        self.assertEqual(read(self.at(2, "h1", "channels", "back", "recv")), b"again\n")
        self.assertEqual(errno_of(os.read, opened, 4096), errno.EHOSTUNREACH)

    def held_on_h2_goes_back(self, nbytes, take_h2_down):
        """A message of h1's taken by a receiver on h2 that read `nbytes`
        of it: once h2 is declared down it goes back, and h3 receives it."""
        os.mkdir(self.at(0, "h1", "channels", "m"))
        write(self.at(0, "h1", "channels", "m", "cap"), "1")
        write(self.at(0, "h1", "channels", "m", "send"), "kept whole")
        holder = subprocess.Popen(["python3", "-c", "import os,sys,time\n"
                                   "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                                   "os.write(1, os.read(fd, %d)); sys.stdout.flush(); time.sleep(60)" % nbytes,
                                   self.at(1, "h1", "channels", "m", "recv")], stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.read(nbytes), b"kept whole"[:nbytes])
            self.assertIn(b'"held":1', read(self.at(0, "h1", "channels", "m", "stat")))
            with take_h2_down():
                wait_for(lambda: members(self.d[0]).get("h2") == "down", "h2 to be down on h1")
                self.assertEqual(read(self.at(2, "h1", "channels", "m", "recv")), b"kept whole")
        finally:
            holder.kill()
            holder.wait()
            holder.stdout.close()

    def test_a_message_held_by_a_member_declared_down_goes_back_and_another_host_receives_it(self):
        # h2 stops answering (its connection stays open): declared down,
        # its sessions on h1 end and the message goes back.
        @contextlib.contextmanager
        def stopped():
            self.d[1].proc.send_signal(signal.SIGSTOP)
            try:
                yield
            finally:
                self.d[1].proc.send_signal(signal.SIGCONT)
        self.held_on_h2_goes_back(1, stopped)

    def test_a_message_read_to_its_last_byte_by_a_receiver_on_a_killed_member_goes_back(self):
        # The last bytes h1 hands out may die with the link: until h2 reads
        # past the end or closes, the message is held, not received.
        @contextlib.contextmanager
        def killed():
            self.d[1].proc.kill()
            self.d[1].proc.wait(10)
            yield
        self.held_on_h2_goes_back(10, killed)

    def test_a_remote_receiver_that_reads_every_byte_and_closes_has_received_it_once(self):
        os.mkdir(self.at(0, "h1", "channels", "m"))
        write(self.at(0, "h1", "channels", "m", "cap"), "2")
        write(self.at(0, "h1", "channels", "m", "send"), "once")
        write(self.at(0, "h1", "channels", "m", "send"), "")
        # head reads exactly the bytes it needs and closes: no read past the end.
        out = subprocess.run(["head", "-c", "4", self.at(1, "h1", "channels", "m", "recv")],
                             capture_output=True, timeout=20)
        self.assertEqual(out.stdout, b"once")
        # An empty message, opened and closed without a read.
        fd = os.open(self.at(2, "h1", "channels", "m", "recv"), os.O_RDONLY)
        os.close(fd)
        stat_ = read(self.at(0, "h1", "channels", "m", "stat"))
        wait_for(lambda: b'"held":0' in read(self.at(0, "h1", "channels", "m", "stat")),
                 "the remote closes to reach h1")
        stat_ = read(self.at(0, "h1", "channels", "m", "stat"))
        self.assertIn(b'"len":0', stat_)
        self.assertIn(b'"received":2', stat_)

    def test_a_restarted_member_takes_its_name_back_and_is_served_again(self):
        self.d[2].proc.kill()
        self.d[2].proc.wait(10)
        wait_for(lambda: members(self.d[0]).get("h3") == "down", "h3 to be down")
        subprocess.run(["fusermount3", "-u", "-z", self.d[2].mnt], capture_output=True)
        self.d[2].start(("--key", self.key, "--listen", "127.0.0.1:%d" % self.ports[2],
                         "--join", "127.0.0.1:%d" % self.ports[0]))
        wait_for(lambda: members(self.d[0]).get("h3") == "alive", "h3 to be alive again")
        wait_for(lambda: errno_of(os.listdir, self.at(0, "h3", "channels")) == 0, "h3 to be served again")

    def test_sigterm_leaves_at_once_and_the_others_say_so(self):
        self.d[2].proc.terminate()
        self.d[2].proc.wait(10)
        wait_for(lambda: "h3" not in members(self.d[0]), "h3 to leave", 5)
        self.assertNotIn("h3", os.listdir(self.d[0].path()))


class Forgetting(ClusterTest):
    member_args = ("--forget-after", "2")

    def test_a_member_down_past_forget_after_leaves_every_mount_and_events_say_so(self):
        events = subprocess.Popen(["cat", self.at(0, "events")], stdout=subprocess.PIPE)
        try:
            self.d[2].proc.kill()
            self.d[2].proc.wait(10)
            for d in self.d[:2]:
                wait_for(lambda: members(d).get("h3") == "down", "h3 to be down on " + d.name)
            self.assertIn("h3", os.listdir(self.d[0].mnt))  # kept while down
            for d in self.d[:2]:
                wait_for(lambda: "h3" not in members(d) and "h3" not in os.listdir(d.mnt),
                         "h3 to be forgotten on " + d.name)
            self.assertEqual(errno_of(os.stat, self.at(1, "h3")), errno.ENOENT)
        finally:
            events.kill()
            out = events.communicate()[0]
        self.assertIn(b"down h3\nleave h3\n", out)


class UsersClusterTest(ClusterTest):
    """Two members that let the test's users in (test_permissions), whose
    mounts and sockets those users reach."""
    size = 2
    member_args = ("--allow-group", GROUP)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_users()

    def setUp(self):
        super().setUp()
        for d in self.d:
            os.chmod(d.dir, 0o755)  # other users must reach the mount point


class Identity(UsersClusterTest):
    """Ids are numeric and the same on every member: h2 forwards the
    caller's uid, h1 looks up its groups and judges it by its own rules."""

    def as_uid(self, uid, gid, argv):
        return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(gid), "--groups", str(gid)] + argv,
                              cwd="/", capture_output=True, timeout=20)

    def test_a_uid_the_owner_does_not_know_is_refused_there_with_words_on_both_hosts(self):
        gid = grp.getgrnam(GROUP).gr_gid
        r = self.as_uid(54321, gid, ["sh", "-c", "ls %s; cat %s" % (self.at(1, "h1"), self.at(1, "error"))])
        self.assertIn(b"Permission denied", r.stderr)
        self.assertIn(b"refuses uid 54321: not a user of that host", r.stdout)
        self.assertIn("uid 54321 is not a user of this host", self.d[0].log())
        # h2's own directory serves the same caller (h2 let the group in).
        r = self.as_uid(54321, gid, ["ls", self.at(1, "h2")])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_an_open_that_crosses_with_its_walk_is_judged_as_its_caller_not_as_the_link(self):
        # A client of h2's socket sends walk and lopen together; h2 passes
        # both on at once, and h1 must judge the open as the walk's uid, not
        # as the link's root. Host ctl is for root and the daemon's user.
        maker = pwd.getpwnam(MAKER)
        code = ("import sys; sys.path.insert(0, %r); import ninep\n"
                "c = ninep.Client(sys.argv[1])\n"
                "c.ok(ninep.Tclunk(c.walk('h1')))\n"  # h2 attaches to h1 as this uid (a first walk waits for it)
                "c.send_raw(b''.join(ninep.frame(m[0], t, m[1]) for m, t in [\n"
                "    (ninep.Twalk(0, 9, ['h1', 'ctl']), 1), (ninep.Tlopen(9, ninep.O_WRONLY), 2)]))\n"
                "got = {}\n"
                "for _ in range(2):\n    r = c.recv(); got[r.tag] = r.type if r.type != 'lerror' else r.errno\n"
                "print(got[1], got[2])\n" % os.path.dirname(os.path.abspath(ninep.__file__)))
        r = subprocess.run(["setpriv", "--reuid", str(maker.pw_uid), "--regid", str(maker.pw_gid),
                            "--init-groups", sys.executable, "-c", code, self.d[1].sock],
                           capture_output=True, timeout=20, text=True, cwd="/")
        self.assertEqual(r.stdout.split(), ["walk", str(errno.EACCES)], r.stderr)

    def test_a_users_errors_and_elements_on_h1_are_theirs_though_another_user_walked_there_first(self):
        def as_user(name, argv):
            pw = pwd.getpwnam(name)
            return subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
                                   "--init-groups"] + argv, capture_output=True, timeout=20, text=True, cwd="/")
        r = as_user(MAKER, ["mkdir", self.at(1, "h1", "channels", "bad name")])
        self.assertNotEqual(r.returncode, 0)
        words = as_user(MAKER, ["cat", self.at(1, "h1", "channels", "error")]).stdout
        self.assertIn("name has the character", words)
        self.assertEqual(as_user(MEMBER, ["cat", self.at(1, "h1", "channels", "error")]).stdout, "")
        # h2's mount holds one fid per file, walked by whoever came first:
        # what another user makes through it is still theirs on h1.
        self.assertEqual(as_user(MEMBER, ["mkdir", self.at(1, "h1", "channels", "second")]).returncode, 0)
        st = json.loads(read(self.at(0, "h1", "channels", "second", "stat")))
        self.assertEqual(st["uid"], pwd.getpwnam(MEMBER).pw_uid)

    def test_a_channel_made_from_h2_by_a_user_is_theirs_on_h1_and_a_stranger_is_kept_out(self):
        maker = pwd.getpwnam(MAKER)
        r = subprocess.run(["setpriv", "--reuid", str(maker.pw_uid), "--regid", str(maker.pw_gid), "--init-groups",
                            "mkdir", self.at(1, "h1", "channels", "theirs")], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = json.loads(read(self.at(0, "h1", "channels", "theirs", "stat")))
        self.assertEqual((st["uid"], st["gid"]), (maker.pw_uid, maker.pw_gid))
        stranger = pwd.getpwnam(STRANGER)
        r = subprocess.run(["setpriv", "--reuid", str(stranger.pw_uid), "--regid", str(stranger.pw_gid),
                            "--init-groups", "ls", self.at(1, "h1")], capture_output=True, timeout=20)
        self.assertIn(b"Permission denied", r.stderr)


class Keys(unittest.TestCase):
    def setUp(self):
        sweep_stale_mounts()
        self.dir = tempfile.mkdtemp(prefix="circuit-key-")
        self.key = os.path.join(self.dir, "key")
        subprocess.run([CIRCUITD, "keygen", self.key], check=True, capture_output=True)

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def refused(self, *args):
        r = subprocess.run([CIRCUITD, "--name", "hx", "--mount", self.dir, "--socket", "none", *args],
                           capture_output=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        return r.stderr.decode()

    def test_listen_without_a_key_is_refused_with_how_to_make_one(self):
        self.assertIn("circuitd keygen", self.refused("--listen", "127.0.0.1:%d" % free_port()))

    def test_a_key_others_may_read_is_refused(self):
        os.chmod(self.key, 0o644)
        err = self.refused("--key", self.key, "--listen", "127.0.0.1:%d" % free_port())
        self.assertIn("chmod 600", err)

    def test_keygen_writes_a_new_key_0600_and_never_over_an_old_one(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)
        r = subprocess.run([CIRCUITD, "keygen", self.key], capture_output=True)
        self.assertNotEqual(r.returncode, 0)

    def test_a_member_with_another_key_is_refused_and_named_in_the_log(self):
        other = os.path.join(self.dir, "other")
        subprocess.run([CIRCUITD, "keygen", other], check=True, capture_output=True)
        p1, p2 = free_port(), free_port()
        a = Daemon(name="h1", args=("--key", self.key, "--listen", "127.0.0.1:%d" % p1))
        self.addCleanup(a.cleanup)
        b = Daemon(name="h2", args=("--key", other, "--listen", "127.0.0.1:%d" % p2,
                                     "--join", "127.0.0.1:%d" % p1))
        self.addCleanup(b.cleanup)
        wait_for(lambda: "127.0.0.1" in a.log() and "handshake" in a.log(), "h1 to log the refused handshake")
        time.sleep(1)
        self.assertEqual(members(a), {"h1": "alive"})
        self.assertNotIn("h2", os.listdir(a.path()))

    def test_plaintext_on_the_link_port_is_dropped_and_the_member_serves_on(self):
        p1 = free_port()
        a = Daemon(name="h1", args=("--key", self.key, "--listen", "127.0.0.1:%d" % p1))
        self.addCleanup(a.cleanup)
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", p1), timeout=5)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n" + os.urandom(300))
            s.close()
        wait_for(lambda: "handshake" in a.log(), "the refusals to be logged")
        self.assertTrue(a.alive())
        self.assertEqual(members(a), {"h1": "alive"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
