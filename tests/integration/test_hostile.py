"""Malformed, oversized, wrong-typed and hostile input: each call fails with
the right errno, the error file says why, and no state is lost."""
import errno
import json
import os
import subprocess
import unittest

from harness import DaemonTest, read, write
from through_a_peer import ThroughAPeer


class Hostile(DaemonTest):
    def setUp(self):
        super().setUp()
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "4")
        write(self.d.chan("a", "send"), "precious")
        # The last close delivers after close(2) has returned: wait for it.
        self.wait_for(lambda: self.state()[0]["sent"] == 1, "the message to be delivered")
        self.before = self.state()

    def state(self):
        st = json.loads(read(self.d.chan("a", "stat")))
        return st, sorted(os.listdir(self.d.host("channels")))

    def tearDown(self):
        # The daemon is up, and the channel and its message are intact.
        self.assertTrue(self.d.alive())
        self.assertEqual(self.state(), self.before)
        self.assertEqual(read(self.d.chan("a", "cap")), b"4\n")

    def refused(self, expected_errno, path, data, words):
        self.assertErrno(expected_errno, write, path, data)
        err = read(os.path.join(os.path.dirname(path), "error")).decode()
        for w in words:
            self.assertIn(w, err)
        self.assertTrue(err.endswith("\n"))

    def test_bad_cap_values_are_refused_with_the_reason(self):
        os.mkdir(self.d.chan("b"))
        cap = self.d.chan("b", "cap")
        self.refused(errno.EINVAL, cap, "abc", ['cap: "abc" is not a number'])
        self.refused(errno.EINVAL, cap, "-1", ['"-1" is negative'])
        self.refused(errno.ERANGE, cap, "99999999999999999999", ["too large", "1048576"])
        self.refused(errno.ERANGE, cap, "1048577", ["too large"])
        self.refused(errno.EINVAL, cap, "\n", ["empty"])
        self.refused(errno.EINVAL, cap, b"\x00\x01\xff", ["\\x00\\x01\\xff", "not a number"])
        self.refused(errno.EINVAL, cap, "3 4", ["not a number"])
        self.refused(errno.ERANGE, cap, "9" * 100000, ["too large"])
        self.assertEqual(read(cap), b"0\n")
        write(cap, "2")
        self.refused(errno.EBUSY, cap, "3", ["already fixed at 2"])
        self.assertEqual(read(cap), b"2\n")
        os.rmdir(self.d.chan("b"))

    def test_bad_names_are_refused(self):
        chans = self.d.host("channels")
        for name, why in [("x" * 65, "65 characters long"), ("tab\there", "\\x09"), ("new\nline", "\\x0a"),
                          ("sp ace", "' '"), ("star*", "'*'"), ("é", "\\xc3")]:
            self.assertErrno(errno.EINVAL, os.mkdir, os.path.join(chans, name))
            self.assertIn(why, read(os.path.join(chans, "error")).decode(), name)
        self.assertErrno(errno.ENOENT, os.mkdir, os.path.join(chans, "x/y"))  # the kernel walks the slash
        self.assertErrno(errno.EEXIST, os.mkdir, os.path.join(chans, ".."))
        self.assertErrno(errno.EEXIST, os.mkdir, os.path.join(chans, "a"))
        self.assertErrno(errno.EEXIST, os.mkdir, os.path.join(chans, "help"))
        self.assertEqual(sorted(os.listdir(chans)), ["a", "error", "help"])

    def test_read_only_and_write_only_files_refuse_the_other_way(self):
        for path in [self.d.chan("a", "stat"), self.d.chan("a", "recv"), self.d.chan("a", "tryrecv"),
                     self.d.chan("a", "help"), self.d.chan("a", "error"), self.d.host("stat"),
                     self.d.path("members"), self.d.path("events")]:
            self.assertErrno(errno.EACCES, write, path, "x")
            err = read(os.path.join(os.path.dirname(path), "error")).decode()
            self.assertIn("%s: read-only file" % os.path.basename(path), err)
        for path in [self.d.chan("a", "close"), self.d.host("ctl")]:
            self.assertErrno(errno.EACCES, read, path)
            self.assertIn("write-only file", read(os.path.join(os.path.dirname(path), "error")).decode())
        # send is write-only; open it read-write or read-only: refused before any reservation
        self.assertErrno(errno.EACCES, os.open, self.d.chan("a", "send"), os.O_RDWR)
        self.assertErrno(errno.EACCES, os.open, self.d.chan("a", "send"), os.O_RDONLY)

    def test_close_takes_only_the_word_close(self):
        self.refused(errno.EINVAL, self.d.chan("a", "close"), "shut", ['not "shut"'])
        self.refused(errno.EINVAL, self.d.chan("a", "close"), "close close", ["close"])
        self.assertFalse(json.loads(read(self.d.chan("a", "stat")))["closed"])

    def test_ctl_garbage_is_refused(self):
        ctl = self.d.host("ctl")
        self.refused(errno.EINVAL, ctl, "rm -rf /\n", ['unknown command "rm"'])
        self.refused(errno.EINVAL, ctl, "max-message\n", ["usage: max-message BYTES"])
        self.refused(errno.EINVAL, ctl, "max-message lots\n", ['"lots" is not a number'])
        self.refused(errno.ERANGE, ctl, "max-message 99999999999\n", ["too large"])
        self.refused(errno.EINVAL, ctl, "\x00" * 1000, ["unknown command"])

    def test_a_message_over_the_default_limit_fails_with_efbig_and_is_not_delivered(self):
        limit = json.loads(read(self.d.host("stat")))["max_message"]
        self.assertEqual(limit, 64 << 20)
        chunk = b"z" * (1 << 20)
        fd = os.open(self.d.chan("a", "send"), os.O_WRONLY)
        sent, err = 0, 0
        try:
            while sent <= limit:
                sent += os.write(fd, chunk)
        except OSError as e:
            err = e.errno
        finally:
            try:
                os.close(fd)
            except OSError as e:
                self.assertEqual(e.errno, errno.EFBIG)
        self.assertEqual(err, errno.EFBIG)
        self.assertEqual(sent, limit)
        self.assertIn("over the limit of %d bytes" % limit, read(self.d.chan("a", "error")).decode())

    def test_a_shell_redirect_of_an_oversized_message_fails_and_says_so(self):
        write(self.d.host("ctl"), "max-message 1000")
        r = self.sh("head -c 5000 /dev/zero > channels/a/send", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"File too large", r.stderr)
        write(self.d.host("ctl"), "max-message %d" % (64 << 20))

    def test_writes_after_delivery_by_fsync_are_refused(self):
        os.mkdir(self.d.chan("b"))
        write(self.d.chan("b", "cap"), "2")
        fd = os.open(self.d.chan("b", "send"), os.O_WRONLY)
        os.write(fd, b"one")
        os.close(os.dup(fd))  # a closed duplicate delivers nothing
        os.write(fd, b"two")
        os.fsync(fd)  # delivers
        with self.assertRaises(OSError) as e:
            os.write(fd, b"three")
        self.assertEqual(e.exception.errno, errno.EBADF)
        os.close(fd)
        self.assertEqual(read(self.d.chan("b", "recv")), b"onetwo")
        self.assertEqual(json.loads(read(self.d.chan("b", "stat")))["len"], 0)
        os.rmdir(self.d.chan("b"))

    def test_thousands_of_refused_calls_leave_the_daemon_well(self):
        os.mkdir(self.d.chan("b"))
        for i in range(2000):
            self.assertErrno(errno.EINVAL, write, self.d.chan("b", "cap"), "bad%d" % i)
        self.assertIn("bad1999", read(self.d.chan("b", "error")).decode())
        os.rmdir(self.d.chan("b"))


class HostileThroughAPeer(ThroughAPeer, Hostile):
    """The same hostile input through h2's mount: h1 refuses it with the
    same errno and words, and h2 carries it without harm."""


if __name__ == "__main__":
    unittest.main(verbosity=2)
