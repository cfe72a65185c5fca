"""A worker's `serve SOCKET` (circuit(4) WORKERS) asked by a user who is not
root: circuitd connects as root, so only to a socket of the worker's own
user, and a path that changes under it must not take it elsewhere. Real
users (setpriv), real sockets; needs root, as CI is."""
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


def write_quietly(path, data):
    try:
        with open(path, "w") as f:
            f.write(data)
    except OSError:
        pass
