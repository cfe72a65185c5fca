// Unit tests of runtime/src/output.cpp.
#include "output.hpp"

#include <catch2/catch.hpp>
#include <optional>

using namespace circuit;

namespace {
struct reader {
  std::optional<result<std::string>> got;
  op_ptr<std::string> op = make_op<std::string>([this](result<std::string> r) { got.emplace(std::move(r)); });
};
}  // namespace

TEST_CASE("each byte goes to exactly one reader, in order") {
  output o;
  reader a, b;
  o.read(3, a.op);
  o.read(3, b.op);
  CHECK(o.readers_waiting() == 2);
  o.push("abcdef", 6);
  REQUIRE(a.got);
  REQUIRE(b.got);
  CHECK(a.got->value() == "abc");
  CHECK(b.got->value() == "def");
}

TEST_CASE("a full buffer asks for room once readers drain it") {
  output o(8);
  int room = 0;
  o.on_room = [&] { ++room; };
  o.push("0123456789", 10);
  CHECK(o.full());
  reader a;
  o.read(4, a.op);
  CHECK(a.got->value() == "0123");
  CHECK(room == 1);
  CHECK_FALSE(o.full());
}

TEST_CASE("readers get end of file after the last byte, and cancel cleanly") {
  output o;
  reader a;
  o.read(10, a.op);
  a.op->cancel(make_error(errc::interrupted, "interrupted"));
  CHECK(o.readers_waiting() == 0);
  o.push("x", 1);
  o.end();
  reader b, c;
  o.read(10, b.op);
  o.read(10, c.op);
  CHECK(b.got->value() == "x");
  CHECK(c.got->value().empty());
}

TEST_CASE("output is readable with bytes or at its end, and wakes its pollers then") {
  output o;
  CHECK_FALSE(o.readable());
  int woken = 0;
  auto wake = make_wake([&] { ++woken; });
  o.watch(wake);
  o.push("x", 1);
  CHECK(woken == 1);
  CHECK(o.readable());
  reader a;
  o.read(10, a.op);
  CHECK_FALSE(o.readable());
  o.watch(wake);
  o.end();
  CHECK(woken == 2);
  CHECK(o.readable());
}
