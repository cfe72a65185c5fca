// samples.hpp — one valid message of every type, with every field set to a
// value that is not its default, for round trips and the mutation test.
#pragma once

#include <vector>

#include "circuit/wire/messages.hpp"

namespace circuit::wire::test {

inline const qid sample_qid{qt_dir, 0x01020304, 0x1122334455667788};

inline std::vector<tmessage> sample_tmessages() {
  return {
      tversion{1 << 20, "9P2000.L"},
      tauth{nofid, "alice", "ctl", 1000},
      tattach{1, nofid, "alice", "ctl", 1000},
      twalk{1, 2, {"h1", "channels", "a", "recv"}},
      twalk{1, 3, {}},
      tlopen{2, o_rdonly | o_nonblock},
      tlcreate{2, "new", o_wronly | o_creat, 0644, 100},
      tread{2, 0x0102030405060708, 8192},
      twrite{2, 77, std::string("hello\0world", 11)},
      tclunk{2},
      tflush{9},
      tgetattr{2, getattr_all},
      tsetattr{2, setattr_mode | setattr_size, 0600, 1, 2, 3, 4, 5, 6, 7},
      treaddir{1, 3, 4096},
      tmkdir{1, "ch", 0755, 100},
      tunlinkat{1, "ch", at_removedir},
      tremove{2},
      trenameat{1, "old", 4, "new"},
      tfsync{2, 1},
      tstatfs{1},
      tsymlink{1, "s", "send", 100},
      tmknod{1, "n", 010644, 0, 0, 100},
      tlink{1, 2, "l"},
      tunsupported{30},  // Txattrwalk
  };
}

inline std::vector<rmessage> sample_rmessages() {
  rgetattr attr;
  attr.valid = getattr_basic;
  attr.qid = sample_qid;
  attr.mode = 040755;
  attr.uid = 1000;
  attr.gid = 1001;
  attr.nlink = 2;
  attr.rdev = 3;
  attr.size = 4;
  attr.blksize = 4096;
  attr.blocks = 5;
  attr.atime_sec = 6, attr.atime_nsec = 7, attr.mtime_sec = 8, attr.mtime_nsec = 9;
  attr.ctime_sec = 10, attr.ctime_nsec = 11, attr.btime_sec = 12, attr.btime_nsec = 13;
  attr.gen = 14;
  attr.data_version = 15;
  return {
      rversion{8192, "9P2000.L"},
      rauth{sample_qid},
      rattach{sample_qid},
      rwalk{{sample_qid, qid{qt_file, 1, 2}}},
      rwalk{},
      rlopen{sample_qid, 8192 - 24},
      rlcreate{qid{qt_file, 0, 9}, 4096},
      rread{"some bytes"},
      rread{""},
      rwrite{11},
      rclunk{},
      rflush{},
      attr,
      rsetattr{},
      rreaddir{std::string("\x80\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00"
                           "\x01\x00\x00\x00\x00\x00\x00\x00\x04\x01\x00\x61",
                           25)},
      rmkdir{sample_qid},
      runlinkat{},
      rremove{},
      rrenameat{},
      rfsync{},
      rstatfs{0x01021994, 4096, 1, 2, 3, 4, 5, 6, 255},
      rsymlink{sample_qid},
      rmknod{sample_qid},
      rlink{},
      rlerror{2},
  };
}

}  // namespace circuit::wire::test
