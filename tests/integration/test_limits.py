"""Bounds a user of the daemon cannot pass (circuitd(8) --max-fids,
--max-elements): a member of the allowed group who walks without end is
refused with ENOMEM and words, over all their sessions, and gets room back
as fids go; one who makes elements without end is refused with EDQUOT and
words, and gets room back as they are removed; root is not bounded. Real
users (setpriv) on the daemon's socket and mount. Needs root."""
import json
import os
import pwd
import subprocess
import sys

import ninep
from test_cluster import UsersClusterTest
from test_permissions import GROUP, MAKER, MEMBER, PermissionTest, as_user, needs_root

BOUND = 20

# Run as MAKER: walks clones of the root until refused, on two sessions.
WALKER = r"""
import errno, json, sys, time
sys.path.insert(0, sys.argv[-1])
import ninep
out = {}
def clones(c, first, n):
    made = 0
    try:
        for fid in range(first, first + n):
            c.ok(ninep.Twalk(0, fid, []))
            made += 1
    except OSError as e:
        return made, errno.errorcode[e.errno]
    return made, None
one = ninep.Client(sys.argv[1])  # its attach is a fid too
out["one"] = clones(one, 1, 100)
one.call(ninep.Tclunk(1))  # room for the read of error
out["error"] = one.read_file("error").decode()
two = ninep.Client(sys.argv[1])  # the last place: its attach
out["two"] = clones(two, 1, 5)
one.close()  # its session ends: its fids go, once the daemon has seen the end
deadline = time.time() + 20
while clones(two, 1, 1)[0] == 0 and time.time() < deadline:
    time.sleep(0.02)
two.call(ninep.Tclunk(1))
out["two after"] = clones(two, 1, 5)
print(json.dumps(out))
"""


def run_as_maker(code, *args):
    """Runs python `code` as MAKER with `args` (ninep importable); its JSON."""
    pw = pwd.getpwnam(MAKER)
    r = subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--init-groups",
                        sys.executable, "-c", code, *args, os.path.dirname(os.path.abspath(ninep.__file__))],
                       capture_output=True, timeout=30, text=True, cwd="/")
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return json.loads(r.stdout)


@needs_root
class FidBound(PermissionTest):
    daemon_args = ("--allow-group", GROUP, "--max-fids", str(BOUND))

    def test_a_user_who_walks_without_end_is_refused_with_enomem_and_words_then_gets_room_back(self):
        pw = pwd.getpwnam(MAKER)
        out = run_as_maker(WALKER, self.d.sock)
        self.assertEqual(out["one"], [BOUND - 1, "ENOMEM"])
        self.assertEqual(out["error"], "fids: uid %d holds %d walked files here, the most one user may "
                                       "(circuitd --max-fids); close files, or end the sessions that hold them\n"
                         % (pw.pw_uid, BOUND))
        self.assertEqual(out["two"], [0, "ENOMEM"])  # the bound is the user's, over sessions
        self.assertEqual(out["two after"], [5, None])
        self.assertIn("fids: uid %d holds" % pw.pw_uid, self.d.log())

    def test_root_is_not_bounded(self):
        c = ninep.Client(self.d.sock)
        self.addCleanup(c.close)
        for fid in range(1, 3 * BOUND):
            c.ok(ninep.Twalk(0, fid, []))

    def test_the_mount_is_not_bounded_the_kernel_bounds_its_inodes(self):
        chans = self.d.host("channels")
        out = as_user(MAKER, f"""
for i in range({2 * BOUND}):
    os.mkdir(os.path.join({chans!r}, "c%d" % i))
out["stats"] = sum(len(os.listdir(os.path.join({chans!r}, "c%d" % i))) for i in range({2 * BOUND}))
for i in range({2 * BOUND}):
    for name in os.listdir(os.path.join({chans!r}, "c%d" % i)):
        os.stat(os.path.join({chans!r}, "c%d" % i, name))
""")
        self.assertGreater(out["stats"], 4 * BOUND)


