// spawn_test — libcircuit's spawn against a real daemon: functions of this
// program run in workers started from it (main.cpp runs them). Run by
// tests/integration/test_libcircuit.py, with CIRCUIT_SOCKET and
// CIRCUIT_MOUNT set; CIRCUIT_SPAWN_HOST names the host to spawn on
// (default: the daemon's own). Cases with hidden tags run alone, each from
// its own integration test.
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/describe.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <circuit/circuit.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "files.hpp"

using namespace std::chrono_literals;

namespace fns {

int square(int x) { return x * x; }
CIRCUIT_REGISTER(square);

struct point {
  int x;
  int y;
};
BOOST_DESCRIBE_STRUCT(point, (), (x, y))
point mirror(point p, const std::string& tag) { return {p.y + static_cast<int>(tag.size()), p.x}; }
CIRCUIT_REGISTER(mirror);

void ping(circuit::chan<std::string> back, int n) {
  for (int i = 0; i < n; ++i) back.send(std::getenv("CIRCUIT_WORKER"));
}
CIRCUIT_REGISTER(ping);

void boom(int n) { throw std::invalid_argument("bad input " + std::to_string(n)); }
CIRCUIT_REGISTER(boom);
int odd(int) { throw 42; }  // not a std::exception
CIRCUIT_REGISTER(odd);

void crash() { std::abort(); }
CIRCUIT_REGISTER(crash);

int quit(int code) { ::_exit(code); }  // no atexit handlers, no sanitizer report at exit: its status alone
CIRCUIT_REGISTER(quit);

void nap(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
CIRCUIT_REGISTER(nap);

// "HOST:i", HOST being where it ran.
std::string where(int i) { return std::string(std::getenv("CIRCUIT_HOST")) + ":" + std::to_string(i); }
CIRCUIT_REGISTER(where);

// Says it runs, then waits for ever on a receive, which fails when its
// daemon dies: a worker that does not outlive its killed host.
void hold(circuit::chan<int> ready, circuit::chan<int> never) {
  ready.send(1);
  never.recv();
}
CIRCUIT_REGISTER(hold);

int unlisted(int x) { return x; }  // not registered

}  // namespace fns

namespace {

std::string there(circuit::runtime& rt) {
  const char* h = std::getenv("CIRCUIT_SPAWN_HOST");
  return h ? h : rt.host();
}

}  // namespace

TEST_CASE("spawn runs a registered function in a new worker and gives its value", "[spawn]") {
  circuit::runtime rt;
  auto w = rt.spawn(there(rt), fns::square, 7);
  CHECK(w.path().rfind("/" + there(rt) + "/workers/square-", 0) == 0);
  CHECK(w.wait() == 49);
  // On the files' side: the worker's result, as the shell sees it.
  CHECK(slurp(mount() + w.path() + "/result") == R"({"value":49})");
  CHECK(slurp(mount() + w.path() + "/wait") == "{\"exit\":0}\n");
  CHECK(w.wait() == 49);  // again: the result stays
  // It ran this program's binary from the host's store, named by its sha256.
  auto spec = slurp(mount() + w.path() + "/spec");
  CHECK(spec.rfind("{\"binary\":\"", 0) == 0);
  CHECK(spec.find("\"args\":[\"--circuit-run\",\"square\",\"[7]\"]") != std::string::npos);
}

TEST_CASE("structs and strings cross as JSON both ways", "[spawn]") {
  circuit::runtime rt;
  auto p = rt.spawn(there(rt), fns::mirror, fns::point{1, 2}, "abc").wait();
  CHECK(p.x == 5);
  CHECK(p.y == 1);
}

TEST_CASE("a chan crosses as its path, and the worker sends on it", "[spawn]") {
  circuit::runtime rt;
  auto back = rt.make_chan<std::string>("", 3);
  auto w = rt.spawn(there(rt), fns::ping, back, 3);
  for (int i = 0; i < 3; ++i) CHECK(back.recv(30s) == w.path());
  w.wait();
}

TEST_CASE("a function that throws gives app_error with its message", "[spawn]") {
  circuit::runtime rt;
  auto w = rt.spawn(there(rt), fns::boom, 3);
  try {
    w.wait();
    FAIL("no error");
  } catch (const circuit::app_error& e) {
    CHECK(e.errnum() == EREMOTEIO);
    CHECK(std::string(e.what()) == "boom on " + there(rt) + ": bad input 3");
  }
  CHECK(slurp(mount() + w.path() + "/wait") == "{\"exit\":1}\n");
  // Something that is not a std::exception is an app_error too, not a crash.
  auto o = rt.spawn(there(rt), fns::odd, 3);
  try {
    o.wait();
    FAIL("no error");
  } catch (const circuit::app_error& e) {
    CHECK(std::string(e.what()) ==
          "odd on " + there(rt) + ": it threw a value that is not a std::exception");
  }
}

TEST_CASE("a worker that crashes or exits without a result gives worker_died", "[spawn]") {
  circuit::runtime rt;
  auto w = rt.spawn(there(rt), fns::crash);
  try {
    w.wait();
    FAIL("no error");
  } catch (const circuit::worker_died& e) {
    CHECK(e.errnum() == ECHILD);
    CHECK(e.signal() == "ABRT");
    CHECK(e.exit_code() == -1);
    CHECK(std::string(e.what()) == "spawn: worker " + w.path() + " died of signal ABRT before it wrote a result");
  }
  auto q = rt.spawn(there(rt), fns::quit, 3);
  try {
    q.wait();
    FAIL("no error");
  } catch (const circuit::worker_died& e) {
    CHECK(e.exit_code() == 3);
    CHECK(e.signal().empty());
    CHECK(std::string(e.what()).find("exited with status 3 before it wrote a result") != std::string::npos);
  }
}

TEST_CASE("a wait with a deadline throws timeout and the worker goes on; kill ends it", "[spawn]") {
  circuit::runtime rt;
  auto w = rt.spawn(there(rt), fns::nap, 60000);
  CHECK_THROWS_AS(w.wait(300ms), circuit::timeout);
  CHECK(slurp(mount() + w.path() + "/stat").find("\"state\":\"running\"") != std::string::npos);
  w.kill();
  try {
    w.wait(30s);
    FAIL("no error");
  } catch (const circuit::worker_died& e) {
    CHECK(e.signal() == "KILL");
  }
}

TEST_CASE("an unregistered function, a missing host and wrong arguments are refused with words", "[spawn]") {
  circuit::runtime rt;
  try {
    rt.spawn(there(rt), fns::unlisted, 1);
    FAIL("spawned");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == EINVAL);
    CHECK(std::string(e.what()).find("not registered (CIRCUIT_REGISTER(fn)") != std::string::npos);
  }
  try {
    rt.spawn("nohost", fns::square, 1);
    FAIL("spawned");
  } catch (const circuit::not_found& e) {
    CHECK(std::string(e.what()) == "spawn: no host nohost in the cluster");
  }
  std::string big(200 * 1024, 'x');
  try {
    rt.spawn(there(rt), fns::mirror, fns::point{1, 2}, big);
    FAIL("spawned");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == E2BIG);
    CHECK(std::string(e.what()).find("send more on a channel") != std::string::npos);
  }
}

