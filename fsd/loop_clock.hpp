// loop_clock.hpp — the runtime's clock (circuit/core/clock.hpp) over the
// daemon's Asio loop: the system's time, and timers that are Asio steady
// timers, so they fire on the loop thread like everything else.
//
// Thread safety: the loop thread of `io`.
#pragma once

#include <boost/asio/io_context.hpp>

#include "circuit/core/clock.hpp"

namespace circuit::fsd {

class loop_clock final : public clock {
 public:
  explicit loop_clock(boost::asio::io_context& io) : io_(io) {}
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall() const override { return std::chrono::system_clock::now(); }
  timer_ptr start_timer(duration after, std::function<void()> fn) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace circuit::fsd
