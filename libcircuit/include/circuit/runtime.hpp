// runtime.hpp — a program's link to its host's circuit daemon.
//
// A runtime talks 9P to the daemon over its local socket ($CIRCUIT_SOCKET,
// else /run/circuit/HOST.sock: see wire/conn.hpp's default_socket), one
// connection per thread that uses it, so each thread's errors are its own.
// A connection the daemon ended fails the calls that were on it
// (circuit::exception ECONNRESET) and is made again at the next call.
// Every call is a documented sequence of file operations (libcircuit(3)),
// which a shell can do and watch on the mount as well. A program never
// holds the cluster key: other hosts are reached through the daemon.
//
//   circuit::runtime rt(argc, argv);
//   auto jobs = rt.make_chan<int>("jobs", 16);    // /HOST/channels/jobs, cap 16
//   auto there = rt.open_chan<int>("/h2/channels/results");
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <memory>
#include <string>

namespace circuit {

template <class T>
class chan;

namespace detail {
class session;
}

class runtime {
 public:
  // Connects to the daemon (throws circuit::exception, with the words of the
  // failure, when it cannot). argc and argv are the program's.
  runtime(int argc, char** argv);
  // Connects to the daemon at `socket` ("": the default above).
  explicit runtime(const std::string& socket = "");
  // Removes the channels this runtime made and did not keep().
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // This host's name (/circuit/sysname).
  const std::string& host() const;

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
  // Leaves the channel at `path` in place when this runtime ends.
  void keep(const std::string& path);

  // The calling thread's connection (libcircuit's own use).
  detail::session& session();

 private:
  std::string make_channel(const std::string& name, int cap);
  std::string find_channel(const std::string& path);
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace circuit
