"""Test harness: real circuitd daemons on private FUSE mounts.

Each test gets its own daemon, mounted in a fresh temporary directory, and
loses it at the end whatever happened: the daemon is stopped (SIGTERM, then
SIGKILL) and the mount is detached. A per-test alarm turns a hang into a
failure with a traceback instead of a CI timeout.
"""
import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

CIRCUITD = os.environ.get("CIRCUITD", os.path.join(os.path.dirname(__file__), "../../build/circuitd"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PREFIX = "circuit-test-"


def mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def sweep_stale_mounts():
    """Detaches test mounts whose daemon died before cleanup (a killed run);
    live mounts of other runs are left alone."""
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1]
            if PREFIX not in mnt or not line.startswith("circuit"):
                continue
            try:
                os.stat(mnt)
            except OSError as e:
                if e.errno == errno.ENOTCONN:
                    subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)


def die_with_test():
    """In a daemon, before its exec: SIGTERM (it unmounts and leaves) when
    the test process dies, by SIGKILL too (a ctest timeout), so a killed
    run leaves no daemon behind. A daemon started as another user keeps
    none (a change of uid clears it); its mount is swept by the next run."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def default_sigint():
    """Children get SIGINT back at its default, so Ctrl-C can be simulated."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def premount(mnt, user):
    """Mounts a FUSE file system at `mnt` for a daemon that runs as `user`
    and returns the /dev/fuse descriptor to hand it (--mount /dev/fd/N).
    A daemon that is not root cannot open /dev/fuse where it is 0600, as
    here; a privileged parent opens and mounts it instead (libfuse takes
    /dev/fd/N as a mount made for it)."""
    import pwd
    pw = pwd.getpwnam(user)
    os.chown(mnt, pw.pw_uid, pw.pw_gid)
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = "fd=%d,rootmode=40000,user_id=%d,group_id=%d,allow_other,default_permissions" % (
        fd, pw.pw_uid, pw.pw_gid)
    r = subprocess.run(["mount", "-i", "-t", "fuse.circuit", "-o", opts, "circuit", mnt],
                       pass_fds=[fd], capture_output=True)
    if r.returncode != 0:
        os.close(fd)
        raise RuntimeError("mount for %s failed: %s" % (user, r.stderr.decode()))
    return fd, ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--clear-groups"]


class Daemon:
    def __init__(self, name="h1", args=(), user=None, netns=None):
        """A daemon as root, or as `user` (on a mount made for it); in
        network namespace `netns` (its mount stays in ours) if given."""
        self.name = name
        self.user = user
        self.netns = netns
        self.dir = tempfile.mkdtemp(prefix=PREFIX)
        self.mnt = os.path.join(self.dir, "mnt")
        os.mkdir(self.mnt)
        if user:  # the daemon's user must reach its mount point and make its socket
            import pwd
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o755)
        self.log_path = os.path.join(self.dir, "circuitd.log")
        # Each daemon its own socket: the default (/run/circuit/NAME.sock)
        # would be shared by the daemons of suites that run at once.
        self.sock = os.path.join(self.dir, "sock")
        self.store = os.path.join(self.dir, "store")
        self.proc = None
        self.start(args)

    def start(self, args=()):
        fd, prefix, mount = None, [], self.mnt
        if self.netns:
            prefix = ["nsenter", "--net=/run/netns/" + self.netns]
        if self.user:
            fd, prefix = premount(self.mnt, self.user)
            mount = "/dev/fd/%d" % fd
        with open(self.log_path, "a") as log:
            sock = [] if "--socket" in args else ["--socket", self.sock]
            # and its own store, for the same reason
            store = [] if "--store" in args else ["--store", self.store]
            self.proc = subprocess.Popen([*prefix, CIRCUITD, "--name", self.name, "--mount", mount, *sock, *store,
                                          *args],
                                         stdout=log, stderr=log, start_new_session=True,
                                         pass_fds=[fd] if fd is not None else [], preexec_fn=die_with_test)
        if fd is not None:
            os.close(fd)
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(self.mnt, "help")):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("circuitd did not start:\n" + self.log())
            time.sleep(0.02)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    @property
    def owner_sock(self):
        """The socket of the daemon that owns the files (through_a_peer.py)."""
        return self.sock

    def host(self, *parts):
        return os.path.join(self.mnt, self.name, *parts)

    def chan(self, name, *parts):
        return os.path.join(self.mnt, self.name, "channels", name, *parts)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        graceful = False
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                graceful = self.proc.wait(5) == 0
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True)
        self.check_ops(graceful)

    def check_ops(self, graceful):
        """Every request the daemon took was answered exactly once: each of
        its stops logged "ops: issued N completed N" with equal counts."""
        counts = re.findall(r"ops: issued (\d+) completed (\d+)", self.log())
        if graceful and not counts:
            raise AssertionError("circuitd stopped without logging its op counts:\n" + self.log())
        for issued, completed in counts:
            if issued != completed:
                raise AssertionError("circuitd left ops uncompleted (issued %s, completed %s):\n%s"
                                     % (issued, completed, self.log()))

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def pids_whose_cmdline(match):
    """Pids of the processes whose command line (NUL-separated bytes) makes
    match(cmdline) true; processes that go meanwhile are passed over."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % e, "rb") as f:
                if match(f.read()):
                    out.append(int(e))
        except OSError:
            pass
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, append=False):
    """Opens, writes, closes; the errno of a failure is the exception's."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
    write_then_close(lambda: os.write(fd, data), lambda: os.close(fd))


