// wakes.hpp — one-shot wake-ups for poll(2), kept by a source of
// readiness (a worker's output, the event log).
//
// A handle that waits for readiness holds its wake (a shared function)
// and gives the source a weak reference: the wake dies with the handle,
// or when the handle replaces it, and the source never calls a dead one.
// The source fires every live wake at its next change, then forgets them
// all (one shot: the poller asks again). Like op completions, the wakes run
// once the source's state change is finished (completions.hpp).
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "circuit/core/completions.hpp"

namespace circuit {

using wake_ptr = std::shared_ptr<std::function<void()>>;

inline wake_ptr make_wake(std::function<void()> fn) {
  return std::make_shared<std::function<void()>>(std::move(fn));
}

class wakes {
 public:
  void add(const wake_ptr& w) {
    // Dead wakes of handles that polled and went are dropped as new ones
    // come, so the list stays as long as the live pollers.
    if (list_.size() >= 8 && list_.size() == list_.capacity())
      std::erase_if(list_, [](const auto& x) { return x.expired(); });
    list_.push_back(w);
  }

  void fire() {
    if (list_.empty()) return;
    completions batch;
    auto now = std::move(list_);
    list_.clear();
    for (auto& x : now)
      batch.defer([x] {
        if (auto w = x.lock()) (*w)();
      });
  }

 private:
  std::vector<std::weak_ptr<std::function<void()>>> list_;
};

}  // namespace circuit
