"""The faces a suite can run through: the FUSE mount and the 9P socket.

A face does what the channel and worker suites do to the daemon's files,
with paths from the root ("h1/channels/a/send"):

    f.read(path, nonblock=False) -> bytes   open, read to the end, close
    f.write(path, data)                     open, write, close (commits)
    f.mkdir(path), f.rmdir(path), f.ls(path), f.exists(path)
    f.open_write(path) -> w                 w.write(data), w.close(): a send kept open
    f.open_read(path) -> r                  r.read(n), r.close()
    Background(f, d, op, path, data, hold)  a separate process doing one "read" or
                                            "write" (face_op.py): a caller that may
                                            park, be interrupted or be killed
Failures raise OSError with the errno, through either face.

The mount face is the kernel's: os.open and friends on the mount. The
socket face is a 9P2000.L session on circuitd's socket (ninep.py, the
tests' own client, until the project's `circuit` command lands): one
connection for the test's own calls — one session, as the test process
is one caller on the mount, so the `error` file it reads is its own —
and one per background process. A background caller over the socket is
the project's `circuit` command (cat, write: a session of its own, parked,
interrupted or killed as a shell user's would be), except one that must
die holding its open (hold=), which face_op.py plays with ninep.

The test's own calls stay ninep's: the open files and the error text of
the test's own session need a session that outlives one command.
"""
import errno
import json
import os
import signal
import subprocess
import sys

import harness
import ninep

HERE = os.path.dirname(os.path.abspath(__file__))
CIRCUIT = os.environ.get("CIRCUIT", os.path.join(HERE, "../../build/circuit"))
ERRNO_BY_WORDS = {os.strerror(e): name for e, name in errno.errorcode.items()}


class MountFace:
    name = "mount"

    def __init__(self, d):
        self.d = d

    def p(self, path):
        return os.path.join(self.d.mnt, path)

    def read(self, path, nonblock=False):
        fd = os.open(self.p(path), os.O_RDONLY | (os.O_NONBLOCK if nonblock else 0))
        try:
            out = b""
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    return out
                out += b
        finally:
            os.close(fd)

    def write(self, path, data):
        w = self.open_write(path)
        harness.write_then_close(lambda: w.write(data), w.close)

    def mkdir(self, path):
        os.mkdir(self.p(path))

    def rmdir(self, path):
        os.rmdir(self.p(path))

    def ls(self, path):
        return os.listdir(self.p(path))

    def exists(self, path):
        return os.path.exists(self.p(path))

    def open_write(self, path):
        return MountFile(os.open(self.p(path), os.O_WRONLY | os.O_TRUNC))

    def open_read(self, path):
        return MountFile(os.open(self.p(path), os.O_RDONLY))

    def close(self):
        pass


class MountFile:
    def __init__(self, fd):
        self.fd = fd

    def write(self, data):
        return os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def read(self, n):
        return os.read(self.fd, n)

    def close(self):
        os.close(self.fd)


class SocketFace:
    name = "socket"

    def __init__(self, d):
        self.d = d
        self.c = ninep.Client(d.sock, msize=1 << 20)

    def read(self, path, nonblock=False):
        return self.c.read_file(path, ninep.O_NONBLOCK if nonblock else ninep.O_RDONLY)

    def write(self, path, data):
        self.c.write_file(path, data)

    def mkdir(self, path):
        self.c.mkdir(path)

    def rmdir(self, path):
        self.c.rmdir(path)

    def ls(self, path):
        return self.c.listdir(path)

    def exists(self, path):
        try:
            self.c.call(ninep.Tclunk(self.c.walk(path)))
            return True
        except OSError:
            return False

    def open_write(self, path):
        return SocketFile(self.c, self.c.open(path, ninep.O_WRONLY))

    def open_read(self, path):
        return SocketFile(self.c, self.c.open(path, ninep.O_RDONLY))

    def close(self):
        self.c.close()


