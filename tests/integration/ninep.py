"""A test-only 9P2000.L client: frames encoded and decoded by hand, so the
tests can speak to circuitd's socket as a well-behaved client does and as
a hostile one does (frames cut, lying, pipelined, never read).

Not the project's client (runtime/wire and the `circuit` command are);
written from diod's protocol.md, apart from the daemon's codec, so the two
check each other.

    c = Client(d.sock)                # Tversion + Tattach, root at fid 0
    c.write_file("h1/channels/a/send", b"hi")
    c.read_file("h1/channels/a/recv")
    c.call(Twalk(0, 1, ["h1"]))       # one request, one reply (R tuple)
Errors come back as OSError(errno), as os.* raise them.
"""
import os
import socket
import struct

NOTAG = 0xFFFF
NOFID = 0xFFFFFFFF

# Type codes (diod's protocol.md; a T code is even, its R the next one).
T = dict(statfs=8, lopen=12, lcreate=14, symlink=16, mknod=18, getattr=24, setattr=26, readdir=40, fsync=50,
         link=70, mkdir=72, renameat=74, unlinkat=76, version=100, auth=102, attach=104,
         flush=108, walk=110, read=116, write=118, clunk=120, remove=122)
RLERROR = 7
NAMES = {v + 1: k for k, v in T.items()}
NAMES[RLERROR] = "lerror"

O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK, O_EXCL = 0, 1, 2, 0o4000, 0o200
AT_REMOVEDIR = 0x200
GETATTR_BASIC = 0x7FF


# --- encoding ---------------------------------------------------------------

def s(text):
    """A 9P string: size[2] then the bytes."""
    if isinstance(text, str):
        text = text.encode()
    return struct.pack("<H", len(text)) + text


def frame(type_, tag, body=b""):
    """size[4] type[1] tag[2] body, the size counting itself."""
    return struct.pack("<IBH", 7 + len(body), type_, tag) + body


def Tversion(msize, version="9P2000.L"):
    return T["version"], struct.pack("<I", msize) + s(version)


def Tauth(afid, uname="", aname="", n_uname=NOFID):
    return T["auth"], struct.pack("<I", afid) + s(uname) + s(aname) + struct.pack("<I", n_uname)


def Tattach(fid, uname="", aname="", n_uname=NOFID, afid=NOFID):
    return T["attach"], struct.pack("<II", fid, afid) + s(uname) + s(aname) + struct.pack("<I", n_uname)


def Tflush(oldtag):
    return T["flush"], struct.pack("<H", oldtag)


def Twalk(fid, newfid, names):
    return T["walk"], struct.pack("<IIH", fid, newfid, len(names)) + b"".join(s(n) for n in names)


def Tlopen(fid, flags):
    return T["lopen"], struct.pack("<II", fid, flags)


def Tlcreate(fid, name, flags, mode=0o500, gid=0):
    return T["lcreate"], struct.pack("<I", fid) + s(name) + struct.pack("<III", flags, mode, gid)


def Tread(fid, offset, count):
    return T["read"], struct.pack("<IQI", fid, offset, count)


def Twrite(fid, offset, data):
    return T["write"], struct.pack("<IQI", fid, offset, len(data)) + data


def Tclunk(fid):
    return T["clunk"], struct.pack("<I", fid)


def Tremove(fid):
    return T["remove"], struct.pack("<I", fid)


def Tfsync(fid, datasync=0):
    return T["fsync"], struct.pack("<II", fid, datasync)


def Tgetattr(fid, mask=GETATTR_BASIC):
    return T["getattr"], struct.pack("<IQ", fid, mask)


def Treaddir(fid, offset, count):
    return T["readdir"], struct.pack("<IQI", fid, offset, count)


def Tmkdir(dfid, name, mode=0o755, gid=0):
    return T["mkdir"], struct.pack("<I", dfid) + s(name) + struct.pack("<II", mode, gid)


