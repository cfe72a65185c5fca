#include <cstdio>
#include <cstdlib>

#include "circuit/core/completions.hpp"
#include "circuit/core/op.hpp"

namespace circuit {
namespace {
thread_local op_counts counts;
thread_local completions* outermost = nullptr;
}  // namespace

const op_counts& op_tally() { return counts; }

namespace detail {
op_counts& tally() { return counts; }

void op_fault(const char* what) {
  fprintf(stderr, "circuit: fatal: %s (exactly once is broken)\n", what);
  fflush(stderr);
  abort();
}
}  // namespace detail

void op_base::cancel(error why) {
  if (state_ != state::pending) return;  // done, or its result is on its way
  // The hook may drop the queue's reference: keep the op until the end.
  auto keep = weak_from_this().lock();
  if (auto in = inner_.lock()) {
    inner_.reset();
    // Its completion completes this op, now or (a server that answers
    // cancels) later: a second cancel meanwhile must not complete it too.
    answers_cancel_ = true;
    in->cancel(std::move(why));
    return;
  }
  bool answers = answers_cancel_;
  if (auto hook = std::move(hook_)) {
    hook_ = nullptr;
    hook();
  }
  if (state_ == state::pending && !answers) fail(std::move(why));
}

completions::completions() : outer_(outermost) {
  if (!outer_) outermost = this;
}

completions::~completions() {
  if (outer_) return;
  run();
  outermost = nullptr;
}

void completions::run() {
  if (outer_ || running_) return;  // the outermost's loop below takes them
  running_ = true;
  while (!entries_.empty()) {
    auto e = std::move(entries_.front());
    entries_.pop_front();
    e->complete();
  }
  running_ = false;
}

}  // namespace circuit
