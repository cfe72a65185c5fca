// chan_test — libcircuit's channels against a real daemon. Run by
// tests/integration/test_libcircuit.py, which starts the daemon and sets
// CIRCUIT_SOCKET (its socket) and CIRCUIT_MOUNT (its mount, to check what
// the library did from the files' side).
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/describe.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <circuit/circuit.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "files.hpp"

using namespace std::chrono_literals;

namespace {

template <class F>
double seconds(F f) {
  auto t = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

namespace app {
struct job {
  std::string name;
  int weight;
  std::vector<double> load;
};
BOOST_DESCRIBE_STRUCT(job, (), (name, weight, load))
}  // namespace app

TEST_CASE("values of many types cross a channel and come back equal") {
  circuit::runtime rt;
  auto ints = rt.make_chan<int>("", 2);
  ints.send(42);
  ints.send(-7);
  CHECK(ints.recv() == 42);
  CHECK(ints.recv() == -7);

  auto maps = rt.make_chan<std::map<std::string, std::vector<int>>>("", 1);
  maps.send({{"a", {1, 2}}, {"b", {}}});
  CHECK(maps.recv() == std::map<std::string, std::vector<int>>{{"a", {1, 2}}, {"b", {}}});

  auto jobs = rt.make_chan<app::job>("jobs", 1);
  jobs.send({"build", 3, {0.5, 1.5}});
  // On the files' side the message is JSON, as a shell sees it.
  CHECK(slurp(mount() + jobs.path() + "/recv") == R"({"name":"build","weight":3,"load":[5E-1,1.5E0]})");
  jobs.send({"test", 1, {}});
  auto j = jobs.recv();
  CHECK(j.name == "test");
  CHECK(j.weight == 1);
  CHECK(j.load.empty());
}

TEST_CASE("a message larger than one 9P read crosses whole") {
  circuit::runtime rt;
  auto big = rt.make_chan<std::string>("", 1);
  std::string s(3 * 1024 * 1024 + 17, 'x');
  for (std::size_t i = 0; i < s.size(); i += 4093) s[i] = char('a' + i % 26);
  big.send(s);
  CHECK(big.recv() == s);
}

TEST_CASE("a channel is made on this host, removed at the end unless kept") {
  std::string made, kept;
  {
    circuit::runtime rt;
    CHECK(rt.host() == "h1");
    auto a = rt.make_chan<int>("lib-made");
    auto b = rt.make_chan<int>("lib-kept", 3);
    circuit::keep(rt, b);
    made = mount() + a.path();
    kept = mount() + b.path();
    CHECK(a.path() == "/h1/channels/lib-made");
    CHECK(exists(made));
    CHECK(slurp(kept + "/cap") == "3\n");
  }
  CHECK(gone_soon(made));
  CHECK(exists(kept));
  rmdir(kept.c_str());
}

TEST_CASE("a taken name, a missing channel and a bad path are refused with words") {
  circuit::runtime rt;
  auto a = rt.make_chan<int>("taken");
  try {
    rt.make_chan<int>("taken");
    FAIL("made twice");
  } catch (const circuit::exists& e) {
    CHECK(e.errnum() == EEXIST);
    CHECK(std::string(e.what()).find("/h1/channels/taken: the name is taken") != std::string::npos);
  }
  try {
    rt.open_chan<int>("/h1/channels/nothing-here");
    FAIL("opened");
  } catch (const circuit::not_found& e) {
    CHECK(std::string(e.what()) == "open_chan: /h1/channels/nothing-here: no such channel");
  }
  CHECK_THROWS_AS(rt.open_chan<int>("h1/channels/taken"), circuit::exception);
  try {
    rt.make_chan<int>("bad name");
    FAIL("made");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == EINVAL);
    CHECK(std::string(e.what()).find("name has the character ' '") != std::string::npos);
  }
  CHECK_THROWS_AS(rt.make_chan<int>("neg", -1), circuit::exception);
}

TEST_CASE("deadlines expire with circuit::timeout, and nothing is sent or lost") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>();  // cap 0: a send waits for a receiver
  double t = seconds([&] { CHECK_THROWS_AS(ch.recv(300ms), circuit::timeout); });
  CHECK(t >= 0.3);
  CHECK(t < 5);
  t = seconds([&] {
    try {
      ch.send(1, 300ms);
      FAIL("sent");
    } catch (const circuit::timeout& e) {
      CHECK(std::string(e.what()).find("send: " + ch.path() + "/send: the deadline passed") == 0);
    }
  });
  CHECK(t >= 0.3);
  // The timed-out send delivered nothing (not even an empty message).
  auto buffered = rt.make_chan<int>("", 1);
  buffered.send(5);
  CHECK(!ch.try_recv());
  std::thread late([&] {
    std::this_thread::sleep_for(200ms);
    ch.send(9);
  });
  CHECK(ch.recv(10s) == 9);
  late.join();
  CHECK(buffered.recv(1s) == 5);
}

