"""The socket face: 9P2000.L on circuitd's Unix socket (circuitd(8)
--socket, circuit-wire(7)), spoken by diod's tools and by raw frames
(ninep.py), politely and adversarially."""
import errno
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

import ninep
from harness import CIRCUITD, Daemon, DaemonTest, read, write
from ninep import (NOTAG, O_RDONLY, O_WRONLY, Client, Conn, Tattach, Tauth, Tclunk, Tflush, Tfsync,
                   Tlopen, Tread, Tremove, Tversion, Twalk, Twrite, frame)


def daemon_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SocketTest(DaemonTest):
    def client(self, **kw):
        c = Client(self.d.sock, **kw)
        self.addCleanup(c.close)
        return c

    def conn(self):
        c = Conn(self.d.sock)
        self.addCleanup(c.close)
        return c

    def chan_stat(self, name):
        return json.loads(read(self.d.chan(name, "stat")))


class DiodInterop(SocketTest):
    """diod's clients, which nobody here wrote, list and read circuit's files."""

    def diod(self, *argv):
        r = subprocess.run(list(argv), capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return r.stdout

    def test_diodls_lists_the_host_directory(self):
        out = self.diod("diodls", "-s", self.d.sock, "/h1").decode().split()
        self.assertEqual(sorted(out), sorted(os.listdir(self.d.host())))

    def test_diodls_long_lists_directories_and_files_with_their_modes(self):
        lines = self.diod("diodls", "-l", "-s", self.d.sock, "/h1").decode().splitlines()
        kinds = {l.split()[-1]: l[0] for l in lines if l.strip()}
        self.assertEqual(kinds["channels"], "d")
        self.assertEqual(kinds["workers"], "d")
        self.assertEqual(kinds["stat"], "-")

    def test_diodcat_reads_the_hosts_stat_and_the_roots_help(self):
        self.assertEqual(json.loads(self.diod("diodcat", "-s", self.d.sock, "/h1/stat"))["name"],
                         json.loads(read(self.d.host("stat")))["name"])
        self.assertEqual(self.diod("diodcat", "-s", self.d.sock, "/help"), read(self.d.path("help")))

    def test_a_message_sent_through_the_mount_comes_out_of_diodcat_of_recv(self):
        self.mkchan("a", 1)
        write(self.d.chan("a", "send"), "through the mount\n")
        self.assertEqual(self.diod("diodcat", "-s", self.d.sock, "/h1/channels/a/recv"), b"through the mount\n")
        self.assertEqual(self.chan_stat("a")["received"], 1)


class Negotiation(SocketTest):
    def test_msize_is_capped_at_one_mebibyte(self):
        c = self.conn()
        c.send(NOTAG, Tversion(16 << 20))
        r = c.recv()
        self.assertEqual((r.type, r.tag, r.msize, r.version), ("version", NOTAG, 1 << 20, "9P2000.L"))

    def test_a_smaller_msize_is_taken_as_asked(self):
        c = self.conn()
        c.send(NOTAG, Tversion(8192))
        self.assertEqual(c.recv().msize, 8192)

    def test_an_unknown_version_is_answered_unknown_and_nothing_else_is_served(self):
        c = self.conn()
        c.send(NOTAG, Tversion(65536, "9P2000"))
        r = c.recv()
        self.assertEqual((r.type, r.version), ("version", "unknown"))
        c.send(1, Tattach(0))
        r = c.recv()
        self.assertEqual((r.type, r.tag, r.errno), ("lerror", 1, errno.EINVAL))

    def test_a_version_with_a_newline_and_terminal_controls_is_one_line_of_the_log(self):
        # Any local user may connect and send Tversion: what it names must
        # not become a line of the daemon's own, nor rewrite one on a
        # terminal that follows the log (a carriage return, erase-line).
        c = self.conn()
        c.send(NOTAG, Tversion(65536, "x\n2026-12-01T11:00:00.000 circuitd[h1]: FORGED\r\x1b[2K"))
        self.assertEqual(c.recv().version, "unknown")
        self.wait_for(lambda: "is not 9P2000.L" in self.d.log(), "the complaint to be logged")
        lines = self.d.log().splitlines()
        self.assertEqual([l for l in lines if l.startswith("2026-12-01T11:00:00.000") or "\r" in l or "\x1b" in l],
                         [])
        self.assertTrue(any('"x\\x0a2026-12-01T11:00:00.000 circuitd[h1]: FORGED\\x0d\\x1b[2K"' in l
                            for l in lines), lines)

    def test_tauth_is_refused_with_enoent(self):
        c = self.client(attach=False)
        r = c.call(Tauth(7, "root", "ctl"))
        self.assertEqual((r.type, r.errno), ("lerror", errno.ENOENT))

    def test_any_attach_name_attaches_at_the_root(self):
        for aname in ("", "ctl", "/", "/h1/channels", "nonsense"):
            c = self.client(aname=aname)
            self.assertEqual(sorted(c.listdir("")), sorted(os.listdir(self.d.mnt)), aname)

    def test_a_second_tversion_aborts_what_the_first_session_held(self):
        self.mkchan("a")
        c = self.client()
        fid = c.walk("h1/channels/a/recv")
        c.send(50, Tlopen(fid, O_RDONLY))
        self.wait_for(lambda: self.chan_stat("a")["receivers_waiting"] == 1, "the lopen to park")
        r = c.call(Tversion(65536), tag=NOTAG)
        self.assertEqual(r.type, "version")  # the parked lopen is not answered
        self.assertEqual(self.chan_stat("a")["receivers_waiting"], 0)


class Pipelining(SocketTest):
    def test_walk_lopen_write_clunk_in_one_write_deliver_one_message_and_every_tag_is_answered(self):
        self.mkchan("a", 1)
        c = self.client()
        names = ["h1", "channels", "a", "send"]
        batch = b"".join(frame(m[0], tag, m[1]) for m, tag in [
            (Twalk(0, 9, names), 11), (Tlopen(9, O_WRONLY), 12),
            (Twrite(9, 0, b"pipelined"), 13), (Tclunk(9), 14)])
        c.send_raw(batch)
        replies = {}
        for _ in range(4):
            r = c.recv()
            replies[r.tag] = r
        self.assertEqual({t: r.type for t, r in replies.items()},
                         {11: "walk", 12: "lopen", 13: "write", 14: "clunk"})
        self.assertEqual(len(replies[11].qids), 4)
        self.assertEqual(replies[13].count, 9)
        self.assertEqual(read(self.d.chan("a", "recv")), b"pipelined")
        self.assertEqual(self.chan_stat("a")["sent"], 1)


class Flush(SocketTest):
    def test_a_blocking_lopen_of_recv_parks_and_its_flush_answers_eintr_then_rflush(self):
        self.mkchan("a")
        c = self.client()
        fid = c.walk("h1/channels/a/recv")
        c.send(20, Tlopen(fid, O_RDONLY))
        self.wait_for(lambda: self.chan_stat("a")["receivers_waiting"] == 1, "the lopen to park")
        c.send(21, Tflush(20))
        first, second = c.recv(), c.recv()
        self.assertEqual((first.type, first.tag, first.errno), ("lerror", 20, errno.EINTR))
        self.assertEqual((second.type, second.tag), ("flush", 21))
        self.assertEqual(self.chan_stat("a")["receivers_waiting"], 0)
        # The fid was never opened: it clunks, and nothing was taken.
        self.assertEqual(c.call(Tclunk(fid)).type, "clunk")

    def test_flush_of_an_unknown_tag_answers_rflush(self):
        c = self.client()
        r = c.call(Tflush(777))
        self.assertEqual(r.type, "flush")

    def test_a_parked_lopen_answered_by_a_send_is_not_interrupted(self):
        self.mkchan("a")
        c = self.client()
        fid = c.walk("h1/channels/a/recv")
        c.send(20, Tlopen(fid, O_RDONLY))
        self.wait_for(lambda: self.chan_stat("a")["receivers_waiting"] == 1, "the lopen to park")
        write(self.d.chan("a", "send"), "m")
        self.assertEqual(c.recv().type, "lopen")
        self.assertEqual(c.read_all(fid), b"m")
        c.ok(Tclunk(fid))


class DroppedConnections(SocketTest):
    def test_a_connection_closed_mid_receive_gives_the_message_back_whole(self):
        self.mkchan("a", 2)
        write(self.d.chan("a", "send"), "0123456789")
        write(self.d.chan("a", "send"), "second")
        c = Client(self.d.sock)
        fid = c.open("h1/channels/a/recv", O_RDONLY)
        self.assertEqual(c.ok(Tread(fid, 0, 4)).data, b"0123")
        c.close()
        self.wait_for(lambda: self.chan_stat("a")["len"] == 2, "the message to go back")
        self.assertEqual(read(self.d.chan("a", "recv")), b"0123456789")
        self.assertEqual(read(self.d.chan("a", "recv")), b"second")
        self.assertEqual(self.chan_stat("a")["received"], 2)

    def test_a_connection_closed_between_write_and_clunk_delivers_nothing_and_releases_the_place(self):
        self.mkchan("a", 1)
        c = Client(self.d.sock)
        fid = c.open("h1/channels/a/send", O_WRONLY)
        self.assertEqual(c.ok(Twrite(fid, 0, b"never")).count, 5)
        self.assertEqual(self.chan_stat("a")["reserved"], 1)  # the open took the buffer's one place
        c.close()
        self.wait_for(lambda: self.chan_stat("a")["reserved"] == 0, "the place to be released")
        st = self.chan_stat("a")
        self.assertEqual((st["len"], st["sent"]), (0, 0))
        # The place is free: a trysend fits in the buffer of one.
        write(self.d.chan("a", "trysend"), "after")
        self.assertEqual(read(self.d.chan("a", "recv")), b"after")

    def test_a_sigkilled_client_with_a_parked_request_leaves_no_receiver_waiting(self):
        self.mkchan("a")
        code = ("import sys; sys.path.insert(0, %r); import ninep, time\n"
                "c = ninep.Client(%r); f = c.walk('h1/channels/a/recv')\n"
                "c.send(5, ninep.Tlopen(f, 0)); print('sent', flush=True); time.sleep(60)\n"
                % (os.path.dirname(os.path.abspath(ninep.__file__)), self.d.sock))
        p = self.spawn([sys.executable, "-c", code], stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"sent\n")
        self.wait_for(lambda: self.chan_stat("a")["receivers_waiting"] == 1, "the lopen to park")
        p.send_signal(signal.SIGKILL)
        p.wait(5)
        self.wait_for(lambda: self.chan_stat("a")["receivers_waiting"] == 0, "the parked lopen to go")
        self.assertEqual(self.chan_stat("a")["received"], 0)


class Commit(SocketTest):
    def test_clunk_of_an_open_send_delivers(self):
        self.mkchan("a", 1)
        c = self.client()
        fid = c.open("h1/channels/a/send", O_WRONLY)
        c.ok(Twrite(fid, 0, b"by clunk"))
        self.assertEqual(self.chan_stat("a")["len"], 0)
        c.ok(Tclunk(fid))
        self.assertEqual(self.chan_stat("a")["len"], 1)
        self.assertEqual(read(self.d.chan("a", "recv")), b"by clunk")

    def test_tremove_of_an_open_send_aborts_it_and_nothing_is_delivered(self):
        self.mkchan("a", 1)
        c = self.client()
        fid = c.open("h1/channels/a/send", O_WRONLY)
        c.ok(Twrite(fid, 0, b"aborted"))
        self.assertEqual(c.call(Tremove(fid)).type, "remove")
        st = self.chan_stat("a")
        self.assertEqual((st["len"], st["sent"]), (0, 0))
        self.assertTrue(os.path.isdir(self.d.chan("a")))  # the file and channel stay
        # The fid is gone.
        self.assertEqual(c.call(Tclunk(fid)).type, "lerror")

    def test_fsync_delivers_at_once_and_the_fid_stays_open(self):
        self.mkchan("a", 1)
        c = self.client()
        fid = c.open("h1/channels/a/send", O_WRONLY)
        c.ok(Twrite(fid, 0, b"synced"))
        self.assertEqual(c.ok(Tfsync(fid)).type, "fsync")
        self.assertEqual(self.chan_stat("a")["len"], 1)
        self.assertEqual(read(self.d.chan("a", "recv")), b"synced")
        c.call(Tclunk(fid))
        self.assertEqual(self.chan_stat("a")["sent"], 1)  # the clunk sent nothing more


class ErrorText(SocketTest):
    def test_the_error_file_on_the_same_connection_says_what_failed_and_another_connection_does_not_see_it(self):
        self.mkchan("a")
        c, other = self.client(), self.client()
        with self.assertRaises(OSError) as e:
            c.read_file("h1/channels/a/tryrecv")
        self.assertEqual(e.exception.errno, errno.EAGAIN)
        self.assertIn("tryrecv: channel /h1/channels/a is empty", c.read_file("h1/channels/a/error").decode())
        self.assertNotIn("tryrecv", other.read_file("h1/channels/a/error").decode())
        self.assertNotIn("tryrecv", read(self.d.chan("a", "error")).decode())

    def test_renames_links_symlinks_and_special_files_are_refused_with_eperm_and_words(self):
        self.mkchan("a")
        files = sorted(os.listdir(self.d.chan("a")))
        c = self.client()
        d = c.walk("h1/channels/a")
        send = c.walk("h1/channels/a/send")
        for what, name, call in (("rename", "send", ninep.Trenameat(d, "send", d, "s2")),
                                 ("link", "s3", ninep.Tlink(d, send, "s3")),
                                 ("symlink", "s4", ninep.Tsymlink(d, "s4", "send")),
                                 ("create", "s5", ninep.Tmknod(d, "s5", 0o10644))):
            with self.subTest(what=what):
                r = c.call(call)
                self.assertEqual((r.type, r.errno), ("lerror", errno.EPERM))
                self.assertIn("%s: %s: /h1/channels/a has a fixed set of files" % (what, name),
                              c.read_file("h1/channels/a/error").decode())
        self.assertEqual(sorted(os.listdir(self.d.chan("a"))), files)


class Malformed(SocketTest):
    def expect_einval_or_close(self, c, data, tag):
        """Sends `data`; the daemon answers Rlerror(EINVAL) under `tag`, or
        closes the connection. Returns which."""
        c.send_raw(data)
        try:
            r = c.recv()
        except (EOFError, ConnectionResetError):
            return "closed"
        self.assertEqual((r.type, r.tag, r.errno), ("lerror", tag, errno.EINVAL))
        return "einval"

    def test_a_size_shorter_than_a_header_closes_the_connection(self):
        c = self.client()
        self.assertEqual(self.expect_einval_or_close(c, struct.pack("<IBH", 3, 110, 1), 1), "closed")

    def test_a_size_over_msize_closes_the_connection(self):
        c = self.client(msize=8192)
        self.assertEqual(self.expect_einval_or_close(c, struct.pack("<IBH", 9000, 118, 1) + b"x" * 8993, 1),
                         "closed")

    def test_a_size_longer_than_the_body_needs_is_einval(self):
        c = self.client()
        data = frame(ninep.T["clunk"], 3, struct.pack("<I", 0) + b"extra")
        self.assertEqual(self.expect_einval_or_close(c, data, 3), "einval")

    def test_a_truncated_body_is_einval(self):
        c = self.client()
        data = frame(ninep.T["walk"], 4, struct.pack("<IIH", 0, 1, 2) + ninep.s("h1"))
        self.assertEqual(self.expect_einval_or_close(c, data, 4), "einval")

    def test_an_unknown_type_is_einval_and_a_valid_unserved_type_is_eopnotsupp(self):
        c = self.client()
        self.assertEqual(self.expect_einval_or_close(c, frame(250, 5, b"zzzz"), 5), "einval")
        r = c.call((30, struct.pack("<II", 0, 1) + ninep.s("x")))  # Txattrwalk
        self.assertEqual((r.type, r.errno), ("lerror", errno.EOPNOTSUPP))

    def test_a_walk_of_seventeen_names_is_einval(self):
        c = self.client()
        r = c.call(Twalk(0, 1, ["."] * 17))
        self.assertEqual((r.type, r.errno), ("lerror", errno.EINVAL))
        self.assertEqual(len(c.ok(Twalk(0, 1, ["."] * 16)).qids), 16)

    def test_the_connection_goes_on_after_an_einval(self):
        c = self.client()
        self.expect_einval_or_close(c, frame(250, 5), 5)
        self.assertIn("h1", c.listdir(""))

    def test_a_thousand_malformed_frames_leave_the_daemon_serving_the_mount_and_the_socket(self):
        import random
        rng = random.Random(7)
        closed = einval = 0
        c = None
        for i in range(1000):
            if c is None:
                c = Client(self.d.sock)
            kind = i % 5
            tag = i % 1000 + 1
            if kind == 0:  # garbage bytes
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
            elif kind == 1:  # a size that lies low
                data = struct.pack("<IBH", rng.randrange(0, 7), 110, tag)
            elif kind == 2:  # a truncated walk
                data = frame(ninep.T["walk"], tag, struct.pack("<IIH", 0, 1, 3) + ninep.s("h1")[:rng.randrange(1, 4)])
            elif kind == 3:  # an unknown type
                data = frame(rng.choice([0, 1, 99, 200, 255]), tag, b"\0" * rng.randrange(8))
            else:  # a string whose length runs off the frame
                data = frame(ninep.T["walk"], tag, struct.pack("<IIHH", 0, 1, 1, 60000) + b"abc")
            c.send_raw(data)
            if kind == 0:
                # Garbage may give a size that waits for more: the end of
                # the client's writes ends that wait.
                c.sock.shutdown(socket.SHUT_WR)
            try:
                r = c.recv()
                self.assertEqual(r.type, "lerror")
                einval += 1
                if kind == 0:  # garbage may have left bytes: start afresh
                    c.close()
                    c = None
            except (EOFError, ConnectionResetError, BrokenPipeError):
                closed += 1
                c.close()
                c = None
        if c:
            c.close()
        self.assertTrue(self.d.alive())
        self.assertGreater(einval, 0)
        self.assertGreater(closed, 0)
        self.assertIn("h1", os.listdir(self.d.mnt))
        self.assertIn("h1", self.client().listdir(""))


class SocketPath(SocketTest):
    def other_daemon(self, *args):
        d = Daemon(name="h2", args=args)
        self.addCleanup(d.cleanup)
        return d

    def test_a_second_daemon_on_the_same_socket_is_refused_with_the_reason(self):
        mnt = os.path.join(self.d.dir, "mnt2")
        os.mkdir(mnt)
        r = subprocess.run([CIRCUITD, "--name", "h2", "--mount", mnt, "--socket", self.d.sock, "--store", "none"],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(), "circuitd: --socket %s: another circuitd is serving there; "
                         "give this one another --name or --socket\n" % self.d.sock)
        self.assertIn("h1", self.client().listdir(""))  # the first goes on

    def test_a_stale_socket_file_is_replaced(self):
        stale = os.path.join(self.d.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()  # the file stays, with nobody listening
        d = self.other_daemon("--socket", stale)
        c = Client(stale)
        self.addCleanup(c.close)
        self.assertIn("h2", c.listdir(""))
        self.assertTrue(d.alive())

    def test_socket_none_serves_no_socket_and_help_does_not_name_one(self):
        d = self.other_daemon("--socket", "none")
        self.assertFalse(os.path.exists(d.sock))
        self.assertNotIn(b"Unix socket", read(d.path("help")))

    def test_the_socket_is_removed_when_the_daemon_stops(self):
        d = self.other_daemon()
        self.assertTrue(os.path.exists(d.sock))
        d.stop()
        self.assertFalse(os.path.exists(d.sock))

    def test_the_roots_help_names_the_socket(self):
        self.assertIn("The same tree is served as 9P2000.L on the Unix socket %s\n" % self.d.sock,
                      read(self.d.path("help")).decode())


# --- the same rules on every face (circuit(4) PERMISSIONS) -----------------

from test_permissions import GROUP, MAKER, MEMBER, STRANGER, PermissionTest, as_user, needs_root  # noqa: E402

# As another user, through the socket: `attach(n_uname)` versions and
# attaches a fresh connection; rd, wr, mk, rm name paths from the root.
SOCKET_PRELUDE = r"""
import sys
sys.path.insert(0, {here!r})
import ninep
c = None
def attach(n_uname=ninep.NOFID):
    global c
    c = ninep.Client({sock!r}, attach=False)
    r = c.call(ninep.Tattach(0, "", "", n_uname))
    return errno.errorcode[r.errno] if r.type == "lerror" else "ok"
def sattempt(fn, *a):
    try:
        r = fn(*a)
    except OSError as e:
        return errno.errorcode[e.errno]
    return r.decode() if isinstance(r, bytes) else r if isinstance(r, (str, list)) else "ok"
rd = lambda p: c.read_file(p)
wr = lambda p, data: c.write_file(p, data)
mk = lambda p: c.mkdir(p)
rm = lambda p: c.rmdir(p)
ls = lambda p: c.listdir(p)
"""


class SocketPermissionTest(PermissionTest):
    def as_user_on_socket(self, user, code):
        here = os.path.dirname(os.path.abspath(ninep.__file__))
        return as_user(user, SOCKET_PRELUDE.format(here=here, sock=self.d.sock) + code)


@needs_root
class SocketDefaultDaemon(SocketPermissionTest):
    def test_a_stranger_and_a_group_member_are_refused_at_attach_without_allow_group(self):
        for user in (STRANGER, MAKER):
            out = self.as_user_on_socket(user, 'out["attach"] = attach()\n'
                                               'out["attach as root"] = attach(0)\n')
            self.assertEqual(out, {"attach": "EACCES", "attach as root": "EACCES"}, user)
        self.assertTrue(self.d.alive())


@needs_root
class SocketAllowedGroup(SocketPermissionTest):
    daemon_args = ("--allow-group", GROUP)

    def test_a_stranger_is_refused_at_attach_whatever_uid_it_names(self):
        self.mkchan("a", 1)
        write(self.d.chan("a", "send"), "precious")
        out = self.as_user_on_socket(STRANGER, 'out["attach"] = attach()\n'
                                               'out["attach as root"] = attach(0)\n'
                                               'out["attach as a member"] = attach(%d)\n' % self.u1.pw_uid)
        self.assertEqual(out, {k: "EACCES" for k in out})
        self.assertEqual(self.chan_stat_len("a"), 1)

    def chan_stat_len(self, name):
        return json.loads(read(self.d.chan(name, "stat")))["len"]

    def test_a_member_sends_and_receives_on_another_members_channel_but_may_not_change_or_remove_it(self):
        out = self.as_user_on_socket(MAKER, 'attach()\nout["mkdir"] = sattempt(mk, "h1/channels/shared")\n'
                                            'out["cap"] = sattempt(wr, "h1/channels/shared/cap", "1")\n')
        self.assertEqual(out, {"mkdir": "ok", "cap": "ok"})
        st = json.loads(read(self.d.chan("shared", "stat")))
        self.assertEqual((st["uid"], st["gid"]), (self.u1.pw_uid, self.u1.pw_gid))
        out = self.as_user_on_socket(MEMBER, """
out["attach"] = attach()
c_ = "h1/channels/shared/"
out["send"] = sattempt(wr, c_ + "send", "from u2")
out["cap"] = sattempt(wr, c_ + "cap", "5")
out["cap error"] = sattempt(rd, c_ + "error")
out["rmdir"] = sattempt(rm, "h1/channels/shared")
out["recv"] = sattempt(rd, c_ + "recv")
""")
        self.assertEqual(out, {"attach": "ok", "send": "ok", "cap": "EACCES", "rmdir": "EPERM", "recv": "from u2",
                               "cap error": "/h1/channels/shared/cap: permission denied: only its owner (uid %d) "
                                            "and root may write it\n" % self.u1.pw_uid})

    def test_a_member_may_not_signal_stop_or_feed_another_members_worker(self):
        os.mkdir(self.d.host("workers", "job"))
        out = self.as_user_on_socket(MAKER, 'attach()\nout["mkdir"] = sattempt(mk, "h1/workers/mine")\n'
                                            'out["spec"] = sattempt(wr, "h1/workers/mine/spec", '
                                            '\'{"path":"/bin/sleep","args":["30"]}\')\n')
        self.assertEqual(out, {"mkdir": "ok", "spec": "ok"})
        out = self.as_user_on_socket(MEMBER, """
attach()
w = "h1/workers/mine/"
out["state"] = json.loads(rd(w + "stat"))["state"]
for f, data in (("spec", '{"path":"/bin/true"}'), ("stdin", "x"), ("signal", "KILL"), ("ctl", "stop")):
    out["write " + f] = sattempt(wr, w + f, data)
out["rmdir"] = sattempt(rm, "h1/workers/mine")
""")
        self.assertEqual(out.pop("state"), "running")
        self.assertEqual(out.pop("rmdir"), "EPERM")
        self.assertEqual(out, {k: "EACCES" for k in out})
        self.assertEqual(json.loads(read(self.d.host("workers", "mine", "stat")))["state"], "running")
        write(self.d.host("workers", "mine", "signal"), "KILL")

    def test_the_uid_in_tattach_is_ignored_for_a_peer_that_is_not_root(self):
        out = self.as_user_on_socket(MEMBER, 'out["attach"] = attach(%d)\n'
                                             'out["mkdir"] = sattempt(mk, "h1/channels/who")\n' % self.u1.pw_uid)
        self.assertEqual(out, {"attach": "ok", "mkdir": "ok"})
        st = json.loads(read(self.d.chan("who", "stat")))
        self.assertEqual(st["uid"], self.u2.pw_uid)

    def test_root_may_attach_as_a_member_and_then_acts_as_that_member(self):
        c = Client(self.d.sock, n_uname=self.u1.pw_uid)
        self.addCleanup(c.close)
        c.mkdir("h1/channels/made-for-u1")
        st = json.loads(read(self.d.chan("made-for-u1", "stat")))
        self.assertEqual((st["uid"], st["gid"]), (self.u1.pw_uid, self.u1.pw_gid))
        # As that member, root may not change the host.
        with self.assertRaises(OSError) as e:
            c.write_file("h1/ctl", "stop")
        self.assertEqual(e.exception.errno, errno.EACCES)
        # Nor may it act as a stranger: the stranger is refused at attach.
        r = Client(self.d.sock, attach=False)
        self.addCleanup(r.close)
        self.assertEqual(r.call(Tattach(0, "", "", pwd_uid(STRANGER))).errno, errno.EACCES)
        self.assertTrue(self.d.alive())


def pwd_uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid
