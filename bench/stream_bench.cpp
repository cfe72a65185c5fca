// stream_bench — streaming throughput through a buffered channel, next to
// this machine's FUSE floor measured in the same run.
//
// Usage: stream_bench CIRCUITD [--rounds N]
//
// One sender thread sends messages (open send, write, close) as fast as it
// can into a channel of cap 64 while one receiver thread receives them
// (open recv, read until end of file, close), at 64 B and at 64 KiB. The
// floor is the same two threads doing the same calls at the same time on
// the one file of floor_fs (fuse_session_loop and fuse_session_loop_mt; the
// faster is the floor); there nothing queues, so it is what FUSE alone lets
// two such threads do.
//
// Output (medians over the rounds; MB is 10^6 bytes):
//   stream 64 B: circuit 9100 msgs/s 0.58 MB/s, floor 15000 msgs/s 0.96 MB/s
//     (single ..., mt ...), circuit/floor 0.61; wake-ups per message: circuitd 3.1, floor 2.9
//     per-round msgs/s: circuit [...] single [...] mt [...]
//     per message received: circuit 110.2 us (p99 380.0), floor ...
//     per-round msgs/s: circuit [...] single [...] mt [...]
// circuit/floor is the share of the floor's rate the channel reaches. The
// rates are medians over a few rounds; the per-message line gives the
// median and 99th percentile of the receiver's gaps between one message
// and the next over all rounds (the rate's inverse, with its tail). Last,
// circuitd's idle CPU (harness.hpp): the benchmark exits 1 above 1%.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "channel_io.hpp"
#include "floor_fs.hpp"
#include "harness.hpp"

namespace {

struct target {
  const char* name;
  std::string send, recv;
  pid_t pid;
  bool check;  // a channel must hand every message over whole; the floor file need not
  std::vector<double> rates;  // messages per second, one per round
  std::vector<double> gaps;   // seconds between one message received and the next, every round
  long wakeups = 0, messages = 0;

  double rate() const { return bench::median(rates); }
  double wakeups_per_message() const { return messages ? double(wakeups) / messages : 0; }
};

// Runs sender and receiver together; returns seconds until both are done.
// If one side fails the other would wait forever on the channel, so the
// failing side stops the server: the other's call then fails too.
double stream(const target& t, const std::string& msg, int n, std::vector<double>* gaps = nullptr) {
  return bench::concurrently([&] { bench::send_messages(t.send, msg, n); },
                             [&] { bench::receive_messages(t.recv, msg.size(), n, t.check, gaps); }, {t.pid});
}

void measure(target& t, const std::string& msg, int n) {
  long before = bench::wakeups(t.pid);
  double seconds = stream(t, msg, n, &t.gaps);
  t.wakeups += bench::wakeups(t.pid) - before;
  t.messages += n;
  t.rates.push_back(n / seconds);
}

void report(size_t size, target (&ts)[3]) {
  auto& [circ, st, mt] = ts;
  const target& fl = st.rate() >= mt.rate() ? st : mt;
  auto mb = [size](double rate) { return rate * size / 1e6; };
  printf("stream %zu B: circuit %.0f msgs/s %.2f MB/s, floor %.0f msgs/s %.2f MB/s "
         "(single %.0f, mt %.0f msgs/s), circuit/floor %.2f; "
         "wake-ups per message: circuitd %.2f, floor %.2f\n",
         size, circ.rate(), mb(circ.rate()), fl.rate(), mb(fl.rate()), st.rate(), mt.rate(),
         circ.rate() / fl.rate(), circ.wakeups_per_message(), fl.wakeups_per_message());
  auto us = [](const target& t, double (*f)(std::vector<double>)) { return f(t.gaps) * 1e6; };
  printf("  per message received: circuit %.1f us (p99 %.1f), floor %.1f us (p99 %.1f; single %.1f p99 %.1f, "
         "mt %.1f p99 %.1f)\n",
         us(circ, bench::median), us(circ, bench::p99), us(fl, bench::median), us(fl, bench::p99),
         us(st, bench::median), us(st, bench::p99), us(mt, bench::median), us(mt, bench::p99));
  printf("  per-round msgs/s:");
  for (auto& t : ts) {
    printf(" %s [", t.name);
    for (size_t i = 0; i < t.rates.size(); ++i) printf(i ? " %.0f" : "%.0f", t.rates[i]);
    printf("]");
  }
  printf("\n");
}

int body(int argc, char** argv) {
  int rounds = 5;
  bench::parse_counts(argc, argv, "stream_bench CIRCUITD [--rounds N]", {{"--rounds", &rounds}});

  auto daemon = bench::server::circuitd(argv[1], "h1");
  auto single = bench::server::floor(false);
  auto multi = bench::server::floor(true);
  std::string f1 = single.mount() + "/" + bench::floor_file;
  std::string f2 = multi.mount() + "/" + bench::floor_file;

  // Message size, and how many per round: about a second's worth each.
  const std::pair<size_t, int> cases[] = {{64, 10000}, {64 * 1024, 2000}};
  for (auto [size, n] : cases) {
    std::string chan = daemon.mount() + "/h1/channels/s" + std::to_string(size);
    if (mkdir(chan.c_str(), 0755) != 0) bench::fail("mkdir " + chan);
    bench::write_file(chan + "/cap", "64\n");
    target ts[] = {{"circuit", chan + "/send", chan + "/recv", daemon.pid(), true},
                   {"single", f1, f1, single.pid(), false},
                   {"mt", f2, f2, multi.pid(), false}};
    std::string msg(size, 's');
    for (auto& t : ts) stream(t, msg, n / 10);  // warm-up
    for (int r = 0; r < rounds; ++r)
      for (int k = 0; k < 3; ++k) measure(ts[(r + k) % 3], msg, n);
    report(size, ts);
  }
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
