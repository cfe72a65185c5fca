// memory_bench — circuitd's resident memory idle and with 10,000 channels,
// next to the resident memory of an idle libfuse file system (floor_fs).
//
// Usage: memory_bench CIRCUITD [--channels N]
//
// Idle is read from the "rss" field of /circuit/h1/stat (the daemon's own
// /proc/self/statm) after it has mounted and served a few requests; then N
// channels are made with mkdir (no cap, no messages) and "rss" is read again.
//
// Output (MiB is 2^20 bytes):
//   memory: circuitd idle 3.1 MiB (target < 10), 10000 channels add 4.2 MiB (target < 10)
//     (0.44 KiB each, mkdir 85 us each, p99 160); floor fs idle 1.5 MiB
//   circuitd idle cpu: 0.00% of one cpu over 3 s (limit 1%)
// The mkdir times are the median and 99th percentile; the benchmark exits 1
// if the idle CPU is above 1% (harness.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

constexpr double mib = 1024.0 * 1024.0;

// The "rss" field of the host's stat file, in bytes.
long stat_rss(const std::string& host) { return bench::stat_number(host + "/stat", "rss"); }

int body(int argc, char** argv) {
  int channels = 10000;
  bench::parse_counts(argc, argv, "memory_bench CIRCUITD [--channels N]", {{"--channels", &channels}});

  auto floor = bench::server::floor(false);
  auto daemon = bench::server::circuitd(argv[1], "h1");
  std::string host = daemon.mount() + "/h1";
  // Settle: let start-up allocations and the first requests happen.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  bench::read_file(host + "/help");
  long idle = stat_rss(host);

  std::vector<double> mkdirs;
  for (int i = 0; i < channels; ++i) {
    std::string dir = host + "/channels/c" + std::to_string(i);
    auto began = std::chrono::steady_clock::now();
    if (mkdir(dir.c_str(), 0755) != 0) bench::fail("mkdir " + dir);
    mkdirs.push_back(bench::seconds_since(began));
  }
  long full = stat_rss(host);
  long floor_idle = bench::rss_bytes(floor.pid());

  printf("memory: circuitd idle %.1f MiB (target < 10), %d channels add %.1f MiB (target < 10) "
         "(%.2f KiB each, mkdir %.0f us each, p99 %.0f); floor fs idle %.1f MiB\n",
         idle / mib, channels, (full - idle) / mib, (full - idle) / 1024.0 / channels,
         bench::median(mkdirs) * 1e6, bench::p99(mkdirs) * 1e6, floor_idle / mib);
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