TEST_CASE("try_send and try_recv never wait") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>("", 1);
  CHECK(!ch.try_recv());
  CHECK(ch.try_send(1));
  CHECK(!ch.try_send(2));  // full
  CHECK(ch.try_recv() == std::optional<int>(1));
  CHECK(!ch.try_recv());
}

TEST_CASE("a closed channel drains, then refuses with circuit::closed") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>("", 2);
  ch.send(1);
  ch.close();
  ch.close();  // closing a closed channel does nothing
  CHECK(ch.recv() == 1);
  CHECK_THROWS_AS(ch.recv(), circuit::closed);
  try {
    ch.send(2);
    FAIL("sent");
  } catch (const circuit::closed& e) {
    CHECK(std::string(e.what()) == "send: channel " + ch.path() + " is closed");
  }
}

TEST_CASE("a message that is not a value of the channel's type is refused with words") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>("", 2);
  std::ofstream(mount() + ch.path() + "/send") << "not json";
  std::ofstream(mount() + ch.path() + "/send") << "\"a string\"";
  try {
    ch.recv();
    FAIL("received");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == EINVAL);
    CHECK(std::string(e.what()).find("\"not json\" is not a value of the channel's type: it is not JSON") !=
          std::string::npos);
  }
  CHECK_THROWS_WITH(ch.recv(), Catch::Contains("it is JSON of another type"));
}

TEST_CASE("threads share a channel, each with its own connection and its own errors") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>("", 8);
  constexpr int threads = 6, each = 50;
  std::vector<std::thread> ts;
  std::vector<std::string> words(threads);
  for (int k = 0; k < threads; ++k)
    ts.emplace_back([&, k] {
      for (int i = 0; i < each; ++i) ch.send(k * 1000 + i);
      // Each thread's failure names what that thread did.
      try {
        rt.make_chan<int>(k % 2 ? "bad name" : "taken-" + std::to_string(k)).send(0, 1ms);
      } catch (const std::exception& e) {
        words[k] = e.what();
      }
    });
  std::vector<int> got;
  for (int i = 0; i < threads * each; ++i) got.push_back(ch.recv(10s));
  for (auto& t : ts) t.join();
  std::sort(got.begin(), got.end());
  std::vector<int> want;
  for (int k = 0; k < threads; ++k)
    for (int i = 0; i < each; ++i) want.push_back(k * 1000 + i);
  CHECK(got == want);
  for (int k = 0; k < threads; ++k) {
    INFO(words[k]);
    if (k % 2) CHECK(words[k].find("name has the character ' '") != std::string::npos);
    else CHECK(words[k].find("send: /h1/channels/taken-" + std::to_string(k) + "/send: the deadline passed") == 0);
  }
}

