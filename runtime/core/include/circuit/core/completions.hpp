// completions.hpp — collect, then complete.
//
// An element that changes its state (a channel delivering a message) may
// decide the results of several ops at once. Completing each one inline,
// while its lists are half changed, lets a completion that re-enters the
// element (a select cancelling its other clauses, a reader parking again)
// find it inconsistent. So an element declares a `completions` first in
// the function that changes it, adds each decided op with its result (the
// op turns "settling": a cancel no longer changes it, op.hpp), and the
// completions run when that object goes, after the state change is done:
//
//   void channel::deliver(message m) {
//     completions batch;
//     ...receivers_.wake_front(batch, make_recv_end(...));   // decided
//     ...
//   }                                                        // completed here
//
// Batches nest: while one is open on the thread, every batch made inside
// it (a completion that calls into another element) hands its entries to
// the outermost, which runs them all in the order they were decided. So no
// completion ever runs inside an element's state change, and a test can
// open a batch of its own to step between "decided" and "completed".
//
// Thread safety: one chain of batches per thread (the loop's).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <type_traits>

#include "circuit/core/op.hpp"

namespace circuit {

class completions {
 public:
  completions();
  ~completions();
  completions(const completions&) = delete;
  completions& operator=(const completions&) = delete;

  // Decides `o`'s result: its cancel hook is detached and a cancel no
  // longer changes it. `o` must be pending.
  template <class T>
  void add(const op_ptr<T>& o, std::type_identity_t<result<T>> r) {
    if (o->state_ != op_base::state::pending) detail::op_fault("op decided twice");
    o->settle();
    target().entries_.push_back(std::make_unique<entry_of<T>>(o, std::move(r)));
  }

  // A call that is not an op (a poll(2) wake-up), run in the same order.
  void defer(std::function<void()> fn) {
    target().entries_.push_back(std::make_unique<call>(std::move(fn)));
  }

  // The outermost batch completes everything decided so far, also what
  // completions decide meanwhile; an inner batch leaves it to the outermost.
  void run();
  std::size_t size() const { return target().entries_.size(); }

 private:
  struct entry {
    virtual ~entry() = default;
    virtual void complete() = 0;
  };
  template <class T>
  struct entry_of final : entry {
    entry_of(op_ptr<T> o, result<T> r) : o(std::move(o)), r(std::move(r)) {}
    void complete() override { completions::finish(*o, std::move(r)); }
    op_ptr<T> o;
    result<T> r;
  };

  struct call final : entry {
    explicit call(std::function<void()> fn) : fn(std::move(fn)) {}
    void complete() override { fn(); }
    std::function<void()> fn;
  };
  template <class T>
  static void finish(op<T>& o, result<T> r) { o.finish(std::move(r)); }
  completions& target() const { return outer_ ? *outer_ : const_cast<completions&>(*this); }

  completions* outer_;  // the outermost batch open on this thread, if not this
  std::deque<std::unique_ptr<entry>> entries_;
  bool running_ = false;
};

}  // namespace circuit
