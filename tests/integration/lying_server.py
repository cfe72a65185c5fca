"""A test-only 9P2000.L server that lies: what a worker's program may serve
to its daemon (`serve SOCKET`), which reads it as root. Its tree is the
root with `goroutines/` and `files/` (a file `x` in each), and it lies in
one way, `how`:

    "endless"   a listing of goroutines/ that never ends;
    "long read" a read of x that gives more than it was asked for;
    "long walk" a walk that gives more qids than names.

    srv = LyingServer(path, "endless")   # listens at path, a thread each
    ...
    srv.close()
Frames are packed by hand (diod's protocol.md), apart from the daemon's
codec and from ninep.py's client.
"""
import socket
import struct
import threading

from ninep import T, RLERROR

QTDIR, QTFILE = 0x80, 0x00
DIRS = {"": 1, "goroutines": 2, "files": 3}


def qid(path):
    return struct.pack("<BIQ", QTDIR if path in DIRS.values() else QTFILE, 0, path)


def s(text):
    text = text.encode()
    return struct.pack("<H", len(text)) + text


def reply(type_, tag, body=b""):
    return struct.pack("<IBH", 7 + len(body), type_ + 1, tag) + body


class LyingServer:
    def __init__(self, path, how):
        self.how, self.done, self.conns = how, False, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.readdirs = 0  # Treaddirs answered, for the tests
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.done = True
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.sock.close()

    def serve(self, c):
        fids, buf = {}, b""
        try:
            while not self.done:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 7:
                    size, type_, tag = struct.unpack_from("<IBH", buf)
                    if len(buf) < size:
                        break
                    body, buf = buf[7:size], buf[size:]
                    c.sendall(self.answer(fids, type_, tag, body))
        except OSError:
            return

    def answer(self, fids, type_, tag, body):
        if type_ == T["version"]:
            msize = struct.unpack_from("<I", body)[0]
            return reply(type_, tag, struct.pack("<I", min(msize, 65536)) + s("9P2000.L"))
        if type_ == T["attach"]:
            fids[struct.unpack_from("<I", body)[0]] = 1
            return reply(type_, tag, qid(1))
        if type_ == T["walk"]:
            fid, newfid, n = struct.unpack_from("<IIH", body)
            at, names, off = fids.get(fid, 1), [], 10
            for _ in range(n):
                (ln,) = struct.unpack_from("<H", body, off)
                names.append(body[off + 2:off + 2 + ln].decode())
                off += 2 + ln
            qids = []
            for name in names:
                if at == 1 and name in DIRS:
                    at = DIRS[name]
                elif at in (2, 3) and name == "x":
                    at = at * 10
                else:
                    break
                qids.append(at)
            if names and not qids:
                return reply(RLERROR - 1, tag, struct.pack("<I", 2))
            if len(qids) == len(names):
                fids[newfid] = at
                if self.how == "long walk" and "x" in names:
                    qids += [at] * 5
            return reply(type_, tag, struct.pack("<H", len(qids)) + b"".join(qid(q) for q in qids))
        if type_ == T["getattr"]:
            at = fids.get(struct.unpack_from("<I", body)[0], 1)
            mode = (0o40755 if at in DIRS.values() else 0o100644)
            return reply(type_, tag, struct.pack("<Q", 0x7FF) + qid(at) +
                         struct.pack("<IIIQQQQQ", mode, 0, 0, 1, 0, 5, 4096, 1) + b"\0" * 8 * 10)
        if type_ == T["lopen"]:
            at = fids.get(struct.unpack_from("<I", body)[0], 1)
            return reply(type_, tag, qid(at) + struct.pack("<I", 0))
        if type_ == T["readdir"]:
            fid, offset, count = struct.unpack_from("<IQI", body)
            self.readdirs += 1
            at = fids.get(fid, 1)
            if self.how == "endless":
                entries = b""
                k = offset
                while len(entries) + 60 < count:
                    k += 1
                    name = "g%08d" % k
                    entries += qid(100 + k) + struct.pack("<QB", k, 0) + s(name)
            elif offset == 0:
                entries = qid(at * 10) + struct.pack("<QB", 1, 0) + s("x")
            else:
                entries = b""
            return reply(type_, tag, struct.pack("<I", len(entries)) + entries)
        if type_ == T["read"]:
            fid, offset, count = struct.unpack_from("<IQI", body)
            data = b"y" * (count + 4096 if self.how == "long read" else 0 if offset else 5)
            return reply(type_, tag, struct.pack("<I", len(data)) + data)
        if type_ == T["clunk"]:
            fids.pop(struct.unpack_from("<I", body)[0], None)
            return reply(type_, tag)
        if type_ == T["flush"]:
            return reply(type_, tag)
        return reply(RLERROR - 1, tag, struct.pack("<I", 95))  # EOPNOTSUPP
