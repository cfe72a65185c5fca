#define FUSE_USE_VERSION 34
#include "invalidator.hpp"

#include <fuse_lowlevel.h>

namespace circuit::fsd {

invalidator::invalidator(fuse_session* se) : se_(se), thread_([this] { run(); }) {}

void invalidator::push(std::uint64_t parent, std::string name) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(parent, std::move(name));
  }
  cv_.notify_one();
}

void invalidator::finish(std::function<void()> ended) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
    if (!ended_) {
      on_end_ = std::move(ended);
      ended = nullptr;
    }
  }
  cv_.notify_one();
  if (ended) ended();
}

bool invalidator::stop(bool wait) {
  bool busy;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    busy = busy_ && !ended_;
  }
  cv_.notify_one();
  if (!thread_.joinable()) return true;
  if (!busy || wait) {
    thread_.join();
    return true;
  }
  thread_.detach();
  return false;
}

void invalidator::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    auto [parent, name] = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    // ENOENT only means the kernel had nothing cached: fine.
    fuse_lowlevel_notify_inval_entry(se_, parent, name.c_str(), name.size());
    lock.lock();
    busy_ = false;
  }
  ended_ = true;
  auto ended = std::move(on_end_);
  lock.unlock();
  if (ended) ended();
}

}  // namespace circuit::fsd
