// test_server.hpp — a small 9P2000.L server for the client's tests, built
// on the codec: it serves a tree of one file and one directory, or parks a
// request for the test to answer later (in any order), and can hang up.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include "circuit/wire/codec.hpp"

namespace circuit::wire::test {

namespace asio = boost::asio;
using stream_socket = asio::local::stream_protocol::socket;

// The tree: / (qid path 1) holding "a" (path 2, "hello") and "d" (path 3).
inline const qid root_qid{qt_dir, 0, 1};
inline const qid a_qid{qt_file, 0, 2};
inline const qid d_qid{qt_dir, 0, 3};

class test_server {
 public:
  explicit test_server(asio::io_context& io) : socket_(io) {}

  stream_socket& socket() { return socket_; }
  void start() { read(); }

  // Park requests whose type is `t` instead of answering them.
  std::vector<mtype> park_types;
  std::vector<frame<tmessage>> received;  // every request, in arrival order
  std::map<std::uint16_t, tmessage> parked;
  std::uint32_t msize = 8192;
  std::string a_data = "hello";  // what "a" holds
  std::string version = "9P2000.L";

  void reply(std::uint16_t tag, const rmessage& m) { send(encode(tag, m)); }
  void send(std::string bytes) {
    auto b = std::make_shared<std::string>(std::move(bytes));
    asio::async_write(socket_, asio::buffer(*b), [b](boost::system::error_code, std::size_t) {});
  }
  void hang_up() { socket_.close(); }
  // What the server answers `m` with (a parked request answered later).
  rmessage answer(const tmessage& m) { return answer_of(m); }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      inbox_.append(buf_, n);
      for (;;) {
        auto size = next_frame_size(inbox_, max_msize);
        if (!size || *size == 0 || inbox_.size() < *size) break;
        auto f = decode_t(std::string_view(inbox_).substr(0, *size), max_msize);
        inbox_.erase(0, *size);
        if (f) serve(*f);
      }
      read();
    });
  }

  void serve(const frame<tmessage>& f) {
    received.push_back(f);
    for (auto t : park_types)
      if (type_of(f.message) == t) {
        parked[f.tag] = f.message;
        return;
      }
    if (auto* fl = std::get_if<tflush>(&f.message)) parked.erase(fl->oldtag);
    reply(f.tag, answer_of(f.message));
  }

  rmessage answer_of(const tmessage& m) {
    constexpr std::uint32_t enoent = 2, eopnotsupp = 95;
    if (auto* v = std::get_if<tversion>(&m)) return rversion{std::min(v->msize, msize), version};
    if (auto* a = std::get_if<tattach>(&m)) return (fids_[a->fid] = root_qid, rattach{root_qid});
    if (auto* w = std::get_if<twalk>(&m)) {
      rwalk r;
      qid at = fids_[w->fid];
      for (auto& name : w->wnames) {
        if (at != root_qid || (name != "a" && name != "d")) break;
        at = name == "a" ? a_qid : d_qid;
        r.wqids.push_back(at);
      }
      if (r.wqids.size() < w->wnames.size() && r.wqids.empty()) return rlerror{enoent};
      if (r.wqids.size() == w->wnames.size()) fids_[w->newfid] = at;
      return r;
    }
    if (auto* o = std::get_if<tlopen>(&m)) return rlopen{fids_[o->fid], 0};
    if (auto* r = std::get_if<tread>(&m)) {
      return rread{r->offset < a_data.size() ? a_data.substr(r->offset, r->count) : ""};
    }
    if (auto* w = std::get_if<twrite>(&m)) return rwrite{std::uint32_t(w->data.size())};
    if (std::holds_alternative<tclunk>(m)) return rclunk{};
    if (std::holds_alternative<tremove>(m)) return rremove{};
    if (std::holds_alternative<tflush>(m)) return rflush{};
    if (std::holds_alternative<tfsync>(m)) return rfsync{};
    if (std::holds_alternative<tmkdir>(m)) return rmkdir{qid{qt_dir, 0, 9}};
    if (std::holds_alternative<tunlinkat>(m)) return runlinkat{};
    if (auto* g = std::get_if<tgetattr>(&m)) {
      rgetattr r;
      r.valid = getattr_basic;
      r.qid = fids_[g->fid];
      r.mode = r.qid.type == qt_dir ? 040755 : 0100644;
      return r;
    }
    if (auto* d = std::get_if<treaddir>(&m)) {
      std::string data;
      if (d->offset == 0) encode_dirent(data, dirent{a_qid, 1, dt_reg, "a"});
      if (d->offset <= 1) encode_dirent(data, dirent{d_qid, 2, dt_dir, "d"});
      return rreaddir{data};
    }
    return rlerror{eopnotsupp};
  }

  stream_socket socket_;
  char buf_[65536];
  std::string inbox_;
  std::map<std::uint32_t, qid> fids_;
};

}  // namespace circuit::wire::test
