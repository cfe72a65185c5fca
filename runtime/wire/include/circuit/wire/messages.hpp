// messages.hpp — the 9P2000.L messages circuit speaks, one struct each.
//
// Fields are named and ordered as in diod's protocol.md; sizes there are
// the field types here (s = std::string, qid[13] = qid). The frame's size,
// type and tag are not fields: codec.hpp adds them (encode) and takes them
// off (decode, giving a `frame` of the tag and the message).
//
// `tmessage` holds any request a server can be sent, `rmessage` any reply.
// A valid T-message circuit does not speak (Txattrwalk, Tlock, Treadlink,
// 9P2000's Topen, ...) decodes as `tunsupported`, so a server answers it
// Rlerror(EOPNOTSUPP) and the connection lives on.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "circuit/wire/constants.hpp"

namespace circuit::wire {

// The server's unique identity of a file: type (qt_* bits), version, path.
struct qid {
  std::uint8_t type = qt_file;
  std::uint32_t version = 0;
  std::uint64_t path = 0;
  bool operator==(const qid&) const = default;
};

// One entry of Rreaddir's data (see encode_dirent / decode_dirents in
// codec.hpp). `offset` is what the next Treaddir sends to read on after it.
struct dirent {
  wire::qid qid;
  std::uint64_t offset = 0;
  std::uint8_t type = dt_unknown;
  std::string name;
  bool operator==(const dirent&) const = default;
};

// --- requests -------------------------------------------------------------

struct tversion { std::uint32_t msize = 0; std::string version; bool operator==(const tversion&) const = default; };
struct tauth { std::uint32_t afid = 0; std::string uname; std::string aname; std::uint32_t n_uname = 0; bool operator==(const tauth&) const = default; };
struct tattach {
  std::uint32_t fid = 0;
  std::uint32_t afid = nofid;
  std::string uname;
  std::string aname;
  std::uint32_t n_uname = 0;  // numeric uid, as Linux sends it
  bool operator==(const tattach&) const = default;
};
struct twalk {
  std::uint32_t fid = 0;
  std::uint32_t newfid = 0;
  std::vector<std::string> wnames;  // at most max_walk
  bool operator==(const twalk&) const = default;
};
struct tlopen { std::uint32_t fid = 0; std::uint32_t flags = 0; bool operator==(const tlopen&) const = default; };
struct tlcreate {
  std::uint32_t fid = 0;
  std::string name;
  std::uint32_t flags = 0;
  std::uint32_t mode = 0;
  std::uint32_t gid = 0;
  bool operator==(const tlcreate&) const = default;
};
struct tread { std::uint32_t fid = 0; std::uint64_t offset = 0; std::uint32_t count = 0; bool operator==(const tread&) const = default; };
struct twrite { std::uint32_t fid = 0; std::uint64_t offset = 0; std::string data; bool operator==(const twrite&) const = default; };
struct tclunk { std::uint32_t fid = 0; bool operator==(const tclunk&) const = default; };
struct tflush { std::uint16_t oldtag = 0; bool operator==(const tflush&) const = default; };
struct tgetattr { std::uint32_t fid = 0; std::uint64_t request_mask = getattr_basic; bool operator==(const tgetattr&) const = default; };
struct tsetattr {
  std::uint32_t fid = 0;
  std::uint32_t valid = 0;  // setattr_* bits: which fields below count
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::uint64_t atime_sec = 0, atime_nsec = 0;
  std::uint64_t mtime_sec = 0, mtime_nsec = 0;
  bool operator==(const tsetattr&) const = default;
};
struct treaddir { std::uint32_t fid = 0; std::uint64_t offset = 0; std::uint32_t count = 0; bool operator==(const treaddir&) const = default; };
struct tmkdir { std::uint32_t dfid = 0; std::string name; std::uint32_t mode = 0; std::uint32_t gid = 0; bool operator==(const tmkdir&) const = default; };
struct tunlinkat { std::uint32_t dirfid = 0; std::string name; std::uint32_t flags = 0; bool operator==(const tunlinkat&) const = default; };
struct tremove { std::uint32_t fid = 0; bool operator==(const tremove&) const = default; };
struct trenameat {
  std::uint32_t olddirfid = 0;
  std::string oldname;
  std::uint32_t newdirfid = 0;
  std::string newname;
  bool operator==(const trenameat&) const = default;
};
struct tfsync { std::uint32_t fid = 0; std::uint32_t datasync = 0; bool operator==(const tfsync&) const = default; };
// Links and special files: decoded so that the namespace refuses each with
// its words (EPERM), on the member asked and through a peer alike.
struct tsymlink {
  std::uint32_t fid = 0;
  std::string name, symtgt;
  std::uint32_t gid = 0;
  bool operator==(const tsymlink&) const = default;
};
struct tmknod {
  std::uint32_t dfid = 0;
  std::string name;
  std::uint32_t mode = 0, major = 0, minor = 0, gid = 0;
  bool operator==(const tmknod&) const = default;
};
struct tlink {
  std::uint32_t dfid = 0;
  std::uint32_t fid = 0;
  std::string name;
  bool operator==(const tlink&) const = default;
};
struct tstatfs { std::uint32_t fid = 0; bool operator==(const tstatfs&) const = default; };
// Any other valid T type; its body is not read. Encoding one writes the
// bare header (only tests do that).
struct tunsupported { std::uint8_t type = 0; bool operator==(const tunsupported&) const = default; };

using tmessage =
    std::variant<tversion, tauth, tattach, twalk, tlopen, tlcreate, tread, twrite, tclunk, tflush,
                 tgetattr, tsetattr, treaddir, tmkdir, tunlinkat, tremove, trenameat, tfsync,
                 tstatfs, tsymlink, tmknod, tlink, tunsupported>;

// --- replies --------------------------------------------------------------

struct rversion { std::uint32_t msize = 0; std::string version; bool operator==(const rversion&) const = default; };
struct rauth { qid aqid; bool operator==(const rauth&) const = default; };
struct rattach { wire::qid qid; bool operator==(const rattach&) const = default; };
struct rwalk { std::vector<wire::qid> wqids; bool operator==(const rwalk&) const = default; };  // at most max_walk
struct rlopen { wire::qid qid; std::uint32_t iounit = 0; bool operator==(const rlopen&) const = default; };
struct rlcreate { wire::qid qid; std::uint32_t iounit = 0; bool operator==(const rlcreate&) const = default; };
struct rread { std::string data; bool operator==(const rread&) const = default; };
struct rwrite { std::uint32_t count = 0; bool operator==(const rwrite&) const = default; };
struct rclunk { bool operator==(const rclunk&) const = default; };
struct rflush { bool operator==(const rflush&) const = default; };
struct rgetattr {
  std::uint64_t valid = 0;  // getattr_* bits: which fields below are filled
  wire::qid qid;
  std::uint32_t mode = 0;  // st_mode: type and permission bits
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t nlink = 0;
  std::uint64_t rdev = 0;
  std::uint64_t size = 0;
  std::uint64_t blksize = 0;
  std::uint64_t blocks = 0;
  std::uint64_t atime_sec = 0, atime_nsec = 0;
  std::uint64_t mtime_sec = 0, mtime_nsec = 0;
  std::uint64_t ctime_sec = 0, ctime_nsec = 0;
  std::uint64_t btime_sec = 0, btime_nsec = 0;
  std::uint64_t gen = 0;
  std::uint64_t data_version = 0;
  bool operator==(const rgetattr&) const = default;
};
struct rsetattr { bool operator==(const rsetattr&) const = default; };
// `data` is a run of dirents (encode_dirent appends one).
struct rreaddir { std::string data; bool operator==(const rreaddir&) const = default; };
struct rmkdir { wire::qid qid; bool operator==(const rmkdir&) const = default; };
struct runlinkat { bool operator==(const runlinkat&) const = default; };
struct rremove { bool operator==(const rremove&) const = default; };
struct rrenameat { bool operator==(const rrenameat&) const = default; };
struct rfsync { bool operator==(const rfsync&) const = default; };
struct rsymlink {
  wire::qid qid;
  bool operator==(const rsymlink&) const = default;
};
struct rmknod {
  wire::qid qid;
  bool operator==(const rmknod&) const = default;
};
struct rlink {
  bool operator==(const rlink&) const = default;
};
struct rstatfs {
  std::uint32_t type = 0;
  std::uint32_t bsize = 0;
  std::uint64_t blocks = 0, bfree = 0, bavail = 0;
  std::uint64_t files = 0, ffree = 0;
  std::uint64_t fsid = 0;
  std::uint32_t namelen = 0;
  bool operator==(const rstatfs&) const = default;
};
// The failure of any request: a Linux errno.
struct rlerror { std::uint32_t ecode = 0; bool operator==(const rlerror&) const = default; };

using rmessage =
    std::variant<rversion, rauth, rattach, rwalk, rlopen, rlcreate, rread, rwrite, rclunk, rflush,
                 rgetattr, rsetattr, rreaddir, rmkdir, runlinkat, rremove, rrenameat, rfsync,
                 rstatfs, rsymlink, rmknod, rlink, rlerror>;

}  // namespace circuit::wire
