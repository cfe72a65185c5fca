"""A worker's `serve SOCKET` (circuit(4) WORKERS) asked by a user who is not
root: circuitd connects as root, so only to a socket of the worker's own
user, and a path that changes under it must not take it elsewhere. Real
users (setpriv), real sockets; needs root, as CI is."""
import errno
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import DaemonTest, read, write
from lying_server import LyingServer
from ninep import O_RDONLY, Client, Tread
from test_text import sanitized
from test_permissions import GROUP, MAKER, MEMBER, PermissionTest, as_user, needs_root
from through_a_peer import ThroughAPeer


class Listener:
    """A Unix socket owned by `user` that counts who connected and hangs
    up on each at once (a 9P server that never answers Tversion)."""

    def __init__(self, path, user):
        self.path, self.accepted = path, 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            c.close()

    def close(self):
        self.done = True
        self.thread.join(timeout=5)
        self.sock.close()


# Run by the worker's user: puts a symbolic link to the victim's socket and
# the user's own socket at `path` in turn, as fast as it can, for `seconds`.
SWAPPER = r"""
import os, sys, time
path, own, victim, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.monotonic() + seconds
while time.monotonic() < end:
    os.symlink(victim, path + ".l")
    os.rename(path + ".l", path)
    os.link(own, path + ".s")
    os.rename(path + ".s", path)
"""


@needs_root
class ServeAsAUser(PermissionTest):
    daemon_args = ("--allow-group", GROUP)

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="circuit-serve-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.mine, self.theirs = os.path.join(self.tmp, "mine"), os.path.join(self.tmp, "theirs")
        for d, u in ((self.mine, self.u1), (self.theirs, self.u2)):
            os.mkdir(d, 0o755)
            os.chown(d, u.pw_uid, u.pw_gid)
        self.own = Listener(os.path.join(self.mine, "own.sock"), MAKER)
        self.victim = Listener(os.path.join(self.theirs, "9p"), MEMBER)
        for l in (self.own, self.victim):
            self.addCleanup(l.close)
        # The maker's running worker.
        self.w = self.d.host("workers", "w")
        spec = json.dumps({"path": "/bin/sleep", "args": ["60"]})
        out = as_user(MAKER, f'os.mkdir({self.w!r}); out["spec"] = attempt(wr, {self.w + "/spec"!r}, {spec!r})')
        self.assertEqual(out, {"spec": "ok"})
        self.addCleanup(lambda: self.d.alive() and write_quietly(self.w + "/ctl", "kill"))

    def test_a_socket_of_another_user_is_refused_with_eacces_and_words(self):
        out = as_user(MAKER, f"""
out["serve"] = attempt(wr, {self.w + "/ctl"!r}, "serve {self.victim.path}")
out["error"] = rd({self.w + "/error"!r})
""")
        self.assertEqual(out["serve"], "EACCES")
        self.assertIn(f"belongs to uid {self.u2.pw_uid}, not to the worker's user {self.u1.pw_uid}", out["error"])
        self.assertEqual(self.victim.accepted, 0)

    def test_a_symbolic_link_swapped_in_after_the_check_never_takes_the_daemon_to_another_users_socket(self):
        path = os.path.join(self.mine, "9p")
        os.link(self.own.path, path)
        os.chown(path, self.u1.pw_uid, self.u1.pw_gid, follow_symlinks=False)
        pw = pwd.getpwnam(MAKER)
        swapper = subprocess.Popen(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--init-groups",
                                    sys.executable, "-c", SWAPPER, path, self.own.path, self.victim.path, "6"],
                                   cwd="/", stderr=subprocess.PIPE)
        self.addCleanup(lambda: swapper.poll() is None and swapper.kill())
        # The maker asks again and again while the path changes.
        out = as_user(MAKER, f"""
import time
seen = {{}}
end = time.monotonic() + 4
while time.monotonic() < end:
    r = attempt(wr, {self.w + "/ctl"!r}, "serve {path}")
    seen[r] = seen.get(r, 0) + 1
out["seen"] = seen
""", timeout=30)
        _, err = swapper.communicate(timeout=20)
        self.assertEqual(swapper.returncode, 0, err)
        seen = out["seen"]
        # Both shapes of the path were met: the link refused, the socket dialled.
        self.assertGreater(seen.get("EINVAL", 0), 0, seen)
        self.assertGreater(self.own.accepted, 0, seen)
        self.assertEqual(self.victim.accepted, 0, f"the daemon connected to another user's socket; {seen}")
        self.assertEqual(set(seen) - {"ok", "EINVAL", "EBUSY"}, set(), seen)


