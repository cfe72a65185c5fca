"""One operation through one face, in a process of its own (faces.py):

    face_op.py mount|socket MNT|SOCK read|write PATH [HEXDATA] [--hold]

read: open, read to the end, close; write: open, write, close. Prints
{"status": "ok" or the errno's name, "data": hex of what was read}.
--hold-open: after the open, print "held" and sleep until killed (a
caller that dies holding its open); --hold-read: the same after the
first read.
"""
import errno
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ninep  # noqa: E402


def main():
    face, where, op, path = sys.argv[1:5]
    rest = [a for a in sys.argv[5:] if not a.startswith("--hold")]
    hold_open = "--hold-open" in sys.argv[5:]
    hold = "--hold-read" in sys.argv[5:] or hold_open
    data = bytes.fromhex(rest[0]) if rest else b""
    got = b""
    if face == "mount":
        full = os.path.join(where, path)
        if op == "read":
            fd = os.open(full, os.O_RDONLY)
            while True:
                if hold and (got or hold_open):
                    print("held", flush=True)
                    time.sleep(60)
                b = os.read(fd, 4096)
                if not b:
                    break
                got += b
                if hold:
                    continue
            os.close(fd)
        else:
            fd = os.open(full, os.O_WRONLY | os.O_TRUNC)
            if hold:
                print("held", flush=True)
                time.sleep(60)
            os.write(fd, data)
            os.close(fd)
    else:
        c = ninep.Client(where)
        if op == "read":
            fid = c.open(path, ninep.O_RDONLY)
            off = 0
            while True:
                if hold and (got or hold_open):
                    print("held", flush=True)
                    time.sleep(60)
                r = c.ok(ninep.Tread(fid, off, 4096))
                if not r.data:
                    break
                got += r.data
                off += len(r.data)
            c.ok(ninep.Tclunk(fid))
        else:
            fid = c.open(path, ninep.O_WRONLY)
            if hold:
                print("held", flush=True)
                time.sleep(60)
            if data:
                c.ok(ninep.Twrite(fid, 0, data))
            c.ok(ninep.Tclunk(fid))
    print(json.dumps({"status": "ok", "data": got.hex()}))


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        print(json.dumps({"status": errno.errorcode.get(e.errno, str(e.errno)), "data": ""}))
