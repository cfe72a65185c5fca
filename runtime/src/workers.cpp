#include "circuit/runtime/workers.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "circuit/runtime/namespace.hpp"
#include "circuit/runtime/worker.hpp"

namespace circuit {
namespace {
std::string count(std::size_t n) { return std::to_string(n) + (n == 1 ? " worker" : " workers"); }
}  // namespace

std::string_view workers::about() const {
  return "The workers of this host: one directory per process.\n"
         "\n"
         "mkdir NAME makes an empty worker; writing a spec to NAME/spec starts\n"
         "it. rmdir NAME removes a worker that has ended. See NAME/help.";
}

std::string_view workers::example() const {
  return "  mkdir hello\n"
         "  echo '{\"path\":\"/bin/echo\",\"args\":[\"hi\"]}' > hello/spec\n"
         "  cat hello/stdout hello/wait\n"
         "  rmdir hello";
}

std::shared_ptr<dir> workers::make_item(std::string name) {
  return std::make_shared<worker>(space(), this, std::move(name));
}

result<void> workers::removable(dir& item) {
  auto& w = static_cast<worker&>(item);
  if (w.running())
    return make_error(errc::busy, "rmdir: worker " + w.path() + " is running (pid " +
                                      std::to_string(w.pid()) + "); kill or stop it first");
  return {};
}

// The daemon is going away: its loop no longer runs, so this waits here,
// and reaps the children itself.
void workers::retire() {
  std::vector<std::shared_ptr<worker>> live;
  each([&](dir& d) {
    auto& w = static_cast<worker&>(d);
    if (w.running()) live.push_back(std::static_pointer_cast<worker>(w.shared_from_this()));
  });
  if (!live.empty() && space().cfg().keep_workers) {
    space().log("leaving " + count(live.size()) + " running (--keep-workers)");
    live.clear();
  }
  if (!live.empty()) {
    char grace[32];
    snprintf(grace, sizeof grace, "%gs", space().cfg().grace);
    space().log("stopping " + count(live.size()) + ": TERM, then KILL after " + grace);
    for (auto& w : live) kill(-w->pid(), SIGTERM);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration<double>(space().cfg().grace);
    std::size_t killed = 0;
    for (auto& w : live) {
      int status = 0;
      while (waitpid(w->pid(), &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
          kill(-w->pid(), SIGKILL);
          ++killed;
          waitpid(w->pid(), &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      w->on_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 0,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    space().log("workers stopped (" + std::to_string(killed) + " needed SIGKILL)");
  }
}

}  // namespace circuit
