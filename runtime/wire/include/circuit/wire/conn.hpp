// conn.hpp — the 9P client driven one request at a time, for a thread that
// has nothing else to do while it waits: the `circuit` command, and each
// thread of a libcircuit program.
//
// A conn owns its io_context and runs it only inside its calls, so a call
// returns when its reply came (or its deadline passed: the client flushes
// the request on the server, and the call fails with errc::timed_out).
//
//   auto c = wire::conn::open(wire::default_socket());
//   auto fid = (*c)->walk(wire::split_path("/h1/channels/a/recv"));
//   (*c)->lopen(*fid, wire::o_rdonly, 2s);   // waits at most 2 s
//
// While a conn's replies come quickly it polls for the next for a while
// before it sleeps (spin.hpp): CIRCUIT_SPIN in the environment sets the
// window in microseconds (default 400; 0: never poll).
//
// Thread safety: one thread at a time (a conn is one 9P session: its
// `error` files are its own).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "circuit/wire/client.hpp"
#include "circuit/wire/spin.hpp"

namespace circuit::wire {

// "/h1/channels/a" as names to walk: {"h1", "channels", "a"}.
std::vector<std::string> split_path(const std::string& path);

// The daemon's socket as a client finds it: $CIRCUIT_SOCKET, else
// /run/circuit/HOST.sock, HOST being `host` if given, else $CIRCUIT_HOST,
// else this machine's host name (circuitd's default --name; "local" when
// that is not a valid name).
std::string default_socket(const std::string& host = "");

// Replies of requests issued together (pipelined: they leave in one write,
// and the server takes those on one fid in order): how many are out, and
// the failure to report, with the step it failed at. That is the first in
// the order issued, whatever the order the replies come in: a write after a
// refused open fails too, and the open's failure is the one that says why.
struct batch {
  int out = 0;
  std::optional<error> failed;
  const char* step = "";
  bool walked = true;  // false when the walk failed (nothing was recorded)

  // The handler of the next request, named `at` ("open", "write").
  template <class R>
  auto on(const char* at) {
    ++out;
    return [this, at, i = issued++](R r) {
      --out;
      if (!r) fail(i, r.err(), at);
    };
  }
  // The same, keeping the reply in `into`.
  template <class R>
  auto keep(const char* at, std::optional<R>& into) {
    ++out;
    return [this, at, &into, i = issued++](R r) {
      --out;
      if (!r) fail(i, r.err(), at);
      into.emplace(std::move(r));
    };
  }
  // The handler of a walk of `names` names: fewer qids is errc::not_found.
  auto on_walk(std::size_t names) {
    ++out;
    return [this, names, i = issued++](result<std::vector<qid>> r) {
      --out;
      if (r && r->size() < names) r = make_error(errc::not_found, "No such file or directory");
      if (!r && fail(i, r.err(), "walk")) walked = false;
    };
  }

 private:
  bool fail(int i, const error& e, const char* at) {
    if (failed && first < i) return false;
    failed = e;
    step = at;
    first = i;
    walked = true;
    return true;
  }
  int issued = 0, first = -1;
};

class conn {
 public:
  using duration = std::chrono::steady_clock::duration;

  // Connects to `socket`, negotiates the version and attaches as the
  // calling user.
  static result<std::unique_ptr<conn>> open(const std::string& socket);

  // A new fid for `path`, walked from the root (in steps of max_walk
  // names); a name that is not there is errc::not_found.
  result<std::uint32_t> walk(const std::vector<std::string>& names);
  // An open waits at most `within` (zero: for ever), as do reads and
  // writes given one.
  result<rlopen> lopen(std::uint32_t fid, std::uint32_t flags, duration within = {});
  result<std::string> read(std::uint32_t fid, std::uint64_t offset, duration within = {});
  result<std::uint32_t> write(std::uint32_t fid, std::uint64_t offset, std::string data);
  result<void> clunk(std::uint32_t fid);
  result<void> remove(std::uint32_t fid);
  result<std::vector<dirent>> readdir(std::uint32_t fid, std::uint64_t offset);
  result<rgetattr> getattr(std::uint32_t fid);
  result<qid> mkdir(std::uint32_t dfid, const std::string& name, std::uint32_t mode);
  result<void> rmdir(std::uint32_t dfid, const std::string& name);
  // Tlcreate: the file `name` made in the directory `dfid`, which becomes
  // that file, open with `flags` (o_wronly; o_excl: it must be new). A
  // binary goes into a host's store so: walk to /HOST/bin, create its
  // sha256, write it in order, fsync (the verdict: errc::io when the
  // content is not its name), clunk.
  result<rlcreate> create(std::uint32_t dfid, const std::string& name, std::uint32_t flags,
                          std::uint32_t mode = 0500);
  // unlink(2) of a file made by create.
  result<void> unlink(std::uint32_t dfid, const std::string& name);
  result<void> fsync(std::uint32_t fid);

  // The whole of a file: walk, open, read to the end, clunk. Walk, open
  // and the first read leave together, then the read that finds the end
  // with the clunk: two round trips for a file that fits one read. (When
  // that read finds more, the file is read again from a new walk.)
  result<std::string> slurp(const std::vector<std::string>& names);
  // Walk, open for writing, the write of `data` (in max_write pieces) and
  // clunk, issued together: one round trip.
  result<void> put(const std::vector<std::string>& names, std::string data);
  // From any thread: the call under way now (in the thread that runs
  // this conn) is flushed on the server and fails with errc::interrupted.
  void interrupt();
  // Runs what is ready now without waiting (an interrupt that came after
  // its call ended, so that it cannot reach the next one).
  void drain() { io_.poll(); }
  std::uint32_t max_write() const { return client_->max_write(); }
  // How long it polls before it sleeps while hot (CIRCUIT_SPIN).
  std::chrono::nanoseconds spin_window() const { return spin_.window(); }
  bool connected() const { return client_->connected(); }

  // For requests issued together (pipelined: they leave in one write):
  // the client and the attach fid, and a loop that runs until `done()`.
  // Requests made through raw() leave when run_until (or a call) waits.
  client& raw() { return *client_; }
  std::uint32_t root() const { return root_; }
  void run_until(const std::function<bool()>& done);
  // Runs until each request of `b` has its reply.
  void finish(batch& b) {
    run_until([&b] { return b.out == 0; });
  }
  // Runs `f` on the calling thread before its next wait for a reply on
  // any conn, once; nullptr clears it. (libcircuit: a goroutine running
  // on its program's server loop hands the loop on before it waits.)
  static void before_next_wait(std::function<void()> f);
  // The same, giving up at `until`: whether done() came true.
  bool run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point until);

 private:
  conn();
  void send_queued();
  // A new fid for `names` from the root: the walk issued into `b` when it
  // takes one Twalk, else walked now (its failure is in `b`, as issued).
  std::uint32_t walk_into(batch& b, const std::vector<std::string>& names);
  // Reads `fid`, open, from `offset` to the end.
  result<std::string> read_rest(std::uint32_t fid, std::string got);
  // Issues a request through `issue(handler)` and runs the loop until its
  // handler has run.
  template <class T, class F>
  result<T> wait(F issue, duration within = {});

  boost::asio::io_context io_;
  // Polls for a reply before sleeping while replies come quickly
  // (spin.hpp): CIRCUIT_SPIN microseconds, 400 unless set.
  spinner spin_;
  std::shared_ptr<client> client_;
  std::uint32_t root_ = 0;
};

}  // namespace circuit::wire