def Tunlinkat(dfid, name, flags=0):
    return T["unlinkat"], struct.pack("<I", dfid) + s(name) + struct.pack("<I", flags)


def Trenameat(olddfid, oldname, newdfid, newname):
    return T["renameat"], struct.pack("<I", olddfid) + s(oldname) + struct.pack("<I", newdfid) + s(newname)


def Tsymlink(dfid, name, target, gid=0):
    return T["symlink"], struct.pack("<I", dfid) + s(name) + s(target) + struct.pack("<I", gid)


def Tmknod(dfid, name, mode, major=0, minor=0, gid=0):
    return T["mknod"], struct.pack("<I", dfid) + s(name) + struct.pack("<IIII", mode, major, minor, gid)


def Tlink(dfid, fid, name):
    return T["link"], struct.pack("<II", dfid, fid) + s(name)


# --- decoding ---------------------------------------------------------------

class R:
    """A reply: its type name ("lopen", "lerror", ...), tag and fields."""

    def __init__(self, type_, tag, body):
        self.type = NAMES.get(type_, "R%d" % type_)
        self.tag = tag
        self.body = body
        decode = getattr(self, "_" + self.type, None)
        if decode:
            decode(body)

    def __repr__(self):
        return "R%s(tag=%d, %r)" % (self.type, self.tag, {k: v for k, v in vars(self).items()
                                                          if k not in ("type", "tag", "body")})

    def _lerror(self, b):
        self.errno, = struct.unpack_from("<I", b)

    def _version(self, b):
        self.msize, n = struct.unpack_from("<IH", b)
        self.version = b[6:6 + n].decode()

    def _attach(self, b):
        self.qid = b[:13]

    def _walk(self, b):
        n, = struct.unpack_from("<H", b)
        self.qids = [b[2 + 13 * i:15 + 13 * i] for i in range(n)]

    def _lopen(self, b):
        self.qid = b[:13]
        self.iounit, = struct.unpack_from("<I", b, 13)

    _lcreate = _lopen

    def _read(self, b):
        n, = struct.unpack_from("<I", b)
        self.data = b[4:4 + n]

    def _write(self, b):
        self.count, = struct.unpack_from("<I", b)

    def _getattr(self, b):
        self.valid, = struct.unpack_from("<Q", b)
        self.qid = b[8:21]
        self.mode, self.uid, self.gid = struct.unpack_from("<III", b, 21)
        self.size, = struct.unpack_from("<Q", b, 49)  # after nlink[8] rdev[8]

    def _readdir(self, b):
        n, = struct.unpack_from("<I", b)
        data, self.entries, at = b[4:4 + n], [], 0
        while at < len(data):
            off, = struct.unpack_from("<Q", data, at + 13)
            ln, = struct.unpack_from("<H", data, at + 22)
            self.entries.append((data[at + 24:at + 24 + ln].decode(), off))
            at += 24 + ln


def is_dir(qid):
    return qid[0] & 0x80 != 0


# --- connections ------------------------------------------------------------

