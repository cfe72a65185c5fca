// harness.cpp — servers on private mounts, the guard that always takes them
// down, exit hooks. The /proc readers and helpers are in measure.cpp.
#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "floor_fs.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

// Long enough for every benchmark here on a slow, noisy machine; a run that
// takes longer is hung, and is better ended with its mounts cleaned up.
constexpr int budget_seconds = 900;
// Servers at once: cluster_scale runs 100 daemons.
constexpr int max_servers = 128;

struct slot {
  pid_t pid = 0;
  std::string dir, mount, log;
  bool live = false;
};

std::mutex registry_mutex;  // guards `registry` and `exit_hooks`, shared with the guard thread
slot registry[max_servers];
void (*exit_hooks[8])() = {};

bool mounted(const std::string& path) {
  std::ifstream f("/proc/self/mounts");
  std::string dev, at, rest;
  while (f >> dev >> at && std::getline(f, rest))
    if (at == path) return true;
  return false;
}

// Runs a command quietly and waits for it; the status does not matter here.
void run_quietly(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

bool exited_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// Callers hold registry_mutex.
void take_down(slot& s) {
  if (!s.live) return;
  s.live = false;
  // SIGTERM first: both servers then unmount themselves cleanly.
  if (s.pid > 0 && kill(s.pid, SIGTERM) == 0 && !exited_within(s.pid, 3000ms)) {
    kill(s.pid, SIGKILL);
    waitpid(s.pid, nullptr, 0);
  }
  if (mounted(s.mount)) run_quietly({"fusermount3", "-u", "-z", s.mount});
  rmdir(s.mount.c_str());
  unlink(s.log.c_str());
  unlink((s.dir + "/sock").c_str());  // a socket left by a killed server
  rmdir(s.dir.c_str());
}

void stop_all() {
  std::lock_guard lock(registry_mutex);
  for (auto& s : registry) take_down(s);
  for (auto fn : exit_hooks)
    if (fn) fn();
}

sigset_t guarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

void guard() {
  sigset_t set = guarded_signals();
  // sigtimedwait also returns EINTR (seen after a SIGCHLD of a benchmark's
  // own children, and when the process is stopped and continued): that is
  // neither a signal nor the end of the budget, so wait on for what is left.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(budget_seconds);
  int sig;
  do {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      sig = -1;
      break;
    }
    timespec budget{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
    sig = sigtimedwait(&set, nullptr, &budget);
  } while (sig < 0 && errno == EINTR);
  if (sig > 0)
    fprintf(stderr, "bench: %s, cleaning up\n", strsignal(sig));
  else
    fprintf(stderr, "bench: still running after %d s, giving up\n", budget_seconds);
  stop_all();
  _exit(1);
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) fail("readlink /proc/self/exe");
  return std::string(buf, n);
}

// Starts `args` as a server of a new temporary mount (args may name it as
// "{mount}") and waits until `probe` inside the mount exists.
int start(std::vector<std::string> args, const std::string& probe) {
  char tmpl[] = "/tmp/circuit-bench-XXXXXX";
  if (!mkdtemp(tmpl)) fail("mkdtemp");
  slot s{0, tmpl, std::string(tmpl) + "/mnt", std::string(tmpl) + "/log", true};
  auto discard = [&](const std::string& what) {
    int e = errno;
    rmdir(s.mount.c_str());
    rmdir(tmpl);
    errno = e;
    fail(what);
  };
  if (mkdir(s.mount.c_str(), 0755) != 0) discard("mkdir " + s.mount);
  for (auto& a : args) {
    if (a == "{mount}") a = s.mount;
    if (a == "{socket}") a = s.dir + "/sock";
    if (a == "{store}") a = s.dir + "/store";
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string cannot_exec = "cannot execute " + args[0] + "\n";  // made before fork: see below

  int index;
  {
    std::lock_guard lock(registry_mutex);
    index = std::find_if(std::begin(registry), std::end(registry),
                         [](const slot& x) { return !x.live; }) - std::begin(registry);
    if (index == static_cast<int>(std::size(registry))) discard("too many servers");
    pid_t parent = getpid();
    s.pid = fork();
    if (s.pid < 0) discard("fork");
    if (s.pid == 0) {  // only async-signal-safe calls from here to exec
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);
      setpgid(0, 0);  // a Ctrl-C reaches only the benchmark, which stops us in order
      int log = open(s.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 1);
      dup2(log, 2);
      execv(argv[0], argv.data());
      ssize_t ignored = write(2, cannot_exec.data(), cannot_exec.size());
      (void)ignored;
      _exit(127);
    }
    registry[index] = s;
  }

  std::string at = s.mount + "/" + probe;
  auto began = std::chrono::steady_clock::now();
  struct stat st;
  while (stat(at.c_str(), &st) != 0) {
    bool died = waitpid(s.pid, nullptr, WNOHANG) == s.pid;
    if (died || seconds_since(began) > 10) {
      std::string log = read_file(s.log);
      {
        std::lock_guard lock(registry_mutex);
        if (died) registry[index].pid = 0;  // reaped: never signal that pid again
        take_down(registry[index]);
      }
      throw std::runtime_error(args[0] + (died ? " exited" : " did not mount") +
                               " before " + at + " appeared; its output:\n" + log);
    }
    std::this_thread::sleep_for(10ms);
  }
  return index;
}

}  // namespace

server server::circuitd(const std::string& exe, const std::string& name) {
  return server(start({exe, "--name", name, "--mount", "{mount}", "--store", "{store}"}, "help"));
}

server server::circuitd_with_socket(const std::string& exe, const std::string& name) {
  return circuitd_with_socket(exe, name, {});
}

server server::circuitd_with_socket(const std::string& exe, const std::string& name,
                                    std::vector<std::string> extra) {
  // A store of its own: a benchmark leaves nothing in /var/lib/circuit.
  std::vector<std::string> args{exe, "--name", name, "--mount", "{mount}", "--socket", "{socket}", "--store", "{store}"};
  args.insert(args.end(), extra.begin(), extra.end());
  return server(start(std::move(args), "help"));
}

std::string server::socket() const { return registry[slot_].dir + "/sock"; }

server server::floor(bool multithreaded) {
  return server(start({self_exe(), "--serve-floor", "{mount}", multithreaded ? "mt" : "single"},
                      floor_file));
}

pid_t server::pid() const { return registry[slot_].pid; }
const std::string& server::mount() const { return registry[slot_].mount; }
const std::string& server::log() const { return registry[slot_].log; }

void server::stop() {
  if (slot_ < 0) return;
  std::lock_guard lock(registry_mutex);
  take_down(registry[slot_]);
  slot_ = -1;
}

void at_exit(void (*fn)()) {
  std::lock_guard lock(registry_mutex);
  for (auto& h : exit_hooks)
    if (!h || h == fn) {
      h = fn;
      return;
    }
  throw std::runtime_error("bench::at_exit: too many hooks");
}

int main(int argc, char** argv, int (*body)(int, char**)) {
  if (argc == 4 && std::strcmp(argv[1], "--serve-floor") == 0)
    return serve_floor(argv[2], std::strcmp(argv[3], "mt") == 0);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  // A reader that goes away (`| head`) must not kill us before the cleanup.
  signal(SIGPIPE, SIG_IGN);
  sigset_t set = guarded_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread, so all inherit it
  std::thread(guard).detach();
  int rc;
  try {
    rc = body(argc, argv);
  } catch (const std::exception& e) {
    fprintf(stderr, "%s: %s\n", argv[0], e.what());
    rc = 1;
  }
  stop_all();
  return rc;
}

}  // namespace bench
