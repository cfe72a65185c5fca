"""Whole messages through a real mount (circuit(4), CHANNELS): a message is
everything written through one open of send and is delivered at its last
close or by fsync; a holder that dies of a signal delivers nothing; order
holds across put-backs; the end of a channel waits for held messages;
try-operations meet a waiting partner; message bytes are bounded by
--max-memory.

A returned close(2) does not mean delivered (the delivering close, FUSE
RELEASE, is asynchronous): these tests wait on stat or receive."""
import errno
import os
import random
import signal
import subprocess
import time

from harness import DaemonTest, errno_of, read, write
from through_a_peer import ThroughAPeer

MiB = 1 << 20


class Messages(DaemonTest):
    def settled(self, name, sent):
        """Waits until `sent` messages were delivered and no place is reserved."""
        self.wait_for(lambda: (self.stat(name)["sent"], self.stat(name)["reserved"]) == (sent, 0),
                      "%d messages delivered and no place reserved" % sent)

    def python(self, code, **kw):
        return self.spawn(["python3", "-c", code], stdout=subprocess.PIPE, **kw)

    # Item 3: one open, one message, delivered at the last close.

    def test_a_group_of_commands_with_one_redirect_sends_one_message(self):
        self.mkchan("a", 2)
        self.sh("{ echo header; /bin/echo body; echo footer; } > channels/a/send")
        self.assertEqual(read(self.d.chan("a", "recv")), b"header\nbody\nfooter\n")
        self.settled("a", 1)

    def test_a_descriptor_kept_open_by_exec_sends_everything_at_its_last_close(self):
        self.mkchan("a", 2)
        self.sh("set -e; exec 3>channels/a/send; echo a >&3; echo b >&3; "
                "test \"$(cat channels/a/stat | grep -o '\"sent\":[0-9]*')\" = '\"sent\":0'; "
                "exec 3>&-")
        self.assertEqual(read(self.d.chan("a", "recv")), b"a\nb\n")
        self.settled("a", 1)

    def test_fsync_delivers_at_once_and_later_writes_fail_with_ebadf(self):
        self.mkchan("a", 2)
        fd = os.open(self.d.chan("a", "send"), os.O_WRONLY)
        os.write(fd, b"now")
        os.fsync(fd)
        self.assertEqual(self.stat("a")["len"], 1)  # fsync has returned its verdict
        self.assertErrno(errno.EBADF, os.write, fd, b"more")
        self.assertIn("send: the message was delivered by fsync", self.error_text("h1/channels/a/error"))
        os.close(fd)
        self.assertEqual(read(self.d.chan("a", "recv")), b"now")
        time.sleep(0.1)  # the last close (after fsync) must deliver nothing more
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))
        self.assertEqual(self.stat("a")["sent"], 1)

    def test_dd_conv_fsync_delivers_the_message_before_its_last_close(self):
        self.mkchan("a", 1)
        self.sh("set -e; exec 3>channels/a/send; echo head >&3; "
                "printf tail | dd conv=fsync status=none >&3; "
                "grep -q '\"sent\":1,' channels/a/stat; exec 3>&-")
        self.assertEqual(read(self.d.chan("a", "recv")), b"head\ntail")

    def test_fsync_on_a_removed_channel_fails_with_enoent(self):
        self.mkchan("a", 1)
        fd = os.open(self.d.chan("a", "send"), os.O_WRONLY)
        os.write(fd, b"lost")
        os.rmdir(self.d.chan("a"))
        self.assertErrno(errno.ENOENT, os.fsync, fd)
        self.assertErrno(errno.ENOENT if self.close_repeats_refusal else 0, os.close, fd)

    # Item 4: all or nothing.

    def test_a_sender_killed_after_its_open_delivers_nothing(self):
        self.mkchan("a", 1)
        p = self.python("import os,time; fd=os.open('channels/a/send', os.O_WRONLY); "
                        "print('open', flush=True); time.sleep(60)")
        self.assertEqual(p.stdout.readline(), b"open\n")
        self.assertEqual(self.stat("a")["reserved"], 1)
        p.kill()
        p.wait(5)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "the place to be released")
        self.assertEqual((self.stat("a")["sent"], self.stat("a")["len"]), (0, 0))
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))

    def test_a_sender_that_kills_itself_mid_message_delivers_nothing(self):
        self.mkchan("a", 1)
        p = self.python("import os,signal; fd=os.open('channels/a/send', os.O_WRONLY); "
                        "os.write(fd, b'half a mess'); os.kill(os.getpid(), signal.SIGKILL)")
        self.assertEqual(p.wait(5), -signal.SIGKILL)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "the place to be released")
        self.assertEqual(self.stat("a")["sent"], 0)
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))

    def test_a_sender_killed_from_outside_mid_message_delivers_nothing(self):
        self.mkchan("a", 1)
        p = self.python("import os,time; fd=os.open('channels/a/send', os.O_WRONLY); "
                        "os.write(fd, b'x' * 300000); print('wrote', flush=True); time.sleep(60)")
        self.assertEqual(p.stdout.readline(), b"wrote\n")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(5)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "the place to be released")
        self.assertEqual(self.stat("a")["sent"], 0)
        # and the channel goes on
        write(self.d.chan("a", "send"), "next")
        self.assertEqual(read(self.d.chan("a", "recv")), b"next")

    def test_a_child_killed_while_holding_the_open_aborts_the_message(self):
        self.mkchan("a", 1)
        r = self.sh("exec 3>channels/a/send; echo a >&3; sh -c 'kill -9 $$'; "
                    "echo b >&3 || echo refused; exec 3>&-", check=False)
        self.assertIn(b"refused", r.stdout)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "the place to be released")
        self.assertEqual(self.stat("a")["sent"], 0)
        self.assertIn("died of a signal", self.error_text("h1/channels/a/error"))

    def test_a_sender_that_exits_without_closing_still_sends(self):
        self.mkchan("a", 2)
        self.sh("/bin/echo x > channels/a/send")
        p = self.python("import os; fd=os.open('channels/a/send', os.O_WRONLY); os.write(fd, b'y'); os._exit(3)")
        self.assertEqual(p.wait(5), 3)
        self.assertEqual(read(self.d.chan("a", "recv")), b"x\n")
        self.assertEqual(read(self.d.chan("a", "recv")), b"y")

    def test_an_open_closed_with_nothing_written_sends_an_empty_message(self):
        self.mkchan("a", 1)
        os.close(os.open(self.d.chan("a", "send"), os.O_WRONLY))
        self.settled("a", 1)
        self.assertEqual(read(self.d.chan("a", "recv")), b"")

    def forked(self, fn):
        """Runs fn in a forked child (cheap: no exec) with SIGINT at its
        default; the child ends with fn's status, never returning here."""
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                status = fn()
            finally:
                os._exit(status)
        return pid

    def until(self, cond, what):
        deadline = time.time() + 5
        while not cond():
            if time.time() > deadline:
                self.fail("gave up waiting for " + what)
            time.sleep(0.001)

    def test_sigint_on_a_blocked_send_as_a_receiver_arrives_never_delivers_an_empty_message(self):
        self.mkchan("a")
        send, recv = self.d.chan("a", "send"), self.d.chan("a", "recv")
        rng = random.Random(6)
        outcomes = {}

        def sender():
            fd = os.open(send, os.O_WRONLY)
            os.write(fd, b"x\n")
            return 0

        for i in range(80):
            sent = self.stat("a")["sent"]
            s = self.forked(sender)
            self.until(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
            rfd, wfd = os.pipe()

            def receiver():
                fd = os.open(recv, os.O_RDONLY)
                data = b""
                while chunk := os.read(fd, 100):
                    data += chunk
                os.write(wfd, b"got:" + data)
                return 0

            r = self.forked(receiver)
            os.close(wfd)
            if i % 2:  # a moment after the receiver set out
                time.sleep(rng.random() * 0.003)
            else:  # as soon as its open gave the sender a place
                self.until(lambda: (lambda st: st["reserved"] == 1 or st["sent"] > sent)(self.stat("a")),
                           "the sender to get a place")
            os.kill(s, signal.SIGINT)
            os.waitpid(s, 0)
            self.until(lambda: self.stat("a")["reserved"] == 0 and self.stat("a")["senders_waiting"] == 0,
                       "the sender to be gone")
            # The receiver got the whole message, or still waits.
            self.until(lambda: os.waitpid(r, os.WNOHANG)[0] != 0 or self.stat("a")["receivers_waiting"] == 1,
                       "the receiver to end or wait")
            try:
                os.kill(r, signal.SIGINT)
                os.waitpid(r, 0)
            except ChildProcessError:
                pass  # reaped above
            except ProcessLookupError:
                pass
            with os.fdopen(rfd, "rb") as f:
                out = f.read()
            self.assertIn(out, (b"", b"got:x\n"), "an empty message was delivered" if out == b"got:" else out)
            outcomes[out] = outcomes.get(out, 0) + 1
            self.until(lambda: self.stat("a")["receivers_waiting"] == 0, "the receiver to leave")
        st = self.stat("a")
        self.assertEqual(st["sent"], st["received"])
        self.assertEqual(st["sent"], outcomes.get(b"got:x\n", 0))
        print("\n80 SIGINTs on a parked send as a receiver came: %d delivered whole, %d nothing "
              "(%d of them aborted after the open)"
              % (outcomes.get(b"got:x\n", 0), outcomes.get(b"", 0), self.d.log().count("abort: send:")))

    # Item 5: order across put-backs.

    def test_messages_put_back_by_receivers_keep_their_place_in_the_order(self):
        self.mkchan("a", 3)
        for m in (b"A", b"B", b"C"):
            write(self.d.chan("a", "send"), m)
        self.settled("a", 3)
        ra = os.open(self.d.chan("a", "recv"), os.O_RDONLY)  # takes A
        rb = os.open(self.d.chan("a", "recv"), os.O_RDONLY)  # takes B
        self.assertEqual(self.stat("a")["held"], 2)
        os.close(ra)
        os.close(rb)
        self.wait_for(lambda: self.stat("a")["len"] == 3, "both messages to come back")
        self.assertEqual([read(self.d.chan("a", "recv")) for _ in range(3)], [b"A", b"B", b"C"])

    # Item 6: end of channel only when nothing is buffered, reserved or held.

    def test_a_closed_channel_does_not_end_while_a_receiver_holds_a_message(self):
        self.mkchan("a", 1)
        write(self.d.chan("a", "send"), "last")
        self.settled("a", 1)
        write(self.d.chan("a", "close"), "close")
        holder = self.python("import os,time; fd=os.open('channels/a/recv', os.O_RDONLY); "
                             "print('took', flush=True); time.sleep(60)")
        self.assertEqual(holder.stdout.readline(), b"took\n")
        self.assertEqual((self.stat("a")["len"], self.stat("a")["held"]), (0, 1))
        self.assertErrno(errno.EAGAIN, read, self.d.chan("a", "tryrecv"))
        waiter = self.parked_receiver("a", stdout=subprocess.PIPE)
        self.assertIsNone(waiter.poll())
        holder.kill()
        holder.wait(5)
        self.assertEqual(waiter.communicate(timeout=5)[0], b"last")
        self.assertEqual(waiter.returncode, 0)
        self.assertErrno(errno.EPIPE, read, self.d.chan("a", "recv"))

    def test_a_closed_channel_ends_when_the_last_held_message_is_consumed(self):
        self.mkchan("a", 1)
        write(self.d.chan("a", "send"), "last")
        self.settled("a", 1)
        write(self.d.chan("a", "close"), "close")
        fd = os.open(self.d.chan("a", "recv"), os.O_RDONLY)
        waiter = self.parked_receiver("a", stderr=subprocess.PIPE)
        self.assertEqual(os.read(fd, 100), b"last")
        if not self.received_at_last_byte:
            # Held until a read past its end: the channel has not ended yet.
            with self.assertRaises(subprocess.TimeoutExpired):
                waiter.wait(0.5)
            self.assertEqual(self.stat("a")["held"], 1)
            self.assertEqual(os.read(fd, 100), b"")
        self.assertNotEqual(waiter.wait(5), 0)
        self.assertIn(b"Broken pipe", waiter.stderr.read())
        os.close(fd)

    # Item 8: try-operations meet a waiting partner, as in Go.

    def test_tryrecv_on_cap_zero_takes_from_a_waiting_sender(self):
        self.mkchan("a")
        sender = self.spawn(["sh", "-c", "echo hi > channels/a/send"])
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
        self.assertEqual(read(self.d.chan("a", "tryrecv")), b"hi\n")
        self.assertEqual(sender.wait(5), 0)
        sender = self.spawn(["sh", "-c", "echo again > channels/a/send"])
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
        fd = os.open(self.d.chan("a", "recv"), os.O_RDONLY | os.O_NONBLOCK)
        self.assertEqual(os.read(fd, 100), b"again\n")
        os.close(fd)
        self.assertEqual(sender.wait(5), 0)

    def test_tryrecv_gives_up_with_eagain_when_the_sender_it_met_dies(self):
        self.mkchan("a")
        sender = self.python("import os,time; fd=os.open('channels/a/send', os.O_WRONLY); "
                             "print('open', flush=True); time.sleep(60)")
        self.wait_for(lambda: self.stat("a")["senders_waiting"] == 1, "the sender to park")
        trier = self.python("import os,sys\ntry:\n os.open('channels/a/tryrecv', os.O_RDONLY); print('got')\n"
                            "except OSError as e:\n print(e.errno)")
        self.assertEqual(sender.stdout.readline(), b"open\n")
        sender.kill()
        sender.wait(5)
        self.assertEqual(trier.communicate(timeout=5)[0], b"%d\n" % errno.EAGAIN)
        st = self.stat("a")
        self.assertEqual((st["receivers_waiting"], st["reserved"], st["sent"]), (0, 0, 0))

    def test_trysend_on_cap_zero_gives_to_a_waiting_receiver(self):
        self.mkchan("a")
        receiver = self.parked_receiver("a", stdout=subprocess.PIPE)
        fd = os.open(self.d.chan("a", "send"), os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"go")
        os.close(fd)
        self.assertEqual(receiver.communicate(timeout=5)[0], b"go")


class MemoryBound(DaemonTest):
    daemon_args = ("--max-memory", str(8 * MiB))

    def send_until_refused(self, path, data):
        """Opens and writes data in 64 KiB pieces; returns (bytes written,
        errno of the open or write that failed). A close after a refused
        write repeats the refusal."""
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as e:
            return 0, e.errno
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:done + 65536])
        except OSError as e:
            self.assertEqual(errno_of(os.close, fd), e.errno if self.close_repeats_refusal else 0)
            return done, e.errno
        os.close(fd)
        return done, 0

    def test_a_send_over_the_memory_limit_fails_with_enomem_and_loses_nothing(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "16")
        m1, m2, m3 = (os.urandom(3 * MiB) for _ in range(3))
        write(self.d.chan("a", "send"), m1)
        write(self.d.chan("a", "send"), m2)
        self.wait_for(lambda: self.stat("a")["sent"] == 2, "two messages delivered")
        done, err = self.send_until_refused(self.d.chan("a", "send"), m3)
        self.assertEqual(err, errno.ENOMEM)
        self.assertLess(done, len(m3))
        text = self.error_text("h1/channels/a/error")
        self.assertIn("memory limit of %d bytes (circuitd --max-memory" % (8 * MiB), text)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "the refused place to be released")
        self.assertEqual((self.stat("a")["sent"], self.stat("a")["len"]), (2, 2))
        self.assertEqual(read(self.d.chan("a", "recv")), m1)
        self.assertEqual(read(self.d.chan("a", "recv")), m2)
        self.assertEqual(self.send_until_refused(self.d.chan("a", "send"), m3), (len(m3), 0))
        self.assertEqual(read(self.d.chan("a", "recv")), m3)

    def test_an_open_of_send_fails_with_enomem_while_the_budget_is_spent(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "16")
        four = b"m" * (4 * MiB)
        for _ in range(2):
            self.assertEqual(self.send_until_refused(self.d.chan("a", "send"), four), (len(four), 0))
        self.wait_for(lambda: self.stat("a")["sent"] == 2, "two messages delivered")
        # Two messages of 4 MiB hold all 8 MiB: the next open is refused.
        self.assertEqual(errno_of(os.open, self.d.chan("a", "send"), os.O_WRONLY), errno.ENOMEM)
        self.assertIn("memory for messages is spent", self.error_text("h1/channels/a/error"))
        self.assertEqual(read(self.d.chan("a", "recv")), four)
        write(self.d.chan("a", "send"), "fits again")
        self.assertEqual(read(self.d.chan("a", "recv")), four)
        self.assertEqual(read(self.d.chan("a", "recv")), b"fits again")

    def test_removing_a_channel_gives_its_memory_back(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "16")
        four = b"m" * (4 * MiB)
        for _ in range(2):
            write(self.d.chan("a", "send"), four)
        self.wait_for(lambda: self.stat("a")["sent"] == 2, "two messages delivered")
        os.rmdir(self.d.chan("a"))
        os.mkdir(self.d.chan("b"))
        write(self.d.chan("b", "cap"), "2")
        write(self.d.chan("b", "send"), four)
        write(self.d.chan("b", "send"), four)
        self.assertEqual(read(self.d.chan("b", "recv")), four)


