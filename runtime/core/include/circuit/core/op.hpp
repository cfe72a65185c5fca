// op.hpp — an asynchronous operation that completes exactly once.
//
// A request enters the runtime as an `op<T>`: whoever serves it calls
// complete() now, or parks the op (wait_queue.hpp) and completes it later.
// Whoever asked may cancel() it at any time (FUSE INTERRUPT, a 9P flush, a
// closed connection). An op is in one of three states:
//
//  - pending: nobody has decided its result. cancel() runs its cancel hook
//    (set by whoever parked it: it takes the op out of its queue), then
//    completes it with the cancel's error. An op served through another op
//    (the namespace hands an element an inner op) forwards its cancel to
//    that inner op instead (cancel_through) and completes when it does.
//  - settling: its result is decided and waits in a `completions` batch
//    (completions.hpp) for the element's state change to finish. A cancel
//    now does nothing: the result is reported. A requester that no longer
//    wants it drops it, and dropping a result undoes it (a receive's handle
//    puts its message back at its place), so a result is never both lost
//    and applied.
//  - done: completed. A second completion is a bug: it aborts with a
//    message, in every build.
//
// No cycles: the cancel hook and the forward to an inner op must not own
// the op's requester (the forward holds the inner op weakly), so an op
// that its server drops is destroyed, and its destructor completes it with
// errc::removed: the caller is never left waiting. The core counts the ops
// made and completed on each thread (op_tally); the daemon logs both at its
// stop, and they must be equal.
//
// Thread safety: an op belongs to the loop thread that made it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "circuit/core/error.hpp"

namespace circuit {

// Ops made and completed on this thread so far.
struct op_counts {
  std::uint64_t issued = 0;
  std::uint64_t completed = 0;
};
const op_counts& op_tally();

namespace detail {
op_counts& tally();
// A broken promise of exactly-once: prints `what` and aborts (every build).
[[noreturn]] void op_fault(const char* what);
}  // namespace detail

class completions;

class op_base : public std::enable_shared_from_this<op_base> {
 public:
  op_base(const op_base&) = delete;
  op_base& operator=(const op_base&) = delete;

  bool done() const { return state_ == state::done; }
  // The result is decided and on its way (completions.hpp).
  bool settling() const { return state_ == state::settling; }

  // Ends the op with `why` unless its result is already decided.
  void cancel(error why);

  // The server that parks the op says how to unpark it. The hook runs at
  // most once, only while the op is pending; it is detached when the op
  // settles or completes. It must not own the op's requester.
  void on_cancel(std::function<void()> hook) {
    hook_ = std::move(hook);
    answers_cancel_ = false;
  }
  // For a server that answers a cancel itself: after the hook the op stays
  // pending until the server completes it. A request carried to another
  // 9P server is cancelled by a flush there, and its reply, if it wins,
  // is the result: a write the owner took in part must say so, never
  // EINTR (the writer would send those bytes again).
  void on_cancel_answered(std::function<void()> hook) {
    hook_ = std::move(hook);
    answers_cancel_ = true;
  }

  // A cancel of this op goes to `inner`, which serves it; this op then
  // completes when the inner one's completion reaches it. Held weakly:
  // the inner op's server owns it.
  void cancel_through(const std::shared_ptr<op_base>& inner) { inner_ = inner; }

 protected:
  op_base() { ++detail::tally().issued; }
  virtual ~op_base() = default;
  virtual void fail(error why) = 0;
  // Leaves every hook behind and counts the completion.
  void finishing() {
    state_ = state::done;
    hook_ = nullptr;
    inner_.reset();
    ++detail::tally().completed;
  }

  enum class state : std::uint8_t { pending, settling, done };
  state state_ = state::pending;
  bool answers_cancel_ = false;  // on_cancel_answered

 private:
  friend class completions;
  void settle() {
    state_ = state::settling;
    hook_ = nullptr;
    inner_.reset();
  }

  std::function<void()> hook_;
  std::weak_ptr<op_base> inner_;
};

template <class T>
class op final : public op_base {
 public:
  using done_fn = std::function<void(result<T>)>;

  explicit op(done_fn done) : done_(std::move(done)) {}
  ~op() override {
    if (state_ != state::done) finish(make_error(errc::removed, "request dropped"));
  }

  void complete(result<T> r) {
    if (state_ == state::done) detail::op_fault("op completed twice");
    if (state_ == state::settling) detail::op_fault("op completed while its result was on its way");
    finish(std::move(r));
  }

 private:
  friend class completions;
  void fail(error why) override { complete(std::move(why)); }
  void finish(result<T> r) {
    finishing();
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(r));
  }

  done_fn done_;
};

template <class T>
using op_ptr = std::shared_ptr<op<T>>;

template <class T>
op_ptr<T> make_op(typename op<T>::done_fn done) {
  return std::make_shared<op<T>>(std::move(done));
}

// An op that serves `outer` through an element: `done` gets the element's
// result and the outer op (to complete it, perhaps after recording an
// error); a cancel of `outer` reaches the inner op. The inner op holds the
// outer one, never the reverse.
template <class U, class T, class Done>
op_ptr<U> make_inner_op(const op_ptr<T>& outer, Done done) {
  auto inner = make_op<U>([outer, done = std::move(done)](result<U> r) mutable { done(outer, std::move(r)); });
  outer->cancel_through(inner);
  return inner;
}

}  // namespace circuit
