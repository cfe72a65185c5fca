// spawn_bench — what libcircuit's spawn costs: rt.spawn + wait of a
// registered function that returns at once, next to floors measured in the
// same run, in rounds whose order turns so a noisy moment hits all alike:
//  - same host: a program on h1 spawns on h1. Floor: this very binary
//    started (the same loading: libcircuit, Boost.JSON, the static
//    registrations) with posix_spawn, as cheap a fork+exec as there is
//    (glibc's clone shares memory until the exec, as the daemon's clone3
//    does); the child makes one round trip with its parent on a Unix
//    socket and exits; waitpid. Beside it, the same with fork(), which
//    first copies this program's page tables;
//  - another host: two members on loopback, a program on h1 spawns on h2.
//    Floor: the posix_spawn floor plus one raw TLS relay round trip of 64 B
//    (relay_floor.hpp: Unix socket to a relay, loopback TLS with circuit's
//    link settings to a server, and back).
//  - go() + reply to a program on h2, next to that TLS relay round trip,
//    and to the same with relay and server polling before they sleep as
//    circuitd and libcircuit do (--spin, CIRCUIT_SPIN).
// The binary is cached: workers start from this program's own path, as
// spawn does while hosts share a file system. Each worker's directory is
// removed after its wait (rmdir on its host's mount), outside the timing,
// so the daemon's tables stay the same size through the run.
//
// Usage: spawn_bench CIRCUITD [--rounds N] [--iters N]
//
// Output (microseconds, medians of per-round medians; p99 of all):
//   spawn+wait, same host (5 rounds of 100):
//     libcircuit 22000.0 us (p99 ...)  per-round [...]
//     posix_spawn+exec+unix round trip 20000.0 us (p99 ...)  per-round [...]
//     fork+exec+unix round trip 24000.0 us (p99 ...)  per-round [...]
//     ratio to posix_spawn+exec+unix round trip 1.10 (target <= 2), difference 2000.0 us
//     per spawn: circuitd h1 cpu 2000 us, wake-ups 43.0; this program cpu 800 us, wake-ups 9.0;
//   spawn+wait, h1 -> h2 (...): the same, with h2's cpu too
//   go()+reply, h1 -> a program on h2 (...): the same against the TLS relay
//     round trip, with what each of the four processes spent per go()
//   circuitd idle cpu: ... (each member)
// The difference says what spawn adds to starting the program, which on a
// small virtual machine is most of either figure.
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <circuit/circuit.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "harness.hpp"
#include "relay_floor.hpp"
#include "socket_client.hpp"

int nothing() { return 0; }
CIRCUIT_REGISTER(nothing);

// A worker that stays, for go(): waits on `done`.
void stay(circuit::chan<int> done) { done.recv(); }
CIRCUIT_REGISTER(stay);

extern char** environ;

