"""Channels through a real mount: sends, receives, close, Ctrl-C, dying
receivers, concurrency, and hostile input (circuit(4), CHANNELS)."""
import errno
import json
import multiprocessing
import os
import signal
import subprocess
import time
import unittest

from harness import DaemonTest, errno_of, read, write


class Channels(DaemonTest):
    def test_mkdir_makes_a_channel_with_every_file_and_rmdir_removes_it(self):
        self.mkchan("a")
        self.assertEqual(sorted(os.listdir(self.d.chan("a"))),
                         sorted(["help", "error", "cap", "send", "recv", "trysend", "tryrecv", "close", "stat"]))
        self.assertEqual(read(self.d.chan("a", "cap")), b"0\n")
        self.assertIn("a", os.listdir(self.d.host("channels")))
        os.rmdir(self.d.chan("a"))
        self.assertNotIn("a", os.listdir(self.d.host("channels")))
        self.assertFalse(os.path.exists(self.d.chan("a")))

    def test_cap_zero_is_a_rendezvous_the_sender_waits_for_a_receiver(self):
        self.mkchan("a")
        sender = self.spawn(["sh", "-c", "echo hello > channels/a/send"])
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
        self.assertIsNone(sender.poll())
        self.assertEqual(read(self.d.chan("a", "recv")), b"hello\n")
        self.assertEqual(sender.wait(5), 0)
        st = self.stat("a")
        self.assertEqual((st["sent"], st["received"], st["len"]), (1, 1, 0))

    def test_cap_zero_receiver_waits_for_a_sender(self):
        self.mkchan("a")
        receiver = self.parked_receiver("a", stdout=subprocess.PIPE)
        self.sh("echo ping > channels/a/send")
        out, _ = receiver.communicate(timeout=5)
        self.assertEqual(out, b"ping\n")

    def test_cap_n_buffers_n_messages_then_senders_wait(self):
        self.mkchan("a", 3)
        for i in range(3):
            self.sh("echo m%d > channels/a/send" % i)
        self.wait_for(lambda: self.stat("a")["len"] == 3, "three messages delivered")
        self.assertErrno(errno.EAGAIN, write, self.d.chan("a", "trysend"), "x")
        blocked = self.spawn(["sh", "-c", "echo m3 > channels/a/send"])
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the fourth sender to park")
        self.assertEqual(read(self.d.chan("a", "recv")), b"m0\n")
        self.assertEqual(blocked.wait(5), 0)
        got = [read(self.d.chan("a", "recv")) for _ in range(3)]
        self.assertEqual(got, [b"m1\n", b"m2\n", b"m3\n"])

    def test_messages_come_out_in_the_order_they_went_in(self):
        self.mkchan("a", 100)
        for i in range(100):
            write(self.d.chan("a", "send"), "message %d" % i)
        self.assertEqual([read(self.d.chan("a", "recv")) for _ in range(100)],
                         [b"message %d" % i for i in range(100)])

    def test_truncating_and_appending_redirections_both_send(self):
        self.mkchan("a", 2)
        self.sh("echo one > channels/a/send && echo two >> channels/a/send")
        r = self.sh("cat channels/a/recv channels/a/recv")
        self.assertEqual(r.stdout, b"one\ntwo\n")

    def test_a_message_is_what_was_written_between_open_and_close(self):
        self.mkchan("a", 1)
        self.sh("(echo line1; echo line2; printf 'no newline') > channels/a/send")
        self.assertEqual(read(self.d.chan("a", "recv")), b"line1\nline2\nno newline")

    def test_an_empty_message_is_a_message(self):
        self.mkchan("a", 1)
        self.sh(": > channels/a/send")
        self.wait_for(lambda: self.stat("a")["len"] == 1, "the empty message delivered")
        self.assertEqual(read(self.d.chan("a", "recv")), b"")
        self.assertEqual(self.stat("a")["received"], 1)

    def test_python_open_sends_and_receives_binary_data(self):
        self.mkchan("a", 1)
        data = bytes(range(256)) * 4096  # 1 MiB, every byte value
        with open(self.d.chan("a", "send"), "wb") as f:
            f.write(data)
        with open(self.d.chan("a", "recv"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_try_operations_fail_with_eagain_and_say_why(self):
        self.mkchan("a")
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))
        self.assertIn("tryrecv: channel /h1/channels/a is empty", self.error_text("h1/channels/a/error"))
        self.assertErrno(errno.EAGAIN, write, self.d.chan("a", "trysend"), "x")
        self.assertIn("no waiting receiver", self.error_text("h1/channels/a/error"))
        r = self.sh("echo x > channels/a/trysend", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"Resource temporarily unavailable", r.stderr)
        # O_NONBLOCK on recv is tryrecv.
        self.assertErrno(errno.EAGAIN, os.open, self.d.chan("a", "recv"), os.O_RDONLY | os.O_NONBLOCK)
        st = self.stat("a")
        self.assertEqual((st["sent"], st["senders_waiting"], st["receivers_waiting"]), (0, 0, 0))

    def test_trysend_succeeds_when_a_receiver_waits(self):
        self.mkchan("a")
        receiver = self.parked_receiver("a", stdout=subprocess.PIPE)
        write(self.d.chan("a", "trysend"), "now")
        self.assertEqual(receiver.communicate(timeout=5)[0], b"now")

    def test_close_drains_the_buffer_then_receives_fail_with_epipe(self):
        self.mkchan("a", 2)
        write(self.d.chan("a", "send"), "x")
        write(self.d.chan("a", "send"), "y")
        write(self.d.chan("a", "close"), "close\n")
        self.assertErrno(errno.EPIPE, write, self.d.chan("a", "send"), "z")
        self.assertIn("is closed", self.error_text("h1/channels/a/error"))
        self.assertEqual(read(self.d.chan("a", "recv")), b"x")
        self.assertEqual(read(self.d.chan("a", "recv")), b"y")
        self.assertErrno(errno.EPIPE, read, self.d.chan("a", "recv"))
        self.assertErrno(errno.EPIPE, read, self.d.chan("a", "tryrecv"))
        self.assertTrue(self.stat("a")["closed"])
        write(self.d.chan("a", "close"), "close")  # closing twice is harmless

    def test_close_fails_parked_senders_and_receivers(self):
        self.mkchan("s")
        self.mkchan("r")
        sender = self.spawn(["sh", "-c", "echo x > channels/s/send"], stderr=subprocess.PIPE)
        receiver = self.spawn(["cat", "channels/r/recv"], stderr=subprocess.PIPE)
        self.wait_for(lambda: self.stat("s")["senders_waiting"] == 1, "the sender to park")
        self.wait_for(lambda: self.stat("r")["receivers_waiting"] == 1, "the receiver to park")
        self.sh("echo close > channels/s/close; echo close > channels/r/close")
        self.assertNotEqual(sender.wait(5), 0)
        self.assertIn(b"Broken pipe", sender.stderr.read())
        self.assertNotEqual(receiver.wait(5), 0)
        self.assertIn(b"Broken pipe", receiver.stderr.read())

    def test_a_sender_that_reserved_before_close_still_delivers(self):
        self.mkchan("a", 1)
        fd = os.open(self.d.chan("a", "send"), os.O_WRONLY)
        write(self.d.chan("a", "close"), "close")
        receiver = self.parked_receiver("a", stdout=subprocess.PIPE)
        os.write(fd, b"last")
        os.close(fd)
        self.assertEqual(receiver.communicate(timeout=5)[0], b"last")
        self.assertErrno(errno.EPIPE, read, self.d.chan("a", "recv"))

    def test_ctrl_c_on_a_blocked_cat_returns_at_once_and_leaves_no_receiver(self):
        self.mkchan("a")
        cat = self.parked_receiver("a")
        t0 = time.monotonic()
        cat.send_signal(signal.SIGINT)
        rc = cat.wait(5)
        took = time.monotonic() - t0
        print("\nSIGINT to a parked cat: returned in %.1f ms" % (took * 1000))
        self.assertEqual(rc, -signal.SIGINT)
        self.assertEqual(self.stat("a")["receivers_waiting"], 0)
        # and the channel still works: nothing was taken by the dead cat
        write(self.d.chan("a", "close"), "close")
        self.assertErrno(errno.EPIPE, read, self.d.chan("a", "recv"))

    def test_ctrl_c_on_a_blocked_sender_leaves_no_sender(self):
        self.mkchan("a")
        sender = self.spawn(["sh", "-c", "exec 3>channels/a/send"])
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
        sender.send_signal(signal.SIGINT)
        sender.wait(5)
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 0, "the sender to leave")
        self.assertEqual(self.stat("a")["reserved"], 0)
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))

    def test_a_receiver_killed_after_open_loses_no_message(self):
        self.mkchan("a", 2)
        big = os.urandom(1 << 20)
        write(self.d.chan("a", "send"), big)
        write(self.d.chan("a", "send"), "second")
        # Killed before reading anything.
        p = self.spawn(["python3", "-c", "import os,time; fd=os.open('channels/a/recv', os.O_RDONLY); print('open', flush=True); time.sleep(60)"],
                       stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"open\n")
        self.wait_for(lambda: self.stat("a")["len"] == 1, "the second message delivered")
        p.kill()
        p.wait(5)
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        # Killed after reading part of it.
        p = self.spawn(["python3", "-c", "import os,time; fd=os.open('channels/a/recv', os.O_RDONLY); os.read(fd, 4096); print('read', flush=True); time.sleep(60)"],
                       stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"read\n")
        p.kill()
        p.wait(5)
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        self.assertEqual(read(self.d.chan("a", "recv")), big)
        self.assertEqual(read(self.d.chan("a", "recv")), b"second")
        st = self.stat("a")
        self.assertEqual((st["sent"], st["received"], st["len"]), (2, 2, 0))

    def test_a_receiver_that_closes_early_puts_the_message_back_at_its_place(self):
        self.mkchan("a", 2)
        write(self.d.chan("a", "send"), "first")
        write(self.d.chan("a", "send"), "second")
        with open(self.d.chan("a", "recv"), "rb", buffering=0) as f:
            self.assertEqual(f.read(2), b"fi")
        self.wait_for(lambda: self.stat("a")["len"] == 2, "the message to come back")
        self.assertEqual(read(self.d.chan("a", "recv")), b"first")
        self.assertEqual(read(self.d.chan("a", "recv")), b"second")

    def test_rmdir_fails_parked_openers_and_the_channel_is_gone(self):
        self.mkchan("a")
        receiver = self.parked_receiver("a", stderr=subprocess.PIPE)
        os.rmdir(self.d.chan("a"))
        self.assertNotEqual(receiver.wait(5), 0)
        self.assertIn(b"No such file", receiver.stderr.read())
        self.assertFalse(os.path.exists(self.d.chan("a")))
        os.mkdir(self.d.chan("a"))  # the name can be used again
        self.assertEqual(self.stat("a")["sent"], 0)


def sender(args):
    path, who, count = args
    for i in range(count):
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"%d %d" % (who, i))
        os.close(fd)


def receiver(args):
    path, count = args
    got = []
    for _ in range(count):
        fd = os.open(path, os.O_RDONLY)
        data = b""
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        os.close(fd)
        got.append(data)
    return got


class Concurrency(DaemonTest):
    timeout = 240

    def run_many(self, cap):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), str(cap))
        senders, receivers, total = 16, 16, 20000
        send, recv = self.d.chan("a", "send"), self.d.chan("a", "recv")
        with multiprocessing.get_context("fork").Pool(senders + receivers) as pool:
            rs = pool.map_async(receiver, [(recv, total // receivers)] * receivers)
            ss = pool.map_async(sender, [(send, w, total // senders) for w in range(senders)])
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