def write_then_close(write, close):
    """After a refused write the write's errno is the one raised, as a
    shell reports it; the close of that open may fail too (nothing was
    kept), and says so in `error`."""
    try:
        write()
    except OSError:
        try:
            close()
        except OSError:
            pass
        raise
    close()


def close_quietly(fd):
    """Closes `fd`; a close that fails (an open whose write was refused
    keeps nothing, and its close says so) is not the caller's error."""
    try:
        os.close(fd)
    except OSError:
        pass


@contextlib.contextmanager
def opened(path, flags, mode=0o644):
    """os.open's descriptor for a with block, closed quietly at its end."""
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        close_quietly(fd)


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


class Alarm(Exception):
    pass


def arm_alarm(test):
    """Fails `test` (Alarm) once its `timeout` seconds have passed."""
    def on_alarm(*_):
        raise Alarm("test took longer than %ds" % test.timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(test.timeout)
    test.addCleanup(signal.alarm, 0)


def wait_until(cond, what, timeout=20):
    """Polls cond() until it holds; `what` (or what()) names it on failure."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("gave up waiting for " + (what() if callable(what) else what))
        time.sleep(0.05)


def members(d):
    """{name: state} from a daemon's members file."""
    out = {}
    for line in read(d.path("members")).decode().splitlines():
        name, _id, _address, state = line.split()
        out[name] = state
    return out


def make_class_key(cls):
    """A cluster key for test class `cls` (cls.key), gone with the class."""
    cls.keydir = tempfile.mkdtemp(prefix="circuit-key-")
    cls.addClassCleanup(shutil.rmtree, cls.keydir, True)
    cls.key = os.path.join(cls.keydir, "key")
    subprocess.run([CIRCUITD, "keygen", cls.key], check=True, capture_output=True)


class ClusterKeyTest(unittest.TestCase):
    """Tests of several members: `cls.key`, a cluster key made for the
    class, and `timeout` seconds per test."""

    timeout = 90

    @classmethod
    def setUpClass(cls):
        sweep_stale_mounts()
        make_class_key(cls)

    def setUp(self):
        arm_alarm(self)


class DaemonTest(unittest.TestCase):
    """A test with one daemon, `self.d`; `timeout` seconds per test."""

    timeout = 60
    daemon_args = ()
    daemon_user = None  # run the daemon as this user (harness.premount)
    # On the daemon's own mount. Through another member's (through_a_peer.py,
    # circuit(4) Other members), 9P having no close: close(2) returns 0,
    # what a close does on the owner is done at the last one, and a remote
    # receiver's message is received at a read past its end; and that
    # kernel keeps an entry of the owner's for up to a second.
    close_repeats_refusal = True
    close_acts_on_owner = True
    received_at_last_byte = True
    removal_seen_at_once = True

    @classmethod
    def setUpClass(cls):
        sweep_stale_mounts()

    def setUp(self):
        arm_alarm(self)
        self.d = self.start_daemon()
        self.addCleanup(self.check_daemon_alive)

    def start_daemon(self):
        """The daemon the test works on (through_a_peer.py serves it
        through another member)."""
        d = Daemon(args=self.daemon_args, user=self.daemon_user)
        self.addCleanup(d.cleanup)
        return d

    def check_daemon_alive(self):
        if not self.d.alive():
            self.fail("circuitd died during the test:\n" + self.d.log())

    def sh(self, script, timeout=20, new_session=False, check=True):
        """Runs a real sh in the mount's host directory."""
        cmd = ["setsid", "-w", "sh", "-c", script] if new_session else ["sh", "-c", script]
        r = subprocess.run(cmd, cwd=self.d.host(), capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            self.fail("sh -c %r failed (%d): %s" % (script, r.returncode, r.stderr.decode()))
        return r

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, cwd=self.d.host(), preexec_fn=default_sigint, **kw)
        self.addCleanup(self.reap, p)
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait(5)
        for stream in (p.stdin, p.stdout, p.stderr):
            if stream:
                stream.close()

    def mkchan(self, name, cap=None):
        """Makes channel `name`, with buffer `cap` if given."""
        os.mkdir(self.d.chan(name))
        if cap is not None:
            write(self.d.chan(name, "cap"), "%d\n" % cap)

    def parked_receiver(self, chan, **popen_args):
        """A real `cat` of channel `chan`'s recv, once it waits in the channel."""
        before = self.stat(chan)["receivers_waiting"]
        p = self.spawn(["cat", "channels/%s/recv" % chan], **popen_args)
        self.wait_for(lambda: self.stat(chan)["receivers_waiting"] == before + 1,
                      "the receiver of %s to park" % chan)
        return p

    def stat(self, chan):
        import json
        return json.loads(read(self.d.chan(chan, "stat")))

    def wait_for(self, cond, what, timeout=5):
        deadline = time.time() + timeout
        while not cond():
            if time.time() > deadline:
                self.fail("gave up waiting for " + what)
            time.sleep(0.01)

    def error_text(self, *parts):
        return read(self.d.path(*parts)).decode()

    def assertErrno(self, expected, fn, *args):
        got = errno_of(fn, *args)
        self.assertEqual(got, expected, "expected %s, got %s" % (
            errno.errorcode.get(expected, expected), errno.errorcode.get(got, got)))
