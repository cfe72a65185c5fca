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
// member in turn, then 50 ms of rest; and, to the millisecond, from
// each member's log: the last join or alive it heard). Then, with nothing asked of them,
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "harness.hpp"

namespace {

// Seconds since the epoch of a log line's stamp, "2026-11-30T03:53:39.220"
// (local time, as fsd/log.cpp writes it); negative if there is none.
double stamp_of(const std::string& line) {
  tm t{};
  const char* rest = strptime(line.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (!rest || *rest != '.') return -1;
  t.tm_isdst = -1;
  return static_cast<double>(mktime(&t)) + std::atoi(rest + 1) / 1000.0;
}

// What a member's log says of the others: when it last heard of one
// (join or alive: the moment its list was complete, once it is), and how
// many suspect and down verdicts it gave meanwhile.
struct heard {
  double last = -1;
  int suspects = 0, downs = 0;
};
heard read_log(const std::string& path) {
  heard h;
  std::istringstream in(bench::read_file(path));
  for (std::string line; std::getline(in, line);) {
    auto ends = [&](const char* ev) { return line.find(std::string(" ") + ev + " (") != std::string::npos; };
    if (line.find("cluster: ") == std::string::npos) continue;
    if (ends("join") || ends("alive")) h.last = std::max(h.last, stamp_of(line));
    if (ends("suspect")) ++h.suspects;
    if (ends("down")) ++h.downs;
  }
  return h;
}

double wall_now() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return tv.tv_sec + tv.tv_usec / 1e6;
}

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
  double last_wall = 0;
  for (int i = 0; i < n; ++i) {
    std::string at = "127.0.0.1:" + std::to_string(bench::free_port());
    std::vector<std::string> extra{"--key", key, "--listen", at};
    if (i == 0) seed = at;
    else extra.insert(extra.end(), {"--join", seed});
    last = std::chrono::steady_clock::now();
    last_wall = wall_now();
    members.push_back(bench::server::circuitd_with_socket(argv[1], "m" + std::to_string(i + 1), extra));
  }
  double joins = bench::seconds_since(began);

  std::vector<double> converged(n, -1);
  int left = n;
  double sweep = 0;  // the longest pass over the members: the figures' resolution
  while (left > 0) {
    auto pass = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
      if (converged[i] < 0 && bench::all_alive(members[i].mount(), n)) {
        converged[i] = bench::seconds_since(last);
        --left;
      }
    sweep = std::max(sweep, bench::seconds_since(pass));
    if (bench::seconds_since(last) > 60) {
      fprintf(stderr, "cluster_scale: %d of %d members did not list all alive within 60 s\n", left, n);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto conv = summarize(converged);
  printf("%d members (polled): all list all %d alive %.2f s after the last started (target <= 3 s); "
         "first seen complete at %.2f s, median %.2f s; longest poll of all members %.0f ms; "
         "the %d starts took %.1f s\n",
         n, n, conv.max, *std::min_element(converged.begin(), converged.end()), conv.median, sweep * 1e3, n,
         joins);
  // The polls read every member's list through its mount, one after
  // another, so a slow pass hides when a list became complete; the logs
  // say it to the millisecond.
  std::vector<double> logged;
  int suspects = 0, downs = 0;
  for (auto& m : members) {
    auto h = read_log(m.log());
    logged.push_back(h.last - last_wall);
    suspects += h.suspects;
    downs += h.downs;
  }
  auto lg = summarize(logged);
  printf("  from the logs (last join or alive each member heard): all %.2f s after the last started, "
         "median %.2f s; suspect verdicts %d, down verdicts %d meanwhile\n",
         lg.max, lg.median, suspects, downs);

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
