#include "loop_clock.hpp"

#include <boost/asio/steady_timer.hpp>

namespace circuit::fsd {
namespace {

// The Asio timer lives in a shared block, so a completion that comes after
// the timer was destroyed (Asio calls it with operation_aborted) finds it.
class asio_timer final : public timer {
 public:
  asio_timer(boost::asio::io_context& io, clock::duration after, std::function<void()> fn)
      : t_(std::make_shared<boost::asio::steady_timer>(io, after)), live_(std::make_shared<bool>(true)) {
    // A timer already due when cancelled has its completion queued with
    // success: `live` stops it.
    t_->async_wait([t = t_, live = live_, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec && *live) fn();
    });
  }
  ~asio_timer() override { cancel(); }
  void cancel() override {
    *live_ = false;
    t_->cancel();
  }

 private:
  std::shared_ptr<boost::asio::steady_timer> t_;
  std::shared_ptr<bool> live_;
};

}  // namespace

timer_ptr loop_clock::start_timer(duration after, std::function<void()> fn) {
  return std::make_unique<asio_timer>(io_, after, std::move(fn));
}

}  // namespace circuit::fsd