namespace {

constexpr const char* floor_child_flag = "--floor-child";
constexpr int floor_fd = 3;

// The floor's child: one round trip with its parent, on fd 3.
int floor_child() {
  char c = 'x';
  if (write(floor_fd, &c, 1) != 1 || read(floor_fd, &c, 1) != 1) return 1;
  return 0;
}

// Starts this binary as a floor child, makes its round trip, waits for it.
// With posix_spawn (glibc: clone with CLONE_VM | CLONE_VFORK, then exec),
// as the daemon starts a worker (clone3 sharing its memory until the
// exec): the floor. With fork(), which copies this program's page tables
// first: printed beside it, and slower.
void fork_exec_trip(const std::string& self, bool vfork) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) bench::fail("socketpair");
  int theirs = fcntl(sv[1], F_DUPFD_CLOEXEC, floor_fd + 1);  // so that dup2 onto floor_fd always copies
  close(sv[1]);
  char* argv[] = {const_cast<char*>(self.c_str()), const_cast<char*>(floor_child_flag), nullptr};
  pid_t pid = -1;
  if (vfork) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, theirs, floor_fd);
    int e = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) errno = e, bench::fail("posix_spawn " + self);
  } else {
    pid = fork();
    if (pid < 0) bench::fail("fork");
    if (pid == 0) {  // system calls only: the parent has threads
      if (dup2(theirs, floor_fd) < 0) _exit(126);
      execve(self.c_str(), argv, environ);
      _exit(127);
    }
  }
  close(theirs);
  char c;
  if (read(sv[0], &c, 1) != 1 || write(sv[0], &c, 1) != 1) bench::fail("floor child's round trip");
  close(sv[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    bench::fail("floor child did not exit 0");
}

// Times each trip() as in bench::figures::round, and runs after() once
// after each, untimed.
template <class T, class A>
void round_then(bench::figures& f, int iters, T trip, A after) {
  std::vector<double> s(iters);
  for (auto& x : s) {
    auto began = std::chrono::steady_clock::now();
    trip();
    x = bench::seconds_since(began);
    after();
  }
  f.round_medians.push_back(bench::median(s));
  f.samples.insert(f.samples.end(), s.begin(), s.end());
}

// What each process of a trip (daemons, this program, a program on h2)
// spent per trip, over the rounds.
struct spend {
  struct process {
    const char* name;
    pid_t pid;
    double cpu_us = 0, wakeups = 0;  // summed over rounds
  };
  std::vector<process> processes;
  int trips = 0;
  template <class F>
  void during(int n, F f) {
    std::vector<double> c0;
    std::vector<long> w0;
    for (auto& p : processes)
      c0.push_back(bench::cpu_seconds(p.pid)), w0.push_back(bench::wakeups(p.pid));
    f();
    for (std::size_t i = 0; i < processes.size(); ++i) {
      processes[i].cpu_us += (bench::cpu_seconds(processes[i].pid) - c0[i]) * 1e6;
      processes[i].wakeups += bench::wakeups(processes[i].pid) - w0[i];
    }
    trips += n;
  }
  void print(const char* per) const {
    printf("  per %s:", per);
    for (auto& p : processes)
      printf(" %s cpu %.0f us, wake-ups %.1f;", p.name, p.cpu_us / trips, p.wakeups / trips);
    printf("\n");
  }
};

// A floor: its name and one trip.
struct floor_way {
  const char* name;
  std::function<void()> trip;
};

// Rounds of spawn+wait on `host` (whose mount is `owner`) and of each
// floor, in an order that turns each round; prints the figures, the ratio
// against the first floor.
void measure(const char* title, circuit::runtime& rt, const std::string& host, const bench::server& owner,
             spend& cost, const std::vector<floor_way>& floors, int rounds, int iters) {
  std::string last;
  auto trip = [&] {
    auto w = rt.spawn(host, nothing);
    if (w.wait() != 0) bench::fail("spawn: another value");
    last = w.path();
  };
  auto remove = [&] {
    if (rmdir((owner.mount() + last).c_str()) != 0) bench::fail("rmdir " + last);
  };
  for (int i = 0; i < 10; ++i) {  // warm-up: page in every path
    trip(), remove();
    for (auto& f : floors) f.trip();
  }
  bench::figures s;
  std::vector<bench::figures> f(floors.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t k = 0; k <= floors.size(); ++k) {
      std::size_t i = (r + k) % (floors.size() + 1);
      if (i == floors.size()) cost.during(iters, [&] { round_then(s, iters, trip, remove); });
      else f[i].round(iters, floors[i].trip);
    }
  printf("spawn+wait, %s (%d rounds of %d):\n  libcircuit %.1f us (p99 %.1f)  per-round [%s]\n", title, rounds, iters,
         s.us(), s.p99_us(), bench::list_us(s.round_medians).c_str());
  for (std::size_t i = 0; i < floors.size(); ++i)
    printf("  %s %.1f us (p99 %.1f)  per-round [%s]\n", floors[i].name, f[i].us(), f[i].p99_us(),
           bench::list_us(f[i].round_medians).c_str());
  printf("  ratio to %s %.2f (target <= 2), difference %.1f us\n", floors[0].name, s.us() / f[0].us(),
         s.us() - f[0].us());
  cost.print("spawn");
}

// Waits (at most 10 s) until each of `pids` spends under 2% of a CPU
// over 200 ms.
void settle(const std::vector<pid_t>& pids) {
  for (int i = 0; i < 50; ++i) {
    std::vector<double> before;
    for (pid_t p : pids) before.push_back(bench::cpu_seconds(p));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    bool quiet = true;
    for (std::size_t k = 0; k < pids.size(); ++k) quiet = quiet && bench::cpu_seconds(pids[k]) - before[k] < 0.004;
    if (quiet) return;
  }
}

std::string this_binary() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) bench::fail("readlink /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(n));
}

