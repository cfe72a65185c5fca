// socket_bench — a channel message through circuitd's socket face (9P2000.L
// with the project's client, runtime/wire/client.hpp), next to a raw
// Unix-socket request/reply floor of the same shape measured in the same run.
//
// Usage: socket_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]
//
// One round trip through the socket is two pipelined batches, each one
// socket round trip (the client writes a batch in one write):
//   send: walk h1/channels/c/send, lopen O_WRONLY, write the message, clunk
//         (the clunk commits it);
//   recv: walk h1/channels/c/recv, lopen O_RDONLY, read, read (end of
//         file), clunk;
// through a channel of cap 1, so no open waits. The floor is the same two
// exchanges on a Unix stream socket (socketpair) with a server process that
// does nothing but read each batch's frames (the very bytes the client's
// batches hold, made by the project's codec) and write back the replies
// circuitd would give (also made by the codec): the cost of the socket
// and two processes, without any 9P server. Rounds of the two alternate.
//
// Output (microseconds; medians of per-round medians, with the 99th
// percentile of all round trips):
//   socket channel round trip (64 B, 5 rounds of 2000): circuit 60.1 us (p99 130.2),
//     floor 30.3 us (p99 70.1), ratio 1.98 (p99 1.86; target <= 2)
//   circuitd idle cpu: 0.00% of one cpu over 3 s (limit 1%)
// The benchmark exits 1 if circuitd's idle CPU is above 1% (harness.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "answering_peer.hpp"
#include "harness.hpp"
#include "socket_client.hpp"

namespace {

// The floor: the same batches' bytes on a socketpair, answered by a
// process with the bytes circuitd would answer.
struct floor_pair {
  std::string send_batch, send_reply, recv_batch, recv_reply;
  bench::answering_peer peer;

  explicit floor_pair(const bench::round_trip_frames& frames)
      : send_batch(bench::requests(frames.send)),
        send_reply(bench::replies(frames.send)),
        recv_batch(bench::requests(frames.recv)),
        recv_reply(bench::replies(frames.recv)),
        peer({{send_batch.size(), send_reply}, {recv_batch.size(), recv_reply}}) {}

  void round_trip() {
    peer.ask(send_batch, send_reply.size());
    peer.ask(recv_batch, recv_reply.size());
  }
};

int body(int argc, char** argv) {
  int rounds = 5, iters = 2000, size = 64, warmup = 300;
  bench::parse_counts(argc, argv, "socket_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]",
                      {{"--rounds", &rounds}, {"--iters", &iters}, {"--size", &size}});
  if (size > (1 << 16)) throw std::runtime_error("--size is at most 65536");
  auto daemon = bench::server::circuitd_with_socket(argv[1], "h1");
  std::string chan = daemon.mount() + "/h1/channels/c";
  if (mkdir(chan.c_str(), 0755) != 0) bench::fail("mkdir " + chan);
  bench::write_file(chan + "/cap", "1\n");

  std::string msg(size, 'm');
  for (int i = 0; i < size; ++i) msg[i] = 'a' + i % 26;
  bench::socket_client circuit(daemon.socket());
  floor_pair floor(bench::channel_frames(msg, {"h1"}));
  for (int i = 0; i < warmup; ++i) circuit.round_trip("h1", msg), floor.round_trip();
  bench::figures c, f;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      c.round(iters, [&] { circuit.round_trip("h1", msg); });
      f.round(iters, [&] { floor.round_trip(); });
    } else {
      f.round(iters, [&] { floor.round_trip(); });
      c.round(iters, [&] { circuit.round_trip("h1", msg); });
    }
  }
  printf("socket channel round trip (%d B, cap 1, %d rounds of %d): circuit %.1f us (p99 %.1f), "
         "floor %.1f us (p99 %.1f), ratio %.2f (p99 %.2f; target <= 2)\n",
         size, rounds, iters, c.us(), c.p99_us(), f.us(), f.p99_us(), c.us() / f.us(), c.p99_us() / f.p99_us());
  printf("  per-round medians (us): circuit [%s] floor [%s]\n", bench::list_us(c.round_medians).c_str(),
         bench::list_us(f.round_medians).c_str());
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