class Conn:
    """A raw connection: frames out, replies in, nothing checked."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.inbuf = b""

    def close(self):
        self.sock.close()

    def send(self, tag, msg):
        """Sends one T message (a (type, body) pair) under `tag`."""
        self.sock.sendall(frame(msg[0], tag, msg[1]))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """The next reply frame; EOFError if the daemon closed the connection."""
        while True:
            if len(self.inbuf) >= 4:
                size, = struct.unpack_from("<I", self.inbuf)
                if len(self.inbuf) >= size:
                    f, self.inbuf = self.inbuf[:size], self.inbuf[size:]
                    type_, tag = struct.unpack_from("<BH", f, 4)
                    return R(type_, tag, f[7:])
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the daemon closed the connection")
            self.inbuf += chunk

    def closed_by_peer(self):
        """Whether the daemon has closed its end (after any replies queued)."""
        try:
            while True:
                self.recv()
        except EOFError:
            return True
        except (socket.timeout, ConnectionResetError):
            return False


class Client(Conn):
    """A session: versioned and attached (root at fid 0), with blocking calls
    that raise OSError(errno) on Rlerror. Fids above 0 are handed out."""

    def __init__(self, path, uname="", aname="", n_uname=NOFID, attach=True, msize=65536, timeout=10):
        super().__init__(path, timeout)
        self.tag = 0
        self.next_fid = 1
        r = self.call(Tversion(msize), tag=NOTAG)
        assert r.version == "9P2000.L", r
        self.msize = r.msize
        if attach:
            self.ok(Tattach(0, uname, aname, n_uname))

    def new_tag(self):
        self.tag = (self.tag + 1) % 0xFFFF
        return self.tag

    def new_fid(self):
        self.next_fid += 1
        return self.next_fid - 1

    def call(self, msg, tag=None):
        """Sends one request and returns its reply (of any type)."""
        tag = self.new_tag() if tag is None else tag
        self.send(tag, msg)
        r = self.recv()
        assert r.tag == tag, (r, tag)
        return r

    def ok(self, msg):
        """call(), with Rlerror raised as OSError."""
        r = self.call(msg)
        if r.type == "lerror":
            raise OSError(r.errno, os.strerror(r.errno))
        return r

    # --- paths, as a shell user names them (relative to the root) ---------

    def walk(self, path, fid=None):
        names = [n for n in path.split("/") if n]
        fid = self.new_fid() if fid is None else fid
        r = self.ok(Twalk(0, fid, names))
        if len(r.qids) != len(names):
            raise OSError(2, os.strerror(2))
        return fid

    def open(self, path, flags):
        fid = self.walk(path)
        try:
            self.ok(Tlopen(fid, flags))
        except OSError:
            self.call(Tclunk(fid))
            raise
        return fid

    def read_all(self, fid):
        out, off = b"", 0
        while True:
            r = self.ok(Tread(fid, off, self.msize - 11))
            if not r.data:
                return out
            out += r.data
            off += len(r.data)

    def read_file(self, path, flags=O_RDONLY):
        fid = self.open(path, flags)
        try:
            return self.read_all(fid)
        finally:
            self.call(Tclunk(fid))

    def write_file(self, path, data, flags=O_WRONLY):
        """Open, write, clunk; the clunk's verdict (the send's) is raised."""
        if isinstance(data, str):
            data = data.encode()
        fid = self.open(path, flags)
        try:
            off = 0
            while off < len(data) or off == 0:
                r = self.ok(Twrite(fid, off, data[off:off + self.msize - 23]))
                off += r.count
                if not data:
                    break
        except OSError:
            self.call(Tremove(fid))
            raise
        self.ok(Tclunk(fid))

    def mkdir(self, path):
        parent, name = os.path.split(path.rstrip("/"))
        fid = self.walk(parent)
        try:
            self.ok(Tmkdir(fid, name))
        finally:
            self.call(Tclunk(fid))

    def rmdir(self, path):
        parent, name = os.path.split(path.rstrip("/"))
        fid = self.walk(parent)
        try:
            self.ok(Tunlinkat(fid, name, AT_REMOVEDIR))
        finally:
            self.call(Tclunk(fid))

    def listdir(self, path):
        fid = self.open(path, O_RDONLY)
        names, off = [], 0
        try:
            while True:
                r = self.ok(Treaddir(fid, off, self.msize - 11))
                if not r.entries:
                    break
                names += [n for n, _ in r.entries]
                off = r.entries[-1][1]
        finally:
            self.call(Tclunk(fid))
        return [n for n in names if n not in (".", "..")]

    def getattr(self, path):
        fid = self.walk(path)
        try:
            return self.ok(Tgetattr(fid))
        finally:
            self.call(Tclunk(fid))
