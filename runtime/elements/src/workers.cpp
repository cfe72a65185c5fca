#include "workers.hpp"

#include <cstdio>
#include <vector>

#include "circuit/core/namespace.hpp"
#include "worker.hpp"

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

static std::vector<std::shared_ptr<worker>> live_workers(workers& ws) {
  std::vector<std::shared_ptr<worker>> live;
  ws.each([&](dir& d) {
    auto& w = static_cast<worker&>(d);
    if (w.live()) live.push_back(std::static_pointer_cast<worker>(w.shared_from_this()));
  });
  return live;
}

// The loop keeps running meanwhile: a worker blocked on this very mount
// gets its answer (an interrupted open) and can end.
void workers::stop_all(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  auto live = live_workers(*this);
  if (!live.empty() && space().cfg().keep_workers) {
    space().log("leaving " + count(live.size()) + " running (--keep-workers)");
    kept_ = true;
    live.clear();
  }
  if (!live.empty()) {
    char grace[32];
    snprintf(grace, sizeof grace, "%gs", space().cfg().grace);
    space().log("stopping " + count(live.size()) + ": TERM, then KILL after " + grace);
    stopped_ = live.size();
    for (auto& w : live) (void)w->stop(space().cfg().grace);
  }
  done_ = std::move(done);
  check_done();
}

void workers::worker_gone(worker& w) {
  if (stopping_ && w.killed_late()) ++killed_;
  check_done();
}

void workers::check_done() {
  if (!done_ || (!kept_ && !live_workers(*this).empty())) return;
  if (stopped_) space().log("workers stopped (" + std::to_string(killed_) + " needed SIGKILL)");
  auto done = std::move(done_);
  done_ = nullptr;
  done();
}

std::size_t workers::live() { return kept_ ? 0 : live_workers(*this).size(); }

// The namespace stops: what stop_all did not end (or nobody called it) is
// killed now; the loop reaps it (this never waits).
void workers::retire() {
  auto live = live_workers(*this);
  if (live.empty()) return;
  if (kept_ || space().cfg().keep_workers) {
    if (!kept_) space().log("leaving " + count(live.size()) + " running (--keep-workers)");
    for (auto& w : live) w->keep();
    return;
  }
  space().log("killing " + count(live.size()) + " still running");
  for (auto& w : live) w->end_now();
}

}  // namespace circuit
