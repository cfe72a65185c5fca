// Unit tests of runtime/core/include/circuit/core/clock.hpp (manual_clock).
#include "circuit/core/clock.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace circuit;
using namespace std::chrono_literals;

TEST_CASE("timers fire when the manual clock reaches them, in the order they fall due") {
  manual_clock t;
  std::string order;
  auto start = t.now();
  auto b = t.start_timer(2s, [&] { order += 'b'; });
  auto a = t.start_timer(1s, [&] { order += 'a'; CHECK(t.now() - start == 1s); });
  auto c = t.start_timer(2s, [&] { order += 'c'; });
  CHECK(t.pending() == 3);
  t.advance(999ms);
  CHECK(order.empty());
  t.advance(1ms);
  CHECK(order == "a");
  t.advance(5s);
  CHECK(order == "abc");  // equal due times: in the order started
  CHECK(t.now() - start == 6s);
  CHECK(t.pending() == 0);
}

TEST_CASE("a cancelled or destroyed timer never fires") {
  manual_clock t;
  int fired = 0;
  auto a = t.start_timer(1s, [&] { ++fired; });
  {
    auto b = t.start_timer(1s, [&] { ++fired; });
  }
  a->cancel();
  a->cancel();
  t.advance(2s);
  CHECK(fired == 0);
  CHECK(t.pending() == 0);
}

TEST_CASE("a timer started by a firing timer fires in the same advance when it falls due by its end") {
  manual_clock t;
  std::string order;
  timer_ptr second;
  auto first = t.start_timer(1s, [&] {
    order += '1';
    second = t.start_timer(1s, [&] { order += '2'; });
  });
  t.advance(3s);
  CHECK(order == "12");
}

TEST_CASE("the manual clock's date moves with its time") {
  manual_clock t;
  auto w = t.wall();
  t.advance(90s);
  CHECK(t.wall() - w == 90s);
}
