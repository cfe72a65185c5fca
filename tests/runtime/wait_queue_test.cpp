// Unit tests of runtime/core/include/circuit/core/wait_queue.hpp.
#include "circuit/core/wait_queue.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

using namespace circuit;

namespace {

error interrupted() { return make_error(errc::interrupted, "interrupted"); }

// Ops whose completions are kept in one list, in the order they came.
struct log_of {
  std::vector<std::string> lines;
  op_ptr<std::string> make(std::string name, std::function<void(result<std::string>&)> then = {}) {
    return make_op<std::string>([this, name, then](result<std::string> r) {
      lines.push_back(name + "=" + (r ? r.value() : "error " + std::string(errc_name(r.err().code))));
      if (then) then(r);
    });
  }
};

}  // namespace

TEST_CASE("a cancelled op leaves its queue, the element reacts, then it completes with the cancel's error") {
  log_of log;  // first: it outlives the queue's ops
  wait_queue<std::string> q;
  int left = 0;
  q.on_leave = [&](completions&, auto&) {
    ++left;
    CHECK(log.lines.empty());  // the element reacts before the completion
  };
  auto a = log.make("a"), b = log.make("b");
  q.park(a);
  q.park(b);
  a->cancel(interrupted());
  CHECK(left == 1);
  CHECK(q.size() == 1);
  CHECK(log.lines == std::vector<std::string>{"a=error interrupted"});
  completions batch;
  q.wake_all(batch, [](no_data&) { return std::string("x"); });
  batch.run();
  CHECK(log.lines == std::vector<std::string>{"a=error interrupted", "b=x"});
}

TEST_CASE("a woken op's hook is detached: a later cancel leaves the queue alone") {
  log_of log;  // first: it outlives the queue's ops
  wait_queue<std::string> q;
  int left = 0;
  q.on_leave = [&](completions&, auto&) { ++left; };
  auto a = log.make("a"), b = log.make("b");
  q.park(a);
  q.park(b);
  {
    completions batch;
    q.wake_front(batch, std::string("1"));
    a->cancel(interrupted());  // decided: the result is reported
  }
  a->cancel(interrupted());  // done: nothing
  CHECK(left == 0);
  CHECK(q.size() == 1);
  CHECK(log.lines == std::vector<std::string>{"a=1"});
}

TEST_CASE("a completion that cancels its sibling is safe: a decided sibling gets its result, a parked one leaves") {
  log_of log;  // first: it outlives the queue's ops
  wait_queue<std::string> q;
  op_ptr<std::string> b, c;
  auto a = log.make("a", [&](result<std::string>&) {
    b->cancel(interrupted());  // decided in the same batch: reported
    c->cancel(interrupted());  // still parked: leaves, interrupted
  });
  b = log.make("b");
  c = log.make("c");
  q.park(a);
  q.park(b);
  q.park(c);
  {
    completions batch;
    q.wake_front(batch, std::string("1"));
    q.wake_front(batch, std::string("2"));
  }
  CHECK(log.lines == std::vector<std::string>{"a=1", "c=error interrupted", "b=2"});
  CHECK(q.empty());
}

TEST_CASE("a completion that parks again on the same queue waits for the next wake") {
  log_of log;  // first: it outlives the queue's ops
  wait_queue<std::string> q;
  int rounds = 0;
  std::function<void(result<std::string>&)> again = [&](result<std::string>&) {
    if (++rounds < 3) q.park(log.make("r" + std::to_string(rounds), again));
  };
  q.park(log.make("r0", again));
  for (int i = 0; i < 3; ++i) {
    completions batch;
    // Without collect-then-complete, each new reader would be woken by
    // this same call, and the loop would never end.
    q.wake_all(batch, [&](no_data&) { return std::to_string(i); });
    batch.run();
    CHECK(q.size() == (i < 2 ? 1u : 0u));
  }
  CHECK(log.lines == std::vector<std::string>{"r0=0", "r1=1", "r2=2"});
}

TEST_CASE("on_leave may decide the result of the op that a cancel took out") {
  wait_queue<std::size_t, std::size_t> q;  // data: bytes already written
  std::optional<result<std::size_t>> got;
  q.on_leave = [](completions& batch, auto& w) {
    if (w.data > 0) batch.add(w.op, result<std::size_t>(w.data));
  };
  auto o = make_op<std::size_t>([&](result<std::size_t> r) { got.emplace(std::move(r)); });
  q.park(o, 5);
  o->cancel(interrupted());
  REQUIRE(got);
  REQUIRE(got->ok());
  CHECK(got->value() == 5);
}

TEST_CASE("a queue that goes drops its ops, and each completes with removed") {
  log_of log;
  {
    wait_queue<std::string> q;
    q.park(log.make("a"));
    q.park(log.make("b"));
  }
  CHECK(log.lines == std::vector<std::string>{"a=error removed", "b=error removed"});
}

TEST_CASE("wake_if wakes the waiters it picks, in order, and keeps the others") {
  log_of log;
  wait_queue<std::string, int> q;
  for (int i = 0; i < 4; ++i) q.park(log.make(std::to_string(i)), i);
  completions batch;
  q.wake_if(batch, [](int d) -> std::optional<result<std::string>> {
    if (d % 2) return result<std::string>(std::string("odd"));
    return std::nullopt;
  });
  batch.run();
  CHECK(log.lines == std::vector<std::string>{"1=odd", "3=odd"});
  CHECK(q.size() == 2);
}
