// runtime.hpp — a program's link to its host's circuit daemon.
//
// A runtime talks 9P to the daemon over its local socket ($CIRCUIT_SOCKET,
// else /run/circuit/HOST.sock: see wire/conn.hpp's default_socket), one
// connection per thread that uses it, so each thread's errors are its own.
// A connection the daemon ended fails the calls that were on it
// (circuit::exception ECONNRESET) and is made again at the next call.
// What a runtime makes (channels, and the workers it spawns) is held by a
// lease (circuit(4)): it goes when the runtime ends, or the program dies,
// on every host, unless kept. Every call is a documented sequence of file
// operations (libcircuit(3)),
// which a shell can do and watch on the mount as well. A program never
// holds the cluster key: other hosts are reached through the daemon.
//
//   circuit::runtime rt(argc, argv);
//   auto jobs = rt.make_chan<int>("jobs", 16);    // /HOST/channels/jobs, cap 16
//   auto there = rt.open_chan<int>("/h2/channels/results");
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace circuit {

using duration = std::chrono::steady_clock::duration;

template <class T>
class chan;
template <class R>
class spawned;
template <class R>
class goroutine;
class runtime;

namespace detail {
class session;
struct go_open;  // go.cpp
using fn_key = void (*)();

// The runtime that a chan decoded from JSON belongs to (a chan crosses as
// its path): the innermost `decoding` of the calling thread, else the
// process's newest runtime. Throws circuit::exception EINVAL when none.
runtime& decoding_runtime();
class decoding {
 public:
  explicit decoding(runtime* rt);
  ~decoding();
  decoding(const decoding&) = delete;
  decoding& operator=(const decoding&) = delete;

 private:
  runtime* prev_;
};
}  // namespace detail

class runtime {
 public:
  // Connects to the daemon (throws circuit::exception, with the words of the
  // failure, when it cannot). argc and argv are the program's: in a worker
  // made by spawn they say which function to run, and then this runs it,
  // writes its result and exits the process (spawn.hpp).
  runtime(int argc, char** argv);
  // Connects to the daemon at `socket` ("": the default above).
  explicit runtime(const std::string& socket = "");
  // Removes the channels and workers this runtime made and did not keep()
  // (a worker still running is killed first).
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // This host's name (/circuit/sysname).
  const std::string& host() const;
  // The cluster's hosts not declared down, sorted by name: the names in
  // the root's `members` file (this host alone outside a cluster).
  std::vector<std::string> hosts();

  // A new channel on this host: /HOST/channels/NAME with buffer `cap`
  // (0: every send waits for a receiver). An empty name gets a unique one.
  // Throws circuit::exists when the name is taken.
  template <class T>
  chan<T> make_chan(const std::string& name = "", int cap = 0) {
    return chan<T>(this, make_channel(name, cap));
  }
  // The channel at `path` ("/h2/channels/results"), on any host. Throws
  // circuit::not_found when it is not there.
  template <class T>
  chan<T> open_chan(const std::string& path) {
    return chan<T>(this, find_channel(path));
  }
  // Leaves the channel or worker at `path` in place when this runtime ends.
  void keep(const std::string& path);

  // Runs fn(args...) in a new worker on `host` (spawn.hpp): fn must be
  // registered (CIRCUIT_REGISTER), and each argument converts to its
  // parameter's type. Throws circuit::exception EINVAL for a function not
  // registered; not_found for a host that is not a member.
  template <class R, class... P, class... A>
  spawned<R> spawn(const std::string& host, R (*fn)(P...), A&&... args);

  // Runs fn(args...) as a new goroutine of the libcircuit program running
  // in `worker` ("/h2/workers/NAME", on any host) (go.hpp). A worker just
  // spawned shows its goroutines once its program has started: go() waits
  // for that, at most 5 s. Throws not_found when it does not.
  template <class R, class... P, class... A>
  goroutine<R> go(const std::string& worker, R (*fn)(P...), A&&... args);

  // Serves a file of this program at files/NAME of its worker directory:
  // `read` gives its content at each open, `write` takes each write (an
  // exception refuses it, with its words). They run on the program's file
  // server's thread, and may serve other files. At most 32 files. Throws
  // circuit::exception EIO, with why, when the program's files are not
  // served.
  void serve(const std::string& name, std::function<std::string()> read,
             std::function<void(std::string_view)> write = {});

  // The runtime of this program (its newest); in a spawned function, the
  // worker's. Throws circuit::exception EINVAL when there is none.
  static runtime& current();

  // The calling thread's connection (libcircuit's own use).
  detail::session& session();
  struct impl;  // what it holds (libcircuit's own)

 private:
  template <class R>
  friend class spawned;
  template <class R>
  friend class goroutine;
  std::string make_channel(const std::string& name, int cap);
  std::string find_channel(const std::string& path);
  // leases.cpp: makes FOLDER/NAME and holds its lease, so that it goes
  // with this runtime (its path; throws with words); the end of the leases.
  std::string make_held(const std::vector<std::string>& folder, const std::string& name, const char* what);
  void clean_up();  // removes what this runtime made and did not keep
  bool spawned_run(int argc, char** argv);  // runs the function when spawned
  // spawn.cpp: a started worker's path; its result's value JSON (or the
  // error thrown); SIGKILL; and, in a spawned worker, running its function.
  std::string start_worker(const std::string& host, detail::fn_key fn, const std::string& args);
  // ship.cpp: this program's binary in the store of `host` (its sha256),
  // shipped there when it is not yet (or `again`: it was evicted).
  std::string binary_on(const std::string& host, bool again = false);
  std::string await_result(const std::string& path, duration within);
  void kill_worker(const std::string& path);
  [[noreturn]] void run_spawned(const std::string& fn, const std::string& args);
  // go.cpp: the open of WORKER/goroutines/go with the call written and
  // the result's read under way; its result's value JSON (or the error
  // thrown); its clunk.
  std::shared_ptr<detail::go_open> start_go(const std::string& worker, detail::fn_key fn, const std::string& args);
  std::string await_go(const std::shared_ptr<detail::go_open>& call, duration within);
  void end_go(const std::shared_ptr<detail::go_open>& call);
  std::unique_ptr<impl> impl_;
};

}  // namespace circuit