class MemoryBoundLarge(DaemonTest):
    daemon_args = ("--max-memory", str(256 * MiB))
    timeout = 120

    def rss(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def test_sixteen_64_mib_sends_into_a_cap_16_channel_stay_within_the_budget(self):
        os.mkdir(self.d.chan("a"))
        write(self.d.chan("a", "cap"), "16")
        chunk = b"q" * MiB
        ok = refused = 0
        for _ in range(16):
            try:
                fd = os.open(self.d.chan("a", "send"), os.O_WRONLY)
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOMEM)
                refused += 1
                continue
            try:
                for _ in range(64):
                    os.write(fd, chunk)
                ok += 1
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOMEM)
                refused += 1
            finally:
                os.close(fd)
        self.wait_for(lambda: self.stat("a")["reserved"] == 0, "every place delivered or released")
        rss = self.rss()
        print("\n16 x 64 MiB into cap 16 with --max-memory 256 MiB: %d delivered, %d refused "
              "(ENOMEM), daemon rss %.0f MiB" % (ok, refused, rss / MiB))
        self.assertEqual(ok + refused, 16)
        self.assertEqual(self.stat("a")["len"], ok)
        self.assertLessEqual(ok, 4)
        self.assertGreaterEqual(refused, 12)
        # 256 MiB held, plus the daemon and the copies of a growing message;
        # an AddressSanitizer build keeps freed blocks in quarantine too.
        self.assertLess(rss, 768 * MiB)
        for _ in range(ok):
            self.assertEqual(len(read(self.d.chan("a", "recv"))), 64 * MiB)


# The same habits through a peer: every file above reached through h2's
# mount, h1 owning the channels, as a shell on one host uses another's.

class MessagesThroughAPeer(ThroughAPeer, Messages):
    pass


class MemoryBoundThroughAPeer(ThroughAPeer, MemoryBound):
    pass
