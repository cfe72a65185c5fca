// Unit tests of runtime/wire/src/conn.cpp: put and slurp issue their
// requests together, and report the failure of the first request that
// failed in the order issued. The small server of test_server.hpp runs on
// a thread of its own, on a Unix socket conn::open dials.
#include "circuit/wire/conn.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "test_server.hpp"

using namespace circuit;
using namespace circuit::wire;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// The test server on its own thread, serving the first connection to `path`.
struct served {
  asio::io_context io;
  test::test_server server{io};
  asio::local::stream_protocol::acceptor acceptor{io};
  std::string dir, path;
  std::thread thread;

  served() {
    char tmpl[] = "/tmp/conn-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    dir = tmpl;
    path = dir + "/9p";
    acceptor.open();
    acceptor.bind(asio::local::stream_protocol::endpoint(path));
    acceptor.listen();
    acceptor.async_accept(server.socket(), [this](boost::system::error_code ec) {
      if (!ec) server.start();
    });
    thread = std::thread([this] {
      auto work = asio::make_work_guard(io);
      io.run();
    });
  }
  ~served() {
    asio::post(io, [this] {
      server.hang_up();
      acceptor.close();
      io.stop();
    });
    thread.join();
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  // Runs `f` on the server's thread and gives its value.
  template <class F>
  auto on_server(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto got = task.get_future();
    asio::post(io, [&task] { task(); });
    return got.get();
  }
  // The types of the requests received after version and attach.
  std::vector<mtype> requests() {
    return on_server([this] {
      std::vector<mtype> types;
      for (std::size_t i = 2; i < server.received.size(); ++i) types.push_back(type_of(server.received[i].message));
      return types;
    });
  }
  // Waits (at most 5 s) until `n` requests came after version and attach.
  std::vector<mtype> await_requests(std::size_t n) {
    for (int i = 0; i < 500; ++i) {
      auto t = requests();
      if (t.size() >= n) return t;
      std::this_thread::sleep_for(10ms);
    }
    return requests();
  }
  std::unique_ptr<conn> dial() {
    auto c = conn::open(path);
    REQUIRE(c.ok());
    return std::move(*c);
  }
};

constexpr std::uint32_t enoent = 2, ebadf = 9;

}  // namespace

TEST_CASE("put sends walk, open, write and clunk before any reply comes") {
  served s;
  auto c = s.dial();
  s.on_server([&] { return s.server.park_types = {mtype::twalk}, 0; });
  auto put = std::async(std::launch::async, [&] { return c->put({"a"}, "data"); });
  auto types = s.await_requests(4);
  CHECK(types == std::vector<mtype>{mtype::twalk, mtype::tlopen, mtype::twrite, mtype::tclunk});
  s.on_server([&] {
    for (auto& [tag, m] : s.server.parked) s.server.reply(tag, s.server.answer(m));
    s.server.parked.clear();
    return 0;
  });
  REQUIRE(put.wait_for(5s) == std::future_status::ready);
  CHECK(put.get().ok());
}

TEST_CASE("put reports the first request that failed as issued, whatever order the replies come in") {
  served s;
  auto c = s.dial();
  s.on_server([&] { return s.server.park_types = {mtype::twalk, mtype::tlopen, mtype::twrite, mtype::tclunk}, 0; });
  auto put = std::async(std::launch::async, [&] { return c->put({"nothing"}, "data"); });
  REQUIRE(s.await_requests(4).size() == 4);
  // The fid was never made: the others fail, and their replies come first.
  s.on_server([&] {
    std::vector<std::uint16_t> tags;
    for (auto& [tag, m] : s.server.parked) tags.push_back(tag);
    std::sort(tags.rbegin(), tags.rend());
    for (auto tag : tags) {
      bool walk = std::holds_alternative<twalk>(s.server.parked[tag]);
      s.server.reply(tag, rlerror{walk ? enoent : ebadf});
    }
    s.server.parked.clear();
    return 0;
  });
  REQUIRE(put.wait_for(5s) == std::future_status::ready);
  auto r = put.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::not_found);
}

TEST_CASE("slurp reads a file in two round trips: walk, open and read, then the end with the clunk") {
  served s;
  auto c = s.dial();
  s.on_server([&] { return s.server.park_types = {mtype::twalk}, 0; });
  auto slurp = std::async(std::launch::async, [&] { return c->slurp({"a"}); });
  CHECK(s.await_requests(3) == std::vector<mtype>{mtype::twalk, mtype::tlopen, mtype::tread});
  s.on_server([&] {
    s.server.park_types.clear();
    for (auto& [tag, m] : s.server.parked) s.server.reply(tag, s.server.answer(m));
    s.server.parked.clear();
    return 0;
  });
  REQUIRE(slurp.wait_for(5s) == std::future_status::ready);
  auto got = slurp.get();
  REQUIRE(got.ok());
  CHECK(*got == "hello");
  CHECK(s.requests() == std::vector<mtype>{mtype::twalk, mtype::tlopen, mtype::tread, mtype::tread, mtype::tclunk});
}

TEST_CASE("slurp of a file longer than one read reads it all, again from a new walk") {
  served s;
  std::string big(20000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  s.on_server([&] { return s.server.a_data = big, 0; });
  auto c = s.dial();
  auto got = c->slurp({"a"});
  REQUIRE(got.ok());
  CHECK(got->size() == big.size());
  CHECK(*got == big);
}

TEST_CASE("slurp of a name that is not there is not_found, and its fid is free again") {
  served s;
  auto c = s.dial();
  for (int i = 0; i < 3; ++i) {
    auto got = c->slurp({"nothing"});
    REQUIRE_FALSE(got.ok());
    CHECK(got.err().code == errc::not_found);
  }
  CHECK(c->slurp({"a"}).ok());
}

TEST_CASE("batch keeps the failure of the request issued first") {
  batch b;
  auto first = b.on<result<void>>("open");
  auto second = b.on<result<void>>("write");
  second(make_error(errc::bad_fid, "write: not open"));
  first(make_error(errc::access, "open: refused"));
  CHECK(b.out == 0);
  REQUIRE(b.failed);
  CHECK(b.failed->code == errc::access);
  CHECK(std::string(b.step) == "open");
  CHECK(b.walked);
}

TEST_CASE(
    "a program's conn polls 400 us unless CIRCUIT_SPIN says otherwise, longer than the daemon's "
    "100") {
  std::string was = std::getenv("CIRCUIT_SPIN") ? std::getenv("CIRCUIT_SPIN") : "";
  unsetenv("CIRCUIT_SPIN");
  {
    served s;  // each serves one connection
    CHECK(s.dial()->spin_window() == std::chrono::microseconds(400));
  }
  CHECK(default_spin_window == std::chrono::microseconds(100));
  setenv("CIRCUIT_SPIN", "250", 1);
  {
    served s;
    CHECK(s.dial()->spin_window() == std::chrono::microseconds(250));
  }
  if (was.empty())
    unsetenv("CIRCUIT_SPIN");
  else
    setenv("CIRCUIT_SPIN", was.c_str(), 1);
}
