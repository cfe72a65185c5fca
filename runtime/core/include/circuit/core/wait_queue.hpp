// wait_queue.hpp — the one way an element parks ops and wakes them.
//
// A channel's receivers and senders, the readers of the events file and
// of a worker's output, the opens of `wait` and the writes to a worker's
// stdin all wait in a wait_queue: ops in the order they came, each with
// the data its element keeps for it (`Data`: how much a reader wants, a
// cursor, bytes left to write).
//
//  - park(op, data) puts an op at the back and gives it a cancel hook: a
//    cancel takes it out, lets the element react (on_leave: a channel
//    pumps, since a leaving receiver may free a place), then completes it
//    with the cancel's error.
//  - wake_front / wake / wake_if take ops out and decide their results in
//    a `completions` batch (completions.hpp): the hook is detached first,
//    so it never runs on an op that left, and the completion runs after
//    the element's state change is finished.
//  - take_front / take take an op out without deciding it, for an element
//    that completes it by other means (its data says how).
//
// The hook holds the queue by address: a queue does not move, and it
// detaches the hooks of the ops still in it when it goes (those ops are
// dropped, and each completes with errc::removed unless someone else
// holds it). Nothing here owns the element or the requester.
//
// Thread safety: belongs to the loop thread, like its element.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <utility>

#include "circuit/core/completions.hpp"
#include "circuit/core/op.hpp"

namespace circuit {

struct no_data {};

template <class T, class Data = no_data>
class wait_queue {
 public:
  struct waiter {
    op_ptr<T> op;
    Data data;
  };
  using iterator = typename std::list<waiter>::iterator;
  using const_iterator = typename std::list<waiter>::const_iterator;

  wait_queue() = default;
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;
  ~wait_queue() {
    for (auto& w : list_) w.op->on_cancel(nullptr);
  }

  // Runs when a cancel took a waiter out, before the op completes: the
  // element restores what the waiter's leaving changes. It may decide the
  // op's result itself (batch.add: a write that got some bytes through
  // reports them); else the op completes with the cancel's error. What it
  // decides completes after it.
  std::function<void(completions& batch, waiter& left)> on_leave;

  void park(op_ptr<T> o, Data d = {}) {
    auto it = list_.insert(list_.end(), waiter{std::move(o), std::move(d)});
    it->op->on_cancel([this, it] {
      completions batch;
      waiter w = std::move(*it);  // the cancel keeps the op alive
      list_.erase(it);
      if (on_leave) on_leave(batch, w);
    });
  }

  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  waiter& front() { return list_.front(); }
  iterator begin() { return list_.begin(); }
  iterator end() { return list_.end(); }
  const_iterator begin() const { return list_.begin(); }
  const_iterator end() const { return list_.end(); }

  // Takes the waiter at `it` out, its hook detached; the caller completes it.
  waiter take(iterator it) {
    waiter w = std::move(*it);
    list_.erase(it);
    w.op->on_cancel(nullptr);
    return w;
  }
  waiter take_front() { return take(list_.begin()); }

  // Takes the waiter at `it` out and decides its result.
  void wake(completions& batch, iterator it, result<T> r) {
    waiter w = take(it);
    batch.add(w.op, std::move(r));
  }
  void wake_front(completions& batch, result<T> r) { wake(batch, list_.begin(), std::move(r)); }

  // Wakes every waiter for which `pick(data)` gives a result (a
  // std::optional<result<T>>), in order; the others stay.
  template <class Pick>
  void wake_if(completions& batch, Pick pick) {
    for (auto it = list_.begin(); it != list_.end();) {
      auto next = std::next(it);
      if (auto r = pick(it->data)) wake(batch, it, std::move(*r));
      it = next;
    }
  }

  // Wakes every waiter with `make(data)`.
  template <class Make>
  void wake_all(completions& batch, Make make) {
    while (!list_.empty()) {
      auto r = make(list_.front().data);
      wake_front(batch, std::move(r));
    }
  }

 private:
  std::list<waiter> list_;
};

}  // namespace circuit
