// spin.cpp — poll for a while, then sleep.
#include "circuit/wire/spin.hpp"

#include <sched.h>

#include <atomic>
#include <cstdlib>

namespace circuit::wire {

namespace {

// One thread of a process polls at a time. A program whose many threads
// all wait on the daemon at once would otherwise keep every CPU busy
// handing it from poller to poller (sched_yield), the daemon waiting its
// turn among them; the others sleep as without a window.
std::atomic<bool> polling{false};

struct poll_turn {
  bool mine = !polling.exchange(true, std::memory_order_acquire);
  ~poll_turn() {
    if (mine) polling.store(false, std::memory_order_release);
  }
};

}  // namespace

std::size_t spinner::run_one(boost::asio::io_context& io, clock::time_point until) {
  if (hot_) {
    if (poll_turn turn; turn.mine) {
      auto end = std::min(clock::now() + window_, until);
      do {
        if (std::size_t n = io.poll_one()) return n;
        if (io.stopped()) return 0;
        sched_yield();
      } while (clock::now() < end);
    }
  }
  auto start = clock::now();
  std::size_t n = until == clock::time_point::max() ? io.run_one() : io.run_one_until(until);
  hot_ = n > 0 && clock::now() - start < window_;
  return n;
}

std::chrono::nanoseconds spin_window_from_env(const char* name,
                                              std::chrono::nanoseconds otherwise) {
  const char* v = std::getenv(name);
  if (!v || !(*v >= '0' && *v <= '9')) return otherwise;  // strtoul would take " 5", "-1", "+5"
  char* end = nullptr;
  unsigned long us = std::strtoul(v, &end, 10);
  if (*end || us > 1000) return otherwise;
  return std::chrono::microseconds(us);
}

}  // namespace circuit::wire
