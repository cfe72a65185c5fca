// cluster_scale — 100 members on this machine, each a circuitd with its
// own mount, socket and loopback port, all joining through the first: how
// long until every member lists all of them alive, and what each costs
// at rest.
//
// Usage: cluster_scale CIRCUITD [--daemons N] [--idle SECONDS]
//
// The members start one after another (each once its mount serves); the
// convergence time runs from the start of the last until every member's
// `members` file lists all N alive (polled through the mounts, every
// member in turn, about every 10 ms). Then, with nothing asked of them,
// the resident memory of each (VmRSS) and its idle CPU over --idle seconds
// (utime + stime from /proc/PID/stat), as median and max over the members.
//
// Output:
//   100 members: all list all 100 alive 1.23 s after the last started (target <= 3 s);
//     first member to see all 100 at 0.80 s; joins took 7.1 s in all
//   rss per member: median 5.1 MiB, max 5.8 MiB (all 100: 512 MiB)
//   idle cpu per member over 10 s: median 0.10%, max 0.30% of one cpu (target < 0.5%)
// The benchmark exits 1 if they do not converge within 60 s. Every member
// is stopped when it ends, also on failure or Ctrl-C (harness.hpp).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "harness.hpp"

namespace {

struct summary {
  double median, max, total;
};
summary summarize(const std::vector<double>& v) {
  double total = 0;
  for (double x : v) total += x;
  return {bench::median(v), *std::max_element(v.begin(), v.end()), total};
}

int body(int argc, char** argv) {
  int n = 100, idle = 10;
  bench::parse_counts(argc, argv, "cluster_scale CIRCUITD [--daemons N] [--idle SECONDS]",
                      {{"--daemons", &n}, {"--idle", &idle}});
  if (n > 120) throw std::runtime_error("--daemons is at most 120 (the harness's servers)");
  std::string key = bench::make_key(argv[1]);
  std::vector<bench::server> members;
  std::string seed;
  auto began = std::chrono::steady_clock::now(), last = began;
  for (int i = 0; i < n; ++i) {
    std::string at = "127.0.0.1:" + std::to_string(bench::free_port());
    std::vector<std::string> extra{"--key", key, "--listen", at};
    if (i == 0) seed = at;
    else extra.insert(extra.end(), {"--join", seed});
    last = std::chrono::steady_clock::now();
    members.push_back(bench::server::circuitd_with_socket(argv[1], "m" + std::to_string(i + 1), extra));
  }
  double joins = bench::seconds_since(began);

  std::vector<double> converged(n, -1);
  int left = n;
  while (left > 0) {
    for (int i = 0; i < n; ++i)
      if (converged[i] < 0 && bench::all_alive(members[i].mount(), n)) {
        converged[i] = bench::seconds_since(last);
        --left;
      }
    if (bench::seconds_since(last) > 60) {
      fprintf(stderr, "cluster_scale: %d of %d members did not list all alive within 60 s\n", left, n);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto conv = summarize(converged);
  printf("%d members: all list all %d alive %.2f s after the last started (target <= 3 s); "
         "first to see all at %.2f s, median %.2f s; the %d starts took %.1f s in all\n",
         n, n, conv.max, *std::min_element(converged.begin(), converged.end()), conv.median, n, joins);

  std::vector<double> rss, cpu;
  for (auto& m : members) rss.push_back(bench::rss_bytes(m.pid()) / 1048576.0);
  auto r = summarize(rss);
  printf("rss per member: median %.1f MiB, max %.1f MiB (all %d: %.0f MiB)\n", r.median, r.max, n, r.total);

  std::vector<long> before;
  for (auto& m : members) before.push_back(bench::cpu_ticks(m.pid()));
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle));
  double seconds = bench::seconds_since(t0);
  for (int i = 0; i < n; ++i)
    cpu.push_back(100.0 * (bench::cpu_ticks(members[i].pid()) - before[i]) / sysconf(_SC_CLK_TCK) / seconds);
  auto c = summarize(cpu);
  printf("idle cpu per member over %.0f s: median %.2f%%, max %.2f%%, mean %.2f%% of one cpu (target < 0.5%%)\n",
         seconds, c.median, c.max, c.total / n);

  for (auto& m : members) kill(m.pid(), SIGTERM);  // all at once; the harness then reaps each
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
