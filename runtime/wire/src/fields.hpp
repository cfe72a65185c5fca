// fields.hpp — each message's fields, listed once for both directions.
//
// `io(f, m)` hands the fields of `m`, in wire order, to `f`: a writer
// appends them, a reader fills them from bytes. One list per message keeps
// encoder and decoder from drifting apart. Field kinds:
//   u8/u16/u32/u64 integers, little-endian;
//   std::string    s: len[2] then bytes;
//   qid            type[1] version[4] path[8];
//   data{...}      count[4] then bytes (Twrite, Rread, Rreaddir);
//   names / qids   n[2] then n strings / qids, n <= max_walk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "circuit/wire/messages.hpp"

namespace circuit::wire::detail {

struct data {
  std::string& bytes;
};

template <class F> void io(F& f, qid& m) { f(m.type, m.version, m.path); }
template <class F> void io(F& f, dirent& m) { f(m.qid, m.offset, m.type, m.name); }

template <class F> void io(F& f, tversion& m) { f(m.msize, m.version); }
template <class F> void io(F& f, tauth& m) { f(m.afid, m.uname, m.aname, m.n_uname); }
template <class F> void io(F& f, tattach& m) { f(m.fid, m.afid, m.uname, m.aname, m.n_uname); }
template <class F> void io(F& f, twalk& m) { f(m.fid, m.newfid, m.wnames); }
template <class F> void io(F& f, tlopen& m) { f(m.fid, m.flags); }
template <class F> void io(F& f, tlcreate& m) { f(m.fid, m.name, m.flags, m.mode, m.gid); }
template <class F> void io(F& f, tread& m) { f(m.fid, m.offset, m.count); }
template <class F> void io(F& f, twrite& m) { f(m.fid, m.offset, data{m.data}); }
template <class F> void io(F& f, tclunk& m) { f(m.fid); }
template <class F> void io(F& f, tflush& m) { f(m.oldtag); }
template <class F> void io(F& f, tgetattr& m) { f(m.fid, m.request_mask); }
template <class F> void io(F& f, tsetattr& m) {
  f(m.fid, m.valid, m.mode, m.uid, m.gid, m.size, m.atime_sec, m.atime_nsec, m.mtime_sec,
    m.mtime_nsec);
}
template <class F> void io(F& f, treaddir& m) { f(m.fid, m.offset, m.count); }
template <class F> void io(F& f, tmkdir& m) { f(m.dfid, m.name, m.mode, m.gid); }
template <class F> void io(F& f, tunlinkat& m) { f(m.dirfid, m.name, m.flags); }
template <class F> void io(F& f, tremove& m) { f(m.fid); }
template <class F> void io(F& f, trenameat& m) { f(m.olddirfid, m.oldname, m.newdirfid, m.newname); }
template <class F> void io(F& f, tfsync& m) { f(m.fid, m.datasync); }
template <class F> void io(F& f, tstatfs& m) { f(m.fid); }
template <class F>
void io(F& f, tsymlink& m) {
  f(m.fid, m.name, m.symtgt, m.gid);
}
template <class F>
void io(F& f, tmknod& m) {
  f(m.dfid, m.name, m.mode, m.major, m.minor, m.gid);
}
template <class F>
void io(F& f, tlink& m) {
  f(m.dfid, m.fid, m.name);
}
// The body of a refused message is not read (see decode).
template <class F> void io(F&, tunsupported&) {}

template <class F> void io(F& f, rversion& m) { f(m.msize, m.version); }
template <class F> void io(F& f, rauth& m) { f(m.aqid); }
template <class F> void io(F& f, rattach& m) { f(m.qid); }
template <class F> void io(F& f, rwalk& m) { f(m.wqids); }
template <class F> void io(F& f, rlopen& m) { f(m.qid, m.iounit); }
template <class F> void io(F& f, rlcreate& m) { f(m.qid, m.iounit); }
template <class F> void io(F& f, rread& m) { f(data{m.data}); }
template <class F> void io(F& f, rwrite& m) { f(m.count); }
template <class F> void io(F&, rclunk&) {}
template <class F> void io(F&, rflush&) {}
template <class F> void io(F& f, rgetattr& m) {
  f(m.valid, m.qid, m.mode, m.uid, m.gid, m.nlink, m.rdev, m.size, m.blksize, m.blocks);
  f(m.atime_sec, m.atime_nsec, m.mtime_sec, m.mtime_nsec, m.ctime_sec, m.ctime_nsec);
  f(m.btime_sec, m.btime_nsec, m.gen, m.data_version);
}
template <class F> void io(F&, rsetattr&) {}
template <class F> void io(F& f, rreaddir& m) { f(data{m.data}); }
template <class F> void io(F& f, rmkdir& m) { f(m.qid); }
template <class F> void io(F&, runlinkat&) {}
template <class F> void io(F&, rremove&) {}
template <class F> void io(F&, rrenameat&) {}
template <class F> void io(F&, rfsync&) {}
template <class F>
void io(F& f, rsymlink& m) {
  f(m.qid);
}
template <class F>
void io(F& f, rmknod& m) {
  f(m.qid);
}
template <class F>
void io(F&, rlink&) {}
template <class F> void io(F& f, rstatfs& m) {
  f(m.type, m.bsize, m.blocks, m.bfree, m.bavail, m.files, m.ffree, m.fsid, m.namelen);
}
template <class F> void io(F& f, rlerror& m) { f(m.ecode); }

// Appends fields to a string.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  template <class... Ts>
  void operator()(Ts&&... fields) { (put(fields), ...); }