class SocketFile:
    """An open fid; close is clunk, which commits, as close(2) does."""

    def __init__(self, c, fid):
        self.c, self.fid, self.off = c, fid, 0

    def write(self, data):
        """One Twrite of at most what fits in msize; returns what it took."""
        data = data.encode() if isinstance(data, str) else data
        n = self.c.ok(ninep.Twrite(self.fid, self.off, bytes(data[:self.c.msize - 23]))).count
        self.off += n
        return n

    def read(self, n):
        data = self.c.ok(ninep.Tread(self.fid, self.off, n)).data
        self.off += len(data)
        return data

    def close(self):
        self.c.ok(ninep.Tclunk(self.fid))


FACES = {"mount": MountFace, "socket": SocketFace}


class Background:
    """A process doing one operation through a face (face_op.py). It dies
    of SIGINT and SIGKILL as cat does; `result()` is ("ok", bytes read) or
    (errno name, b"")."""

    def __init__(self, face, d, op, path, data=None, hold=None):
        data = data.encode() if isinstance(data, str) else data
        self.command = face.name == "socket" and not hold
        if self.command:
            # The project's client: `circuit cat` or `circuit write`, one
            # session of its own, as a shell user runs it.
            argv = [CIRCUIT, "--socket", d.sock, "cat" if op == "read" else "write", "/" + path]
        else:
            where = d.sock if face.name == "socket" else d.mnt
            argv = [sys.executable, os.path.join(HERE, "face_op.py"), face.name, where, op, path]
            if data is not None:
                argv.append(data.hex())
            if hold:
                argv.append("--hold-" + hold)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        if self.command:
            self.p.stdin.write(data or b"")
        self.p.stdin.close()
        self.p.stdin = None  # communicate() must not flush it

    def result(self, timeout=5):
        out, err = self.p.communicate(timeout=timeout)
        if self.p.returncode < 0:
            return "signal %d" % -self.p.returncode, err
        if self.command:
            if self.p.returncode == 0:
                return "ok", out
            # "circuit: VERB PATH: errno words": the errno's name.
            words = err.decode().splitlines()[0].rsplit(": ", 1)[-1] if err else ""
            return ERRNO_BY_WORDS.get(words, "exit %d: %s" % (self.p.returncode, err.decode())), b""
        if self.p.returncode != 0:
            return "exit %d" % self.p.returncode, err
        r = json.loads(out)
        return r["status"], bytes.fromhex(r["data"])

    def readline(self):
        return self.p.stdout.readline()

    def signal(self, sig):
        self.p.send_signal(sig)

    def poll(self):
        return self.p.poll()

    def reap(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        for s in (self.p.stdout, self.p.stderr):
            s.close()


class FaceTest:
    """A mixin for a DaemonTest that runs through a face: `face` names it,
    `self.f` is it. A suite runs twice with a subclass that sets
    face = "socket"; `mount_only` names the tests that run on the mount
    alone, each with why."""

    face = "mount"
    mount_only = {}

    def setUp(self):
        why = self.mount_only.get(self._testMethodName)
        if self.face != "mount" and why:
            self.skipTest("mount only: " + why)
        super().setUp()
        self.f = FACES[self.face](self.d)
        self.addCleanup(self.f.close)

    def bg(self, op, path, data=None, hold=None):
        b = Background(self.f, self.d, op, path, data, hold)
        self.addCleanup(b.reap)
        return b

    def parked(self, op, chan, data=None):
        """A background read of chan's recv or write to its send, once it
        waits in the channel."""
        key = "receivers_waiting" if op == "read" else "senders_waiting"
        before = self.stat(chan)[key]
        b = self.bg(op, "h1/channels/%s/%s" % (chan, "recv" if op == "read" else "send"), data)
        self.wait_for(lambda: self.stat(chan)[key] == before + 1, "the %s of %s to park" % (op, chan))
        return b
