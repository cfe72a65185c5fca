// relay_floor.hpp — the floor of a call a member forwards to another: a
// client writes a batch of requests on a Unix socket to a relay, which
// makes the round trip its member would make on the link for it (its own
// frames) to a server over loopback TLS with circuit's link settings (or
// plaintext TCP), and writes the client's replies back. Relay and server
// are threads that only read and write: nothing of circuit in it but the
// TLS settings.
//
//   bench::relay_floor tls(&ctx, {{{req, rep}}}, {{{req, rep}}});
//   tls.round_trip();   // each batch in turn, one relayed round trip each
//
// Thread safety: one thread calls round_trip at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "socket_client.hpp"

namespace bench {

class relay_floor {
 public:
  using batch = std::vector<frame>;
  // `batches[i]` is what the client writes and reads back; `trips[i]` the
  // round trip the relay makes on the link for it. TLS when `ctx` is
  // given, else TCP.
  relay_floor(circuit::cluster::link_context* ctx, std::vector<batch> batches, std::vector<batch> trips,
              std::chrono::nanoseconds poll = {});
  ~relay_floor();  // closes the client's end: relay and server follow
  relay_floor(const relay_floor&) = delete;
  relay_floor& operator=(const relay_floor&) = delete;

  const std::string& suite() const { return suite_; }
  // Every batch in turn; throws when an end falls short.
  void round_trip();

 private:
  void relay();
  void serve();

  boost::asio::io_context io_;
  stream_pair pair_;
  std::vector<batch> batches_, trips_;
  std::chrono::nanoseconds poll_;
  int client_ = -1, relay_fd_ = -1;
  std::string suite_;
  std::thread server_, relay_;
};

}  // namespace bench
