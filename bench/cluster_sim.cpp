// cluster_sim — the membership code (runtime/cluster) at scale, in one
// process: N members on simnet, one stepped manual clock, packets delayed
// 0.2-2 ms and lost at random. Not a test: its figures are read.
//
// Usage: cluster_sim [N...]   (default: 100 1000 3000 10000)
//
// Each run starts a converged cluster (every member learns every other
// with membership::learn: N joins would only measure the join storm),
// lets it settle 3 s, then
//   - a new member joins through one seed: "join" is the time until every
//     member has its join event (median, p99, all);
//   - 5 s later one member crashes: "down" is the time until each other
//     member marks it down (median, p99 over members, and the last);
//   - it runs on 15 s after the crash; "false" counts down verdicts about
//     any member that did not crash (the lossy member's apart: "lossy").
// Before those, a join storm: 100 members joining 13 ms apart through
// one seed, 300 times, and how long until all know all.
// Conditions: 0% loss; 1% loss; 1% loss and one member whose own link
// loses 80% of its packets (both ways); 1% loss and one member stopped
// (SIGSTOP) for 2 s, from 1 s before the crash.
//
// Memory: each member holds every member, so a run keeps N^2 entries
// (~205 bytes each: 20.4 GB at N = 10,000). A run whose estimate passes
// CIRCUIT_SIM_MAX_GB (default: 90% of the memory available when it
// starts, /proc/meminfo) is skipped with the estimate printed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "circuit/cluster/simnet.hpp"

using namespace circuit;
using namespace circuit::cluster;
using namespace std::chrono_literals;

namespace {

using ms = std::chrono::duration<double, std::milli>;

struct condition {
  const char* name;
  double loss;
  double lossy;     // one member's own link loss
  bool stop;        // one member stopped 2 s
};

const condition conditions[] = {
    {"0% loss", 0, 0, false},
    {"1% loss", 0.01, 0, false},
    {"1% + one 80% link", 0.01, 0.8, false},
    {"1% + one stopped 2 s", 0.01, 0, true},
};

struct figures {
  std::vector<double> join, down;  // seconds, per member
  int false_down = 0, lossy_down = 0, missing_down = 0, missing_join = 0;
  std::uint64_t packets = 0;
  double wall = 0;
};

int index_of(const std::string& address) { return std::atoi(address.c_str() + 1); }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(p * double(v.size() - 1) + 0.5))];
}

// 90% of MemAvailable, in GB; 6 when /proc/meminfo does not say.
double default_max_gb() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("MemAvailable:", 0) == 0) return std::atof(line.c_str() + 13) * 1024 * 0.9 / 1e9;
  return 6;
}

figures run(int n, const condition& c) {
  auto wall_start = std::chrono::steady_clock::now();
  manual_clock clk;
  figures f;
  const int lossy = c.lossy > 0 ? 2 : -1, stopped = c.stop ? 3 : -1, crashed = 4, joiner = n;
  clock::time_point join_at{}, crash_at{};
  std::vector<double> joined(n + 1, -1), down(n + 1, -1);
  simnet::options o;
  o.loss = c.loss;
  o.seed = std::uint64_t(n) * 31 + std::uint64_t(c.loss * 1000) + (c.stop ? 7 : 0) + (lossy > 0 ? 3 : 0);
  o.on_event = [&](const std::string& at, std::string_view ev, const member& m) {
    int observer = index_of(at), about = index_of(m.name);
    if (ev == "join" && about == joiner && joined[observer] < 0)
      joined[observer] = ms(clk.now() - join_at).count() / 1000;
    if (ev != "down") return;
    if (about == crashed && crash_at != clock::time_point{}) {
      if (down[observer] < 0) down[observer] = ms(clk.now() - crash_at).count() / 1000;
    } else if (about == lossy) {
      ++f.lossy_down;
    } else {
      ++f.false_down;
    }
  };
  simnet net(clk, o);
  auto name = [](int i) { return "h" + std::to_string(i); };
  for (int i = 0; i < n; ++i) net.spawn(name(i));
  std::vector<member> all;
  for (int i = 0; i < n; ++i) all.push_back(net.at(name(i)).self());
  for (int i = 0; i < n; ++i)
    for (auto& m : all)
      if (m.name != name(i)) net.at(name(i)).learn(m);
  if (lossy > 0) net.link_loss(name(lossy), c.lossy);
  clk.advance(3s);

  join_at = clk.now();
  net.spawn(name(joiner), {name(0)});
  clk.advance(4s);
  if (stopped > 0) net.stop(name(stopped), 2s);
  clk.advance(1s);
  crash_at = clk.now();
  net.crash(name(crashed));
  clk.advance(15s);

  for (int i = 0; i < n; ++i)
    if (i == 0) continue;  // the seed learns it in the exchange
    else if (joined[i] < 0) ++f.missing_join;
    else f.join.push_back(joined[i]);
  for (int i = 0; i <= n; ++i) {
    if (i == crashed) continue;
    if (down[i] < 0) ++f.missing_down;
    else f.down.push_back(down[i]);
  }
  f.packets = net.packets();
  f.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return f;
}

