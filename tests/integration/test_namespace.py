"""The tree on one host: help everywhere, members, events, per-session
errors, and what the tree refuses (circuit(4))."""
import errno
import json
import os
import subprocess
import time
import unittest

from harness import DaemonTest, read, write


class Namespace(DaemonTest):
    def dirs(self):
        os.makedirs(self.d.chan("a"), exist_ok=True)
        return [self.d.path(), self.d.host(), self.d.host("channels"), self.d.chan("a")]

    def test_every_directory_has_help_naming_each_of_its_files(self):
        for d in self.dirs():
            help = read(os.path.join(d, "help")).decode()
            self.assertIn("example:", help, d)
            for name in os.listdir(d):
                if os.path.isfile(os.path.join(d, name)):
                    self.assertIn("\n  %s " % name, help, "%s/help does not describe %s" % (d, name))

    def test_control_files_are_empty_regular_files_and_listings_are_stable(self):
        for d in self.dirs():
            for name in os.listdir(d):
                st = os.stat(os.path.join(d, name))
                if not os.path.isdir(os.path.join(d, name)):
                    self.assertEqual(st.st_size, 0, name)
        self.assertEqual(sorted(os.listdir(self.d.path())), ["error", "events", "h1", "help", "members", "sysname"])
        self.assertEqual(sorted(os.listdir(self.d.host())), ["bin", "channels", "ctl", "error", "help", "stat", "workers"])

    def host_stat(self):
        return json.loads(read(self.d.host("stat")))

    def test_the_mounts_fids_stay_bounded_over_100k_lookups_of_names_that_do_not_exist(self):
        # A lookup that finds nothing makes no fid; one that finds a file
        # makes one fid per inode, which FORGET gives back.
        before = self.host_stat()["fids"]
        chans = self.d.host("channels")
        for i in range(100000):
            try:
                os.stat(os.path.join(chans, "missing-%d" % i))
                self.fail("missing-%d exists" % i)
            except FileNotFoundError:
                pass
        self.assertLessEqual(self.host_stat()["fids"], before + 2)  # stat's own fids come and go

    def test_fids_of_removed_elements_go_when_the_kernel_forgets_them(self):
        chans = self.d.host("channels")
        base = self.host_stat()["fids"]
        for i in range(300):
            os.mkdir(os.path.join(chans, "c%d" % i))
            os.stat(os.path.join(chans, "c%d" % i, "stat"))
        grown = self.host_stat()["fids"]
        self.assertGreaterEqual(grown, base + 600)  # a fid per channel and per stat file the kernel holds
        for i in range(300):
            os.rmdir(os.path.join(chans, "c%d" % i))
        # The kernel drops what rmdir removed and forgets its inodes.
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        deadline = time.time() + 10
        while self.host_stat()["fids"] > base + 10 and time.time() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(self.host_stat()["fids"], base + 10)

    def test_members_lists_this_host_as_alive(self):
        line = read(self.d.path("members")).decode()
        name, ident, address, state = line.split()
        self.assertEqual((name, state), ("h1", "alive"))
        self.assertEqual(json.loads(read(self.d.host("stat")))["id"], ident)

    def test_sysname_names_the_host_of_the_daemon_and_cannot_be_written(self):
        self.assertEqual(read(self.d.path("sysname")), b"h1\n")
        with self.assertRaises(PermissionError):
            open(self.d.path("sysname"), "w").close()
        self.assertEqual(read(self.d.path("sysname")), b"h1\n")

    def test_host_stat_is_one_json_line(self):
        raw = read(self.d.host("stat"))
        self.assertEqual(raw.count(b"\n"), 1)
        st = json.loads(raw)
        self.assertEqual(st["name"], "h1")
        self.assertEqual(st["pid"], self.d.proc.pid)
        self.assertEqual(st["channels"], 0)
        os.mkdir(self.d.chan("x"))
        self.assertEqual(json.loads(read(self.d.host("stat")))["channels"], 1)

    def test_events_replays_members_then_streams_new_and_gone(self):
        p = self.spawn(["cat", self.d.path("events")], stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"join h1\n")
        os.mkdir(self.d.chan("e"))
        self.assertEqual(p.stdout.readline(), b"new /h1/channels/e\n")
        os.rmdir(self.d.chan("e"))
        self.assertEqual(p.stdout.readline(), b"gone /h1/channels/e\n")
        r = self.sh("head -n 1 %s" % self.d.path("events"))
        self.assertEqual(r.stdout, b"join h1\n")

    def test_two_sessions_each_read_only_their_own_error(self):
        os.mkdir(self.d.chan("a"))
        a = self.sh("echo abc > channels/a/cap; cat channels/a/error", new_session=True, check=False)
        b = self.sh("echo 99999999999999999999 > channels/a/cap; cat channels/a/error", new_session=True, check=False)
        c = self.sh("cat channels/a/error", new_session=True)
        self.assertEqual(a.stdout, b'cap: "abc" is not a number\n')
        self.assertIn(b"is too large", b.stdout)
        self.assertNotIn(b"abc", b.stdout)
        self.assertEqual(c.stdout, b"")

    def test_a_shell_sees_the_error_of_its_failed_write_in_the_error_file(self):
        os.mkdir(self.d.chan("a"))
        r = self.sh("echo 5 > channels/a/cap; echo 6 > channels/a/cap || cat channels/a/error", new_session=True)
        self.assertIn(b"error", r.stderr)  # dash says "I/O error" for any failed echo
        self.assertIn(b"cap is set once, before first use", r.stdout)

    def test_the_tree_refuses_new_files_unlink_rename_and_mkdir_outside_channels(self):
        os.mkdir(self.d.chan("a"))
        self.assertErrno(errno.EPERM, os.open, self.d.chan("a", "newfile"), os.O_WRONLY | os.O_CREAT)
        self.assertIn("fixed set of files", read(self.d.chan("a", "error")).decode())
        self.assertErrno(errno.EPERM, os.unlink, self.d.chan("a", "send"))
        self.assertErrno(errno.EPERM, os.rename, self.d.chan("a", "send"), self.d.chan("a", "s2"))
        # Links of either kind: EPERM with words, not the kernel's ENOSYS.
        self.assertErrno(errno.EPERM, os.symlink, "send", self.d.chan("a", "s3"))
        self.assertIn("symlink: s3: /h1/channels/a has a fixed set of files", read(self.d.chan("a", "error")).decode())
        self.assertErrno(errno.EPERM, os.link, self.d.chan("a", "send"), self.d.chan("a", "s4"))
        self.assertIn("link: s4: /h1/channels/a has a fixed set of files", read(self.d.chan("a", "error")).decode())
        self.assertErrno(errno.EPERM, os.mkdir, self.d.host("things"))
        self.assertErrno(errno.EPERM, os.mkdir, self.d.path("h2"))
        self.assertErrno(errno.EPERM, os.rmdir, self.d.host("channels"))
        self.assertErrno(errno.ENOENT, os.rmdir, self.d.chan("nope"))
        self.assertErrno(errno.EISDIR, read, self.d.host("channels"))
        self.assertTrue(os.path.isdir(self.d.chan("a")))

    def test_ctl_commands_apply_at_the_write(self):
        write(self.d.host("ctl"), "max-message 4096\n")
        self.assertEqual(json.loads(read(self.d.host("stat")))["max_message"], 4096)
        self.assertErrno(errno.EINVAL, write, self.d.host("ctl"), "max-message 10\nfrobnicate\n")
        self.assertEqual(json.loads(read(self.d.host("stat")))["max_message"], 10)
        self.assertIn('line 2: unknown command "frobnicate"', read(self.d.host("error")).decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
