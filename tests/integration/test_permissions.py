"""Who may do what (circuit(4) PERMISSIONS, circuitd(8) --allow-group), with
real users: two members of an allowed group and a stranger, each call made
by a real process running as that user (setpriv). Needs root, as CI is."""
import errno
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

from harness import CIRCUITD, Daemon, DaemonTest, read, write
from through_a_peer import ThroughAPeer

GROUP = "circuit-g"
MAKER, MEMBER, STRANGER = "circuit-u1", "circuit-u2", "circuit-u3"

# Run as another user: prints a JSON object `out` of what each call gave,
# its result or the errno's name.
PRELUDE = r"""
import errno, json, os, sys
def attempt(fn, *a):
    try:
        r = fn(*a)
    except OSError as e:
        return errno.errorcode[e.errno]
    return r if isinstance(r, (str, list)) else "ok"
def rd(p, flags=0):
    fd = os.open(p, os.O_RDONLY | flags)
    try:
        data = b""
        while True:
            b = os.read(fd, 65536)
            if not b:
                return data.decode()
            data += b
    finally:
        os.close(fd)
def wr(p, data, flags=0):
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC | flags)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
out = {}
"""


def run_quiet(argv):
    return subprocess.run(argv, capture_output=True, timeout=30)


def ensure_users():
    """The group and three users, made once; the suite leaves them (they
    own nothing and cannot log in)."""
    if run_quiet(["getent", "group", GROUP]).returncode != 0:
        subprocess.run(["groupadd", GROUP], check=True, capture_output=True)
    for user, member in ((MAKER, True), (MEMBER, True), (STRANGER, False)):
        if run_quiet(["getent", "passwd", user]).returncode != 0:
            argv = ["useradd", "-M", "-s", "/usr/sbin/nologin"] + (["-G", GROUP] if member else [])
            subprocess.run(argv + [user], check=True, capture_output=True)
        elif member:
            subprocess.run(["usermod", "-aG", GROUP, user], check=True, capture_output=True)


def as_user(user, code, timeout=20):
    """Runs python `code` as `user` (their uid, gid and groups) and returns
    its `out`."""
    pw = pwd.getpwnam(user)
    r = subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
                        "--init-groups", sys.executable, "-c", PRELUDE + code + "\nprint(json.dumps(out))"],
                       cwd="/", capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("as %s: %s" % (user, r.stderr.decode()))
    return json.loads(r.stdout)


def elements(folder):
    return sorted(n for n in os.listdir(folder) if n not in ("help", "error"))


def needs_root(cls):
    if os.geteuid() != 0:
        return unittest.skip("needs root: it makes users and runs commands as them")(cls)
    return cls


class PermissionTest(DaemonTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_users()
        cls.gid = grp.getgrnam(GROUP).gr_gid
        cls.u1, cls.u2 = pwd.getpwnam(MAKER), pwd.getpwnam(MEMBER)

    def setUp(self):
        super().setUp()
        os.chmod(self.d.dir, 0o755)  # other users must reach the mount point

    def stranger_is_kept_out(self):
        """Every call of the stranger fails with EACCES, and nothing changed."""
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "1")
        write(self.d.chan("a", "send"), "precious")
        os.mkdir(self.d.host("workers", "new"))
        os.mkdir(self.d.host("workers", "run"))
        write(self.d.host("workers", "run", "spec"), '{"path":"/bin/sleep","args":["30"]}')
        m, h = self.d.mnt, self.d.host()
        out = as_user(STRANGER, f"""
m, h = {m!r}, {h!r}
out["ls"] = attempt(os.listdir, m)
out["ls host"] = attempt(os.listdir, h)
out["stat host"] = attempt(os.stat, h)
out["cat help"] = attempt(rd, m + "/help")
out["cat host stat"] = attempt(rd, h + "/stat")
out["mkdir channel"] = attempt(os.mkdir, h + "/channels/mine")
out["mkdir worker"] = attempt(os.mkdir, h + "/workers/mine")
out["start"] = attempt(wr, h + "/workers/new/spec", '{{"path":"/bin/sh","args":["-c","id"]}}')
out["signal"] = attempt(wr, h + "/workers/run/signal", "KILL")
out["ctl stop worker"] = attempt(wr, h + "/workers/run/ctl", "stop")
out["rmdir"] = attempt(os.rmdir, h + "/channels/a")
out["recv"] = attempt(rd, h + "/channels/a/tryrecv")
out["send"] = attempt(wr, h + "/channels/a/trysend", "x")
out["host ctl stop"] = attempt(wr, h + "/ctl", "stop")
out["access"] = [os.access(h + "/ctl", os.W_OK), os.access(m + "/help", os.R_OK)]
""")
        access = out.pop("access")
        self.assertEqual(out, {k: "EACCES" for k in out})
        self.assertEqual(access, [False, False])
        self.assertTrue(self.d.alive())
        self.assertEqual(json.loads(read(self.d.chan("a", "stat")))["len"], 1)
        self.assertEqual(json.loads(read(self.d.host("workers", "new", "stat")))["state"], "new")
        self.assertEqual(json.loads(read(self.d.host("workers", "run", "stat")))["state"], "running")
        self.assertEqual(elements(self.d.host("workers")), ["new", "run"])
        self.assertEqual(elements(self.d.host("channels")), ["a"])
        self.assertEqual(read(self.d.chan("a", "recv")), b"precious")
        write(self.d.host("workers", "run", "signal"), "KILL")


