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
//     (0.44 KiB each, mkdir 85 us each); floor fs idle 1.5 MiB
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

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

  auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < channels; ++i) {
    std::string dir = host + "/channels/c" + std::to_string(i);
    if (mkdir(dir.c_str(), 0755) != 0) bench::fail("mkdir " + dir);
  }
  double per_mkdir = bench::seconds_since(began) / channels;
  long full = stat_rss(host);
  long floor_idle = bench::rss_bytes(floor.pid());

  printf("memory: circuitd idle %.1f MiB (target < 10), %d channels add %.1f MiB (target < 10) "
         "(%.2f KiB each, mkdir %.0f us each); floor fs idle %.1f MiB\n",
         idle / mib, channels, (full - idle) / mib, (full - idle) / 1024.0 / channels,
         per_mkdir * 1e6, floor_idle / mib);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
