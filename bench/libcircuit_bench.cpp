// libcircuit_bench — a chan<int> round trip of libcircuit (send, then
// recv, by one thread, on a channel of cap 1 of its own host), next to a
// raw Unix-socket round trip measured in the same run: one write of the
// same bytes to a server process that writes them back. (The cross-host
// figure is in cluster_bench, beside the TLS relay floor.)
//
// Usage: libcircuit_bench CIRCUITD [--rounds N] [--iters N]
//
// A send is one request batch (walk, lopen, write, clunk) and a receive
// another (walk, lopen, read; its clunk goes unanswered into the next
// batch), so the library makes two socket round trips where the floor
// makes one; the ratio against one and against two raw round trips is
// printed. Beside it, the same raw round trip with both ends polling
// before they read, as the daemon and the library do (--spin,
// CIRCUIT_SPIN): which of the two the scheduler makes faster depends on
// whether it puts the two processes on one CPU.
//
// Output (microseconds, medians of per-round medians; p99 of all):
//   chan<int> round trip, same host (5 rounds of 2000): libcircuit 70.0 us (p99 ...),
//     raw unix round trip 20.0 us (p99 ...); ratios 3.50 (target <= 2), per two raw round trips 1.75
//   circuitd idle cpu: ...
#include <circuit/circuit.hpp>
#include <cstdio>
#include <string>

#include "answering_peer.hpp"
#include "harness.hpp"
#include "socket_client.hpp"

namespace {

int body(int argc, char** argv) {
  int rounds = 5, iters = 2000, warmup = 300;
  bench::parse_counts(argc, argv, "libcircuit_bench CIRCUITD [--rounds N] [--iters N]",
                      {{"--rounds", &rounds}, {"--iters", &iters}});
  auto daemon = bench::server::circuitd_with_socket(argv[1], "h1");
  circuit::runtime rt(daemon.socket());
  auto ch = rt.make_chan<int>("c", 1);
  // The bytes a send of an int puts on the socket: its batch's size.
  // One raw round trip of as many bytes each way.
  std::string bytes(bench::requests(bench::channel_frames("1", {"h1"}).send).size(), 'x');
  bench::answering_peer raw({{bytes.size(), bytes}});
  // The same with both ends polling before they read, as the daemon and
  // the library do (--spin, CIRCUIT_SPIN).
  bench::answering_peer polling({{bytes.size(), bytes}}, bench::spin_window);
  auto trip = [&] {
    ch.send(7);
    if (ch.recv() != 7) bench::fail("chan<int>: received another value");
  };
  for (int i = 0; i < warmup; ++i) trip(), raw.ask(bytes, bytes.size()), polling.ask(bytes, bytes.size());
  bench::figures c, f, p;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      c.round(iters, trip);
      f.round(iters, [&] { raw.ask(bytes, bytes.size()); });
      p.round(iters, [&] { polling.ask(bytes, bytes.size()); });
    } else {
      p.round(iters, [&] { polling.ask(bytes, bytes.size()); });
      f.round(iters, [&] { raw.ask(bytes, bytes.size()); });
      c.round(iters, trip);
    }
  }
  printf("chan<int> round trip, same host (%d rounds of %d): libcircuit %.1f us (p99 %.1f), raw unix round trip "
         "%.1f us (p99 %.1f); ratios %.2f (target <= 2), per two raw round trips %.2f\n",
         rounds, iters, c.us(), c.p99_us(), f.us(), f.p99_us(), c.us() / f.us(), c.us() / (2 * f.us()));
  printf("  per-round medians (us): libcircuit [%s] raw [%s]\n", bench::list_us(c.round_medians).c_str(),
         bench::list_us(f.round_medians).c_str());
  printf("  raw unix round trip with both ends polling %lld us before they read, as circuitd and libcircuit do: "
         "%.1f us (p99 %.1f); ratios %.2f, per two such round trips %.2f; per-round [%s]\n",
         static_cast<long long>(bench::spin_window.count() / 1000), p.us(), p.p99_us(), c.us() / p.us(),
         c.us() / (2 * p.us()), bench::list_us(p.round_medians).c_str());
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
