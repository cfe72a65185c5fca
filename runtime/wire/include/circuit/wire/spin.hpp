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
// for came within the window of its sleep (a spin that misses and then
// sleeps briefly stays hot). One sleep longer than the window cools it,
// so an idle or lightly used process sleeps as before and costs nothing;
// only a busy one spends up to a window of CPU per wait. While polling it
// yields the CPU to whatever else is runnable there (sched_yield(2)).
// One thread of a process polls at a time; the others sleep meanwhile.
//
// There is no back-off after spins that miss: one (7f38915) that skipped
// 1, 3, ... 63 hot waits after a miss, and cooled on one, made the
// cross-host round trip, whose answer often comes just after the window,
// sleep nearly every time: on a 2-CPU virtual machine it took 510-580 us
// against 280-360 us without it, and go()+reply 330-390 us against
// 270-300 us (interleaved runs of one day).
//
//   wire::spinner s(std::chrono::microseconds(100));
//   while (s.run_one(io)) {}   // io.run(), spinning while hot
//
// circuitd's --spin and libcircuit's CIRCUIT_SPIN set the window. A
// program's is longer than its daemon's: its calls to another host are a
// round trip through two daemons and a link (200-300 us on a 2-CPU
// virtual machine), which a 100 us window always missed, so the program
// slept and was woken on each; with 400 us go()+reply took 162-265 us
// against 222-297 us (interleaved runs of one day), spawn no slower.
//
// Thread safety: the thread that runs `io`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>

namespace circuit::wire {

// The window unless told otherwise: circuitd's --spin; a libcircuit
// program's CIRCUIT_SPIN.
inline constexpr std::chrono::microseconds default_spin_window{100};
inline constexpr std::chrono::microseconds default_program_spin_window{400};

class spinner {
 public:
  using clock = std::chrono::steady_clock;
  explicit spinner(std::chrono::nanoseconds window = {}) : window_(window) {}

  // Runs at least one handler of `io`, polling first for up to the window
  // if hot, then sleeping until one is ready or `until`. Returns how many
  // ran: 0 when `io` stopped, ran out of work, or `until` passed.
  std::size_t run_one(boost::asio::io_context& io,
                      clock::time_point until = clock::time_point::max());

  bool hot() const { return hot_; }
  std::chrono::nanoseconds window() const { return window_; }

 private:
  std::chrono::nanoseconds window_;
  bool hot_ = false;
};

// The window in the environment variable `name` (microseconds, 0 for
// none), else `otherwise`; a value that is not a count from 0 to 1000
// counts as unset.
std::chrono::nanoseconds spin_window_from_env(const char* name, std::chrono::nanoseconds otherwise);

}  // namespace circuit::wire
