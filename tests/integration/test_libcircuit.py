"""libcircuit (issue 9), against real daemons: its calls (chan_test, a
Catch2 program), the library installed and built against from outside
the tree both ways (find_package and pkg-config), the example programs
across daemons (a channel of another host, the seed program, map-reduce,
a supervisor), and spawn across hosts in network namespaces: a hundred
workers at once, and a host killed under a waiting call."""
import errno
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, DaemonTest, members, opened, pids_whose_cmdline, read, write
from ninep import NOTAG, O_RDWR, Conn, Tattach, Tlopen, Tread, Tversion, Twalk, Twrite
from harness import wait_until as wait_for
from test_cluster import ClusterTest
from test_netns import HostsInNamespaces
from test_permissions import GROUP, MAKER, PermissionTest, needs_root
from through_a_peer import ThroughAPeer

BUILD = os.environ.get("CIRCUIT_BUILD", os.path.join(ROOT, "build"))
CHAN_TEST = os.environ.get("LIBCIRCUIT_TEST", os.path.join(BUILD, "tests/libcircuit_test"))
FAIL_ACCEPT = os.environ.get("FAIL_ACCEPT", os.path.join(BUILD, "tests/libfail_accept.so"))


class Calls(DaemonTest):
    timeout = 120
    daemon_args = ("--max-message", str(8 << 20))

    def test_the_channel_calls_against_a_daemon(self):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d.sock, CIRCUIT_MOUNT=self.d.mnt)
        r = subprocess.run([CHAN_TEST], env=env, capture_output=True, timeout=100)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        # What the program made and did not keep is gone.
        self.assertEqual(sorted(os.listdir(self.d.host("channels"))), ["error", "help"])

    def test_a_call_waiting_when_the_daemon_dies_throws_at_once(self):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d.sock, CIRCUIT_MOUNT=self.d.mnt,
                   CIRCUIT_DAEMON_PID=str(self.d.proc.pid))
        r = subprocess.run([CHAN_TEST, "[.kill]"], env=env, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertIn(b"All tests passed", r.stdout)
        self.d.proc.wait(10)
        self.d.stop()   # detaches the dead daemon's mount
        self.d.start()  # the harness checks that its daemon lives at the end


class GoroutinesFromTheShell(DaemonTest):
    """A libcircuit program started by hand as spawn starts one (its spec
    runs it with --circuit-run FN ARGS), then listed, inspected, given a
    goroutine and cancelled with ls, cat and echo."""

    timeout = 60

    def start_program(self, env=None):
        os.mkdir(self.d.chan("c"))
        spec = {"path": os.path.realpath(CHAN_TEST), "args": ["--circuit-run", "park", '["/h1/channels/c"]']}
        if env is not None:
            spec["env"] = env
        os.mkdir(self.d.host("workers", "w"))
        with open(self.d.host("workers", "w", "spec"), "w") as f:
            f.write(json.dumps(spec))
        self.wait_for(lambda: os.path.exists(self.d.host("workers", "w", "goroutines", "1", "stat")),
                      "the program's goroutines to appear", timeout=10)

    def test_a_program_out_of_descriptors_serves_its_files_once_it_has_some(self):
        # Its first three accepts fail with EMFILE (a preload), as in a
        # program at its descriptor limit when its daemon connects. Giving
        # up would leave the daemon's handshake unanswered and the program
        # without files for good; it tries again every 100 ms.
        # In an ASan build the preload comes before ASan's runtime, which
        # it allows when told.
        asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        self.start_program(["PATH=" + os.environ.get("PATH", "/usr/bin:/bin"), "ASAN_OPTIONS=" + asan,
                            "LD_PRELOAD=" + FAIL_ACCEPT, "FAIL_ACCEPTS=3"])
        self.assertEqual(self.go('{"fn":"cube","args":[3]}'), b'{"value":27}')
        self.sh("echo cancel > workers/w/goroutines/1/ctl")
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')
        err = self.sh("cat workers/w/stderr").stdout  # whole once the program ended
        self.assertEqual(err.count(b"circuit: the program's files wait: accept: Too many open files; "
                                   b"trying again every 100 ms\n"), 1, err)
        self.assertIn(b"circuit: the program's files are served: accept works again\n", err)

    def start_out_of_descriptors(self, env):
        """The program with the preload of the test above set by `env`; its
        stderr once it ended, after a call and the cancel of its main."""
        asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        self.start_program(["PATH=" + os.environ.get("PATH", "/usr/bin:/bin"), "ASAN_OPTIONS=" + asan,
                            "LD_PRELOAD=" + FAIL_ACCEPT, *env])
        self.assertEqual(self.go('{"fn":"cube","args":[3]}'), b'{"value":27}')
        self.sh("echo cancel > workers/w/goroutines/1/ctl")
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')
        return self.sh("cat workers/w/stderr").stdout

    def test_a_program_out_of_descriptors_as_it_starts_makes_its_socket_once_it_has_some(self):
        # The socket(2) of its socket for the daemon fails with EMFILE
        # twice (the preload, on the thread that serves its files), as in a
        # program at its descriptor limit as it starts.
        err = self.start_out_of_descriptors(["FAIL_SOCKETS=2"])
        self.assertEqual(len(re.findall(rb"circuit: the program's files wait: cannot serve at /tmp/circuit-program-"
                                        rb"\w+/9p: socket: Too many open files; trying again every 100 ms\n", err)), 1,
                         err)
        self.assertIn(b"circuit: the program's files are served now\n", err)

    def test_a_program_out_of_descriptors_as_it_starts_asks_its_daemon_to_serve_once_it_has_some(self):
        # Its socket is made; its connection to the daemon, to write
        # `serve` to its worker's ctl, fails twice.
        err = self.start_out_of_descriptors(["FAIL_SOCKETS_AFTER=1", "FAIL_SOCKETS=2"])
        self.assertEqual(len(re.findall(rb"circuit: the program's files wait: cannot reach the daemon: /\S+/sock: "
                                        rb"Too many open files; trying again every 100 ms\n", err)), 1, err)
        self.assertIn(b"circuit: the program's files are served now\n", err)

    def test_a_program_whose_files_cannot_be_served_says_why_at_serve_and_does_not_hang(self):
        # Its socket(2) is refused for good (EACCES, the preload): the
        # files thread says so, and a function's rt.serve, which waits on
        # that thread, throws those words where it waited for ever.
        asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        os.mkdir(self.d.chan("c"))
        os.mkdir(self.d.host("workers", "w"))
        spec = {"path": os.path.realpath(CHAN_TEST), "args": ["--circuit-run", "counter", '["/h1/channels/c"]'],
                "env": ["PATH=" + os.environ.get("PATH", "/usr/bin:/bin"), "ASAN_OPTIONS=" + asan,
                        "LD_PRELOAD=" + FAIL_ACCEPT, "FAIL_SOCKETS=1000", "FAIL_SOCKETS_ERRNO=%d" % errno.EACCES]}
        with open(self.d.host("workers", "w", "spec"), "w") as f:
            f.write(json.dumps(spec))
        self.assertNotEqual(self.sh("cat workers/w/wait", timeout=30).stdout, b"")
        result = self.sh("cat workers/w/result").stdout
        self.assertRegex(result, rb"serve: the program's files are not served: cannot serve at "
                                 rb"/tmp/circuit-program-\w+/9p: socket: Permission denied")
        self.assertIn(b"circuit: the program's files are not served: cannot serve at ",
                      self.sh("cat workers/w/stderr").stdout)

    def test_a_call_with_no_thread_to_run_on_is_refused_with_words_and_nothing_runs(self):
        # The program cannot make a thread (the preload: pthread_create on
        # its files thread fails with EAGAIN, as at its thread or memory
        # limit). Thrown out of the server, that ended the program. The
        # first call wants two: the watcher of goroutines that start on
        # the files thread and, without one, a thread for the goroutine.
        asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
        self.start_program(["PATH=" + os.environ.get("PATH", "/usr/bin:/bin"), "ASAN_OPTIONS=" + asan,
                            "LD_PRELOAD=" + FAIL_ACCEPT, "FAIL_THREADS=2"])
        os.mkdir(self.d.chan("later"))
        write(self.d.chan("later", "cap"), "1")
        g = "workers/w/goroutines"
        with opened(self.d.host(g, "go"), os.O_RDWR) as fd:
            with self.assertRaises(OSError) as e:
                os.write(fd, b'{"fn":"park","args":["/h1/channels/later"]}')
        self.assertEqual(e.exception.errno, errno.EAGAIN)
        said = read(self.d.host(g, "error"))
        self.assertIn(b"go: no thread for park (the program is at its limit of threads or memory: ", said)
        self.assertIn(b"); nothing ran, try again later", said)
        # Nothing took the message a park would have.
        write(self.d.chan("later", "send"), "7")
        self.assertEqual(self.sh("ls %s" % g).stdout, b"1\nerror\ngo\nhelp\n")
        self.assertEqual(read(self.d.chan("later", "recv")), b"7")
        # The program lives, and the next call has its thread.
        self.assertEqual(self.go('{"fn":"cube","args":[3]}'), b'{"value":27}')
        self.sh("echo cancel > %s/1/ctl" % g)
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')

    def go(self, call):
        """A call written to go and its result read, on one open."""
        return self.sh("exec 3<>workers/w/goroutines/go; printf '%%s' '%s' >&3 && cat <&3" % call,
                       check=False).stdout

    def test_the_go_file_refuses_bad_calls_in_words_and_keeps_serving(self):
        self.start_program()
        g = "workers/w/goroutines"
        for bad in ("not json", '{"fn":3}', '{"fn":"cube","args":4}', '[1,2]', '"cube"'):
            with open(self.d.host(g, "go"), "r+b", buffering=0) as f:
                with self.assertRaises(OSError) as e:
                    f.write(bad.encode())
            self.assertEqual(e.exception.errno, errno.EINVAL, bad)
            r = self.sh("printf '%%s' '%s' > %s/go || cat %s/error" % (bad, g, g), check=False)
            self.assertIn(b'go: write {"fn":NAME,"args":[...]}, not "', r.stdout, bad)
        # A call in pieces, as a { ...; } group writes it, is one call.
        r = self.sh("""exec 3<>%s/go; { printf '{"fn":"cu'; printf 'be","args":[3]}'; } >&3; cat <&3""" % g)
        self.assertEqual(r.stdout, b'{"value":27}')
        # Arguments that do not fit the function reach its side, whose words
        # (which argument, quoted) are the result.
        self.assertEqual(self.go('{"fn":"cube","args":["x"]}'),
                         b'{"error":"cube on h1: argument 1 of 1, \\"x\\", is not of the type the function takes"}')
        self.assertEqual(self.go('{"fn":"cube","args":[1,2]}'),
                         b'{"error":"cube on h1: the function takes 1 argument, not 2"}')
        # A number past a double's range is refused at the write, not handed on
        # as "Infinity", which is not JSON.
        r = self.sh("""printf '%%s' '{"fn":"cube","args":[1e400]}' > %s/go || cat %s/error""" % (g, g), check=False)
        self.assertIn(b'go: the arguments hold a number past the range of a double, not "', r.stdout)
        # A second call on one open, and a read before any call.
        r = self.sh("""exec 3<>%s/go; echo '{"fn":"cube","args":[2]}' >&3; echo '{"fn":"cube","args":[5]}' >&3 ||
                       cat %s/error""" % (g, g), check=False)
        self.assertIn(b"go: this open runs a goroutine already; open go again for another", r.stdout)
        r = self.sh("exec 3<>%s/go; cat <&3 || cat %s/error" % (g, g), check=False)
        self.assertIn(b"go: write a call first", r.stdout)
        # Oversized: an unfinished call past 8 MiB is refused with EFBIG, and
        # so is every later write of that open; nothing of it is kept.
        with opened(self.d.host(g, "go"), os.O_RDWR) as fd:
            os.write(fd, b'{"fn":"cube","args":["')
            with self.assertRaises(OSError) as e:
                for _ in range(9):
                    buf = b"x" * (1 << 20)
                    while buf:
                        buf = buf[os.write(fd, buf):]
            self.assertEqual(e.exception.errno, errno.EFBIG, self.sh("cat %s/error" % g).stdout)
            with self.assertRaises(OSError) as e:
                os.write(fd, b'"]}')
            self.assertEqual(e.exception.errno, errno.EFBIG)
        self.assertIn(b"go: a call is at most 8388608 bytes of JSON; this one reached",
                      self.sh("cat %s/error" % g).stdout)
        # A call left unfinished at the close runs nothing, and says so.
        self.sh("""printf '{"fn":"cube"' > %s/go""" % g, check=False)
        self.wait_for(lambda: b"is not whole JSON at the close; nothing ran" in self.sh("cat %s/error" % g).stdout,
                      "the unfinished call's words in error")
        # The program still serves calls, and only park runs in it.
        self.assertEqual(self.go('{"fn":"cube","args":[4]}'), b'{"value":64}')
        self.assertEqual(self.sh("ls %s" % g).stdout, b"1\nerror\ngo\nhelp\n")
        self.sh("echo cancel > %s/1/ctl" % g)
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')

    def test_an_interrupted_read_of_a_result_returns_at_once_and_a_later_read_takes_it(self):
        self.start_program()
        os.mkdir(self.d.chan("later"))
        r = self.sh("""exec 3<>workers/w/goroutines/go
            echo '{"fn":"park","args":["/h1/channels/later"]}' >&3
            start=$(date +%s%N)
            timeout -s INT 0.5 cat <&3; echo "cat: $?"
            echo "took $(( ($(date +%s%N) - start) / 1000000 )) ms"
            echo 7 > channels/later/send
            cat <&3""", timeout=30)
        out = r.stdout.decode()
        self.assertIn("cat: 124", out)  # interrupted, with nothing read
        self.assertLess(int(re.search(r"took (\d+) ms", out).group(1)), 5000)
        self.assertTrue(out.endswith('{"value":"got 7"}'), out)
        self.sh("echo cancel > workers/w/goroutines/1/ctl")
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')

    def test_eighty_calls_parked_in_a_program_with_1_mib_reads_do_not_hold_the_next(self):
        # Each call's read of its result is carried to the program with its
        # count; the daemon's one connection to the program carries them
        # all, so parked reads must not stop it (connection.hpp).
        self.start_program()
        os.mkdir(self.d.chan("later"))
        call = b'{"fn":"park","args":["/h1/channels/later"]}'
        conns = []
        for i in range(80):
            if i % 8 == 0:  # a socket client holds at most 64 MiB of reads in flight
                c = Conn(self.d.sock)
                self.addCleanup(c.close)
                c.send(NOTAG, Tversion(1 << 20))
                c.recv()
                c.send(1, Tattach(0))
                c.recv()
                conns.append(c)
            fid = 10 + i
            c.send(2, Twalk(0, fid, ["h1", "workers", "w", "goroutines", "go"]))
            self.assertEqual(c.recv().type, "walk")
            c.send(3, Tlopen(fid, O_RDWR))
            r = c.recv()
            self.assertEqual(r.type, "lopen", "call %d: errno %s; %s" % (i, getattr(r, "errno", None), self.d.log()[-300:]))
            c.send(4, Twrite(fid, 0, call))
            self.assertEqual(c.recv().type, "write")
            c.send(100 + i, Tread(fid, len(call), 1 << 20))  # parks until park returns
        self.wait_for(lambda: len(os.listdir(self.d.host("workers", "w", "goroutines"))) >= 80 + 4,
                      "80 goroutines parked")
        self.assertEqual(self.go('{"fn":"cube","args":[5]}'), b'{"value":125}')
        for _ in range(80):
            write(self.d.chan("later", "send"), b"1")
        got = sorted(r.tag for c in conns for r in [c.recv() for _ in range(8)])
        self.assertEqual(got, list(range(100, 180)))

    def test_a_shell_lists_inspects_starts_and_cancels_goroutines(self):
        self.start_program()
        self.assertEqual(self.sh("ls workers/w/goroutines").stdout, b"1\nerror\ngo\nhelp\n")
        self.wait_for(lambda: b'"waiting":"recv /h1/channels/c"' in self.sh("cat workers/w/goroutines/1/stat").stdout,
                      "park to wait in its recv")
        st = json.loads(self.sh("cat workers/w/goroutines/1/stat").stdout)
        self.assertEqual((st["id"], st["fn"], st["state"]), (1, "park", "waiting"))
        self.assertIn(b"gofns::park", self.sh("cat workers/w/goroutines/1/stack").stdout)
        # A goroutine of one's own: write the call, read the result, on one open.
        r = self.sh("""exec 3<>workers/w/goroutines/go; echo '{"fn":"cube","args":[4]}' >&3; cat <&3""")
        self.assertEqual(r.stdout, b'{"value":64}')
        r = self.sh("""exec 3<>workers/w/goroutines/go; echo '{"fn":"nothing"}' >&3 || cat workers/w/goroutines/error""",
                    check=False)
        self.assertIn(b'go: no function "nothing" is registered in this program', r.stdout)
        r = self.sh("echo stop > workers/w/goroutines/1/ctl || cat workers/w/goroutines/1/error", check=False)
        self.assertIn(b'ctl: the command is cancel, not "stop"', r.stdout)
        # Cancel: park's recv throws circuit::cancelled; it returns, and the worker ends.
        self.sh("echo cancel > workers/w/goroutines/1/ctl")
        self.assertEqual(self.sh("cat workers/w/wait").stdout, b'{"exit":0}\n')
        self.assertEqual(json.loads(self.sh("cat workers/w/result").stdout),
                         {"value": "cancelled: recv: /h1/channels/c/recv: cancelled (ctl cancel of goroutine 1)"})
        # Its files went with it.
        self.assertFalse(os.path.exists(self.d.host("workers", "w", "goroutines")))
        self.assertEqual(json.loads(read(self.d.chan("c", "stat")))["received"], 0)


class GoroutinesFromTheShellThroughAPeer(ThroughAPeer, GoroutinesFromTheShell):
    """The same from h2's mount and socket: each call is carried to h1,
    which carries it to the program's own files."""


@needs_root
class SpawnAsAnotherUser(PermissionTest):
    """A member of --allow-group spawns, and the worker runs as that member:
    a user can start nothing as anyone else."""

    daemon_args = ("--allow-group", GROUP)
    timeout = 60

    def test_a_member_spawns_workers_that_run_as_the_member(self):
        # The program and its library where the member may read them.
        d = tempfile.mkdtemp(prefix="circuit-lib-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        shutil.copy(CHAN_TEST, d)
        lib = os.path.join(BUILD, "libcircuit")
        for n in os.listdir(lib):
            if n.startswith("libcircuit.so"):
                shutil.copy(os.path.join(lib, n), d, follow_symlinks=True)
        pw = pwd.getpwnam(MAKER)
        env = dict(os.environ, CIRCUIT_SOCKET=self.d.sock, LD_LIBRARY_PATH=d)
        r = subprocess.run(["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--init-groups",
                            os.path.join(d, os.path.basename(CHAN_TEST)), "[.uid]"],
                           env=env, cwd="/", capture_output=True, timeout=50)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertIn(("uid %d %d\n" % (pw.pw_uid, pw.pw_uid)).encode(), r.stdout)


class Installed(DaemonTest):
    """make install's files, used as an outside program uses them."""

    timeout = 300

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = tempfile.mkdtemp(prefix="circuit-install-")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], check=True,
                       capture_output=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def run_example(self, exe, *args):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d.sock)
        return subprocess.run([exe, *args], env=env, capture_output=True, timeout=30)

    def test_install_puts_headers_library_package_and_man_pages_in_place(self):
        lib = os.path.join(self.prefix, "lib")
        for f in ["include/circuit/circuit.hpp", "include/circuit/chan.hpp", "lib/cmake/circuit/circuitConfig.cmake",
                  "lib/pkgconfig/circuit.pc", "share/man/man3/libcircuit.3", "share/man/man4/circuit.4",
                  "bin/circuitd", "bin/circuit"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, f)), f)
        self.assertTrue(any(n.startswith("libcircuit.so") for n in os.listdir(lib)))

    def test_an_outside_program_builds_with_find_package_and_runs(self):
        out = tempfile.mkdtemp(prefix="circuit-example-")
        self.addCleanup(shutil.rmtree, out, True)
        # A copy of the examples' folder, out of the tree, as a user has it.
        src = os.path.join(out, "src")
        shutil.copytree(os.path.join(ROOT, "libcircuit/examples"), src)
        c = subprocess.run(["cmake", "-S", src, "-B", os.path.join(out, "build"), "-DCMAKE_PREFIX_PATH=" + self.prefix],
                           capture_output=True, timeout=120)
        self.assertEqual(c.returncode, 0, c.stdout.decode() + c.stderr.decode())
        out = os.path.join(out, "build")
        b = subprocess.run(["cmake", "--build", out], capture_output=True, timeout=200)
        self.assertEqual(b.returncode, 0, b.stdout.decode() + b.stderr.decode())
        r = self.run_example(os.path.join(out, "channels"))
        self.assertEqual((r.returncode, r.stdout), (0, b"sum of squares: 14\n"), r.stderr.decode())

    def test_an_outside_program_builds_with_pkg_config_and_runs(self):
        out = tempfile.mkdtemp(prefix="circuit-example-")
        self.addCleanup(shutil.rmtree, out, True)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib/pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "circuit"], env=env, check=True,
                               capture_output=True, timeout=10).stdout.decode().split()
        exe = os.path.join(out, "channels")
        b = subprocess.run(["g++", os.path.join(ROOT, "libcircuit/examples/channels.cpp"), "-o", exe, *flags,
                            "-Wl,-rpath," + os.path.join(self.prefix, "lib")], capture_output=True, timeout=200)
        self.assertEqual(b.returncode, 0, b.stderr.decode())
        r = self.run_example(exe)
        self.assertEqual((r.returncode, r.stdout), (0, b"sum of squares: 14\n"), r.stderr.decode())
        # Without a daemon it fails with words, not a hang.
        r = subprocess.run([exe], env=dict(os.environ, CIRCUIT_SOCKET="/nonexistent.sock"), capture_output=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"cannot reach the daemon", r.stderr)


