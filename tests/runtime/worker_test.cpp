// Unit tests of runtime/src/worker.cpp and child.cpp: a real child process,
// with the test stepping the libuv loop itself.
#include "worker.hpp"

#include <uv.h>

#include <sys/stat.h>
#include <unistd.h>

#include "fixture.hpp"

using namespace circuit;

namespace {
struct uv_space : test::space {
  uv_loop_t loop;
  uv_space() {
    uv_loop_init(&loop);
    n.cfg().uv = &loop;
  }
  ~uv_space() {
    n.stop();
    // The stop kills what still runs without waiting (retire never blocks
    // the loop); the exits are reaped by the loop, which frees the workers'
    // children, so the loop runs until they are all gone.
    step_until([this] { return live_workers(n) == 0; });
    uv_walk(&loop, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  // Steps libuv until `done` holds (bounded: a hang fails the test).
  template <class F>
  bool step_until(F done) {
    for (int i = 0; i < 5000 && !done(); ++i) uv_run(&loop, UV_RUN_ONCE);
    return done();
  }
  std::string mkworker(const std::string& name) {
    REQUIRE(n.mkdir(who, walk("/h1/workers"), name).ok());
    return "/h1/workers/" + name;
  }
};
}  // namespace

TEST_CASE("a worker runs its spec, keeps its output and reports its exit") {
  uv_space s;
  auto w = s.mkworker("echo");
  CHECK(s.text(w + "/stat").find("\"state\":\"new\"") != std::string::npos);
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sh","args":["-c","echo out; echo err >&2; exit 3"]})").ok());
  auto wait = s.open(w + "/wait", O_RDONLY);
  CHECK_FALSE(wait->result);
  REQUIRE(s.step_until([&] { return bool(wait->result); }));
  REQUIRE(wait->result->ok());
  CHECK(s.read_all(wait->result->value()) == "{\"exit\":3}\n");
  s.n.release(wait->result->value());
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"stdout_buffered\":4") != std::string::npos; }));
  CHECK(s.text(w + "/stdout") == "out\n");
  CHECK(s.text(w + "/stderr") == "err\n");
  CHECK(s.text(w + "/spec") == "{\"path\":\"/bin/sh\",\"args\":[\"-c\",\"echo out; echo err >&2; exit 3\"]}\n");
  CHECK(s.put(w + "/spec", R"({"path":"/bin/true"})").err().code == errc::busy);
}

TEST_CASE("a refused spec starts nothing and the worker can still be started") {
  uv_space s;
  auto w = s.mkworker("x");
  CHECK(s.put(w + "/spec", R"({"path":"/etc/passwd"})").err().code == errc::access);
  CHECK(s.text(w + "/error").find("is not executable") != std::string::npos);
  CHECK(s.text(w + "/stat").find("\"state\":\"new\"") != std::string::npos);
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/true"})").ok());
  CHECK(s.text(w + "/stat").find("\"state\":\"running\"") != std::string::npos);
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"state\":\"exited\"") != std::string::npos; }));
}

TEST_CASE("a killed worker reports its signal and can then be removed") {
  uv_space s;
  auto w = s.mkworker("sleeper");
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sleep","args":["100"]})").ok());
  CHECK(s.n.rmdir(s.who, s.walk("/h1/workers"), "sleeper").err().code == errc::busy);
  REQUIRE(s.put(w + "/ctl", "kill\n").ok());
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"signaled\"") != std::string::npos; }));
  auto t = s.open(w + "/trywait", O_RDONLY);
  REQUIRE(t->result->ok());
  CHECK(s.read_all(t->result->value()) == "{\"signal\":\"KILL\"}\n");
  s.n.release(t->result->value());
  CHECK(s.put(w + "/signal", "TERM").err().code == errc::no_process);
  CHECK(s.n.rmdir(s.who, s.walk("/h1/workers"), "sleeper").ok());
}

namespace {
// A write that may park: `got` is filled when it completes.
struct pending_write {
  op_ptr<std::size_t> op;
  std::optional<result<std::size_t>> got;
};

std::shared_ptr<pending_write> write_async(test::space& s, open_file* f, const std::string& data) {
  auto p = std::make_shared<pending_write>();
  p->op = make_op<std::size_t>([p = p.get()](result<std::size_t> r) { p->got.emplace(std::move(r)); });
  s.n.write(*f, s.who, 0, data, p->op);
  return p;
}
}  // namespace

TEST_CASE("a worker whose maker is not root runs as its maker, with the maker's groups") {
  if (geteuid() != 0) {
    WARN("not root: a worker cannot run as another user here; skipped");
    return;
  }
  uv_space s;
  auto a = s.n.mkdir(s.who, s.walk("/h1/workers"), "nobody");
  REQUIRE(a.ok());
  s.n.find(a->ino >> file_bits)->set_maker(principal{65534, 65534, {65534}});
  std::string w = "/h1/workers/nobody";
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sh","args":["-c","id -u; id -g; id -G"]})").ok());
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"state\":\"exited\"") != std::string::npos; }));
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"stdout_buffered\":18") != std::string::npos; }));
  CHECK(s.text(w + "/stdout") == "65534\n65534\n65534\n");
}

