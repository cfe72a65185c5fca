// budget.hpp — the daemon-wide bound on bytes held for users.
//
// Message bytes (what senders have written and what channels buffer) and
// stdin bytes waiting for a worker's pipe are taken from one budget
// (circuitd --max-memory). A take that would pass the limit fails and takes
// nothing; whoever took bytes gives them back when it lets them go, exactly
// once. The caller turns a refusal into errc::no_memory with words.
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <cstddef>

namespace circuit {

class budget {
 public:
  explicit budget(std::size_t limit) : limit_(limit) {}

  // Takes n bytes, or nothing and false when that would pass the limit.
  bool take(std::size_t n) {
    if (used_ > limit_ || n > limit_ - used_) return false;
    used_ += n;
    return true;
  }
  void give(std::size_t n) { used_ -= n < used_ ? n : used_; }

  std::size_t used() const { return used_; }
  std::size_t limit() const { return limit_; }
  void set_limit(std::size_t limit) { limit_ = limit; }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
};

}  // namespace circuit