int body(int argc, char** argv) {
  int rounds = 5, iters = 100;
  bench::parse_counts(argc, argv, "spawn_bench CIRCUITD [--rounds N] [--iters N]",
                      {{"--rounds", &rounds}, {"--iters", &iters}});
  std::string self = this_binary();
  std::string key = bench::make_key(argv[1]);
  circuit::cluster::link_context ctx(bench::load_key(key));
  std::string seed = "127.0.0.1:" + std::to_string(bench::free_port());
  auto h1 = bench::server::circuitd_with_socket(argv[1], "h1", {"--key", key, "--listen", seed});
  auto h2 = bench::server::circuitd_with_socket(
      argv[1], "h2", {"--key", key, "--listen", "127.0.0.1:" + std::to_string(bench::free_port()), "--join", seed});
  bench::wait_alive({&h1, &h2});
  std::string bytes(64, 'r');
  bench::relay_floor tls(&ctx, {{{bytes, bytes}}}, {{{bytes, bytes}}});
  // The same with relay and server polling as circuitd does (--spin).
  bench::relay_floor polling(&ctx, {{{bytes, bytes}}}, {{{bytes, bytes}}}, bench::spin_window);
  {
    circuit::runtime rt(h1.socket());  // a program on h1
    spend local{{{"circuitd h1", h1.pid()}, {"this program", getpid()}}};
    spend remote{
        {{"circuitd h1", h1.pid()}, {"circuitd h2", h2.pid()}, {"this program", getpid()}}};
    measure("same host", rt, "h1", h1, local,
            {{"posix_spawn+exec+unix round trip", [&] { fork_exec_trip(self, true); }},
             {"fork+exec+unix round trip", [&] { fork_exec_trip(self, false); }}},
            rounds, iters);
    measure("h1 -> h2", rt, "h2", h2, remote,
            {{"posix_spawn+exec+unix+TLS relay round trip",
              [&] {
                tls.round_trip();
                fork_exec_trip(self, true);
              }}},
            rounds, iters);
    // go() + reply: a function of a program already running on h2.
    auto done = rt.make_chan<int>("", 1);
    auto w = rt.spawn("h2", stay, done);
    auto go_trip = [&] {
      if (rt.go(w.path(), nothing).wait() != 0) bench::fail("go: another value");
    };
    // The daemons first finish what the spawns above left them (reaping,
    // removing worker directories): measured in it, go()'s first rounds
    // ran at twice their later time.
    settle({h1.pid(), h2.pid()});
    for (int i = 0; i < 300; ++i) go_trip(), tls.round_trip(), polling.round_trip();
    bench::figures g, t, p;
    int go_iters = 10 * iters;  // a go() is a thousandth of a spawn
    spend go_cost{{{"circuitd h1", h1.pid()},
                   {"circuitd h2", h2.pid()},
                   {"this program", getpid()},
                   {"the program on h2", static_cast<pid_t>(bench::stat_number(
                                             h2.mount() + w.path() + "/stat", "pid"))}}};
    for (int r = 0; r < rounds; ++r) {
      go_cost.during(go_iters, [&] { g.round(go_iters, go_trip); });
      t.round(go_iters, [&] { tls.round_trip(); });
      p.round(go_iters, [&] { polling.round_trip(); });
    }
    printf("go()+reply, h1 -> a program on h2 (%d rounds of %d):\n  libcircuit %.1f us (p99 %.1f)  per-round [%s]\n"
           "  TLS relay round trip %.1f us (p99 %.1f)  per-round [%s]\n"
           "  the same, relay and server polling %lld us as circuitd does, %.1f us (p99 %.1f)  per-round [%s]\n"
           "  ratio %.2f (target <= 3); to the polling floor %.2f\n",
           rounds, go_iters, g.us(), g.p99_us(), bench::list_us(g.round_medians).c_str(), t.us(), t.p99_us(),
           bench::list_us(t.round_medians).c_str(), static_cast<long long>(bench::spin_window.count() / 1000), p.us(),
           p.p99_us(), bench::list_us(p.round_medians).c_str(), g.us() / t.us(), g.us() / p.us());
    go_cost.print("go()");
    done.send(1);
    w.wait();
  }
  bool ok = bench::idle_cpu_ok(h1.pid());
  return bench::idle_cpu_ok(h2.pid()) && ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == floor_child_flag) return floor_child();
  // In a worker spawn started (the daemon sets CIRCUIT_WORKER): runs the
  // function, writes its result and exits.
  if (std::getenv("CIRCUIT_WORKER")) circuit::runtime rt(argc, argv);
  return bench::main(argc, argv, body);
}