# Run as MAKER on h2's socket: walks to h1 without end.
ACROSS = r"""
import errno, json, sys
sys.path.insert(0, sys.argv[-1])
import ninep
c = ninep.Client(sys.argv[1])
made, short = 0, None
for fid in range(1, 100):
    r = c.ok(ninep.Twalk(0, fid, ["h1", "channels"]))
    if len(r.qids) < 2:  # stopped at h1: 9P's partial walk, no fid made
        short = len(r.qids)
        break
    made += 1
c.call(ninep.Tclunk(1))
print(json.dumps({"made": made, "short": short, "error": c.read_file("h1/error").decode()}))
"""


@needs_root
class FidBoundAcrossMembers(UsersClusterTest):
    """h1 counts the fids h2's link holds for a user against that user."""

    def member(self, i, extra=()):
        return super().member(i, tuple(extra) + (("--max-fids", str(BOUND)) if i == 0 else ()))

    def test_a_users_walks_through_a_member_count_on_the_owner_and_stop_there_with_enomem(self):
        out = run_as_maker(ACROSS, self.d[1].sock)
        # h1 holds the attach h2 made for this caller, then one fid per
        # walk; the next stops at h1's directory on h2 (a partial walk).
        self.assertEqual((out["made"], out["short"]), (BOUND - 1, 1))
        self.assertIn("fids: uid %d holds %d walked files here" % (pwd.getpwnam(MAKER).pw_uid, BOUND), out["error"])


ELEMENTS = 5

# Run as MAKER: makes channels (and a worker) in `h` until refused.
MAKE = r"""
h = {h!r}
made = []
for i in range({n}):
    r = attempt(os.mkdir, h + "/channels/c%d" % i)
    if r != "ok":
        out["refused"] = r
        break
    made.append(i)
out["made"] = len(made)
out["error"] = rd(h + "/channels/error")
out["worker"] = attempt(os.mkdir, h + "/workers/w")
"""


@needs_root
class ElementBound(PermissionTest):
    daemon_args = ("--allow-group", GROUP, "--max-elements", str(ELEMENTS))

    def test_a_user_who_makes_elements_without_end_is_refused_with_edquot_and_words_then_gets_room_back(self):
        h = self.d.host()
        out = as_user(MAKER, MAKE.format(h=h, n=3 * ELEMENTS))
        self.assertEqual((out["made"], out["refused"], out["worker"]), (ELEMENTS, "EDQUOT", "EDQUOT"))
        self.assertIn("mkdir: /h1/channels: uid %d has made %d elements here, the most one user may "
                      "(circuitd --max-elements); remove some" % (pwd.getpwnam(MAKER).pw_uid, ELEMENTS), out["error"])
        # The bound is each user's: another member and root make theirs.
        self.assertEqual(as_user(MEMBER, f'out["m"] = attempt(os.mkdir, {h + "/channels/m"!r})'), {"m": "ok"})
        for i in range(3 * ELEMENTS):
            os.mkdir(os.path.join(h, "channels", "root%d" % i))
        # A removed element gives its place back at once, even while a file
        # of it is still open (kept open across rmdir).
        out = as_user(MAKER, f"""
h = {h!r}
fd = os.open(h + "/channels/c0/stat", os.O_RDONLY)
out["rmdir"] = attempt(os.rmdir, h + "/channels/c0")
out["again"] = attempt(os.mkdir, h + "/channels/again")
out["next"] = attempt(os.mkdir, h + "/channels/next")
os.close(fd)
""")
        self.assertEqual(out, {"rmdir": "ok", "again": "ok", "next": "EDQUOT"})


@needs_root
class ElementBoundAcrossMembers(UsersClusterTest):
    """h1 counts the elements a user makes through h2 against that user."""

    def member(self, i, extra=()):
        return super().member(i, tuple(extra) + (("--max-elements", str(ELEMENTS)) if i == 0 else ()))

    def test_a_users_mkdirs_through_a_member_count_on_the_owner_and_stop_there_with_edquot(self):
        out = as_user(MAKER, MAKE.format(h=self.at(1, "h1"), n=3 * ELEMENTS))
        self.assertEqual((out["made"], out["refused"], out["worker"]), (ELEMENTS, "EDQUOT", "EDQUOT"))
        self.assertIn("the most one user may (circuitd --max-elements)", out["error"])
        # Nothing was counted on h2, whose own channels the user still makes.
        self.assertEqual(as_user(MAKER, f'out["h2"] = attempt(os.mkdir, {self.at(1, "h2", "channels", "x")!r})'),
                         {"h2": "ok"})