// A join storm: n members start 13 ms apart (as cluster_scale starts
// them), each joining through the first; the time from the last start
// until every member has every other's join event, over `runs` runs with
// their own seeds. A run whose gossip missed a pair waits for push-pull.
void storm(int n, int runs) {
  std::vector<double> took;
  int late = 0;
  for (int r = 0; r < runs; ++r) {
    manual_clock clk;
    std::vector<int> known(n, 0);
    simnet::options o;
    o.seed = 1000 + std::uint64_t(r);
    o.on_event = [&](const std::string& at, std::string_view ev, const member&) {
      if (ev == "join") ++known[index_of(at)];
    };
    simnet net(clk, o);
    for (int i = 0; i < n; ++i) {
      net.spawn("h" + std::to_string(i),
                i ? std::vector<std::string>{"h0"} : std::vector<std::string>{});
      clk.advance(13ms);
    }
    auto last = clk.now();
    double t = -1;
    for (int step = 0; step < 600; ++step, clk.advance(100ms))
      if (std::all_of(known.begin(), known.end(), [&](int k) { return k >= n - 1; })) {
        t = ms(clk.now() - last).count() / 1000;
        break;
      }
    if (t < 0 || t > 3) ++late;
    took.push_back(t < 0 ? 60 : t);
  }
  std::printf(
      "join storm: %d members 13 ms apart through one seed, %d runs: all know all %.2f s after "
      "the last start (median), p99 %.2f, max %.2f; runs over 3 s: %d\n",
      n, runs, pct(took, 0.5), pct(took, 0.99), pct(took, 1), late);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000, 3000, 10000};
  double max_gb = std::getenv("CIRCUIT_SIM_MAX_GB") ? std::atof(std::getenv("CIRCUIT_SIM_MAX_GB"))
                                                    : default_max_gb();
  timings tm;
  std::printf("cluster_sim: defaults probe %lld ms (timeout %lld), gossip %lld ms x %d, indirect %d, "
              "suspicion %.1f..%.1fx, retransmit %d; delay 0.2-2 ms\n",
              (long long)(tm.probe_interval / 1ms), (long long)(tm.probe_timeout / 1ms),
              (long long)(tm.gossip_interval / 1ms), tm.gossip_fanout, tm.indirect_checks,
              tm.suspicion_mult, tm.suspicion_mult * tm.suspicion_max_mult, tm.retransmit_mult);
  std::printf("%6s  %-21s %-26s %-26s %5s %5s %9s %6s\n", "N", "condition",
              "join s (med/p99/all/miss)", "down s (med/p99/all/miss)", "false", "lossy", "packets",
              "wall s");
  // The join storm of cluster_scale (100 daemons on one machine), many times.
  storm(100, 300);
  for (int n : sizes) {
    double gb = double(n) * n * 205 / 1e9;
    if (gb > max_gb) {
      std::printf("%6d  skipped: ~%.0f GB for %d full views (CIRCUIT_SIM_MAX_GB=%.1f)\n", n, gb, n,
                  max_gb);
      continue;
    }
    for (auto& c : conditions) {
      auto f = run(n, c);
      std::printf("%6d  %-21s %5.2f/%5.2f/%5.2f/%-4d     %5.2f/%5.2f/%5.2f/%-4d     %5d %5d %9llu %6.1f\n",
                  n, c.name, pct(f.join, 0.5), pct(f.join, 0.99), pct(f.join, 1), f.missing_join,
                  pct(f.down, 0.5),
                  pct(f.down, 0.99), pct(f.down, 1), f.missing_down, f.false_down, f.lossy_down,
                  (unsigned long long)f.packets, f.wall);
      std::fflush(stdout);
    }
  }
}
