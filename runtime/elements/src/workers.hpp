// workers.hpp — the folder /<host>/workers/: mkdir NAME makes a worker,
// rmdir NAME removes one that has ended (a running one is busy).
//
// When the daemon stops, stop_all() stops every worker with a live process
// while the loop keeps serving (a worker may be blocked on the mount
// itself): SIGTERM to all its processes, SIGKILL after the grace period,
// each reaped through libuv as usual; then `done` runs. With keep_workers
// they are left running instead. retire() (the namespace's stop) kills at
// once whatever is still left, and never waits: those are reaped on the
// loop as usual, while the daemon waits for live() to fall to 0 (bounded).
#pragma once

#include <functional>

#include "circuit/core/folder.hpp"

namespace circuit {

class worker;

class workers final : public folder {
 public:
  workers(ns& space, dir* parent) : folder(space, parent, "workers") {}

  std::string_view about() const override;
  std::string_view example() const override;
  void retire() override;

  // Asynchronous: `done` runs once no worker has a live process (at once
  // when none has). Nothing new starts from then on.
  void stop_all(std::function<void()> done);
  bool stopping() const { return stopping_; }
  std::size_t live();  // workers with a live process
  void worker_gone(worker& w);  // a worker's last process ended

 protected:
  std::shared_ptr<dir> make_item(std::string name) override;
  result<void> removable(dir& item) override;

 private:
  void check_done();
  bool stopping_ = false;
  bool kept_ = false;
  std::size_t stopped_ = 0, killed_ = 0;  // for the log
  std::function<void()> done_;
};

}  // namespace circuit
