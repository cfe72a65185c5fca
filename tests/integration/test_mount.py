"""Subtrees served by another 9P server (issue 7 item 7): one daemon
mounts a second daemon's socket (host ctl `mount SOCKET NAME`) and its
mount shows the second daemon's tree, through which channels and workers
work as on the second daemon's own mount; a server that stops answering
makes calls fail with ETIMEDOUT, never hang. Real daemons, real mounts."""
import errno
import json
import os
import signal
import subprocess
import time
import unittest

from harness import Daemon, DaemonTest, errno_of, read, write


class Mount(DaemonTest):
    daemon_args = ("--remote-deadline", "0.3")

    def setUp(self):
        super().setUp()
        self.b = Daemon(name="h2")
        self.addCleanup(self.b.cleanup)
        write(self.d.host("ctl"), "mount %s h2\n" % self.b.sock)
        self.top = self.d.path("h2", "h2")  # the mount's /h2 is the server's root; its host is h2

    def test_the_mounted_tree_is_the_servers_and_lists_as_it_does(self):
        self.assertEqual(sorted(os.listdir(self.d.path())), ["error", "events", "h1", "h2", "help", "members", "sysname"])
        self.assertEqual(sorted(os.listdir(self.d.path("h2"))), sorted(os.listdir(self.b.path())))
        self.assertEqual(json.loads(read(os.path.join(self.top, "stat")))["name"], "h2")

    def test_a_channel_made_through_the_mount_carries_messages_both_ways(self):
        os.mkdir(os.path.join(self.top, "channels", "x"))
        self.assertTrue(os.path.isdir(self.b.chan("x")))
        write(os.path.join(self.top, "channels", "x", "cap"), "2")
        write(os.path.join(self.top, "channels", "x", "send"), "from h1")
        self.assertEqual(read(self.b.chan("x", "recv")), b"from h1")
        write(self.b.chan("x", "send"), "from h2")
        self.assertEqual(read(os.path.join(self.top, "channels", "x", "recv")), b"from h2")
        os.rmdir(os.path.join(self.top, "channels", "x"))
        # h2's own mount forgets the entry when h2's invalidator has told
        # its kernel, which it does after the rmdir's answer.
        deadline = time.time() + 5
        while os.path.exists(self.b.chan("x")):
            self.assertLess(time.time(), deadline, "h2's mount still shows the removed channel")
            time.sleep(0.01)

    def test_a_receive_parked_through_the_mount_is_woken_by_a_send_on_the_server(self):
        os.mkdir(self.b.chan("y"))
        cat = subprocess.Popen(["cat", os.path.join(self.top, "channels", "y", "recv")], stdout=subprocess.PIPE)
        try:
            deadline = time.time() + 10
            while json.loads(read(self.b.chan("y", "stat")))["receivers_waiting"] != 1:
                self.assertLess(time.time(), deadline)
                time.sleep(0.01)
            write(self.b.chan("y", "send"), "woken")
            self.assertEqual(cat.communicate(timeout=10)[0], b"woken")
        finally:
            cat.kill()
            cat.wait()

    def test_ctrl_c_on_a_parked_receive_through_the_mount_leaves_no_waiter_on_the_server(self):
        os.mkdir(self.b.chan("z"))
        write(self.b.chan("z", "cap"), "1")
        cat = subprocess.Popen(["cat", os.path.join(self.top, "channels", "z", "recv")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while json.loads(read(self.b.chan("z", "stat")))["receivers_waiting"] != 1:
            self.assertLess(time.time(), deadline)
            time.sleep(0.01)
        cat.send_signal(signal.SIGINT)
        cat.communicate(timeout=10)
        while json.loads(read(self.b.chan("z", "stat")))["receivers_waiting"] != 0:
            self.assertLess(time.time(), deadline, "the flush did not reach the server")
            time.sleep(0.01)
        # No message was lost on the way: a later send is received whole.
        write(self.b.chan("z", "send"), "later")
        self.assertEqual(read(os.path.join(self.top, "channels", "z", "recv")), b"later")

    def test_errors_come_back_with_their_errno(self):
        self.assertEqual(errno_of(os.stat, os.path.join(self.top, "channels", "nosuch")), errno.ENOENT)
        os.mkdir(os.path.join(self.top, "channels", "dup"))
        self.assertEqual(errno_of(os.mkdir, os.path.join(self.top, "channels", "dup")), errno.EEXIST)
        self.assertEqual(errno_of(os.mkdir, os.path.join(self.top, "channels", "bad name")), errno.EINVAL)
        os.mkdir(self.b.chan("closed"))
        write(self.b.chan("closed", "close"), "close")
        self.assertEqual(errno_of(read, os.path.join(self.top, "channels", "closed", "recv")), errno.EPIPE)

    def test_a_server_that_stops_answering_makes_calls_fail_with_etimedout_and_they_work_again_after(self):
        os.listdir(self.top)
        os.kill(self.b.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(1.1)  # the kernel's cached entries expire
            start = time.time()
            self.assertEqual(errno_of(os.listdir, os.path.join(self.top, "workers")), errno.ETIMEDOUT)
            self.assertLess(time.time() - start, 5, "the deadline is 0.3 s a request")
        finally:
            os.kill(self.b.proc.pid, signal.SIGCONT)
        self.assertEqual(sorted(os.listdir(os.path.join(self.top, "channels"))), ["error", "help"])

    def test_files_of_two_mounted_servers_and_of_this_host_have_inode_numbers_of_their_own(self):
        c = Daemon(name="h3")
        self.addCleanup(c.cleanup)
        write(self.d.host("ctl"), "mount %s h3\n" % c.sock)
        os.mkdir(self.b.chan("x"))
        os.mkdir(c.chan("x"))
        os.mkdir(self.d.chan("x"))
        files = [os.path.join(self.top, "channels", "x", "send"), self.d.path("h3", "h3", "channels", "x", "send"),
                 self.d.chan("x", "send"), os.path.join(self.top, "channels", "x")]
        inos = [os.stat(f).st_ino for f in files]
        self.assertEqual(len(set(inos)), len(inos), inos)
        self.assertEqual(inos[0], os.stat(files[0]).st_ino)  # the same while it lives

    def test_mount_refuses_a_taken_name_a_dead_socket_and_unmount_takes_it_away(self):
        self.assertEqual(errno_of(write, self.d.host("ctl"), "mount %s h1\n" % self.b.sock), errno.EEXIST)
        self.assertEqual(errno_of(write, self.d.host("ctl"), "mount /nonexistent/sock h3\n"), errno.EHOSTUNREACH)
        self.assertIn("/nonexistent/sock", read(self.d.host("error")).decode())
        write(self.d.host("ctl"), "unmount h2\n")
        self.assertNotIn("h2", os.listdir(self.d.path()))
        self.assertEqual(errno_of(write, self.d.host("ctl"), "unmount h2\n"), errno.ENOENT)


if __name__ == "__main__":
    unittest.main()
