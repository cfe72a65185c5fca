// go_test — goroutines as files against a real daemon: a spawned
// program's goroutines/ and files/ in its worker directory, rt.go, and a
// cancel written from the files' side. Run by test_libcircuit.py (as
// spawn_test, whose environment it shares).
#include <catch2/catch.hpp>
#include <chrono>
#include <circuit/circuit.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "files.hpp"

using namespace std::chrono_literals;

namespace gofns {

// Waits on `c` (a circuit call, so its goroutine waits in it) until a
// value comes or it is cancelled; then says how it ended.
std::string park(circuit::chan<int> c) {
  try {
    return "got " + std::to_string(c.recv());
  } catch (const circuit::cancelled& e) {
    return std::string("cancelled: ") + e.what();
  }
}
CIRCUIT_REGISTER(park);

int cube(int x) { return x * x * x; }
CIRCUIT_REGISTER(cube);

void refuse(int) { throw std::runtime_error("no thanks"); }
CIRCUIT_REGISTER(refuse);

void odd(int) { throw 42; }  // not a std::exception
CIRCUIT_REGISTER(odd);

std::size_t length(std::string s) { return s.size(); }
CIRCUIT_REGISTER(length);

// Sleeps without a circuit call: nothing tells the program it waits.
int doze(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
CIRCUIT_REGISTER(doze);

// Serves files/counter (read: the count; write: adds) until `done` gets a value.
void counter(circuit::chan<int> done) {
  auto n = std::make_shared<std::atomic<int>>(0);
  circuit::runtime::current().serve(
      "counter", [n] { return std::to_string(n->load()) + "\n"; },
      [n](std::string_view s) {
        int v = std::stoi(std::string(s));
        if (v < 0) throw std::invalid_argument("counts only go up");
        *n += v;
      });
  done.recv();
}
CIRCUIT_REGISTER(counter);

// Serves files/maker, whose writes each name a file it serves too (its
// read: "I am NAME"), from the file server's own thread, until `done`.
void maker(circuit::chan<int> done) {
  circuit::runtime::current().serve(
      "maker", [] { return std::string("write a name\n"); },
      [](std::string_view s) {
        std::string name(s.substr(0, s.find('\n')));
        circuit::runtime::current().serve(name, [name] { return "I am " + name + "\n"; });
      });
  done.recv();
}
CIRCUIT_REGISTER(maker);

}  // namespace gofns

namespace {

std::string there(circuit::runtime& rt) {
  const char* h = std::getenv("CIRCUIT_SPAWN_HOST");
  return h ? h : rt.host();
}
void put(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}
// Waits (at most 10 s) until `path` exists: a program's files appear once
// it has started and its daemon has connected to it.
bool appears(const std::string& path) {
  for (int i = 0; i < 1000 && !exists(path); ++i) std::this_thread::sleep_for(10ms);
  return exists(path);
}

// A worker on the test's host running park(c), once its goroutines show.
circuit::spawned<std::string> parked(circuit::runtime& rt, circuit::chan<int> c) {
  auto w = rt.spawn(there(rt), gofns::park, c);
  REQUIRE(appears(mount() + w.path() + "/goroutines/1/stat"));
  return w;
}

}  // namespace

TEST_CASE("a spawned program shows its goroutines, and go() runs a function in it", "[go]") {
  circuit::runtime rt;
  auto c = rt.make_chan<int>();
  auto w = parked(rt, c);
  std::string gor = mount() + w.path() + "/goroutines";
  // The main goroutine runs park and waits in its recv.
  auto stat = slurp(gor + "/1/stat");
  CHECK(stat.find("\"fn\":\"park\"") != std::string::npos);
  CHECK(stat.find("\"state\":\"waiting\",\"waiting\":\"recv " + c.path() + "\"") != std::string::npos);
  CHECK(slurp(gor + "/1/stack").find("gofns::park") != std::string::npos);
  CHECK(slurp(gor + "/help").find("go starts one") != std::string::npos);

  auto g = rt.go(w.path(), gofns::cube, 3);
  CHECK(g.wait(30s) == 27);
  auto bad = rt.go(w.path(), gofns::refuse, 1);
  try {
    bad.wait(30s);
    FAIL("no error");
  } catch (const circuit::app_error& e) {
    CHECK(std::string(e.what()) == "refuse on " + there(rt) + ": no thanks");
  }
  // Something that is not a std::exception is the call's error too; the
  // program lives.
  try {
    rt.go(w.path(), gofns::odd, 1).wait(30s);
    FAIL("no error");
  } catch (const circuit::app_error& e) {
    CHECK(std::string(e.what()) ==
          "odd on " + there(rt) + ": it threw a value that is not a std::exception");
  }
  CHECK(rt.go(w.path(), gofns::cube, 2).wait(30s) == 8);
  // A call of 1 MiB crosses in several writes; one over 8 MiB is refused
  // before it leaves, and the program serves on.
  CHECK(rt.go(w.path(), gofns::length, std::string(1 << 20, 'x')).wait(30s) == (1u << 20));
  try {
    rt.go(w.path(), gofns::length, std::string(9 << 20, 'x'));
    FAIL("no error");
  } catch (const circuit::exception& e) {
    CHECK(e.errnum() == E2BIG);
    CHECK(std::string(e.what()).find("at most 8388608 cross by go (send more on a channel)") != std::string::npos);
  }
  CHECK(rt.go(w.path(), gofns::cube, 2).wait(30s) == 8);
  c.send(5);
  CHECK(w.wait(30s) == "got 5");
}

TEST_CASE("a goroutine that sleeps without a circuit call does not hold the program's files",
          "[go]") {
  // A goroutine starts on the program's server loop (loop.hpp); one that
  // blocks there is left to its thread, and the loop goes on another.
  circuit::runtime rt;
  auto c = rt.make_chan<int>();
  auto w = parked(rt, c);
  auto g = rt.go(w.path(), gofns::doze, 60000);
  std::string gor = mount() + w.path() + "/goroutines";
  CHECK(rt.go(w.path(), gofns::cube, 4).wait(20s) == 64);
  // Its stat and stack are read while it sleeps.
  bool seen = false;
  for (auto& e : std::filesystem::directory_iterator(gor)) {
    if (!e.is_directory()) continue;
    if (slurp(e.path().string() + "/stat").find("\"fn\":\"doze\"") == std::string::npos) continue;
    seen = true;
    CHECK(slurp(e.path().string() + "/stack").find("gofns::doze") != std::string::npos);
  }
  CHECK(seen);
  // Started after it, on the loop again: one that waits in a circuit call
  // hands the loop on before it waits.
  auto later = rt.make_chan<int>();
  auto p = rt.go(w.path(), gofns::park, later);
  CHECK(rt.go(w.path(), gofns::cube, 5).wait(20s) == 125);
  later.send(7);
  CHECK(p.wait(20s) == "got 7");
  c.send(1);
  CHECK(w.wait(30s) == "got 1");
}

TEST_CASE("a goroutine's wait that times out lets a later wait take the value", "[go]") {
  circuit::runtime rt;
  auto c = rt.make_chan<int>(), later = rt.make_chan<int>();
  auto w = parked(rt, c);
  auto g = rt.go(w.path(), gofns::park, later);
  try {
    g.wait(200ms);
    FAIL("no timeout");
  } catch (const circuit::timeout& e) {
    CHECK(std::string(e.what()).find("the deadline passed") != std::string::npos);
  }
  later.send(1);
  CHECK(g.wait(30s) == "got 1");
  // The program ends when its function returns, goroutines and all: so last.
  c.send(2);
  CHECK(w.wait(30s) == "got 2");
}

TEST_CASE("cancel written to a goroutine's ctl makes its blocking call throw cancelled", "[go]") {
  circuit::runtime rt;
  auto c = rt.make_chan<int>();
  auto w = parked(rt, c);
  std::string gor = mount() + w.path() + "/goroutines/1";
  for (int i = 0; i < 500 && slurp(gor + "/stat").find("\"state\":\"waiting\"") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  put(gor + "/ctl", "cancel\n");
  auto said = w.wait(30s);
  INFO(said);
  CHECK(said == "cancelled: recv: " + c.path() + "/recv: cancelled (ctl cancel of goroutine 1)");
  // Nothing was taken from the channel: a value sent now stays there.
  CHECK(c.try_send(1) == false);  // cap 0, and nobody receives any more
}

TEST_CASE("a program's own files are served in its worker directory", "[go]") {
  circuit::runtime rt;
  auto done = rt.make_chan<int>("", 1);
  auto w = rt.spawn(there(rt), gofns::counter, done);
  std::string f = mount() + w.path() + "/files/counter";
  REQUIRE(appears(f));
  CHECK(slurp(f) == "0\n");
  put(f, "5");
  put(f, "2");
  CHECK(slurp(f) == "7\n");
  // What its write function throws refuses the write, in its words.
  CHECK(write_errno(f, "-3") == EINVAL);
  CHECK(slurp(mount() + w.path() + "/files/error").find("counter: counts only go up") != std::string::npos);
  CHECK(write_errno(f, "lots") == EINVAL);
  CHECK(slurp(mount() + w.path() + "/files/error").find("counter: stoi") != std::string::npos);
  CHECK(slurp(f) == "7\n");
  done.send(1);
  w.wait(30s);
}

TEST_CASE("a served file's write may serve another file", "[go]") {
  // It runs on the file server's thread, which serve would wait for.
  circuit::runtime rt;
  auto done = rt.make_chan<int>("", 1);
  auto w = rt.spawn(there(rt), gofns::maker, done);
  std::string files = mount() + w.path() + "/files/";
  REQUIRE(appears(files + "maker"));
  put(files + "maker", "extra\n");
  REQUIRE(appears(files + "extra"));
  CHECK(slurp(files + "extra") == "I am extra\n");
  done.send(1);
  w.wait(30s);
}

TEST_CASE("a goroutine's wait gives worker_died when its program is killed", "[go]") {
  circuit::runtime rt;
  auto c = rt.make_chan<int>();
  auto w = parked(rt, c);
  auto g = rt.go(w.path(), gofns::park, c);  // a second goroutine, waiting on the same channel
  std::thread killer([&] {
    std::this_thread::sleep_for(300ms);
    circuit::runtime other;
    other.open_chan<int>(c.path());  // another connection, while g waits on this thread's
    std::ofstream(mount() + w.path() + "/ctl") << "kill\n";
  });
  try {
    // Across hosts the tests give links a timeout of 60 s: the program's
    // end must come back at once, not as a link failure waited out.
    g.wait(30s);
    FAIL("no error");
  } catch (const circuit::worker_died& e) {
    CHECK(e.signal() == "KILL");
    CHECK(std::string(e.what()) == "go: worker " + w.path() + " died of signal KILL while the goroutine ran");
  }
  killer.join();
}
