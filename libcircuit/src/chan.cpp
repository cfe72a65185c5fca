// chan.cpp — a channel's calls as 9P requests, issued together where that
// is safe, so that a send or a receive is one round trip to the daemon.
#include "circuit/chan.hpp"

#include <cerrno>
#include <optional>

#include "goroutines.hpp"
#include "session.hpp"

namespace circuit {

namespace {

struct target {
  detail::session& s;
  wire::conn& c;
  wire::client& cl;
  std::vector<std::string> names;
  std::string file;
  std::uint32_t fid;
};

target at(runtime* rt, const std::string& path, const char* file) {
  auto& s = rt->session();
  auto names = wire::split_path(path);
  names.push_back(file);
  return {s, s.conn(), s.conn().raw(), names, path + "/" + file, s.conn().raw().new_fid()};
}

// Issues the writes of `msg` through t.fid from offset 0.
void write_all(target& t, detail::batch& b, const std::string& msg) {
  std::size_t max = t.c.max_write();
  for (std::size_t off = 0; off < msg.size() || off == 0; off += max) {
    t.cl.write(t.fid, off, msg.substr(off, max), b.on<result<std::uint32_t>>("write"));
    if (msg.empty()) break;
  }
}

// walk, open and read of `file` (recv or tryrecv) in one go, then reads
// to the end of a message longer than one read. Nothing when a tryrecv
// found none.
std::optional<std::string> receive(runtime* rt, const std::string& path, const char* file, duration within) {
  auto t = at(rt, path, file);
  const char* what = std::string(file) == "recv" ? "recv" : "try_recv";
  detail::batch b;
  std::string got;
  std::uint32_t count = t.cl.msize() - wire::rread_overhead;
  bool read_ok = false;
  t.cl.set_deadline(within);
  t.cl.walk(t.c.root(), t.fid, t.names, b.on_walk(t.names.size()));
  t.cl.lopen(t.fid, wire::o_rdonly, b.on<result<wire::rlopen>>("open"));
  t.cl.set_deadline({});
  ++b.out;
  t.cl.read(t.fid, 0, count, [&](result<std::string> r) {
    --b.out;
    if (r) {
      got = std::move(*r);
      read_ok = true;
    }
  });
  t.c.run_until([&b] { return b.out == 0; });
  // The read is the verdict: it returned the message's bytes only if the
  // open took one (even one whose answer came after our deadline).
  if (!read_ok) {
    if (b.walked) t.cl.clunk(t.fid, [](result<void>) {});  // gives back anything it held
    if (b.failed && b.failed->code == errc::would_block && what[0] == 't') return std::nullopt;
    t.s.fail(b.failed ? *b.failed : make_error(errc::io, "9p: the read failed"), what, t.file, b.walked);
  }
  while (!got.empty() && got.size() % count == 0) {  // a message longer than one read
    auto more = t.c.read(t.fid, got.size());
    if (!more) {
      t.cl.clunk(t.fid, [](result<void>) {});
      t.s.fail(more.err(), what, t.file, true);
    }
    if (more->empty()) break;
    got += *more;
  }
  // Its last byte was read: the message is ours; the clunk's answer is
  // not awaited.
  t.cl.clunk(t.fid, [](result<void>) {});
  return got;
}

}  // namespace

std::string chan_base::recv_bytes(duration within) {
  detail::blocking guard("recv " + path_, rt_->session().conn());
  return *receive(rt_, path_, "recv", within);
}

void chan_base::send_bytes(std::string msg, duration within) {
  auto t = at(rt_, path_, "send");
  detail::blocking guard("send " + path_, t.c);
  detail::batch b;
  t.cl.set_deadline(within);
  t.cl.walk(t.c.root(), t.fid, t.names, b.on_walk(t.names.size()));
  t.cl.lopen(t.fid, wire::o_wronly, b.on<result<wire::rlopen>>("open"));
  t.cl.set_deadline({});
  write_all(t, b, msg);
  // Without a deadline the clunk (which delivers) goes with the rest; with
  // one it waits for the open's answer: an open that timed out here may
  // have succeeded there, and must then be aborted (remove), not committed.
  if (within == duration::zero()) t.cl.clunk(t.fid, b.on<result<void>>("close"));
  t.c.run_until([&b] { return b.out == 0; });
  if (within != duration::zero()) {
    if (b.failed) t.cl.remove(t.fid, b.on<result<void>>("abort"));
    else t.cl.clunk(t.fid, b.on<result<void>>("close"));
    t.c.run_until([&b] { return b.out == 0; });
  }
  if (b.failed) t.s.fail(*b.failed, "send", t.file, b.walked);
}

bool chan_base::try_send_bytes(std::string msg) {
  auto t = at(rt_, path_, "trysend");
  detail::batch b;
  t.cl.walk(t.c.root(), t.fid, t.names, b.on_walk(t.names.size()));
  t.cl.lopen(t.fid, wire::o_wronly, b.on<result<wire::rlopen>>("open"));
  write_all(t, b, msg);
  t.cl.clunk(t.fid, b.on<result<void>>("close"));
  t.c.run_until([&b] { return b.out == 0; });
  if (b.failed && b.failed->code == errc::would_block && std::string(b.step) == "open") return false;
  if (b.failed) t.s.fail(*b.failed, "try_send", t.file, b.walked);
  return true;
}

std::optional<std::string> chan_base::try_recv_bytes() { return receive(rt_, path_, "tryrecv", {}); }

void chan_base::close_channel() {
  auto& s = rt_->session();
  auto names = wire::split_path(path_);
  names.push_back("close");
  if (auto r = s.conn().put(names, "close\n"); !r) s.fail(r.err(), "close", path_ + "/close", r.err().code != errc::not_found);
}

void chan_base::not_a_value(const std::string& msg, const char* why) const {
  std::string shown = msg.size() > 64 ? msg.substr(0, 64) + "..." : msg;
  throw_error(EINVAL, "recv: " + path_ + ": the message \"" + shown + "\" is not a value of the channel's type: " + why);
}

}  // namespace circuit
