// Unit tests of runtime/core/include/circuit/core/op.hpp and completions.hpp.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <optional>
#include <string>

#include "circuit/core/completions.hpp"
#include "circuit/core/op.hpp"

using namespace circuit;

namespace {

// An op whose completions are kept and counted.
struct probe {
  std::optional<result<std::string>> got;
  int calls = 0;
  op_ptr<std::string> make() {
    return make_op<std::string>([this](result<std::string> r) {
      ++calls;
      got.emplace(std::move(r));
    });
  }
};

error interrupted() { return make_error(errc::interrupted, "interrupted"); }

// Runs `fn` in a child process; gives its exit (or signal) and its stderr.
struct outcome {
  bool aborted = false;
  std::string err;
};
outcome in_child(void (*fn)()) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGABRT, SIG_DFL);  // not Catch's handler: the parent judges
    dup2(p[1], 2);
    close(p[0]);
    fn();
    _exit(0);
  }
  close(p[1]);
  outcome o;
  char buf[512];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) o.err.append(buf, n);
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  o.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return o;
}

}  // namespace

TEST_CASE("an op dropped uncompleted completes with removed, and the count of ops stays even") {
  op_counts before = op_tally();
  probe p;
  p.make();  // made and dropped at once
  REQUIRE(p.got);
  CHECK(p.got->err().code == errc::removed);
  CHECK(p.calls == 1);
  CHECK(op_tally().issued == before.issued + 1);
  CHECK(op_tally().completed == before.completed + 1);
}

TEST_CASE("an op served through an inner op that its server drops completes: no ownership cycle") {
  probe p;
  std::weak_ptr<op<std::string>> outer_seen;
  {
    auto outer = p.make();
    outer_seen = outer;
    auto inner = make_inner_op<std::string>(
        outer, [](const op_ptr<std::string>& o, result<std::string> r) { o->complete(std::move(r)); });
    // The requester forgets its op, as a face that only keeps a weak
    // reference does; then the server drops the inner op unanswered.
  }
  CHECK(outer_seen.expired());
  REQUIRE(p.got);
  CHECK(p.got->err().code == errc::removed);
  CHECK(p.calls == 1);
}

TEST_CASE("a cancel reaches the inner op that serves an op, and comes back as its completion") {
  probe p;
  auto outer = p.make();
  bool unparked = false;
  auto inner = make_inner_op<std::string>(
      outer, [](const op_ptr<std::string>& o, result<std::string> r) { o->complete(std::move(r)); });
  inner->on_cancel([&] { unparked = true; });
  outer->cancel(interrupted());
  CHECK(unparked);
  CHECK(inner->done());
  REQUIRE(p.got);
  CHECK(p.got->err().code == errc::interrupted);
  outer->cancel(interrupted());  // a second cancel does nothing
  CHECK(p.calls == 1);
}

// A request carried to another 9P server: its flush is answered there, by
// the reply if that won (a write that went in), else by "interrupted".
TEST_CASE(
    "an op whose server answers cancels stays pending after the hook until the server completes "
    "it") {
  for (bool reply_won : {true, false}) {
    probe p;
    auto outer = p.make();
    auto inner = make_inner_op<std::string>(
        outer,
        [](const op_ptr<std::string>& o, result<std::string> r) { o->complete(std::move(r)); });
    int flushes = 0;
    inner->on_cancel_answered([&] { ++flushes; });
    outer->cancel(interrupted());
    CHECK(flushes == 1);
    CHECK_FALSE(p.got);
    outer->cancel(interrupted());  // a second cancel does not flush again
    CHECK(flushes == 1);
    if (reply_won)
      inner->complete(std::string("went in"));
    else
      inner->complete(interrupted());
    REQUIRE(p.got);
    CHECK(p.got->ok() == reply_won);
    CHECK(p.calls == 1);
  }
}

TEST_CASE("a cancel of an op whose result is decided does nothing: the result is reported") {
  probe p;
  auto o = p.make();
  {
    completions batch;
    batch.add(o, std::string("decided"));
    CHECK(o->settling());
    o->cancel(interrupted());
    CHECK_FALSE(p.got);
  }
  REQUIRE(p.got);
  REQUIRE(p.got->ok());
  CHECK(p.got->value() == "decided");
  CHECK(p.calls == 1);
}

TEST_CASE("batches made inside a batch complete when the outermost ends, in the order decided") {
  std::string order;
  auto mk = [&](char c) { return make_op<std::string>([&order, c](result<std::string>) { order += c; }); };
  auto a = mk('a'), b = mk('b'), c = mk('c');
  {
    completions outer;
    outer.add(a, std::string());
    {
      completions inner;
      inner.add(b, std::string());
    }
    CHECK(order.empty());
    outer.add(c, std::string());
  }
  CHECK(order == "abc");
}

TEST_CASE("a second completion aborts with a message in every build") {
  auto o = in_child([] {
    auto op = make_op<int>([](result<int>) {});
    op->complete(1);
    op->complete(2);
  });
  CHECK(o.aborted);
  CHECK(o.err.find("op completed twice") != std::string::npos);
}

TEST_CASE("completing an op whose result is on its way aborts with a message") {
  auto o = in_child([] {
    auto op = make_op<int>([](result<int>) {});
    completions batch;
    batch.add(op, 1);
    op->complete(2);
  });
  CHECK(o.aborted);
  CHECK(o.err.find("on its way") != std::string::npos);
}
