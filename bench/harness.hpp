// harness.hpp — what the benchmarks share: servers on private mounts that
// always go away (harness.cpp), wake-up, CPU and memory counters from /proc,
// medians (measure.cpp).
//
// A benchmark's main() is `return bench::main(argc, argv, body);`. Before
// `body` runs, SIGINT, SIGTERM and SIGHUP are blocked and a guard thread
// waits for them (or for the time budget to run out); when one comes it
// stops every server (SIGTERM, then SIGKILL), detaches its mount with
// `fusermount3 -u -z`, removes its temporary directory and exits 1. A thread
// rather than a signal handler, because the main thread may be stuck inside
// a FUSE request that only ends once the server is gone. Servers also get
// PR_SET_PDEATHSIG, so a SIGKILLed benchmark still takes them down.
//
// Errors inside `body` are thrown (std::runtime_error): this is a program,
// not a library, and unwinding runs the destructors that clean up.
//
// Thread safety: `server` objects belong to the thread that made them; the
// registry of live servers is shared with the guard thread under a mutex.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <utility>
#include <string>
#include <vector>

namespace bench {

// Runs `body` with the guard in place; also serves the floor file system
// when this binary was re-executed for that (see server::floor).
int main(int argc, char** argv, int (*body)(int argc, char** argv));

// A process serving a FUSE mount in a fresh temporary directory.
class server {
 public:
  // circuitd from `exe`, named `name`; ready once `mount()/help` exists.
  static server circuitd(const std::string& exe, const std::string& name);
  // The same, serving 9P2000.L also on socket() (--socket).
  static server circuitd_with_socket(const std::string& exe, const std::string& name);
  // The same with `extra` flags after the others (--key, --listen, --join).
  static server circuitd_with_socket(const std::string& exe, const std::string& name,
                                     std::vector<std::string> extra);
  // The floor file system (floor_fs.hpp) on fuse_session_loop, or on
  // fuse_session_loop_mt when `multithreaded`; its one file is `mount()/f`.
  static server floor(bool multithreaded);

  server(server&& o) noexcept : slot_(o.slot_) { o.slot_ = -1; }
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() { stop(); }

  pid_t pid() const;
  const std::string& mount() const;
  std::string socket() const;  // beside the mount, in its temporary directory
  const std::string& log() const;  // its stdout and stderr, until it is stopped
  // Takes the server down and removes its mount; idempotent.
  void stop();

 private:
  explicit server(int slot) : slot_(slot) {}
  int slot_;
};

// Context switches of every thread of `pid` (voluntary + involuntary): each
// one is the process going to sleep or being put off the CPU, so the count
// bounds how often it was woken. Threads that have exited are not counted.
long wakeups(pid_t pid);
// CPU time of every thread of `pid` in seconds (/proc/PID/task/*/schedstat,
// nanosecond counts); like wakeups, threads that have exited are not counted.
double cpu_seconds(pid_t pid);
// Resident memory of `pid`, in bytes (/proc/PID/statm).
long rss_bytes(pid_t pid);
// The number after "KEY": in the one-line JSON of a circuit `stat` file,
// e.g. stat_number(mount + "/h1/stat", "rss"); throws if it is not there.
long stat_number(const std::string& stat_file, const std::string& key);

// Runs `fn` whenever the benchmark ends (return, thrown error, signal, time
// budget), after every server is down: for what a benchmark started outside
// its servers' reach, such as processes that outlive a killed daemon. `fn`
// may run on the guard thread and more than once, so it must be idempotent.
// At most 8.
void at_exit(void (*fn)());

// Whole-file helpers that throw with the path and errno on failure.
void write_file(const std::string& path, const std::string& data);
std::string read_file(const std::string& path);

double median(std::vector<double> v);
// The 99th percentile (nearest rank): the value 99% of the samples do not
// exceed. Printed beside every median, from all the samples, not the
// per-round medians, so the slow tail shows.
double p99(std::vector<double> v);

// utime + stime of the whole process (every thread, also ended ones), in
// clock ticks (fields 14 and 15 of /proc/PID/stat).
long cpu_ticks(pid_t pid);
// circuitd's share of one CPU while nothing is asked of it: its utime +
// stime from /proc/PID/stat (every thread, also ended ones) over `seconds`
// of idleness, in percent. The benchmarks measure it after their work,
// print it, and fail if it is above idle_cpu_limit: an idle daemon must
// not poll.
double idle_cpu_percent(pid_t pid, double seconds);
inline constexpr double idle_cpu_limit = 1.0;
// Measures, prints "circuitd idle cpu: ..." and says whether it is within
// the limit.
bool idle_cpu_ok(pid_t pid, double seconds = 3);
// circuitd's --spin default (and libcircuit's CIRCUIT_SPIN): how long the
// polling floors poll before each blocking read.
inline constexpr std::chrono::nanoseconds spin_window = std::chrono::microseconds(100);
// "12.3 45.6 ..." — seconds printed as microseconds, for per-round figures.
std::string list_us(const std::vector<double>& seconds);
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Reads "CIRCUITD [--NAME N]..." into the given counts (each at least 1);
// throws `usage` when CIRCUITD is missing or a flag is unknown.
void parse_counts(int argc, char** argv, const char* usage,
                  std::initializer_list<std::pair<const char*, int*>> counts);

// Throws "what: strerror(errno)".
[[noreturn]] void fail(const std::string& what);

}  // namespace bench