@needs_root
class ServeAsAUserThroughAPeer(ThroughAPeer, ServeAsAUser):
    """The same `serve` written through h2's mount: h1 checks and connects."""


class LyingPrograms(DaemonTest):
    """A worker's program that lies to its daemon, which reads it as root:
    a listing without end, a read or a walk that gives more than was asked.
    Each open or read fails with its errno; the daemon holds no more than
    its --max-memory for it, gives that back, and serves everyone else."""

    daemon_args = ("--max-memory", str(8 << 20))

    def serve(self, how):
        tmp = tempfile.mkdtemp(prefix="circuit-lying-")
        self.addCleanup(shutil.rmtree, tmp, True)
        srv = LyingServer(os.path.join(tmp, "9p"), how)
        self.addCleanup(srv.close)
        w = self.d.host("workers", "w")
        os.mkdir(w)
        write(w + "/spec", json.dumps({"path": "/bin/sleep", "args": ["60"]}))
        self.addCleanup(lambda: self.d.alive() and write_quietly(w + "/ctl", "kill"))
        write(w + "/ctl", "serve " + srv.sock.getsockname())
        deadline = time.monotonic() + 10
        while "goroutines" not in os.listdir(w):
            self.assertLess(time.monotonic(), deadline, "the program's files never showed")
            time.sleep(0.05)
        return w, srv

    def rss_kib(self):
        with open(f"/proc/{self.d.proc.pid}/status") as f:
            return int(f.read().split("VmRSS:")[1].split()[0])

    def still_serves(self, w):
        """The program's honest files still read, and a message of 6 MiB
        (of the 8 MiB the daemon may hold) still goes through a channel."""
        self.assertEqual(read(w + "/files/x"), b"yyyyy")
        c = self.d.chan("after")
        os.mkdir(c)
        write(c + "/cap", "1")
        big = b"m" * (6 << 20)
        write(c + "/send", big)
        self.assertEqual(read(c + "/recv"), big)

    def test_a_listing_without_end_fails_the_open_with_enomem_past_max_memory_and_gives_it_back(self):
        w, srv = self.serve("endless")
        before = self.rss_kib()
        for _ in range(3):
            self.assertErrno(errno.ENOMEM, os.listdir, w + "/goroutines")
        self.assertGreater(srv.readdirs, 10)
        if not sanitized(self.d.proc.pid):  # ASan keeps freed memory in quarantine
            self.assertLess(self.rss_kib() - before, 64 << 10)  # KiB: the bound, not the server, sets it
        self.still_serves(w)

    def test_a_read_answered_with_more_than_was_asked_fails_with_eio(self):
        w, _ = self.serve("long read")
        fd = os.open(w + "/files/x", os.O_RDONLY)
        try:
            self.assertErrno(errno.EIO, os.read, fd, 100)
        finally:
            os.close(fd)
        # A 9P client of the socket is not given the 101 bytes either.
        c = Client(self.d.sock)
        self.addCleanup(c.close)
        fid = c.open("h1/workers/w/files/x", O_RDONLY)
        r = c.call(Tread(fid, 0, 100))
        self.assertEqual((r.type, getattr(r, "errno", None)), ("lerror", errno.EIO), r)
        self.assertTrue(self.d.alive())

    def test_a_walk_answered_with_more_qids_than_names_fails_with_eio(self):
        w, _ = self.serve("long walk")
        self.assertErrno(errno.EIO, os.stat, w + "/files/x")
        self.assertEqual(os.listdir(w + "/files"), ["x"])
        self.assertTrue(self.d.alive())


class LyingProgramsThroughAPeer(ThroughAPeer, LyingPrograms):
    """The same lies read through h2's mount and socket: h1 refuses them,
    and h2 passes on only h1's refusals."""


def write_quietly(path, data):
    try:
        with open(path, "w") as f:
            f.write(data)
    except OSError:
        pass