TEST_CASE("a message over the host's max_message is refused with words and nothing is delivered") {
  circuit::runtime rt;
  auto ch = rt.make_chan<std::string>("", 1);
  try {
    ch.send(std::string(9 * 1024 * 1024, 'z'));  // the test's daemon takes 8 MiB
    FAIL("sent");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == EFBIG);
    CHECK(std::string(e.what()).find("send: message of") == 0);
  }
  CHECK(!ch.try_recv());
  ch.send("small");
  CHECK(ch.recv() == "small");
}

// Run alone, by the integration test, with CIRCUIT_DAEMON_PID: the daemon
// is killed while a call waits, which must throw, not hang.
TEST_CASE("a call waiting when the daemon dies throws at once", "[.kill]") {
  circuit::runtime rt;
  auto ch = rt.make_chan<int>();
  pid_t daemon = std::atoi(std::getenv("CIRCUIT_DAEMON_PID"));
  std::thread killer([&] {
    std::this_thread::sleep_for(300ms);
    kill(daemon, SIGKILL);
  });
  double t = seconds([&] {
    try {
      ch.recv();
      FAIL("received");
    } catch (const circuit::exception& e) {
      CHECK(e.errnum() == ECONNRESET);
      CHECK(std::string(e.what()).find("recv: " + ch.path() + "/recv: the connection to circuitd ended") == 0);
    }
  });
  killer.join();
  CHECK(t < 5);
  // The next call connects again, and says that no daemon answers.
  CHECK_THROWS_WITH(ch.try_recv(), Catch::Contains("cannot reach the daemon"));
}

// Run alone, by the integration test, on h2 with CIRCUIT_REMOTE_CHAN a
// channel of h1, which the test kills: the waiting recv throws host_down.
TEST_CASE("a recv waiting on a channel of a host that dies throws host_down", "[.remote]") {
  circuit::runtime rt;
  auto ch = rt.open_chan<int>(std::getenv("CIRCUIT_REMOTE_CHAN"));
  std::puts("waiting");
  std::fflush(stdout);
  try {
    ch.recv();
    FAIL("received");
  } catch (const circuit::host_down& e) {
    CHECK((e.errnum() == EHOSTDOWN || e.errnum() == EHOSTUNREACH));
    CHECK(std::string(e.what()).find("h1") != std::string::npos);
    std::printf("words: %s\n", e.what());
  }
}

TEST_CASE("without a daemon the runtime says so") {
  try {
    circuit::runtime rt("/nonexistent/circuit.sock");
    FAIL("connected");
  } catch (const circuit::exception& e) {
    CHECK(std::string(e.what()).find("cannot reach the daemon") != std::string::npos);
    CHECK(std::string(e.what()).find("/nonexistent/circuit.sock") != std::string::npos);
  }
}

namespace {
std::atomic<long> alarms{0};
extern "C" void count_alarm(int) { alarms.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

// A program with an interval timer (a profiler, a watchdog): signals land
// in the middle of every call, and no handler restarts a system call.
TEST_CASE("calls go on while signals land in them, with a handler that restarts nothing") {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = count_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: an interrupted call fails with EINTR
  REQUIRE(sigaction(SIGALRM, &sa, &old) == 0);
  itimerval every{{0, 200}, {0, 200}}, off{};
  REQUIRE(setitimer(ITIMER_REAL, &every, nullptr) == 0);
  std::string failure;
  try {
    circuit::runtime rt;
    auto ch = rt.make_chan<int>("", 1);
    auto waits = rt.make_chan<int>();
    for (int i = 0; i < 2000; ++i) {
      ch.send(i);
      if (ch.recv() != i) throw std::runtime_error("a value came back changed");
    }
    // A call that waits: its deadline, not a signal, ends it.
    double t = seconds([&] { CHECK_THROWS_AS(waits.recv(300ms), circuit::timeout); });
    CHECK(t >= 0.3);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old, nullptr);
  CHECK(failure == "");
  CHECK(alarms.load() > 100);  // they did land
}
