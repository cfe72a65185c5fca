"""The `lease` file of channels and workers (circuit(4)): an open of it for
writing holds the element, which goes at that open's last close — by
close(2), by the death of its holder, by the end of the 9P connection that
opened it, or by the loss of the member that forwarded it — unless `keep`
was written. Tried as a shell user does it (exec 3>, a child that inherits
the descriptor), with hostile writes, another user, and across members."""
import errno
import json
import os
import signal
import subprocess
import time
import unittest

import ninep
from harness import DaemonTest, read, write
from test_cluster import ClusterTest
from test_permissions import GROUP, MAKER, MEMBER, PermissionTest, as_user, needs_root
from through_a_peer import ThroughAPeer


class Lease(DaemonTest):
    def gone(self, path, what):
        self.wait_for(lambda: not os.path.exists(path), what)

    def test_a_channel_goes_when_the_shell_closes_the_descriptor_that_held_it(self):
        self.mkchan("a", 1)
        r = self.sh("exec 3>channels/a/lease; echo kept > channels/a/send; ls channels; exec 3>&-; "
                    "sleep 0.2; ls channels")
        self.assertEqual(r.stdout, b"a\nerror\nhelp\nerror\nhelp\n")
        if self.removal_seen_at_once:
            self.assertFalse(os.path.exists(self.d.chan("a")))
        else:
            self.gone(self.d.chan("a"), "the kernel's entry of a, a second at most")

    def test_a_child_that_inherits_the_descriptor_and_exits_does_not_end_the_lease(self):
        self.mkchan("a")
        r = self.sh("exec 3>channels/a/lease; sh -c 'exit 0'; ( true ) ; { ls channels/a >/dev/null; }; "
                    "test -d channels/a && echo alive; exec 3>&-")
        self.assertEqual(r.stdout, b"alive\n")
        self.gone(self.d.chan("a"), "the channel to go at the last close")

    def test_a_holder_killed_by_a_signal_ends_the_lease(self):
        self.mkchan("a")
        p = self.spawn(["python3", "-c", "import os,time; fd=os.open('channels/a/lease', os.O_WRONLY); "
                        "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"held\n")
        self.assertTrue(os.path.exists(self.d.chan("a")))
        p.kill()
        p.wait(5)
        self.gone(self.d.chan("a"), "the channel to go with its holder")
        self.assertIn("lease: /h1/channels/a removed", self.d.log())

    def test_keep_lets_go_and_other_words_are_refused_with_einval_and_words(self):
        self.mkchan("a")
        r = self.sh("exec 3>channels/a/lease; echo stay >&3 || cat channels/a/error; echo keep >&3; exec 3>&-")
        self.assertEqual(r.stdout, b"lease: write keep to let go of the element; close to remove it\n")
        time.sleep(0.2)
        self.assertTrue(os.path.exists(self.d.chan("a")))
        self.assertErrno(errno.EACCES, read, self.d.chan("a", "lease"))

    def test_a_running_worker_is_killed_and_removed_when_its_lease_ends(self):
        w = self.d.host("workers", "w")
        os.mkdir(w)
        fd = os.open(os.path.join(w, "lease"), os.O_WRONLY)
        write(os.path.join(w, "spec"), '{"path":"/bin/sleep","args":["60"]}')
        pid = json.loads(read(os.path.join(w, "stat")))["pid"]
        os.close(fd)
        self.gone(w, "the worker to go")
        self.wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                      open("/proc/%d/stat" % pid).read().split(") ")[1][0] == "Z", "its process to die")

    def test_a_lease_on_an_element_removed_and_made_again_leaves_the_new_one(self):
        self.mkchan("a")
        fd = os.open(self.d.chan("a", "lease"), os.O_WRONLY)
        os.rmdir(self.d.chan("a"))
        self.mkchan("a")
        self.assertErrno(errno.ENOENT, os.write, fd, b"keep")
        os.close(fd)
        time.sleep(0.2)
        self.assertTrue(os.path.exists(self.d.chan("a")))

    def test_the_end_of_the_9p_connection_that_opened_it_ends_the_lease(self):
        self.mkchan("a")
        c = ninep.Client(self.d.sock)
        c.open("h1/channels/a/lease", ninep.O_WRONLY)
        c.close()  # the connection ends with the fid open
        self.gone(self.d.chan("a"), "the channel to go with the connection")

    def test_a_thousand_leases_opened_and_closed_leave_the_daemon_well(self):
        for i in range(50):
            self.mkchan("c%d" % i)
        self.sh("for i in $(seq 0 49); do exec 3>channels/c$i/lease; exec 3>&-; done")
        self.wait_for(lambda: sorted(os.listdir(self.d.host("channels"))) == ["error", "help"],
                      "all fifty channels to go")


@needs_root
class LeaseOfAnotherUser(PermissionTest):
    daemon_args = ("--allow-group", GROUP)

    def test_only_the_maker_may_hold_an_elements_lease(self):
        path = self.d.chan("mine")
        out = as_user(MAKER, "os.mkdir(%r); out['member'] = 1" % path)
        out = as_user(MEMBER, "out['open'] = attempt(os.open, %r, os.O_WRONLY)" % os.path.join(path, "lease"))
        self.assertEqual(out["open"], "EACCES")
        self.assertTrue(os.path.exists(path))


class LeaseAcrossMembers(ClusterTest):
    size = 2

    def test_a_lease_held_through_h2_ends_when_its_holder_dies_and_when_h2_dies(self):
        for name in ("a", "b"):
            os.mkdir(self.at(0, "h1", "channels", name))
        p = subprocess.Popen(["python3", "-c", "import os,time; fd=os.open(%r, os.O_WRONLY); "
                              "print('held', flush=True); time.sleep(60)" % self.at(1, "h1", "channels", "a", "lease")],
                             stdout=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"held\n")
            p.kill()
            p.wait(5)
        finally:
            p.stdout.close()
        deadline = time.time() + 10
        while os.path.exists(self.at(0, "h1", "channels", "a")) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(self.at(0, "h1", "channels", "a")))
        # A lease held through h2's socket: h2 dies, h1 ends its sessions.
        c = ninep.Client(self.d[1].sock)
        self.addCleanup(c.close)
        c.open("h1/channels/b/lease", ninep.O_WRONLY)
        self.d[1].proc.kill()
        deadline = time.time() + 30  # detection and the session's end; generous under ASan
        while os.path.exists(self.at(0, "h1", "channels", "b")) and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.exists(self.at(0, "h1", "channels", "b")))


if __name__ == "__main__":
    unittest.main(verbosity=2)


# The same through a peer: leases of h1's elements held through h2's mount.

class LeaseThroughAPeer(ThroughAPeer, Lease):
    pass


class LeaseOfAnotherUserThroughAPeer(ThroughAPeer, LeaseOfAnotherUser):
    pass