class AcrossHosts(ClusterTest):
    size = 2
    # Longer than any wait of the calls: an answer held as if its link had
    # failed would show as a timeout (go_test's worker_died case).
    member_args = ("--link-timeout", "60")

    def test_a_program_on_h2_sends_to_a_channel_of_h1_through_its_own_daemon(self):
        os.mkdir(self.at(0, "h1", "channels", "inbox"))
        got = subprocess.Popen(["cat", self.at(0, "h1", "channels", "inbox", "recv")], stdout=subprocess.PIPE)
        try:
            env = dict(os.environ, CIRCUIT_SOCKET=self.d[1].sock)
            r = subprocess.run([os.path.join(BUILD, "examples/channels"), "/h1/channels/inbox"], env=env,
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(r.stdout, b"sum of squares: 14\nsent to /h1/channels/inbox\n")
            self.assertEqual(got.communicate(timeout=20)[0], b'"hello from h2"')
        finally:
            if got.poll() is None:
                got.kill()
                got.wait()
        # The program's own channel, made on h2, is gone.
        self.assertEqual(sorted(os.listdir(self.at(1, "h2", "channels"))), ["error", "help"])

    def test_the_seed_program_spawns_ping_on_h2_and_a_second_run_starts_clean(self):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock)
        exe = os.path.join(BUILD, "examples/roundtrip")
        with open(exe, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        for run in range(2):
            r = subprocess.run([os.path.join(BUILD, "examples/roundtrip"), "h2"], env=env, capture_output=True,
                               timeout=60)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"Roundtrip complete.\n", b""), "run %d" % run)
            # Nothing is left of it: its channel on h1, its worker on h2.
            self.assertEqual(sorted(os.listdir(self.at(0, "h1", "channels"))), ["error", "help"])
            self.assertEqual(sorted(os.listdir(self.at(1, "h2", "workers"))), ["error", "help"])
            # The program's binary crossed to h2's store once: the second
            # run found it there and sent nothing.
            st = json.loads(read(self.at(1, "h2", "bin", "stat")))
            self.assertEqual((st["stored"], st["received"], st["binaries"][sha]["size"]),
                             (1, os.path.getsize(exe), os.path.getsize(exe)), st)

    def test_the_spawn_calls_from_h1_to_workers_on_h2(self):
        # The checks look at h2's own mount: another member's mount may show
        # an entry up to a second after it went (circuit(4), caching).
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock, CIRCUIT_MOUNT=self.d[1].mnt, CIRCUIT_SPAWN_HOST="h2")
        r = subprocess.run([CHAN_TEST, "[spawn],[go]"], env=env, capture_output=True, timeout=200)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        self.assertIn(b"All tests passed", r.stdout)
        self.assertEqual(sorted(os.listdir(self.at(1, "h2", "workers"))), ["error", "help"])

    def test_a_program_killed_by_a_signal_leaves_neither_its_channel_nor_its_worker_even_with_a_child_left_running(self):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock, CIRCUIT_MOUNT=self.d[0].mnt, CIRCUIT_SPAWN_HOST="h2")
        p = subprocess.Popen([CHAN_TEST, "[.die]"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in p.stdout:  # Catch2 says its filter first
                if line.startswith(b"ready "):
                    break
            _, chan, worker, child = line.decode().split()
            # A child it started (/bin/sleep 60) outlives it, as "helper &" does.
            self.addCleanup(subprocess.run, ["kill", "-KILL", child], capture_output=True)
            self.assertEqual((chan, worker.startswith("/h2/workers/nap-")), ("/h1/channels/doomed", True))
            self.assertTrue(os.path.isdir(self.at(1, *worker.split("/")[1:])))
            p.kill()
            p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        deadline = time.time() + 20  # the connections' ends reach both daemons; generous under ASan
        while time.time() < deadline and (sorted(os.listdir(self.at(0, "h1", "channels"))) != ["error", "help"] or
                                          sorted(os.listdir(self.at(1, "h2", "workers"))) != ["error", "help"]):
            time.sleep(0.05)
        self.assertEqual(sorted(os.listdir(self.at(0, "h1", "channels"))), ["error", "help"])
        self.assertEqual(sorted(os.listdir(self.at(1, "h2", "workers"))), ["error", "help"])

    def test_a_recv_on_h2_waiting_on_a_channel_of_h1_throws_host_down_when_h1_dies(self):
        os.mkdir(self.at(0, "h1", "channels", "far"))
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[1].sock, CIRCUIT_MOUNT=self.d[1].mnt,
                   CIRCUIT_REMOTE_CHAN="/h1/channels/far")
        p = subprocess.Popen([CHAN_TEST, "[.remote]"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in p.stdout:  # Catch2 says its filter first
                if line == b"waiting\n":
                    break
            time.sleep(0.5)  # into the parked open
            self.d[0].proc.kill()
            out, _ = p.communicate(timeout=30)  # detection takes seconds; generous under ASan
            self.assertEqual(p.returncode, 0, out.decode())
            self.assertRegex(out.decode(), r"words: (recv: /h1/channels/far/recv: )?host (down|unreachable): h1")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_a_program_on_h2_gets_host_down_words_for_a_channel_of_a_killed_host(self):
        os.mkdir(self.at(0, "h1", "channels", "inbox"))
        self.d[0].proc.kill()
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[1].sock)
        r = subprocess.run([os.path.join(BUILD, "examples/channels"), "/h1/channels/inbox"], env=env,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr.decode(), r"channels: .*(host down: h1|host unreachable: h1|no such channel)")


class NoWorkersLeft:
    def assert_no_workers_left(self):
        for d in self.d:  # each host's own mount (another's may cache an entry a second)
            self.assertEqual(sorted(os.listdir(d.host("workers"))), ["error", "help"], d.name)


class Examples(NoWorkersLeft, ClusterTest):
    """The map-reduce and the supervisor examples, run from h1 over three
    daemons, their output checked whole."""

    size = 3

    def example(self, name, *args):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock)
        return subprocess.run([os.path.join(BUILD, "examples", name), *args], env=env, capture_output=True,
                              timeout=120)


    def texts(self, hosts):
        """A directory with a folder of text files per host: {host} in the
        path the example takes picks each host's own."""
        top = tempfile.mkdtemp(prefix="circuit-words-")
        self.addCleanup(shutil.rmtree, top, True)
        files = {"h1": {"a.txt": "The cat saw the dog.\n", "b.txt": "A dog, a cat; the END", "sub/c.txt": "zebra"},
                 "h2": {"d.txt": "the the THE cat"},
                 "h3": {"e.txt": "dog\n\nbird"}}
        for host in hosts:
            for name, text in files[host].items():
                os.makedirs(os.path.dirname(os.path.join(top, host, name)), exist_ok=True)
                with open(os.path.join(top, host, name), "w") as f:
                    f.write(text)
        return os.path.join(top, "{host}")

    def test_mapreduce_counts_the_words_of_each_hosts_files_and_prints_the_top_ones(self):
        r = self.example("mapreduce", self.texts(["h1", "h2", "h3"]), "4")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        # A sub-folder's files (h1's zebra) are not counted; ties go alphabetically.
        self.assertEqual(r.stdout.decode(), """\
h1: 11 words in 2 file(s)
h2: 4 words in 1 file(s)
h3: 2 words in 1 file(s)
      6 the
      3 cat
      3 dog
      2 a
""")
        self.assert_no_workers_left()

    def test_mapreduce_tells_a_hosts_failed_mapper_and_counts_the_others(self):
        r = self.example("mapreduce", self.texts(["h1", "h2"]), "2")  # no folder for h3
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.decode(), """\
h1: 11 words in 2 file(s)
h2: 4 words in 1 file(s)
      6 the
      3 cat
""")
        err = r.stderr.decode()
        self.assertTrue(err.startswith("mapreduce: h3: count_words on h3: "), err)
        self.assertIn("No such file or directory", err)
        self.assert_no_workers_left()

    def test_mapreduce_leaves_out_a_host_declared_down(self):
        self.d[2].proc.kill()
        wait_for(lambda: members(self.d[0]).get("h3") == "down", "h3 to be down on h1", 60)
        r = self.example("mapreduce", self.texts(["h1", "h2"]), "1")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(r.stdout.decode(), """\
h1: 11 words in 2 file(s)
h2: 4 words in 1 file(s)
      6 the
""")

    def test_the_supervisor_restarts_only_the_crashed_child_with_a_growing_backoff(self):
        r = self.example("supervisor", "h2", "2", "0", "1")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(r.stdout.decode(), """\
child 1: died of signal ABRT on attempt 1; restart in 100 ms
child 1: died of signal ABRT on attempt 2; restart in 200 ms
child 1: done on attempt 3: 10
child 2: done on attempt 1: 20
child 3: died of signal ABRT on attempt 1; restart in 100 ms
child 3: done on attempt 2: 30
""")
        self.assert_no_workers_left()

    def test_the_supervisor_gives_up_on_a_child_after_three_restarts(self):
        r = self.example("supervisor", "h3", "4", "0")
        self.assertEqual((r.returncode, r.stderr), (1, b""))
        self.assertEqual(r.stdout.decode(), """\
child 1: died of signal ABRT on attempt 1; restart in 100 ms
child 1: died of signal ABRT on attempt 2; restart in 200 ms
child 1: died of signal ABRT on attempt 3; restart in 400 ms
child 1: died of signal ABRT on attempt 4; given up after 3 restarts
child 2: done on attempt 1: 20
""")
        self.assert_no_workers_left()


