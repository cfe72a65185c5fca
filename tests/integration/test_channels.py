"""Channels through a real mount and through the socket: sends, receives,
close, Ctrl-C, dying receivers, concurrency, and hostile input (circuit(4),
CHANNELS). Each class runs on both faces (faces.py); the tests that only
the mount can run are listed in Channels.mount_only, with why."""
import errno
import json
import multiprocessing
import os
import signal
import subprocess
import time
import unittest

from faces import FACES, FaceTest
from harness import DaemonTest, errno_of, read, write
from through_a_peer import ThroughAPeer


def ch(name, *parts):
    """A channel's path from the root, as a face names it."""
    return "/".join(("h1", "channels", name) + parts)


class Channels(FaceTest, DaemonTest):
    """Through the mount; ChannelsOverSocket runs the same through the socket."""

    mount_only = {
        "test_truncating_and_appending_redirections_both_send":
            "O_TRUNC and O_APPEND are the kernel's open flags, which 9P's lopen does not carry",
        "test_a_shells_failed_trysend_says_resource_temporarily_unavailable":
            "the words are sh's, for an errno the kernel gave it",
    }

    def mkchan(self, name, cap=None):
        self.f.mkdir(ch(name))
        if cap is not None:
            self.f.write(ch(name, "cap"), "%d\n" % cap)

    def test_mkdir_makes_a_channel_with_every_file_and_rmdir_removes_it(self):
        self.mkchan("a")
        self.assertEqual(sorted(self.f.ls(ch("a"))),
                         sorted(["help", "error", "cap", "send", "recv", "trysend", "tryrecv", "close", "lease", "stat"]))
        self.assertEqual(self.f.read(ch("a", "cap")), b"0\n")
        self.assertIn("a", self.f.ls("h1/channels"))
        self.f.rmdir(ch("a"))
        self.assertNotIn("a", self.f.ls("h1/channels"))
        self.assertFalse(self.f.exists(ch("a")))

    def test_cap_zero_is_a_rendezvous_the_sender_waits_for_a_receiver(self):
        self.mkchan("a")
        sender = self.parked("write", "a", "hello\n")
        self.assertIsNone(sender.poll())
        self.assertEqual(self.f.read(ch("a", "recv")), b"hello\n")
        self.assertEqual(sender.result(), ("ok", b""))
        st = self.stat("a")
        self.assertEqual((st["sent"], st["received"], st["len"]), (1, 1, 0))

    def test_cap_zero_receiver_waits_for_a_sender(self):
        self.mkchan("a")
        receiver = self.parked("read", "a")
        self.f.write(ch("a", "send"), "ping\n")
        self.assertEqual(receiver.result(), ("ok", b"ping\n"))

    def test_cap_n_buffers_n_messages_then_senders_wait(self):
        self.mkchan("a", 3)
        for i in range(3):
            self.f.write(ch("a", "send"), "m%d\n" % i)
        self.assertEqual(self.stat("a")["len"], 3)
        self.assertErrno(errno.EAGAIN, self.f.write, ch("a", "trysend"), "x")
        blocked = self.parked("write", "a", "m3\n")
        self.assertEqual(self.f.read(ch("a", "recv")), b"m0\n")
        self.assertEqual(blocked.result(), ("ok", b""))
        got = [self.f.read(ch("a", "recv")) for _ in range(3)]
        self.assertEqual(got, [b"m1\n", b"m2\n", b"m3\n"])

    def test_messages_come_out_in_the_order_they_went_in(self):
        self.mkchan("a", 100)
        for i in range(100):
            self.f.write(ch("a", "send"), "message %d" % i)
        self.assertEqual([self.f.read(ch("a", "recv")) for _ in range(100)],
                         [b"message %d" % i for i in range(100)])

    def test_truncating_and_appending_redirections_both_send(self):
        self.mkchan("a", 2)
        self.sh("echo one > channels/a/send && echo two >> channels/a/send")
        r = self.sh("cat channels/a/recv channels/a/recv")
        self.assertEqual(r.stdout, b"one\ntwo\n")

    def test_a_message_is_what_was_written_between_open_and_close(self):
        self.mkchan("a", 1)
        w = self.f.open_write(ch("a", "send"))
        for part in ("line1\n", "line2\n", "no newline"):
            w.write(part)
        w.close()
        self.assertEqual(self.f.read(ch("a", "recv")), b"line1\nline2\nno newline")

    def test_an_empty_message_is_a_message(self):
        self.mkchan("a", 1)
        self.f.open_write(ch("a", "send")).close()
        self.assertEqual(self.stat("a")["len"], 1)
        self.assertEqual(self.f.read(ch("a", "recv")), b"")
        self.assertEqual(self.stat("a")["received"], 1)

    def test_binary_data_of_a_mebibyte_goes_through_whole(self):
        self.mkchan("a", 1)
        data = bytes(range(256)) * 4096  # 1 MiB, every byte value
        self.f.write(ch("a", "send"), data)
        self.assertEqual(self.f.read(ch("a", "recv")), data)

    def test_try_operations_fail_with_eagain_and_say_why(self):
        self.mkchan("a")
        self.assertErrno(errno.EAGAIN, self.f.read, ch("a", "tryrecv"))
        self.assertIn("tryrecv: channel /h1/channels/a is empty", self.f.read(ch("a", "error")).decode())
        self.assertErrno(errno.EAGAIN, self.f.write, ch("a", "trysend"), "x")
        self.assertIn("no waiting receiver", self.f.read(ch("a", "error")).decode())
        # O_NONBLOCK on recv is tryrecv.
        self.assertErrno(errno.EAGAIN, self.f.read, ch("a", "recv"), True)
        st = self.stat("a")
        self.assertEqual((st["sent"], st["senders_waiting"], st["receivers_waiting"]), (0, 0, 0))

    def test_a_shells_failed_trysend_says_resource_temporarily_unavailable(self):
        self.mkchan("a")
        r = self.sh("echo x > channels/a/trysend", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"Resource temporarily unavailable", r.stderr)

    def test_trysend_succeeds_when_a_receiver_waits(self):
        self.mkchan("a")
        receiver = self.parked("read", "a")
        self.f.write(ch("a", "trysend"), "now")
        self.assertEqual(receiver.result(), ("ok", b"now"))

    def test_close_drains_the_buffer_then_receives_fail_with_epipe(self):
        self.mkchan("a", 2)
        self.f.write(ch("a", "send"), "x")
        self.f.write(ch("a", "send"), "y")
        self.f.write(ch("a", "close"), "close\n")
        self.assertErrno(errno.EPIPE, self.f.write, ch("a", "send"), "z")
        self.assertIn("is closed", self.f.read(ch("a", "error")).decode())
        self.assertEqual(self.f.read(ch("a", "recv")), b"x")
        self.assertEqual(self.f.read(ch("a", "recv")), b"y")
        self.assertErrno(errno.EPIPE, self.f.read, ch("a", "recv"))
        self.assertErrno(errno.EPIPE, self.f.read, ch("a", "tryrecv"))
        self.assertTrue(self.stat("a")["closed"])
        self.f.write(ch("a", "close"), "close")  # closing twice is harmless

    def test_close_fails_parked_senders_and_receivers(self):
        self.mkchan("s")
        self.mkchan("r")
        sender = self.parked("write", "s", "x\n")
        receiver = self.parked("read", "r")
        self.f.write(ch("s", "close"), "close\n")
        self.f.write(ch("r", "close"), "close\n")
        self.assertEqual(sender.result(), ("EPIPE", b""))
        self.assertEqual(receiver.result(), ("EPIPE", b""))

    def test_a_sender_that_reserved_before_close_still_delivers(self):
        self.mkchan("a", 1)
        w = self.f.open_write(ch("a", "send"))
        self.f.write(ch("a", "close"), "close")
        receiver = self.parked("read", "a")
        w.write("last")
        w.close()
        self.assertEqual(receiver.result(), ("ok", b"last"))
        self.assertErrno(errno.EPIPE, self.f.read, ch("a", "recv"))

    def test_ctrl_c_on_a_blocked_receiver_ends_it_and_leaves_no_receiver(self):
        self.mkchan("a")
        receiver = self.parked("read", "a")
        receiver.signal(signal.SIGINT)
        self.assertEqual(receiver.result()[0], "signal %d" % signal.SIGINT)
        self.wait_for(lambda: self.stat("a")["receivers_waiting"] == 0, "the receiver to leave")
        # and the channel still works: nothing was taken by the dead receiver
        self.f.write(ch("a", "close"), "close")
        self.assertErrno(errno.EPIPE, self.f.read, ch("a", "recv"))

    def test_ctrl_c_on_a_blocked_sender_leaves_no_sender(self):
        self.mkchan("a")
        sender = self.parked("write", "a", "never")
        sender.signal(signal.SIGINT)
        self.assertEqual(sender.result()[0], "signal %d" % signal.SIGINT)
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 0, "the sender to leave")
        self.assertEqual(self.stat("a")["reserved"], 0)
        self.assertErrno(errno.EAGAIN, self.f.read, ch("a", "tryrecv"))

    def test_a_receiver_killed_after_open_loses_no_message(self):
        self.mkchan("a", 2)
        big = os.urandom(1 << 20)
        self.f.write(ch("a", "send"), big)
        self.f.write(ch("a", "send"), "second")
        # Killed before reading anything.
        p = self.bg("read", ch("a", "recv"), hold="open")
        self.assertEqual(p.readline(), b"held\n")
        self.assertEqual(self.stat("a")["len"], 1)
        p.signal(signal.SIGKILL)
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        # Killed after reading part of it.
        p = self.bg("read", ch("a", "recv"), hold="read")
        self.assertEqual(p.readline(), b"held\n")
        p.signal(signal.SIGKILL)
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        self.assertEqual(self.f.read(ch("a", "recv")), big)
        self.assertEqual(self.f.read(ch("a", "recv")), b"second")
        st = self.stat("a")
        self.assertEqual((st["sent"], st["received"], st["len"]), (2, 2, 0))

    def test_a_receiver_that_closes_early_puts_the_message_back_at_its_place(self):
        self.mkchan("a", 2)
        self.f.write(ch("a", "send"), "first")
        self.f.write(ch("a", "send"), "second")
        r = self.f.open_read(ch("a", "recv"))
        self.assertEqual(r.read(2), b"fi")
        r.close()
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        self.assertEqual(self.f.read(ch("a", "recv")), b"first")
        self.assertEqual(self.f.read(ch("a", "recv")), b"second")

    def test_rmdir_fails_parked_openers_and_the_channel_is_gone(self):
        self.mkchan("a")
        receiver = self.parked("read", "a")
        self.f.rmdir(ch("a"))
        self.assertEqual(receiver.result(), ("ENOENT", b""))
        self.assertFalse(self.f.exists(ch("a")))
        self.f.mkdir(ch("a"))  # the name can be used again
        self.assertEqual(self.stat("a")["sent"], 0)


