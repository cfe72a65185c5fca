// Unit tests of runtime/src/event_log.cpp.
#include "circuit/core/event_log.hpp"

#include <catch2/catch.hpp>
#include <optional>

using namespace circuit;

namespace {
std::optional<result<std::string>> read_once(event_log& log, std::uint64_t* cursor,
                                             op_ptr<std::string>* keep = nullptr) {
  auto got = std::make_shared<std::optional<result<std::string>>>();
  auto o = make_op<std::string>([got](result<std::string> r) { got->emplace(std::move(r)); });
  if (keep) *keep = o;
  log.read(cursor, 4096, o);
  return *got;
}
}  // namespace

TEST_CASE("a reader parks at the end and is woken by the next event") {
  event_log log;
  log.append("join h1");
  std::uint64_t cursor = log.end();
  auto got = std::make_shared<std::optional<result<std::string>>>();
  auto o = make_op<std::string>([got](result<std::string> r) { got->emplace(std::move(r)); });
  log.read(&cursor, 4096, o);
  CHECK_FALSE(*got);
  CHECK(log.readers_waiting() == 1);
  log.append("new /h1/channels/a");
  REQUIRE(*got);
  CHECK((*got)->value() == "new /h1/channels/a\n");
  CHECK(log.readers_waiting() == 0);
}

TEST_CASE("a cancelled event reader leaves no waiter") {
  event_log log;
  std::uint64_t cursor = 0;
  op_ptr<std::string> o;
  auto got = read_once(log, &cursor, &o);
  CHECK_FALSE(got);
  o->cancel(make_error(errc::interrupted, "interrupted"));
  CHECK(log.readers_waiting() == 0);
}

TEST_CASE("a reader that falls behind the window is told how much it lost") {
  event_log log(4);
  std::uint64_t cursor = 0;
  for (int i = 0; i < 10; ++i) log.append("e" + std::to_string(i));
  auto got = read_once(log, &cursor);
  REQUIRE(got);
  CHECK(got->value() == "lost 6 events\ne6\ne7\ne8\ne9\n");
}

TEST_CASE("after the stop a reader at the end gets end of file at once, and pollers are woken") {
  event_log log;
  std::uint64_t cursor = log.end();
  CHECK_FALSE(log.readable(cursor));
  int woken = 0;
  auto wake = make_wake([&] { ++woken; });
  log.watch(wake);
  log.stop();
  CHECK(woken == 1);
  CHECK(log.readable(cursor));
  auto got = read_once(log, &cursor);
  REQUIRE(got);
  CHECK(got->value().empty());
  CHECK(log.readers_waiting() == 0);
}

TEST_CASE("a wake is called once, at the next event, and never after its holder dropped it") {
  event_log log;
  int woken = 0;
  auto wake = make_wake([&] { ++woken; });
  log.watch(wake);
  log.append("a");
  log.append("b");
  CHECK(woken == 1);
  log.watch(wake);
  wake.reset();
  log.append("c");
  CHECK(woken == 1);
}