TEST_CASE("the workers a runtime spawned are removed at its end, a running one killed first", "[spawn]") {
  std::string done, running;
  {
    circuit::runtime rt;
    auto a = rt.spawn(there(rt), fns::square, 2);
    CHECK(a.wait() == 4);
    auto b = rt.spawn(there(rt), fns::nap, 60000);
    done = mount() + a.path();
    running = mount() + b.path();
    CHECK(exists(done));
    CHECK(exists(running));
  }
  CHECK(gone_soon(done));
  CHECK(gone_soon(running));
}

TEST_CASE("hosts lists the members sorted, this host and the one spawned on among them", "[spawn]") {
  circuit::runtime rt;
  auto hosts = rt.hosts();
  CHECK(std::is_sorted(hosts.begin(), hosts.end()));
  CHECK(std::count(hosts.begin(), hosts.end(), rt.host()) == 1);
  CHECK(std::count(hosts.begin(), hosts.end(), there(rt)) == 1);
  if (!std::getenv("CIRCUIT_SPAWN_HOST")) CHECK(hosts == std::vector<std::string>{rt.host()});  // no cluster
}

TEST_CASE("twenty workers spawned at once all give their own value", "[spawn]") {
  circuit::runtime rt;
  std::vector<circuit::spawned<int>> ws;
  for (int i = 0; i < 20; ++i) ws.push_back(rt.spawn(there(rt), fns::square, i));
  for (int i = 0; i < 20; ++i) CHECK(ws[i].wait(60s) == i * i);
}

