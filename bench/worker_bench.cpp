// worker_bench — what a worker costs: the time to start and wait on a process
// through the mount, next to posix_spawn + waitpid measured in the same run,
// and the daemon memory that 1,000 live idle workers take.
//
// Usage: worker_bench CIRCUITD [--rounds N] [--iters N] [--idle N]
//
// 1. One start is: mkdir workers/tN; write {"path":"/bin/true"} to its spec
//    (open, write, close; the write returns once the process is spawned);
//    open its wait, read until end of file ({"exit":0}), close; rmdir. The
//    floor is posix_spawn + waitpid of /bin/true from this program. Rounds of
//    the two alternate, so a noisy moment of the machine hits both alike.
// 2. On a fresh circuitd (one start first, to page in the spawn path), N idle
//    workers (/bin/sleep 1000) are started back-to-back (mkdir + spec); the
//    daemon's "rss" is read from h1/stat before and after. Then each gets
//    `kill` on its ctl, is waited on and removed, and no process may be left.
//    The sleeps carry a marker in their environment; whatever way the
//    benchmark ends, a bench::at_exit hook SIGKILLs any that is still alive.
//
// Output (times in microseconds, medians of per-round medians, each with the
// 99th percentile of all starts; MiB = 2^20 B):
//   start+wait /bin/true (5 rounds of 200): circuit 4685.8 us (p99 ...), posix_spawn+waitpid
//     3187.0 us (p99 ...), ratio 1.47 (p99 ...; target <= 3)
//     circuit phases (us): mkdir 106.3 (p99 ...), spec 3069.0 (p99 ...), wait ..., rmdir ...
//     per start: circuitd wake-ups 11.51, cpu 2813 us
//     per-round medians (us): circuit [4655.7 ...] spawn [3179.0 ...]
//   circuitd idle cpu: 0.00% of one cpu over 3 s (limit 1%)
//   1000 idle workers started back-to-back: 4.95 s (4948 us each)
//     circuitd rss 4.7 MiB before, 6.8 MiB after: +2.1 MiB (2.1 KiB each; target < 20 MiB)
//     kill, wait and rmdir of all: 1.62 s; processes left: 0 (children of circuitd: 0),
//       workers listed: 0
//   circuitd idle cpu: 0.00% of one cpu over 3 s (limit 1%)
// The ratio is circuit/posix_spawn; the issue asks for at most 3. The phases
// say where a start's time goes (each a median over all starts, so they need
// not add up to the total). Wake-ups and cpu are circuitd's context switches
// and on-CPU time per start (harness.hpp); the idle figure is its CPU share
// over 3 s with no worker left, after each part — a daemon that spins there
// also slows the posix_spawn floor on a small machine, and so flatters the
// ratio. The benchmark exits 1 if either idle figure is above 1%.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

extern char** environ;

namespace {

using clk = std::chrono::steady_clock;
constexpr double mib = 1024.0 * 1024.0;

// The idle workers' environment: marks them as this run's, see kill_marked.
std::string marker() { return "CIRCUIT_WORKER_BENCH=" + std::to_string(getpid()); }

// SIGKILLs every live process whose environment is exactly marker();
// returns how many there were. Never throws: it also runs as an exit hook.
int kill_marked() {
  std::string want = marker() + '\0';
  int found = 0;
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/environ", std::ios::binary);
    std::string env((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (env != want) continue;  // a zombie's environment reads empty
    ++found;
    kill(pid, SIGKILL);
  }
  closedir(d);
  return found;
}

// Processes (zombies too) whose parent is `parent`.
int children_of(pid_t parent) {
  int n = 0;
  DIR* d = opendir("/proc");
  if (!d) bench::fail("opendir /proc");
  while (dirent* e = readdir(d)) {
    if (std::atoi(e->d_name) <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto close_paren = line.rfind(')');  // the command name may hold spaces
    if (close_paren == std::string::npos) continue;
    char state;
    int ppid;
    if (sscanf(line.c_str() + close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) ++n;
  }
  closedir(d);
  return n;
}

// open, read until end of file, close.
std::string read_through(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) bench::fail("open " + path);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) != 0; out.append(buf, n))
    if (n < 0) bench::fail("read " + path);
  if (close(fd) != 0) bench::fail("close " + path);
  return out;
}

void make_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) bench::fail("mkdir " + path);
}
void remove_dir(const std::string& path) {
  if (rmdir(path.c_str()) != 0) bench::fail("rmdir " + path);
}