class InNamespaces(NoWorkersLeft, HostsInNamespaces):
    """Three members as separate hosts, each daemon in a network namespace
    of its own (test_netns); the programs run here and reach h1 through
    its socket, the workers start in their host's namespace."""

    size = 3
    timeout = 300

    def run_from_h1(self, argv, timeout):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock, CIRCUIT_MOUNT=self.d[0].mnt, CIRCUIT_SPAWN_HOST="h2")
        return subprocess.run(argv, env=env, capture_output=True, timeout=timeout)


    def test_the_seed_program_on_h1_spawns_ping_on_h2_across_the_network(self):
        r = self.run_from_h1([os.path.join(BUILD, "examples/roundtrip"), "h2"], 60)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"Roundtrip complete.\n", b""))
        self.assert_no_workers_left()

    def test_a_hundred_workers_spawned_across_three_hosts_at_once_all_give_their_own_value(self):
        r = self.run_from_h1([CHAN_TEST, "[.many]"], 280)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out + r.stderr.decode())
        self.assertIn("All tests passed", out)
        self.assertRegex(out, r"100 workers on h1 h2 h3: all results in [0-9.]+ s")
        print("\n  " + [l for l in out.splitlines() if l.startswith("100 workers")][0], end=" ")
        self.assert_no_workers_left()

    def test_a_wait_parked_on_a_worker_of_a_killed_host_throws_host_down(self):
        env = dict(os.environ, CIRCUIT_SOCKET=self.d[0].sock, CIRCUIT_SPAWN_HOST="h2")
        p = subprocess.Popen([CHAN_TEST, "[.hostdown]"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        never = None
        try:
            for line in p.stdout:  # Catch2 says its filter first
                if line.startswith(b"waiting on "):
                    never = line.split(b"(")[1].rstrip(b")\n")
                    break
            time.sleep(0.5)  # into the parked open of the worker's wait
            self.d[1].proc.kill()
            t0 = time.monotonic()
            out, _ = p.communicate(timeout=60)  # detection takes seconds; generous under ASan
            took = time.monotonic() - t0
            self.assertEqual(p.returncode, 0, out.decode())
            self.assertLess(took, 30, out.decode())
            m = re.search(r"host_down after ([0-9.]+) s: (.*)", out.decode())
            self.assertIsNotNone(m, out.decode())
            self.assertRegex(m.group(2), r"host (down|unreachable): h2")
            print("\n  h2 killed: the wait threw host_down after %s s" % m.group(1), end=" ")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            # The worker ends with its daemon's socket; should it not, it goes here.
            for pid in pids_whose_cmdline(lambda c: never is not None and never in c and b"--circuit-run" in c):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    unittest.main(verbosity=2)