@needs_root
class DefaultDaemon(PermissionTest):
    """A root daemon without --allow-group: root alone."""

    def test_a_stranger_gets_eacces_on_every_call_and_cannot_make_start_signal_or_stop_anything(self):
        self.stranger_is_kept_out()

    def test_a_user_of_the_daemons_group_is_a_stranger_too(self):
        # Group bits are cleared without --allow-group: root's files are 0400, not 0440.
        self.assertEqual(stat.S_IMODE(os.stat(self.d.path("help")).st_mode), 0o400)
        self.assertEqual(stat.S_IMODE(os.stat(self.d.host("channels")).st_mode), 0o1700)
        out = as_user(MAKER, f'out["ls"] = attempt(os.listdir, {self.d.host()!r})')
        self.assertEqual(out, {"ls": "EACCES"})


@needs_root
class AllowedGroup(PermissionTest):
    """A root daemon with --allow-group: the maker, a member, a stranger."""

    daemon_args = ("--allow-group", GROUP)
    core_only = False  # the kernel refuses first: nothing reaches `error`

    def make(self, kind, name, user=MAKER):
        out = as_user(user, f'out["mkdir"] = attempt(os.mkdir, {self.d.host(kind, name)!r})')
        self.assertEqual(out, {"mkdir": "ok"})
        return self.d.host(kind, name)

    def start(self, worker, script, user=MAKER):
        spec = json.dumps({"path": "/bin/sh", "args": ["-c", script]})
        out = as_user(user, f'out["spec"] = attempt(wr, {worker + "/spec"!r}, {spec!r})')
        self.assertEqual(out, {"spec": "ok"})

    def test_a_stranger_gets_eacces_on_every_call_and_cannot_make_start_signal_or_stop_anything(self):
        self.stranger_is_kept_out()

    def test_an_element_belongs_to_its_maker_in_stat_and_as_the_owner_of_its_files(self):
        c = self.make("channels", "c")
        w = self.make("workers", "w")
        for path in (c, w):
            st = json.loads(read(os.path.join(path, "stat")))
            self.assertEqual((st["uid"], st["gid"]), (self.u1.pw_uid, self.u1.pw_gid))
            for name in [""] + os.listdir(path):
                s = os.stat(os.path.join(path, name))
                self.assertEqual((s.st_uid, s.st_gid), (self.u1.pw_uid, self.gid), name)
        modes = {n: stat.S_IMODE(os.stat(os.path.join(c, n)).st_mode) for n in os.listdir(c)}
        self.assertEqual(modes, {"help": 0o440, "error": 0o440, "cap": 0o640, "send": 0o220, "trysend": 0o220,
                                 "recv": 0o440, "tryrecv": 0o440, "close": 0o220, "lease": 0o200, "stat": 0o440})
        modes = {n: stat.S_IMODE(os.stat(os.path.join(w, n)).st_mode) for n in os.listdir(w)}
        self.assertEqual(modes, {"help": 0o440, "error": 0o440, "spec": 0o600, "stdin": 0o200,
                                 "stdout": 0o400, "stderr": 0o400, "wait": 0o440, "trywait": 0o440,
                                 "result": 0o640, "lease": 0o200, "signal": 0o200, "ctl": 0o200, "stat": 0o440})
        self.assertEqual(stat.S_IMODE(os.stat(c).st_mode), 0o550)
        self.assertEqual(stat.S_IMODE(os.stat(self.d.host("workers")).st_mode), 0o1770)
        h = os.stat(self.d.host("ctl"))
        self.assertEqual((h.st_uid, h.st_gid, stat.S_IMODE(h.st_mode)), (0, self.gid, 0o200))

    def test_a_members_worker_runs_as_that_member_with_their_groups(self):
        w = self.make("workers", "me")
        self.start(w, "id -u; id -g; id -G")
        out = as_user(MAKER, f'out["stdout"] = attempt(rd, {w + "/stdout"!r}); '
                             f'out["wait"] = attempt(rd, {w + "/wait"!r})')
        self.assertEqual(out["wait"], '{"exit":0}\n')
        uid, gid, groups = out["stdout"].splitlines()
        self.assertEqual((int(uid), int(gid)), (self.u1.pw_uid, self.u1.pw_gid))
        self.assertIn(str(self.gid), groups.split())

    def test_a_second_member_sends_receives_and_closes_on_the_first_members_channel(self):
        c = self.make("channels", "shared")
        self.assertEqual(as_user(MAKER, f'out["cap"] = attempt(wr, {c + "/cap"!r}, "1")'), {"cap": "ok"})
        out = as_user(MEMBER, f"""
c = {c!r}
out["send"] = attempt(wr, c + "/send", "from u2")
out["cap"] = attempt(wr, c + "/cap", "5")
out["cap error"] = rd(c + "/error")
out["rmdir"] = attempt(os.rmdir, c)
out["rmdir error"] = rd(c + "/../error")
""")
        self.assertEqual(out["send"], "ok")
        self.assertEqual(out["cap"], "EACCES")
        self.assertEqual(out["rmdir"], "EPERM")
        if self.core_only:
            self.assertEqual(out["cap error"], "%s/cap: permission denied: only its owner (uid %d) and root may "
                                               "write it\n" % (c[len(self.d.mnt):], self.u1.pw_uid))
            self.assertEqual(out["rmdir error"], "rmdir: /h1/channels/shared: only its maker (uid %d) and "
                                                 "root may remove it\n" % self.u1.pw_uid)
        out = as_user(MAKER, f'out["recv"] = attempt(rd, {c + "/recv"!r}); '
                             f'out["send"] = attempt(wr, {c + "/send"!r}, "from u1")')
        self.assertEqual(out, {"recv": "from u2", "send": "ok"})
        out = as_user(MEMBER, f"""
c = {c!r}
out["recv"] = attempt(rd, c + "/recv")
out["close"] = attempt(wr, c + "/close", "close")
out["stat"] = json.loads(rd(c + "/stat"))["closed"]
""")
        self.assertEqual(out, {"recv": "from u1", "close": "ok", "stat": True})
        self.assertEqual(elements(self.d.host("channels")), ["shared"])

    def test_a_users_error_words_are_not_another_users_in_the_same_unix_session(self):
        """Both run in this test's session (setpriv keeps it), as su or
        sudo from one terminal do: the error file keys words by session
        and uid, so the member reads none of the maker's."""
        c = self.make("channels", "words")
        out = as_user(MAKER, f'out["cap"] = attempt(wr, {c + "/cap"!r}, "abc"); out["error"] = rd({c + "/error"!r})')
        self.assertEqual(out, {"cap": "EINVAL", "error": 'cap: "abc" is not a number\n'})
        self.assertEqual(as_user(MEMBER, f'out["error"] = rd({c + "/error"!r})'), {"error": ""})

    def test_a_second_member_reads_stat_and_wait_of_the_first_members_worker_and_nothing_else(self):
        w = self.make("workers", "job")
        self.start(w, "echo out; echo err >&2; exec sleep 30")
        out = as_user(MEMBER, f"""
w = {w!r}
out["stat"] = json.loads(rd(w + "/stat"))["state"]
out["help"] = attempt(rd, w + "/help")[:9]
out["trywait"] = attempt(rd, w + "/trywait")
out["wait nonblocking"] = attempt(rd, w + "/wait", os.O_NONBLOCK)
for f in ("stdout", "stderr", "spec"):
    out["read " + f] = attempt(rd, w + "/" + f)
for f, data in (("spec", '{{"path":"/bin/true"}}'), ("stdin", "x"), ("signal", "KILL"), ("ctl", "stop")):
    out["write " + f] = attempt(wr, w + "/" + f, data)
out["error"] = rd(w + "/error")
out["rmdir"] = attempt(os.rmdir, w)
""")
        self.assertEqual(out.pop("stat"), "running")
        self.assertEqual(out.pop("help"), "A worker:")
        self.assertEqual(out.pop("trywait"), "EAGAIN")
        self.assertEqual(out.pop("wait nonblocking"), "EAGAIN")
        self.assertEqual(out.pop("rmdir"), "EPERM")
        error = out.pop("error")
        if self.core_only:
            self.assertEqual(error, "%s/ctl: permission denied: only its owner (uid %d) and root may write it\n"
                             % (w[len(self.d.mnt):], self.u1.pw_uid))
        self.assertEqual(out, {k: "EACCES" for k in out})
        self.assertEqual(json.loads(read(os.path.join(w, "stat")))["state"], "running")
        out = as_user(MAKER, f'out["signal"] = attempt(wr, {w + "/signal"!r}, "KILL")')
        self.assertEqual(out, {"signal": "ok"})
        out = as_user(MEMBER, f'out["wait"] = attempt(rd, {w + "/wait"!r})')
        self.assertEqual(out, {"wait": '{"signal":"KILL"}\n'})
        out = as_user(MAKER, f'out["stdout"] = attempt(rd, {w + "/stdout"!r}); '
                             f'out["stderr"] = attempt(rd, {w + "/stderr"!r}); '
                             f'out["rmdir"] = attempt(os.rmdir, {w!r})')
        self.assertEqual(out, {"stdout": "out\n", "stderr": "err\n", "rmdir": "ok"})

    def test_a_member_cannot_stop_the_daemon_or_change_the_host(self):
        h = self.d.host()
        out = as_user(MAKER, f"""
h = {h!r}
out["stop"] = attempt(wr, h + "/ctl", "stop")
out["max-message"] = attempt(wr, h + "/ctl", "max-message 5")
out["mkdir in host"] = attempt(os.mkdir, h + "/x")
out["stat"] = json.loads(rd(h + "/stat"))["max_message"]
""")
        self.assertEqual(out, {"stop": "EACCES", "max-message": "EACCES", "mkdir in host": "EACCES",
                               "stat": 64 << 20})
        self.assertTrue(self.d.alive())

    # What `[ -r ]` and `[ -w ]` say, per user: (readable, writable) names.
    CHANNEL = {MAKER: ("help error cap recv tryrecv stat", "cap send trysend close lease"),
               MEMBER: ("help error cap recv tryrecv stat", "send trysend close")}
    WORKER = {MAKER: ("help error spec stdout stderr wait trywait result stat", "spec stdin result lease signal ctl"),
              MEMBER: ("help error wait trywait result stat", "")}
    HOST = {MAKER: ("help error stat", ""), MEMBER: ("help error stat", "")}

    def test_test_r_and_test_w_tell_each_user_the_truth(self):
        c = self.make("channels", "c")
        w = self.make("workers", "w")
        h = self.d.host()
        files = {p: sorted(n for n in os.listdir(p) if not os.path.isdir(os.path.join(p, n))) for p in (c, w, h)}
        dirs = [c, w, h, self.d.host("channels"), self.d.host("workers")]
        code = "files, dirs = %r, %r\n" % (files, dirs) + """
for p, names in files.items():
    for n in names:
        f = os.path.join(p, n)
        t = lambda flag: os.system("[ %s %s ] 2>/dev/null" % (flag, f)) == 0
        out[f] = [t("-r"), t("-w"), os.access(f, os.R_OK), os.access(f, os.W_OK)]
out["dirs"] = [os.access(d, os.W_OK) for d in dirs]
"""
        for user in (MAKER, MEMBER, STRANGER):
            got = as_user(user, code)
            for path, table in ((c, self.CHANNEL), (w, self.WORKER), (h, self.HOST)):
                readable, writable = table.get(user, ("", ""))
                for n in files[path]:
                    want = [n in readable.split(), n in writable.split()]
                    self.assertEqual(got[os.path.join(path, n)], want * 2, (user, path, n))
            # Members make elements in channels/ and workers/, nowhere else.
            member = user != STRANGER
            self.assertEqual(got["dirs"], [False, False, False, member, member], user)

    def test_root_may_do_everything_with_a_members_elements(self):
        c = self.make("channels", "c")
        w = self.make("workers", "w")
        self.start(w, "echo hi; exec sleep 30")
        write(os.path.join(c, "cap"), "1")
        write(os.path.join(c, "send"), "root")
        self.assertEqual(read(os.path.join(c, "recv")), b"root")
        self.assertIn(b"sleep 30", read(os.path.join(w, "spec")))
        # The output first: a KILL sent before the shell ran echo would
        # leave nothing to read.
        fd = os.open(os.path.join(w, "stdout"), os.O_RDONLY)
        try:
            self.assertEqual(os.read(fd, 100), b"hi\n")
            write(os.path.join(w, "signal"), "KILL")
            self.assertEqual(read(os.path.join(w, "wait")), b'{"signal":"KILL"}\n')
            self.assertEqual(os.read(fd, 100), b"")
        finally:
            os.close(fd)
        os.rmdir(c)
        os.rmdir(w)
        self.assertEqual(elements(self.d.host("workers")) + elements(self.d.host("channels")), [])