struct start_times {
  std::vector<double> round_medians, all, mkdir, spec, wait, rmdir;
  long wakeups = 0, starts = 0;
  double cpu = 0;  // circuitd's seconds on a CPU
};

// One start of /bin/true through the mount; returns its seconds.
double start_through_mount(const std::string& workers, int n, start_times& t) {
  std::string w = workers + "/t" + std::to_string(n);
  auto t0 = clk::now();
  make_dir(w);
  auto t1 = clk::now();
  bench::write_file(w + "/spec", "{\"path\":\"/bin/true\"}\n");
  auto t2 = clk::now();
  std::string status = read_through(w + "/wait");
  auto t3 = clk::now();
  remove_dir(w);
  auto t4 = clk::now();
  if (status != "{\"exit\":0}\n") throw std::runtime_error(w + "/wait: " + status);
  auto s = [](clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  t.mkdir.push_back(s(t0, t1));
  t.spec.push_back(s(t1, t2));
  t.wait.push_back(s(t2, t3));
  t.rmdir.push_back(s(t3, t4));
  return s(t0, t4);
}

double spawn_and_wait() {
  auto began = clk::now();
  char path[] = "/bin/true";
  char* argv[] = {path, nullptr};
  pid_t pid;
  if (int e = posix_spawn(&pid, path, nullptr, nullptr, argv, environ); e != 0) {
    errno = e;
    bench::fail("posix_spawn /bin/true");
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) bench::fail("waitpid");
  double s = bench::seconds_since(began);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("/bin/true did not exit 0");
  return s;
}

bool start_and_wait(const std::string& circuitd, int rounds, int iters) {
  auto daemon = bench::server::circuitd(circuitd, "h1");
  std::string workers = daemon.mount() + "/h1/workers";
  start_times c;
  std::vector<double> spawn_medians, spawn_all;
  int n = 0;
  for (int i = 0; i < 50; ++i) {  // warm-up: page in both paths, fill caches
    start_through_mount(workers, n++, c);
    spawn_and_wait();
  }
  c = {};
  std::vector<double> samples(iters);
  for (int r = 0; r < 2 * rounds; ++r) {
    if ((r % 2 == 0) == (r / 2 % 2 == 0)) {  // circuit, spawn, spawn, circuit, ...
      long before = bench::wakeups(daemon.pid());
      double cpu_before = bench::cpu_seconds(daemon.pid());
      for (auto& s : samples) s = start_through_mount(workers, n++, c);
      c.wakeups += bench::wakeups(daemon.pid()) - before;
      c.cpu += bench::cpu_seconds(daemon.pid()) - cpu_before;
      c.starts += iters;
      c.round_medians.push_back(bench::median(samples));
      c.all.insert(c.all.end(), samples.begin(), samples.end());
    } else {
      for (auto& s : samples) s = spawn_and_wait();
      spawn_medians.push_back(bench::median(samples));
      spawn_all.insert(spawn_all.end(), samples.begin(), samples.end());
    }
  }
  double circ = bench::median(c.round_medians) * 1e6, spawn = bench::median(spawn_medians) * 1e6;
  double circ99 = bench::p99(c.all) * 1e6, spawn99 = bench::p99(spawn_all) * 1e6;
  printf("start+wait /bin/true (%d rounds of %d): circuit %.1f us (p99 %.1f), posix_spawn+waitpid %.1f us "
         "(p99 %.1f), ratio %.2f (p99 %.2f; target <= 3)\n",
         rounds, iters, circ, circ99, spawn, spawn99, circ / spawn, circ99 / spawn99);
  auto us = [](const std::vector<double>& v) { return bench::median(v) * 1e6; };
  auto us99 = [](const std::vector<double>& v) { return bench::p99(v) * 1e6; };
  printf("  circuit phases (us): mkdir %.1f (p99 %.1f), spec %.1f (p99 %.1f), wait %.1f (p99 %.1f), "
         "rmdir %.1f (p99 %.1f)\n",
         us(c.mkdir), us99(c.mkdir), us(c.spec), us99(c.spec), us(c.wait), us99(c.wait), us(c.rmdir),
         us99(c.rmdir));
  printf("  per start: circuitd wake-ups %.2f, cpu %.0f us\n", double(c.wakeups) / c.starts,
         c.cpu / c.starts * 1e6);
  printf("  per-round medians (us): circuit [%s] spawn [%s]\n",
         bench::list_us(c.round_medians).c_str(), bench::list_us(spawn_medians).c_str());
  // No worker left: the daemon has nothing to do and should not be on a CPU.
  return bench::idle_cpu_ok(daemon.pid());
}

bool idle_workers(const std::string& circuitd, int count) {
  bench::at_exit([] { kill_marked(); });
  auto daemon = bench::server::circuitd(circuitd, "h1");
  std::string host = daemon.mount() + "/h1";
  std::string workers = host + "/workers";
  // One start first, so the spawn path's code and first allocations are in.
  make_dir(workers + "/warm");
  bench::write_file(workers + "/warm/spec", "{\"path\":\"/bin/true\"}");
  read_through(workers + "/warm/wait");
  remove_dir(workers + "/warm");
  long before = bench::stat_number(host + "/stat", "rss");

  std::string spec = "{\"path\":\"/bin/sleep\",\"args\":[\"1000\"],\"env\":[\"" + marker() + "\"]}";
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(workers + "/s" + std::to_string(i));
  auto began = clk::now();
  for (auto& w : names) {
    make_dir(w);
    bench::write_file(w + "/spec", spec);
  }
  double start_s = bench::seconds_since(began);
  long after = bench::stat_number(host + "/stat", "rss");
  long live = bench::stat_number(host + "/stat", "workers");
  if (live != count)
    throw std::runtime_error("h1/stat says " + std::to_string(live) + " workers, not " +
                             std::to_string(count));
  printf("%d idle workers started back-to-back: %.2f s (%.0f us each)\n", count, start_s,
         start_s / count * 1e6);
  printf("  circuitd rss %.1f MiB before, %.1f MiB after: +%.1f MiB (%.1f KiB each; target < 20 MiB)\n",
         before / mib, after / mib, (after - before) / mib, (after - before) / 1024.0 / count);

  began = clk::now();
  for (auto& w : names) bench::write_file(w + "/ctl", "kill\n");
  for (auto& w : names) {
    std::string status = read_through(w + "/wait");
    if (status != "{\"signal\":\"KILL\"}\n") throw std::runtime_error(w + "/wait: " + status);
    remove_dir(w);
  }
  double end_s = bench::seconds_since(began);
  // Removed workers are reaped: no sleep alive, no zombie under circuitd.
  int marked = kill_marked(), children = children_of(daemon.pid());
  long listed = bench::stat_number(host + "/stat", "workers");
  printf("  kill, wait and rmdir of all: %.2f s; processes left: %d (children of circuitd: %d), "
         "workers listed: %ld\n",
         end_s, marked, children, listed);
  if (marked || children || listed)
    throw std::runtime_error("workers were left behind after kill, wait and rmdir");
  return bench::idle_cpu_ok(daemon.pid());
}

int body(int argc, char** argv) {
  int rounds = 5, iters = 200, idle = 1000;
  bench::parse_counts(argc, argv, "worker_bench CIRCUITD [--rounds N] [--iters N] [--idle N]",
                      {{"--rounds", &rounds}, {"--iters", &iters}, {"--idle", &idle}});
  bool calm = start_and_wait(argv[1], rounds, iters);
  calm = idle_workers(argv[1], idle) && calm;
  return calm ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
