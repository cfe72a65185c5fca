// spin.hpp — waiting for the next event by polling for a while before
// sleeping in the kernel.
//
// Waking a process that sleeps in epoll_wait(2) costs the waker and the
// woken a trip through the scheduler each, and where idle CPUs halt (most
// virtual machines) an interrupt between CPUs on top: tens of microseconds
// where a whole socket round trip between two processes on one CPU takes
// five. A process that polls its sockets for a little while after its
// last event is not asleep when the answer to what it just sent comes
// back, so neither side pays. Erlang's schedulers (+sbwt) and Go's
// spinning threads do the same.
//
// A spinner polls only while it is hot: while the last thing it waited
// for came within the window, counted from the wait's start. One wait
// longer than the window cools it, so an idle or lightly used process
// sleeps as before and costs nothing; only a busy one spends up to a
// window of CPU per wait. While polling it yields the CPU to whatever
// else is runnable there (sched_yield(2)). One thread of a process polls
// at a time; the others sleep meanwhile.
//
// Polling pays only when the answer comes while it polls, and only while
// the poller takes no CPU that the answer's maker needs. A spin misses
// when its window passes with nothing, or when one of its yields ran
// another thread for more than a quarter of the window (more threads
// want this CPU than it has: polling here delays them, and so perhaps
// the answer). Misses back the spinner off, as glibc's adaptive mutexes
// and Go's spinning threads do: after k misses in a row the next 2^k - 1
// hot waits (at most 63) sleep at once; an answer caught while polling
// ends the back-off. On a 2-CPU virtual machine this took a go() call, a
// chain of five processes, from a median of 310 us to 235 us.
//
//   wire::spinner s(std::chrono::microseconds(100));
//   while (s.run_one(io)) {}   // io.run(), spinning while hot
//
// circuitd's --spin and libcircuit's CIRCUIT_SPIN set the window.
//
// Thread safety: the thread that runs `io`.
#pragma once

#include <sched.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>

namespace circuit::wire {

// The window unless told otherwise: circuitd's --spin, CIRCUIT_SPIN.
inline constexpr std::chrono::microseconds default_spin_window{100};

class spinner {
 public:
  using clock = std::chrono::steady_clock;
  explicit spinner(std::chrono::nanoseconds window = {}) : window_(window) {}
  // With `yield` in place of sched_yield(2) between polls (tests).
  spinner(std::chrono::nanoseconds window, void (*yield)()) : window_(window), yield_(yield) {}

  // Runs at least one handler of `io`, polling first for up to the window
  // if hot, then sleeping until one is ready or `until`. Returns how many
  // ran: 0 when `io` stopped, ran out of work, or `until` passed.
  std::size_t run_one(boost::asio::io_context& io,
                      clock::time_point until = clock::time_point::max());

  bool hot() const { return hot_; }
  // Whether the next wait polls first: hot, and not backing off.
  bool polls_next() const { return hot_ && skip_ == 0; }
  std::chrono::nanoseconds window() const { return window_; }

 private:
  static constexpr unsigned max_misses = 6;
  std::chrono::nanoseconds window_;
  void (*yield_)() = [] { sched_yield(); };
  bool hot_ = false;
  unsigned misses_ = 0;  // windows polled for nothing in a row
  unsigned skip_ = 0;    // hot waits left that sleep at once
};

// The window in the environment variable `name` (microseconds, 0 for
// none), else `otherwise`; a value that is not a count from 0 to 1000
// counts as unset.
std::chrono::nanoseconds spin_window_from_env(const char* name, std::chrono::nanoseconds otherwise);

}  // namespace circuit::wire
