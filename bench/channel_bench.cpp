// channel_bench — the latency of one channel message, next to this
// machine's FUSE floor measured in the same run.
//
// Usage: channel_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]
//
// One round trip is: open send, write the message, close (delivery); open
// recv, read until end of file, close — one message at a time through a
// channel of cap 1, so neither open ever waits. The floor is the same six
// calls on the one file of floor_fs (floor_fs.hpp), served once by
// fuse_session_loop and once by fuse_session_loop_mt; the faster median is
// the floor. The three are measured in alternating rounds, so a noisy
// moment of the machine hits all of them alike.
//
// Output (times are medians of the per-round medians, in microseconds, with
// the 99th percentile of all round trips beside each):
//   channel round trip: circuit 41.2 us (p99 80.3), floor 35.0 us (p99 70.2; single ..., mt ...),
//     ratio 1.18 (p99 1.14)
//   wake-ups per round trip: circuitd 4.00, floor 4.00 (single 4.00, mt 6.02)
//   per-round medians: ...
// The ratio is circuit/floor; the issue asks for at most 2.5. Wake-ups are
// the server's context switches per round trip (harness.hpp): on a 2-vCPU
// machine each costs tens of microseconds, so circuitd should have no more
// than the floor. Last, circuitd's idle CPU (harness.hpp): the benchmark
// exits 1 if it is above 1%.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "floor_fs.hpp"
#include "harness.hpp"

namespace {

struct target {
  const char* name;
  std::string send, recv;  // the files a round trip opens
  pid_t pid;               // the server whose wake-ups are counted
  std::vector<double> round_medians, samples;  // samples: every round trip
  long wakeups = 0, trips = 0;

  double us() const { return bench::median(round_medians) * 1e6; }
  double p99_us() const { return bench::p99(samples) * 1e6; }
  double wakeups_per_trip() const { return trips ? double(wakeups) / trips : 0; }
};

void round_trip(const target& t, const std::string& msg, std::vector<char>& buf) {
  int fd = open(t.send.c_str(), O_WRONLY);
  if (fd < 0) bench::fail("open " + t.send);
  if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size()))
    bench::fail("write " + t.send);
  if (close(fd) != 0) bench::fail("close " + t.send);

  fd = open(t.recv.c_str(), O_RDONLY);
  if (fd < 0) bench::fail("open " + t.recv);
  size_t got = 0;
  for (ssize_t n; (n = read(fd, buf.data() + got, buf.size() - got)) != 0; got += n)
    if (n < 0) bench::fail("read " + t.recv);
  if (close(fd) != 0) bench::fail("close " + t.recv);
  if (got != msg.size() || std::memcmp(buf.data(), msg.data(), got) != 0)
    throw std::runtime_error(std::string(t.name) + ": received bytes differ from those sent");
}

void measure_round(target& t, int iters, const std::string& msg, std::vector<char>& buf) {
  std::vector<double> samples(iters);
  long before = bench::wakeups(t.pid);
  for (auto& s : samples) {
    auto began = std::chrono::steady_clock::now();
    round_trip(t, msg, buf);
    s = bench::seconds_since(began);
  }
  t.wakeups += bench::wakeups(t.pid) - before;
  t.trips += iters;
  t.round_medians.push_back(bench::median(samples));
  t.samples.insert(t.samples.end(), samples.begin(), samples.end());
}

int body(int argc, char** argv) {
  int rounds = 5, iters = 2000, size = 64, warmup = 500;
  bench::parse_counts(argc, argv, "channel_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]",
                      {{"--rounds", &rounds}, {"--iters", &iters}, {"--size", &size}});

  auto daemon = bench::server::circuitd(argv[1], "h1");
  auto single = bench::server::floor(false);
  auto multi = bench::server::floor(true);
  std::string chan = daemon.mount() + "/h1/channels/c";
  if (mkdir(chan.c_str(), 0755) != 0) bench::fail("mkdir " + chan);
  bench::write_file(chan + "/cap", "1\n");

  std::string f1 = single.mount() + "/" + bench::floor_file;
  std::string f2 = multi.mount() + "/" + bench::floor_file;
  target targets[] = {{"circuit", chan + "/send", chan + "/recv", daemon.pid()},
                      {"single", f1, f1, single.pid()},
                      {"mt", f2, f2, multi.pid()}};

  std::string msg(size, 'm');
  for (int i = 0; i < size; ++i) msg[i] = 'a' + i % 26;
  std::vector<char> buf(size + 4096);
  // Warm-up: page in code, fill the kernel's dentry cache, start mt threads.
  for (auto& t : targets)
    for (int i = 0; i < warmup; ++i) round_trip(t, msg, buf);
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 3; ++k) measure_round(targets[(r + k) % 3], iters, msg, buf);

  auto& [circ, st, mt] = targets;
  const target& fl = st.us() <= mt.us() ? st : mt;
  printf("channel round trip (%d B, cap 1, %d rounds of %d): circuit %.1f us (p99 %.1f), floor %.1f us "
         "(p99 %.1f; single %.1f p99 %.1f, mt %.1f p99 %.1f), ratio %.2f (p99 %.2f)\n",
         size, rounds, iters, circ.us(), circ.p99_us(), fl.us(), fl.p99_us(), st.us(), st.p99_us(), mt.us(),
         mt.p99_us(), circ.us() / fl.us(), circ.p99_us() / fl.p99_us());
  printf("wake-ups per round trip: circuitd %.2f, floor %.2f (single %.2f, mt %.2f)\n",
         circ.wakeups_per_trip(), fl.wakeups_per_trip(), st.wakeups_per_trip(),
         mt.wakeups_per_trip());
  printf("per-round medians (us): circuit [%s] single [%s] mt [%s]\n",
         bench::list_us(circ.round_medians).c_str(), bench::list_us(st.round_medians).c_str(),
         bench::list_us(mt.round_medians).c_str());
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
