// Unit tests of runtime/wire/src/turn.cpp: writes asked for inside a
// handler run at its end, and write_all completing without a round of
// the loop when the kernel takes everything.
#include "circuit/wire/turn.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

using circuit::wire::turn;
namespace asio = boost::asio;
using socket_t = asio::local::stream_protocol::socket;

TEST_CASE("what a turn defers runs when the outermost turn closes, in order, with what it defers", "[turn]") {
  CHECK_FALSE(turn::open());
  std::vector<int> ran;
  {
    turn outer;
    CHECK(turn::open());
    turn::at_end([&] { ran.push_back(1); });
    {
      turn inner;
      turn::at_end([&] {
        ran.push_back(2);
        turn::at_end([&] { ran.push_back(4); });  // deferred by a deferred one: still before the close returns
      });
    }
    CHECK(ran.empty());  // the inner close runs nothing
    turn::at_end([&] { ran.push_back(3); });
  }
  CHECK(ran == std::vector<int>{1, 2, 3, 4});
  CHECK_FALSE(turn::open());
}

TEST_CASE("write_all completes at the end of the turn when the kernel takes it all, never inside the call",
          "[turn]") {
  asio::io_context io;
  socket_t a(io), b(io);
  asio::local::connect_pair(a, b);
  std::string msg = "Twalk Tlopen Twrite Tclunk";
  std::optional<std::size_t> wrote;
  {
    turn t;
    circuit::wire::write_all(a, asio::buffer(msg), [&](boost::system::error_code ec, std::size_t n) {
      CHECK_FALSE(ec);
      wrote = n;
    });
    CHECK_FALSE(wrote);  // not inside the call
  }
  CHECK(wrote == msg.size());  // at the close, with no turn of the loop
  std::string got(msg.size(), '\0');
  asio::read(b, asio::buffer(got));
  CHECK(got == msg);

  // Outside a turn it is posted: the loop runs it.
  wrote.reset();
  circuit::wire::write_all(a, asio::buffer(msg), [&](boost::system::error_code, std::size_t n) { wrote = n; });
  CHECK_FALSE(wrote);
  io.run_for(std::chrono::seconds(5));
  CHECK(wrote == msg.size());
}

TEST_CASE("write_all finishes what the kernel could not take at once, intact", "[turn]") {
  asio::io_context io;
  socket_t a(io), b(io);
  asio::local::connect_pair(a, b);
  std::string big(8 << 20, '\0');  // more than a socket buffer holds
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  std::optional<std::size_t> wrote;
  circuit::wire::write_all(a, asio::buffer(big), [&](boost::system::error_code ec, std::size_t n) {
    CHECK_FALSE(ec);
    wrote = n;
  });
  std::string got(big.size(), '\0');
  std::optional<std::size_t> read;
  asio::async_read(b, asio::buffer(got), [&](boost::system::error_code, std::size_t n) { read = n; });
  io.run_for(std::chrono::seconds(20));
  CHECK(wrote == big.size());
  CHECK(read == big.size());
  CHECK(got == big);
}
