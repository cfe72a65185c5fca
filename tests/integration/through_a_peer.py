"""One host's files reached through another member's mount, so that a suite
written for one daemon runs again with every call carried over a peer link
("it behaves exactly as it does locally", issue 8); and the free ports the
members of a test listen on."""
import os
import random
import socket

from harness import Daemon, make_class_key, members, wait_until


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1, below the range the
    kernel hands out to connections (ip_local_port_range): a member's own
    links and every client take ports from that range, so one could take
    a port picked there before the daemon that is to listen on it binds it
    ("Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", port))
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


class PeerView:
    """Daemon `owner`'s files as `via`'s mount shows them: every path is
    under via's mount, so each call goes to via, which carries it to the
    owner. The owner's log stands for the view's; it is alive while both
    daemons are."""

    def __init__(self, owner, via):
        self.owner, self.via = owner, via
        self.name = owner.name
        self.mnt = via.mnt
        self.sock = via.sock  # a 9P client of via, walking into the owner
        self.dir = via.dir  # holds the mount point users must reach
        # The owner's: the daemon that runs its workers and holds its files.
        self.proc, self.owner_sock, self.store = owner.proc, owner.sock, owner.store
        self.log_path = owner.log_path

    def path(self, *parts):
        return os.path.join(self.via.mnt, *parts)

    def host(self, *parts):
        return os.path.join(self.via.mnt, self.name, *parts)

    def chan(self, name, *parts):
        return os.path.join(self.via.mnt, self.name, "channels", name, *parts)

    def log(self):
        return self.owner.log()

    def alive(self):
        return self.owner.alive() and self.via.alive()


class ThroughAPeer:
    """Mixed in before a DaemonTest class: its tests run against h1
    through the mount (or socket) of h2, a second member; both get the
    class's daemon_args. Where circuit(4) (Other members) says a peer's
    mount differs, the tests read the attributes below (harness.DaemonTest
    says what each means)."""

    close_repeats_refusal = False
    close_acts_on_owner = False
    received_at_last_byte = False
    removal_seen_at_once = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        make_class_key(cls)

    def start_daemon(self):
        seed = "127.0.0.1:%d" % free_port()
        h1 = Daemon(name="h1", args=tuple(self.daemon_args) + ("--key", self.key, "--listen", seed))
        self.addCleanup(h1.cleanup)
        os.chmod(h1.dir, 0o755)  # its store: other users' workers exec from it, as on one host
        # The same flags: who may use the mount is each member's own rule.
        h2 = Daemon(name="h2", args=tuple(self.daemon_args) + ("--key", self.key, "--listen",
                                                                "127.0.0.1:%d" % free_port(), "--join", seed))
        self.addCleanup(h2.cleanup)
        wait_until(lambda: members(h2) == {"h1": "alive", "h2": "alive"}, "h2 to list h1 alive")
        return PeerView(h1, h2)
