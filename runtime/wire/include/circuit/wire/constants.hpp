// constants.hpp — the numbers of 9P2000.L, as Linux's v9fs and diod send them.
//
// Message type codes, the no-tag and no-fid values, limits circuit keeps
// (msize, walk depth), and the bit masks and flags carried inside messages:
// getattr/setattr masks, qid types, directory entry types, lopen flags (the
// Linux open(2) values, which 9P2000.L sends as they are) and unlinkat's
// flag. See diod's protocol.md for the text of the protocol.
// Thread safety: constants.
#pragma once

#include <cstdint>
#include <string_view>

namespace circuit::wire {

// Type codes. A T-message has an even code, its R-message the next one.
// Only those circuit speaks are named; `is_known_tmessage` (codec.hpp)
// recognises the other valid T codes of 9P2000, .u and .L so a server can
// refuse them with Rlerror(EOPNOTSUPP) rather than drop the connection.
enum class mtype : std::uint8_t {
  rlerror = 7,
  tstatfs = 8,
  rstatfs = 9,
  tlopen = 12,
  rlopen = 13,
  tlcreate = 14,
  rlcreate = 15,
  tsymlink = 16,
  rsymlink = 17,
  tmknod = 18,
  rmknod = 19,
  tgetattr = 24,
  rgetattr = 25,
  tsetattr = 26,
  rsetattr = 27,
  treaddir = 40,
  rreaddir = 41,
  tfsync = 50,
  rfsync = 51,
  tlink = 70,
  rlink = 71,
  tmkdir = 72,
  rmkdir = 73,
  trenameat = 74,
  rrenameat = 75,
  tunlinkat = 76,
  runlinkat = 77,
  tversion = 100,
  rversion = 101,
  tauth = 102,
  rauth = 103,
  tattach = 104,
  rattach = 105,
  tflush = 108,
  rflush = 109,
  twalk = 110,
  rwalk = 111,
  tread = 116,
  rread = 117,
  twrite = 118,
  rwrite = 119,
  tclunk = 120,
  rclunk = 121,
  tremove = 122,
  rremove = 123,
};

// "Tversion", "Rlerror", ... for logs; "T?" / "R?" for a code not named above.
std::string_view mtype_name(std::uint8_t type);

inline constexpr std::uint16_t notag = 0xffff;     // Tversion's tag
inline constexpr std::uint32_t nofid = 0xffffffff;  // "no fid" (Tattach's afid)

inline constexpr std::string_view version_9p2000l = "9P2000.L";
inline constexpr std::string_view version_unknown = "unknown";

// Framing: size[4] type[1] tag[2], little-endian, size counting itself.
inline constexpr std::uint32_t header_size = 7;
// The largest msize circuit negotiates (a client asking more is answered
// with this), and the smallest it accepts: every fixed-size message and a
// walk of max_walk names of a sane length fit in it.
inline constexpr std::uint32_t max_msize = 1024 * 1024;
inline constexpr std::uint32_t min_msize = 4096;
// Bytes of an Rread/Rreaddir before its data (size type tag count), and of
// a Twrite before its data (size type tag fid offset count): the largest
// read or write in one message is msize minus these.
inline constexpr std::uint32_t rread_overhead = 11;
inline constexpr std::uint32_t twrite_overhead = 23;
// The most names in one Twalk, and qids in one Rwalk (Plan 9's MAXWELEM).
inline constexpr std::uint16_t max_walk = 16;

// Tgetattr request_mask and Rgetattr valid bits.
inline constexpr std::uint64_t getattr_mode = 0x00000001;
inline constexpr std::uint64_t getattr_nlink = 0x00000002;
inline constexpr std::uint64_t getattr_uid = 0x00000004;
inline constexpr std::uint64_t getattr_gid = 0x00000008;
inline constexpr std::uint64_t getattr_rdev = 0x00000010;
inline constexpr std::uint64_t getattr_atime = 0x00000020;
inline constexpr std::uint64_t getattr_mtime = 0x00000040;
inline constexpr std::uint64_t getattr_ctime = 0x00000080;
inline constexpr std::uint64_t getattr_ino = 0x00000100;
inline constexpr std::uint64_t getattr_size = 0x00000200;
inline constexpr std::uint64_t getattr_blocks = 0x00000400;
inline constexpr std::uint64_t getattr_btime = 0x00000800;
inline constexpr std::uint64_t getattr_gen = 0x00001000;
inline constexpr std::uint64_t getattr_data_version = 0x00002000;
inline constexpr std::uint64_t getattr_basic = 0x000007ff;  // mode .. blocks
inline constexpr std::uint64_t getattr_all = 0x00003fff;

// Tsetattr valid bits.
inline constexpr std::uint32_t setattr_mode = 0x00000001;
inline constexpr std::uint32_t setattr_uid = 0x00000002;
inline constexpr std::uint32_t setattr_gid = 0x00000004;
inline constexpr std::uint32_t setattr_size = 0x00000008;
inline constexpr std::uint32_t setattr_atime = 0x00000010;
inline constexpr std::uint32_t setattr_mtime = 0x00000020;
inline constexpr std::uint32_t setattr_ctime = 0x00000040;
inline constexpr std::uint32_t setattr_atime_set = 0x00000080;
inline constexpr std::uint32_t setattr_mtime_set = 0x00000100;

// qid.type bits.
inline constexpr std::uint8_t qt_dir = 0x80;
inline constexpr std::uint8_t qt_append = 0x40;
inline constexpr std::uint8_t qt_excl = 0x20;
inline constexpr std::uint8_t qt_mount = 0x10;
inline constexpr std::uint8_t qt_auth = 0x08;
inline constexpr std::uint8_t qt_tmp = 0x04;
inline constexpr std::uint8_t qt_symlink = 0x02;
inline constexpr std::uint8_t qt_link = 0x01;
inline constexpr std::uint8_t qt_file = 0x00;

// Rreaddir entry types (Linux's DT_* of dirent.h).
inline constexpr std::uint8_t dt_unknown = 0;
inline constexpr std::uint8_t dt_dir = 4;
inline constexpr std::uint8_t dt_reg = 8;

// Tlopen/Tlcreate flags: Linux open(2) values (asm-generic), octal.
inline constexpr std::uint32_t o_rdonly = 00;
inline constexpr std::uint32_t o_wronly = 01;
inline constexpr std::uint32_t o_rdwr = 02;
inline constexpr std::uint32_t o_accmode = 03;
inline constexpr std::uint32_t o_creat = 0100;
inline constexpr std::uint32_t o_excl = 0200;
inline constexpr std::uint32_t o_noctty = 0400;
inline constexpr std::uint32_t o_trunc = 01000;
inline constexpr std::uint32_t o_append = 02000;
inline constexpr std::uint32_t o_nonblock = 04000;
inline constexpr std::uint32_t o_dsync = 010000;
inline constexpr std::uint32_t o_fasync = 020000;
inline constexpr std::uint32_t o_direct = 040000;
inline constexpr std::uint32_t o_largefile = 0100000;
inline constexpr std::uint32_t o_directory = 0200000;
inline constexpr std::uint32_t o_nofollow = 0400000;
inline constexpr std::uint32_t o_noatime = 01000000;
inline constexpr std::uint32_t o_cloexec = 02000000;
inline constexpr std::uint32_t o_sync = 04010000;

// Tunlinkat flags: remove a directory (Linux AT_REMOVEDIR).
inline constexpr std::uint32_t at_removedir = 0x200;

}  // namespace circuit::wire