@needs_root
class AllowedGroupCoreOnly(AllowedGroup):
    """The same, with the kernel's check off: the core alone decides, the
    same way, and says why in `error`."""

    daemon_args = ("--allow-group", GROUP, "--no-kernel-checks")
    core_only = True


@needs_root
class AllowedGroupThroughAPeer(ThroughAPeer, AllowedGroup):
    """The same users on h1's files through h2's mount: h2 forwards each
    caller's uid, h1 applies its rules to it, and h2 keeps a stranger out
    as well."""


@needs_root
class AllowedGroupCoreOnlyThroughAPeer(ThroughAPeer, AllowedGroupCoreOnly):
    """The same without the kernel's checks: `test -r` and `test -w` on
    h1's files through h2 judge h1's attributes, asked for as the caller."""


class ThroughAMount:
    """Daemon a's mount of daemon b's socket (host ctl `mount`), seen as if
    it were b's own mount: the host's files are a's /NAME/NAME."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.mnt, self.dir, self.name = a.mnt, a.dir, b.name
        self.b_stopped = False  # by the test's cleanup, which may come first

    def path(self, *parts):
        return self.a.path(*parts)

    def host(self, *parts):
        return self.a.path(self.b.name, self.b.name, *parts)

    def chan(self, name, *parts):
        return self.host("channels", name, *parts)

    def alive(self):
        return self.a.alive() and (self.b_stopped or self.b.alive())

    def log(self):
        return self.a.log() + ("" if self.b_stopped else self.b.log())


@needs_root
class AllowedGroupThroughAMount(AllowedGroup):
    """The same users, every call made through daemon h1's mount of daemon
    h2's socket (issue 7 item 7): h1 forwards each caller's uid in its
    attach, and h2 applies its own rules to that principal. A stranger is
    kept out by both."""

    def setUp(self):
        super().setUp()
        self.b = Daemon(name="h2", args=self.daemon_args)
        self.addCleanup(self.stop_b)
        write(self.d.host("ctl"), "mount %s h2\n" % self.b.sock)
        self.d = ThroughAMount(self.d, self.b)

    def stop_b(self):
        if not self.b.alive():
            self.fail("circuitd h2 died during the test:\n" + self.b.log())
        self.d.b_stopped = True
        self.b.cleanup()

    def test_what_a_member_makes_through_the_mount_is_theirs_on_the_server(self):
        c = self.make("channels", "c")
        st = json.loads(read(self.b.chan("c", "stat")))
        self.assertEqual((st["uid"], st["gid"]), (self.u1.pw_uid, self.u1.pw_gid))
        self.assertEqual(elements(self.d.a.host("channels")), [])  # nothing was made on h1
        self.assertTrue(os.path.isdir(c))


@needs_root
class NotRoot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_users()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="circuit-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.bin = os.path.join(self.dir, "circuitd")
        shutil.copy(CIRCUITD, self.bin)  # the build tree may be closed to others
        os.chmod(self.bin, 0o755)
        os.mkdir(os.path.join(self.dir, "mnt"))

    def test_a_daemon_that_is_not_root_refuses_allow_group_before_it_mounts(self):
        pw = pwd.getpwnam(MAKER)
        r = subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--init-groups",
                            self.bin, "--name", "h1", "--mount", os.path.join(self.dir, "mnt"),
                            "--allow-group", GROUP], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), "circuitd: --allow-group %s needs circuitd to run as root: a daemon "
                         "that is not root cannot run workers as their makers\n" % GROUP)
        with open("/proc/self/mounts") as f:
            self.assertNotIn(os.path.join(self.dir, "mnt"), f.read())

    def test_a_group_that_does_not_exist_is_refused(self):
        r = subprocess.run([self.bin, "--allow-group", "no-such-group-here"], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), 'circuitd: --allow-group: no group named "no-such-group-here" '
                                            "(give a group name or number)\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
