// socket_face.hpp — the namespace served as 9P2000.L on a Unix socket
// (circuit-wire(7)), for libcircuit, the `circuit` command and any 9P
// client (diod's tools, the kernel's v9fs with trans=unix).
//
// Each connection is one session of the core (wire::server). Its caller
// is the peer's credentials as the kernel gives them (SO_PEERCRED,
// SO_PEERGROUPS), so the access rules of the mount apply unchanged: a user
// the mount refuses is refused here, request by request. The socket itself
// is open to all (0666), as the mount is visible to all.
//
// Thread safety: everything runs on the loop thread of `io`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "circuit/core/error.hpp"
#include "circuit/core/namespace.hpp"

namespace circuit::fsd {

class socket_face {
 public:
  // A user other than root (and the daemon's own) may hold at most
  // `max_per_user` connections at once; more are closed as they come.
  socket_face(boost::asio::io_context& io, ns& space, std::string path, std::size_t max_per_user);
  ~socket_face();

  // Makes the socket's directory (0755) if it is missing, and listens.
  // Refuses a path where another daemon is listening; a stale socket of a
  // daemon that died is replaced.
  result<void> start();
  // Stops listening, ends every connection (their sessions abort what
  // they hold) and removes the socket file. Idempotent.
  void stop();
  const std::string& path() const { return path_; }
  std::size_t connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string path_;
};

}  // namespace circuit::fsd
