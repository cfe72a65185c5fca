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

void invalidator::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void invalidator::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto [parent, name] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // ENOENT only means the kernel had nothing cached: fine.
    fuse_lowlevel_notify_inval_entry(se_, parent, name.c_str(), name.size());
    lock.lock();
  }
}

}  // namespace circuit::fsd
