"""circuitd itself: flags, mount point errors, clean unmount on signals and
on `ctl stop` (circuitd(8))."""
import os
import signal
import subprocess
import tempfile
import unittest

from harness import CIRCUITD, Daemon, DaemonTest, mounted, read, write


def run(args, timeout=10):
    return subprocess.run([CIRCUITD, *args], capture_output=True, timeout=timeout)


class Flags(unittest.TestCase):
    def test_help_documents_every_flag(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        for flag in ["--name", "--mount", "--max-message", "--spin", "--debug", "--help", "--version"]:
            self.assertIn(flag.encode(), r.stdout)

    def test_unknown_and_bad_flags_are_refused_with_a_message(self):
        for args, words in [(["--frob"], b"unknown flag --frob"), (["--name"], b"--name needs NAME"),
                            (["--name", "a b"], b"name has the character"),
                            (["--max-message", "big"], b"not a number"),
                            (["--spin", "soon"], b'--spin: "soon" is not a number'),
                            (["--spin", "-1"], b'--spin: "-1" is negative'),
                            (["--spin", "1001"], b'--spin: "1001" is too large'),
                            (["--spin"], b"--spin needs MICROSECONDS")]:
            r = run(args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(words, r.stderr)

    def test_keygen_writes_a_private_random_key_and_never_overwrites_one(self):
        with tempfile.TemporaryDirectory() as d:
            key = os.path.join(d, "key")
            r = run(["keygen", key])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.stat(key).st_mode & 0o7777, 0o600)
            with open(key, "rb") as f:
                text = f.read()
            self.assertRegex(text, rb"^[0-9a-f]{64}\n$")
            r = run(["keygen", key])
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"key " + key.encode() + b" exists already", r.stderr)
            with open(key, "rb") as f:
                self.assertEqual(f.read(), text)
            self.assertEqual(run(["keygen"]).returncode, 2)
            self.assertIn(b"usage: circuitd keygen FILE", run(["keygen"]).stderr)

    def test_a_missing_mount_point_is_a_clear_error(self):
        r = run(["--mount", "/nonexistent/circuit-test"])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"does not exist; create it with: mkdir -p", r.stderr)


class Lifecycle(DaemonTest):
    def test_sigterm_unmounts_cleanly_and_fails_parked_requests(self):
        os.mkdir(self.d.chan("a"))
        cat = self.spawn(["cat", "channels/a/recv"], stderr=subprocess.PIPE)
        self.wait_for(lambda: b'"receivers_waiting":1' in read(self.d.chan("a", "stat")), "cat to park")
        self.d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.d.proc.wait(5), 0)
        self.assertNotEqual(cat.wait(5), 0)
        self.assertFalse(mounted(self.d.mnt))
        self.assertIn("stopping: SIGTERM", self.d.log())
        self.assertIn("unmounted", self.d.log())
        self.d.start()  # the mount point is reusable at once
        self.assertTrue(os.path.exists(self.d.path("members")))

    def test_sigint_unmounts_cleanly(self):
        self.d.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.d.proc.wait(5), 0)
        self.assertFalse(mounted(self.d.mnt))

    def test_ctl_stop_stops_the_daemon(self):
        write(self.d.host("ctl"), "stop\n")
        self.assertEqual(self.d.proc.wait(5), 0)
        self.assertFalse(mounted(self.d.mnt))
        self.d.start()

    def test_a_busy_mount_point_is_refused(self):
        r = run(["--name", "h2", "--mount", self.d.mnt])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"is busy: something is already mounted there", r.stderr)
        self.assertTrue(os.path.exists(self.d.path("members")))

    def test_a_dead_fuse_mount_is_named_as_such(self):
        self.d.proc.kill()
        self.d.proc.wait(5)
        r = run(["--mount", self.d.mnt])
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"dead FUSE mount", r.stderr)
        subprocess.run(["fusermount3", "-u", "-z", self.d.mnt])
        self.d.start()

    def check_daemon_alive(self):
        pass  # these tests stop the daemon on purpose


if __name__ == "__main__":
    unittest.main(verbosity=2)
