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
// Streaming keeps a window of such batches in flight: each message's
// batch is sent as soon as an earlier one's clunk is answered, with its
// own fid and tags, so the socket never waits for a round trip while
// there is work to send.
//
// Thread safety: one thread at a time; a thread that uses an object made
// by another must start after its maker's last use (std::thread's start
// and join order them).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
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
  // Sends `n` messages of `size` bytes on HOST/channels/CHAN, `window`
  // batches in flight (walk, lopen O_WRONLY, one write, clunk each); the
  // first 8 bytes of message i are i (numbered()). Throws on any error.
  void send_stream(const std::string& host, const std::string& chan, std::size_t size, int n, int window);
  // Receives `n` messages from HOST/channels/CHAN, `window` batches in
  // flight (walk, lopen O_RDONLY, read, read to end of file, clunk each);
  // throws on any error, or unless the i-th batch gets `size` bytes
  // numbered i (messages come in the order they were sent).
  void receive_stream(const std::string& host, const std::string& chan, std::size_t size, int n, int window);
  // The msize the server granted in version.
  std::uint32_t msize() const { return cl_->msize(); }

 private:
  template <class F>
  void run_until(F done);

  boost::asio::io_context io_;
  std::shared_ptr<circuit::wire::client> cl_;
  std::uint32_t root_ = 0;
};

// A message of `size` bytes (at least 8) whose first 8 bytes are `seq`;
// the number a message starts with (-1 when shorter than 8 bytes).
std::string numbered(std::uint64_t seq, std::size_t size);
std::int64_t number_of(const std::string& msg);

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
// Polls `fd` for up to `window` until it has something to read (or its
// end), yielding the CPU between polls, as circuitd does before it sleeps
// (--spin): the polling floors call it before each blocking read.
void await_readable(int fd, std::chrono::nanoseconds window);

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
