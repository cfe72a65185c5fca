// Unit tests of runtime/elements/src/descendants.cpp: the processes below a
// reaper, and signals that never reach a pid no longer listed.
#include "descendants.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>

using namespace circuit;

namespace {

// A child that forks a grandchild; both pause until killed. The pipe says
// when the grandchild is there (its pid).
struct tree {
  pid_t child = 0, grandchild = 0;
  tree() {
    int p[2];
    REQUIRE(pipe(p) == 0);
    child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      signal(SIGTERM, SIG_DFL);  // not Catch's handler: die as a process would
      pid_t g = fork();
      if (g == 0) {
        for (;;) pause();
      }
      (void)!write(p[1], &g, sizeof g);
      for (;;) pause();
    }
    REQUIRE(read(p[0], &grandchild, sizeof grandchild) == sizeof grandchild);
    close(p[0]);
    close(p[1]);
  }
  ~tree() {
    if (grandchild > 0) kill(grandchild, SIGKILL);
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
  }
};

bool has(const std::vector<pid_t>& v, pid_t p) { return std::find(v.begin(), v.end(), p) != v.end(); }

bool dead_by(pid_t child, int sig) {
  int status = 0;
  return waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

}  // namespace

TEST_CASE("descendants_of lists children and grandchildren, not the root") {
  tree t;
  auto below = descendants_of(getpid());
  CHECK(has(below, t.child));
  CHECK(has(below, t.grandchild));
  CHECK(!has(below, getpid()));
  CHECK(descendants_of(t.child) == std::vector<pid_t>{t.grandchild});
  CHECK(has(children_of(getpid()), t.child));
  CHECK(!has(children_of(getpid()), t.grandchild));
}

TEST_CASE("signal_each signals what both listings name") {
  tree t;
  auto list = [&] { return std::vector<pid_t>{t.child}; };
  CHECK(signal_each(list, SIGTERM) == 1);
  CHECK(dead_by(t.child, SIGTERM));
  t.child = 0;  // reaped: the destructor must not wait for it again
}

TEST_CASE("signal_each leaves a pid that the second listing no longer names, as a reused pid") {
  tree t;
  int calls = 0;
  // First listing: the child; second: nobody — as if it had ended and a
  // stranger had its pid meanwhile.
  auto list = [&] { return ++calls == 1 ? std::vector<pid_t>{t.child} : std::vector<pid_t>{}; };
  CHECK(signal_each(list, SIGTERM) == 0);
  CHECK(calls == 2);
  int status = 0;
  CHECK(waitpid(t.child, &status, WNOHANG) == 0);  // still running: it got nothing
}

TEST_CASE("kill_each kills everything listed, also what appears between rounds") {
  tree t;
  kill_each([&] { return descendants_of(t.child); });
  int status = 0;
  CHECK(waitpid(t.child, &status, WNOHANG) == 0);  // the root itself is not below itself
  for (int i = 0; i < 200 && has(descendants_of(t.child), t.grandchild); ++i) usleep(5000);
  CHECK(!has(descendants_of(t.child), t.grandchild));  // a zombie is not listed
}