class ChannelsOverSocket(Channels):
    face = "socket"


def pool_face(face, mnt, sock):
    import types
    return FACES[face](types.SimpleNamespace(mnt=mnt, sock=sock))


def sender(args):
    face, mnt, sock, who, count = args
    f = pool_face(face, mnt, sock)
    for i in range(count):
        f.write(ch("a", "send"), b"%d %d" % (who, i))
    f.close()


def receiver(args):
    face, mnt, sock, count = args
    f = pool_face(face, mnt, sock)
    got = [f.read(ch("a", "recv")) for _ in range(count)]
    f.close()
    return got


class Concurrency(FaceTest, DaemonTest):
    timeout = 240

    def run_many(self, cap):
        self.f.mkdir(ch("a"))
        self.f.write(ch("a", "cap"), str(cap))
        senders, receivers, total = 16, 16, 20000
        where = (self.face, self.d.mnt, self.d.sock)
        with multiprocessing.get_context("fork").Pool(senders + receivers) as pool:
            rs = pool.map_async(receiver, [where + (total // receivers,)] * receivers)
            ss = pool.map_async(sender, [where + (w, total // senders) for w in range(senders)])
            ss.get(180)
            results = rs.get(180)
        seen = set()
        for got in results:
            last = {}
            for m in got:
                who, i = map(int, m.split())
                self.assertGreater(i, last.get(who, -1), "sender %d's order broken" % who)
                last[who] = i
                self.assertNotIn((who, i), seen, "duplicate")
                seen.add((who, i))
        self.assertEqual(len(seen), total, "messages lost")
        st = self.stat("a")
        self.assertEqual((st["sent"], st["received"], st["len"], st["reserved"]), (total, total, 0, 0))

    def test_16_senders_and_16_receivers_pass_20000_messages_on_a_buffered_channel(self):
        self.run_many(8)

    def test_16_senders_and_16_receivers_pass_20000_messages_by_rendezvous(self):
        self.run_many(0)


class ConcurrencyOverSocket(Concurrency):
    face = "socket"


if __name__ == "__main__":
    unittest.main(verbosity=2)


# The same through a peer: h1's channels reached through h2's mount, and
# through h2's socket, as a shell or a client on one host uses another's.

class ChannelsThroughAPeer(ThroughAPeer, Channels):
    pass


class ChannelsOverSocketThroughAPeer(ThroughAPeer, ChannelsOverSocket):
    pass
