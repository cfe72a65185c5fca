// socket_client.hpp — what the benchmarks that speak 9P share: a client of
// a circuitd socket face that sends a channel message and receives it back
// (the project's client, runtime/wire/client.hpp), the 9P frames of that
// round trip as the codec makes them (for floors that replay them), and
// per-round figures.
//
// One round trip is two pipelined batches, each one socket round trip:
//   send: walk HOST/channels/c/send, lopen O_WRONLY, write the message,
//         clunk (the clunk commits it);
//   recv: walk HOST/channels/c/recv, lopen O_RDONLY, read, read (end of
//         file), clunk.
//
// Thread safety: each object belongs to the thread that made it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "circuit/wire/client.hpp"

namespace bench {

// A client of the socket at `path`, attached as this process's uid.
class socket_client {
 public:
  explicit socket_client(const std::string& path);
  // Sends `msg` on HOST/channels/c and receives it back; throws on any
  // error or if the bytes differ.
  void round_trip(const std::string& host, const std::string& msg);

 private:
  template <class F>
  void run_until(F done);

  boost::asio::io_context io_;
  std::shared_ptr<circuit::wire::client> cl_;
  std::uint32_t root_ = 0;
};

// One 9P request of the round trip and the reply circuitd gives to it.
struct frame {
  std::string request, reply;
};
// The frames of the two batches, in order: send (walk, lopen, write,
// clunk) then recv (walk, lopen, read, read, clunk); `path_top` is what
// the walks start with ({"h1"} from a socket's root; {} for a member's
// own tree, as a forwarded walk is).
struct round_trip_frames {
  std::vector<frame> send, recv;
};
round_trip_frames channel_frames(const std::string& msg, std::vector<std::string> path_top);
// The requests (or replies) of `frames` concatenated: one batch.
std::string requests(const std::vector<frame>& frames);
std::string replies(const std::vector<frame>& frames);

// Reads exactly `n` bytes from `fd` (into a scratch buffer); false at end
// of file or on an error. Writes all of `data`; false on an error.
bool read_exactly(int fd, std::size_t n);
bool write_all(int fd, const std::string& data);

// Timings of a measured operation: per-round medians and every sample.
struct figures {
  std::vector<double> round_medians, samples;
  double us() const;
  double p99_us() const;
  // Times `iters` calls of trip() as one round.
  template <class F>
  void round(int iters, F trip);
};

}  // namespace bench

#include "harness.hpp"

template <class F>
void bench::figures::round(int iters, F trip) {
  std::vector<double> s(iters);
  for (auto& x : s) {
    auto began = std::chrono::steady_clock::now();
    trip();
    x = seconds_since(began);
  }
  round_medians.push_back(median(s));
  samples.insert(samples.end(), s.begin(), s.end());
}