TEST_CASE("a root maker's worker runs as root, and an exec the maker may not do fails the start") {
  if (geteuid() != 0) {
    WARN("not root; skipped");
    return;
  }
  uv_space s;
  auto w = s.mkworker("root");
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sh","args":["-c","id -u"]})").ok());
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"state\":\"exited\"") != std::string::npos; }));
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"stdout_buffered\":2") != std::string::npos; }));
  CHECK(s.text(w + "/stdout") == "0\n");
  // A directory nobody may enter: the start fails, nothing runs.
  char tmpl[] = "/tmp/circuit-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  REQUIRE(chmod(tmpl, 0700) == 0);
  auto a = s.n.mkdir(s.who, s.walk("/h1/workers"), "nobody");
  REQUIRE(a.ok());
  s.n.find(a->ino >> file_bits)->set_maker(principal{65534, 65534, {}});
  auto r = s.put("/h1/workers/nobody/spec", std::string(R"({"path":"/bin/true","dir":")") + tmpl + "\"}");
  rmdir(tmpl);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::access);
  CHECK(s.text("/h1/workers/nobody/error").find("spawn /bin/true: dir " + std::string(tmpl) + ": ") !=
        std::string::npos);
  CHECK(s.text("/h1/workers/nobody/stat").find("\"state\":\"new\"") != std::string::npos);
}

TEST_CASE("a cancelled stdin write reports what went into the pipe, or EINTR, and keeps nothing") {
  uv_space s;
  auto w = s.mkworker("s");
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sleep","args":["100"]})").ok());  // never reads
  auto o = s.open(w + "/stdin", O_WRONLY);
  REQUIRE(o->result->ok());
  open_file* f = o->result->value();
  std::string mib(1 << 20, 'x');
  auto first = write_async(s, f, mib);
  REQUIRE_FALSE(first->got);  // the pipe took part of it; the rest waits
  CHECK(s.text(w + "/stat").find("\"stdin_buffered\":0") == std::string::npos);
  CHECK(s.n.memory().used() > 0);
  first->op->cancel(make_error(errc::interrupted, "interrupted"));
  REQUIRE(first->got);
  REQUIRE(first->got->ok());
  CHECK(first->got->value() > 0);
  CHECK(first->got->value() < mib.size());
  auto second = write_async(s, f, mib);  // the pipe is full: nothing goes in
  REQUIRE_FALSE(second->got);
  second->op->cancel(make_error(errc::interrupted, "interrupted"));
  REQUIRE(second->got);
  CHECK(second->got->err().code == errc::interrupted);
  CHECK(s.text(w + "/stat").find("\"stdin_buffered\":0") != std::string::npos);
  CHECK(s.n.memory().used() == 0);
  s.n.release(f);
}

TEST_CASE("stdin bytes that wait for the pipe are taken from the budget, and refused past it") {
  uv_space s;
  s.n.memory().set_limit(100 << 10);
  auto w = s.mkworker("s");
  REQUIRE(s.put(w + "/spec", R"({"path":"/bin/sleep","args":["100"]})").ok());
  auto o = s.open(w + "/stdin", O_WRONLY);
  REQUIRE(o->result->ok());
  open_file* f = o->result->value();
  std::string mib(1 << 20, 'x');
  auto first = write_async(s, f, mib);  // what fits in the pipe is reported
  REQUIRE(first->got);
  REQUIRE(first->got->ok());
  CHECK(first->got->value() > 0);
  CHECK(first->got->value() < mib.size());
  auto second = write_async(s, f, mib);
  REQUIRE(second->got);
  CHECK(second->got->err().code == errc::no_memory);
  CHECK(s.text(w + "/error").find("stdin: the daemon's memory budget is spent") != std::string::npos);
  auto small = write_async(s, f, std::string(1000, 'y'));  // within the budget: it waits
  CHECK_FALSE(small->got);
  CHECK(s.n.memory().used() == 1000);
  REQUIRE(s.put(w + "/ctl", "kill\n").ok());
  REQUIRE(s.step_until([&] { return bool(small->got); }));
  CHECK(small->got->err().code == errc::closed);
  CHECK(s.n.memory().used() == 0);
  s.n.release(f);
}

TEST_CASE("a stop sends TERM, and KILL only once the grace period has passed on the clock") {
  manual_clock t;  // first: it outlives the workers' timers
  uv_space s;
  s.n.cfg().clock = &t;
  auto w = s.mkworker("stubborn");
  REQUIRE(s.put(w + "/spec",
                R"({"path":"/bin/sh","args":["-c","trap '' TERM; echo ready; while :; do sleep 1; done"]})")
              .ok());
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"stdout_buffered\":6") != std::string::npos; }));
  REQUIRE(s.put(w + "/ctl", "grace 5\nstop\n").ok());
  t.advance(std::chrono::milliseconds(4999));
  for (int i = 0; i < 20; ++i) uv_run(&s.loop, UV_RUN_NOWAIT);
  CHECK(s.text(w + "/stat").find("\"state\":\"running\"") != std::string::npos);
  t.advance(std::chrono::milliseconds(1));
  REQUIRE(s.step_until([&] { return s.text(w + "/stat").find("\"signaled\"") != std::string::npos; }));
  auto r = s.open(w + "/trywait", O_RDONLY);
  REQUIRE(r->result->ok());
  CHECK(s.read_all(r->result->value()) == "{\"signal\":\"KILL\"}\n");
  s.n.release(r->result->value());
}
