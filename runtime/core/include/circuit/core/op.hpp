// op.hpp — an asynchronous operation that completes exactly once.
//
// A request enters the runtime as an `op<T>`: whoever serves it calls
// complete() now, or parks the op (in a channel's queue of receivers, say)
// and completes it later. Whoever asked may cancel() it at any time (FUSE
// INTERRUPT, a closed connection): a parked op then runs its cancel hook,
// which takes it out of the queue, and completes with the given error.
// Completion after completion is a bug and aborts in debug builds; an op
// destroyed without completion completes itself with errc::removed, so the
// caller is never left waiting (exactly once: never both, never neither).
//
// Thread safety: an op belongs to the loop thread that made it.
#pragma once

#include <cassert>
#include <functional>
#include <memory>

#include "circuit/core/error.hpp"

namespace circuit {

template <class T>
class op {
 public:
  using done_fn = std::function<void(result<T>)>;

  explicit op(done_fn done) : done_(std::move(done)) {}
  op(const op&) = delete;
  op& operator=(const op&) = delete;
  ~op() {
    if (done_) complete(make_error(errc::removed, "request dropped"));
  }

  bool done() const { return !done_; }

  void complete(result<T> r) {
    assert(done_ && "op completed twice");
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    on_cancel_ = nullptr;
    done(std::move(r));
  }

  // The server that parks the op says how to unpark it.
  void on_cancel(std::function<void()> hook) { on_cancel_ = std::move(hook); }

  // Ends the op with `why` unless it is already done.
  void cancel(error why) {
    if (done()) return;
    if (auto hook = std::move(on_cancel_)) hook();
    if (!done()) complete(std::move(why));
  }

 private:
  done_fn done_;
  std::function<void()> on_cancel_;
};

template <class T>
using op_ptr = std::shared_ptr<op<T>>;

template <class T>
op_ptr<T> make_op(typename op<T>::done_fn done) {
  return std::make_shared<op<T>>(std::move(done));
}

}  // namespace circuit
