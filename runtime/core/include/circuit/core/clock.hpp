// clock.hpp — the time and the timers of the runtime, from one interface.
//
// Everything in the runtime that reads the time or waits for it (a
// worker's start time in its stat, the grace period between TERM and KILL,
// later the cluster's failure detector) asks the namespace's clock
// (ns::clock()), never the system. The daemon gives a clock over its
// loop (fsd/loop_clock.hpp); unit tests give a manual_clock, whose time
// stands still until the test advances it, so a test steps through a
// grace period or a timeout exactly, without sleeping.
//
//   manual_clock t;
//   auto kill = t.start_timer(5s, [&] { ... });   // not yet
//   t.advance(5s);                                 // now, on this thread
//
// A timer calls its function once, on the loop thread, when it is due;
// cancel() or destroying the timer before that stops it. The function
// runs from the loop (or from advance()), never inside start_timer.
//
// Thread safety: a clock and its timers belong to the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace circuit {

class timer {
 public:
  virtual ~timer() = default;
  virtual void cancel() = 0;  // idempotent; nothing after it
};
using timer_ptr = std::unique_ptr<timer>;

class clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~clock() = default;
  // Monotonic: for deadlines and periods.
  virtual time_point now() const = 0;
  // The date: for what people read (a worker's start time).
  virtual std::chrono::system_clock::time_point wall() const = 0;
  // Calls `fn` once, `after` from now.
  virtual timer_ptr start_timer(duration after, std::function<void()> fn) = 0;
};

// Time that moves only when advance() moves it. It starts at the moment
// it is made (wall) and at steady_clock's now.
class manual_clock final : public clock {
 public:
  manual_clock();
  ~manual_clock() override;

  time_point now() const override { return now_; }
  std::chrono::system_clock::time_point wall() const override {
    return wall_start_ + (now_ - start_);
  }
  timer_ptr start_timer(duration after, std::function<void()> fn) override;

  // Moves the time forward by `d`, firing the timers that fall due, in the
  // order of their due times (the time reads each one's due time while it
  // runs); timers started meanwhile fire too if they fall due by the end.
  void advance(duration d);
  std::size_t pending() const;  // timers not yet fired or cancelled

 private:
  struct state;
  time_point start_, now_;
  std::chrono::system_clock::time_point wall_start_;
  std::shared_ptr<state> state_;  // timers hold it weakly
};

}  // namespace circuit
