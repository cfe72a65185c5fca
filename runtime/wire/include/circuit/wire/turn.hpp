// turn.hpp — writes gathered until the end of the handler that made them.
//
// A connection's replies and a client's requests made while one handler
// runs (the frames of one read served, the replies of one read taken)
// should leave together, in one write each: a forwarded walk, lopen, write
// and clunk cross a link in one batch, and their answers go back in one.
// Posting each write to the loop gathers them too, but Asio polls epoll
// before every round of posted handlers: a system call per round, and in
// a virtual machine an expensive one (most of a relaying daemon's time in
// a round trip, measured with perf in bench/cluster_bench). So a handler
// that reads opens a turn, and writes asked for while it is open run when
// it closes.
//
//   void on_read(...) {
//     wire::turn t;         // what on_frames asks to write waits ...
//     on_frames(bytes);
//   }                       // ... and goes here, once per writer
//
//   if (wire::turn::open()) wire::turn::at_end(write); else asio::post(ex, write);
//
// Turns nest; the outermost runs what was deferred, in order, and what
// that defers, until nothing is left. It runs them in its destructor, so
// what is deferred must not throw (writes only start there).
//
// write_all() writes to a socket the same way: at once if the kernel
// takes all of it (the usual case), its completion then at the end of the
// turn rather than posted; the rest, if any, with Asio's async_write.
//
// Thread safety: per thread (the loop thread).
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <functional>

namespace circuit::wire {

class turn {
 public:
  turn();
  ~turn();
  turn(const turn&) = delete;
  turn& operator=(const turn&) = delete;

  static bool open();
  // Runs `f` when the outermost turn of this thread closes. Only while one
  // is open.
  static void at_end(std::function<void()> f);
  // At the end of the open turn, or posted to `ex` when none is.
  template <class Executor, class F>
  static void soon(const Executor& ex, F f) {
    if (open()) at_end(std::move(f));
    else boost::asio::post(ex, std::move(f));
  }
};

// Writes all of `buf` (valid until `done` runs) on the stream socket `s`;
// `done(ec, n)` runs once, never inside this call.
template <class Socket>
void write_all(Socket& s, boost::asio::const_buffer buf,
               std::function<void(boost::system::error_code, std::size_t)> done) {
  boost::system::error_code ec;
  if (!s.non_blocking()) s.non_blocking(true, ec);
  std::size_t n = ec ? 0 : s.write_some(buf, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) ec = {};
  if (ec || n == buf.size())
    return turn::soon(s.get_executor(), [done = std::move(done), ec, n] { done(ec, n); });
  boost::asio::async_write(s, buf + n, [n, done = std::move(done)](boost::system::error_code ec, std::size_t m) {
    done(ec, n + m);
  });
}

}  // namespace circuit::wire
