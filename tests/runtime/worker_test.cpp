// Unit tests of runtime/src/worker.cpp and child.cpp: a real child process,
// with the test stepping the libuv loop itself.
#include "circuit/runtime/worker.hpp"

#include <uv.h>

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