 private:
  template <class T>
  void put_int(T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i) out_.push_back(char((v >> (8 * i)) & 0xff));
  }
  void put(std::uint8_t& v) { put_int(v); }
  void put(std::uint16_t& v) { put_int(v); }
  void put(std::uint32_t& v) { put_int(v); }
  void put(std::uint64_t& v) { put_int(v); }
  void put(std::string& s) {
    put_int(std::uint16_t(s.size()));
    out_.append(s);
  }
  void put(data& d) {
    put_int(std::uint32_t(d.bytes.size()));
    out_.append(d.bytes);
  }
  void put(qid& q) { io(*this, q); }
  void put(dirent& d) { io(*this, d); }
  void put(std::vector<std::string>& v) {
    put_int(std::uint16_t(v.size()));
    for (auto& s : v) put(s);
  }
  void put(std::vector<qid>& v) {
    put_int(std::uint16_t(v.size()));
    for (auto& q : v) put(q);
  }

  std::string& out_;
};

// Fills fields from bytes; the first field that does not fit stops it and
// says why in `problem` (every later field reads as zero).
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}

  template <class... Ts>
  void operator()(Ts&&... fields) { (get(fields), ...); }

  bool failed() const { return !problem_.empty(); }
  const std::string& problem() const { return problem_; }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  bool need(std::size_t n, const char* what) {
    if (failed()) return false;
    if (n <= left()) return true;
    problem_ = std::string("ends inside ") + what;
    return false;
  }
  template <class T>
  void get_int(T& v, const char* what = "a number") {
    v = 0;
    if (!need(sizeof(T), what)) return;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= T(T(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i));
    pos_ += sizeof(T);
  }
  void get(std::uint8_t& v) { get_int(v); }
  void get(std::uint16_t& v) { get_int(v); }
  void get(std::uint32_t& v) { get_int(v); }
  void get(std::uint64_t& v) { get_int(v); }
  void get(std::string& s) {
    std::uint16_t n = 0;
    get_int(n, "a string's length");
    if (!need(n, "a string")) return;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
  }
  void get(data d) {
    std::uint32_t n = 0;
    get_int(n, "a data count");
    if (!need(n, "data")) return;
    d.bytes.assign(in_.substr(pos_, n));
    pos_ += n;
  }
  void get(qid& q) { io(*this, q); }
  void get(dirent& d) { io(*this, d); }
  template <class T>
  void get(std::vector<T>& v) {
    std::uint16_t n = 0;
    get_int(n, "a count");
    if (failed()) return;
    if (n > max_walk) {
      problem_ = std::to_string(n) + " path elements (at most " + std::to_string(max_walk) + ")";
      return;
    }
    v.resize(n);
    for (auto& x : v) get(x);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string problem_;
};

}  // namespace circuit::wire::detail
