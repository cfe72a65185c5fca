// measure.cpp — what the benchmarks read and compute: counters from /proc,
// circuit stat fields, whole files, medians. See harness.hpp.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness.hpp"

namespace bench {

namespace {
// Calls `fn(path)` with /proc/PID/task/TID for each thread of `pid`.
template <class F>
void each_task(pid_t pid, F fn) {
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(tasks.c_str());
  if (!d) fail("opendir " + tasks);
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') fn(tasks + "/" + e->d_name);
  closedir(d);
}
}  // namespace

long wakeups(pid_t pid) {
  long total = 0;
  each_task(pid, [&](const std::string& task) {
    std::ifstream f(task + "/status");
    std::string key;
    long n;
    while (f >> key) {
      if (key == "voluntary_ctxt_switches:" || key == "nonvoluntary_ctxt_switches:") {
        f >> n;
        total += n;
      }
    }
  });
  return total;
}

double cpu_seconds(pid_t pid) {
  double total = 0;
  each_task(pid, [&](const std::string& task) {
    std::ifstream f(task + "/schedstat");
    double ns = 0;
    if (f >> ns) total += ns / 1e9;
  });
  return total;
}

long rss_bytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) throw std::runtime_error("cannot read statm of " + std::to_string(pid));
  return resident * sysconf(_SC_PAGESIZE);
}

long stat_number(const std::string& stat_file, const std::string& key) {
  std::string line = read_file(stat_file);
  auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos)
    throw std::runtime_error("no \"" + key + "\" in " + stat_file + ": " + line);
  return std::stol(line.substr(at + key.size() + 3));
}

void write_file(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) fail("open " + path);
  if (write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    int e = errno;
    close(fd);
    errno = e;
    fail("write " + path);
  }
  if (close(fd) != 0) fail("close " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("open " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

double p99(std::vector<double> v) {
  if (v.empty()) return 0;
  std::size_t rank = (v.size() * 99 + 99) / 100;  // ceil(0.99 n), 1-based
  std::nth_element(v.begin(), v.begin() + (rank - 1), v.end());
  return v[rank - 1];
}

long cpu_ticks(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("no ')' in /proc/PID/stat");
  std::istringstream in(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

double idle_cpu_percent(pid_t pid, double seconds) {
  long before = cpu_ticks(pid);
  auto began = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  long used = cpu_ticks(pid) - before;
  return 100.0 * used / sysconf(_SC_CLK_TCK) / seconds_since(began);
}

bool idle_cpu_ok(pid_t pid, double seconds) {
  double pct = idle_cpu_percent(pid, seconds);
  bool ok = pct <= idle_cpu_limit;
  printf("circuitd idle cpu: %.2f%% of one cpu over %.0f s (limit %.0f%%)%s\n", pct, seconds, idle_cpu_limit,
         ok ? "" : " -- ABOVE THE LIMIT");
  return ok;
}

std::string list_us(const std::vector<double>& seconds) {
  std::string out;
  char one[32];
  for (double x : seconds) {
    snprintf(one, sizeof one, "%s%.1f", out.empty() ? "" : " ", x * 1e6);
    out += one;
  }
  return out;
}

void parse_counts(int argc, char** argv, const char* usage,
                  std::initializer_list<std::pair<const char*, int*>> counts) {
  if (argc < 2 || argc % 2 != 0) throw std::runtime_error(std::string("usage: ") + usage);
  for (int i = 2; i + 1 < argc; i += 2) {
    int* target = nullptr;
    for (auto& [name, where] : counts)
      if (std::string(argv[i]) == name) target = where;
    if (!target) throw std::runtime_error(std::string("unknown flag ") + argv[i] + "; usage: " + usage);
    *target = std::atoi(argv[i + 1]);
    if (*target < 1) throw std::runtime_error(std::string(argv[i]) + " must be at least 1");
  }
}

void fail(const std::string& what) { throw std::runtime_error(what + ": " + strerror(errno)); }

}  // namespace bench