// Run by test_libcircuit.py, which kills this program once it says
// "ready": its channel and its worker must go with it.
// It also starts a child that outlives it, as system("helper &") does:
// the child must not inherit the connections that hold what it made.
TEST_CASE("a program killed while it holds a channel and a running worker", "[.die]") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>("doomed");
  auto w = rt.spawn(there(rt), fns::nap, 60000);
  pid_t child = 0;
  const char* argv[] = {"sleep", "60", nullptr};
  REQUIRE(::posix_spawn(&child, "/bin/sleep", nullptr, nullptr, const_cast<char**>(argv),
                        environ) == 0);
  std::printf("ready %s %s %d\n", ch.path().c_str(), w.path().c_str(), static_cast<int>(child));
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
}

namespace fns {
int whoami() { return static_cast<int>(::getuid()); }
CIRCUIT_REGISTER(whoami);
}  // namespace fns

// Run by test_libcircuit.py as another user: prints the uid its spawned
// worker runs as.
TEST_CASE("the uid of a spawned worker", "[.uid]") {
  circuit::runtime rt;
  std::printf("uid %d %d\n", static_cast<int>(::getuid()), rt.spawn(there(rt), fns::whoami).wait(30s));
}

// Run alone by the integration test (test_libcircuit.py, hosts in network
// namespaces): a hundred workers spread over every host of the cluster.
TEST_CASE("a hundred workers spawned across the hosts at once all give their own value", "[.many]") {
  circuit::runtime rt;
  auto hosts = rt.hosts();
  REQUIRE(hosts.size() >= 2);
  auto began = std::chrono::steady_clock::now();
  std::vector<circuit::spawned<std::string>> ws;
  for (int i = 0; i < 100; ++i) ws.push_back(rt.spawn(hosts[i % hosts.size()], fns::where, i));
  for (int i = 0; i < 100; ++i) CHECK(ws[i].wait(180s) == hosts[i % hosts.size()] + ":" + std::to_string(i));
  std::string names;
  for (auto& h : hosts) names += " " + h;
  std::printf("100 workers on%s: all results in %.2f s\n", names.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
}

// Run alone by the integration test, which kills CIRCUIT_SPAWN_HOST's
// daemon once this says "waiting": the parked wait throws host_down.
TEST_CASE("a wait on a worker of a host that dies throws host_down", "[.hostdown]") {
  circuit::runtime rt;
  auto ready = rt.make_chan<int>("", 1);
  auto never = rt.make_chan<int>();
  auto w = rt.spawn(there(rt), fns::hold, ready, never);
  REQUIRE(ready.recv(60s) == 1);
  std::printf("waiting on %s (%s)\n", w.path().c_str(), never.path().c_str());
  std::fflush(stdout);
  auto began = std::chrono::steady_clock::now();
  try {
    w.wait();
    FAIL("the worker ended");
  } catch (const circuit::host_down& e) {
    CHECK((e.errnum() == EHOSTDOWN || e.errnum() == EHOSTUNREACH));
    CHECK(std::string(e.what()).find(there(rt)) != std::string::npos);
    std::printf("host_down after %.2f s: %s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(), e.what());
  }
}
