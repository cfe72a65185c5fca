// event_log.hpp — the cluster's event stream behind /circuit/events.
//
// Events are lines ("join h1", "new /h1/channels/a", "gone /h1/channels/a").
// The log keeps the last `window` of them with sequence numbers; a reader
// holds a cursor and parks when it has read everything, until the next
// append. A reader that falls more than `window` behind is told how many
// lines it lost, in a line of its own. After stop(), reads at the end
// return end of file at once. poll(2) waits through watch(): a wake is
// called at the next line or the stop.
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "circuit/core/wait_queue.hpp"
#include "circuit/core/wakes.hpp"

namespace circuit {

class event_log {
 public:
  explicit event_log(std::size_t window = 1024) : window_(window) {}

  void append(std::string line);
  std::uint64_t end() const { return first_ + lines_.size(); }

  // Completes `done` with the lines from `*cursor` on (at most `max` bytes,
  // whole lines only, at least one), advancing the cursor; parks if there
  // are none yet.
  void read(std::uint64_t* cursor, std::size_t max, op_ptr<std::string> done);
  std::size_t readers_waiting() const { return waiting_.size(); }
  // A read from `cursor` would be answered at once.
  bool readable(std::uint64_t cursor) const { return cursor < end() || stopped_; }
  void watch(const wake_ptr& w) { wakes_.add(w); }
  void stop();  // completes parked and later readers with end of file

 private:
  struct waiter {
    std::uint64_t* cursor;  // the reader's, which cancels its read before it goes
    std::size_t max;
  };
  std::string take(std::uint64_t* cursor, std::size_t max) const;

  std::size_t window_;
  std::uint64_t first_ = 0;  // sequence number of lines_.front()
  std::deque<std::string> lines_;
  wait_queue<std::string, waiter> waiting_;
  wakes wakes_;
  bool stopped_ = false;
};

}  // namespace circuit
