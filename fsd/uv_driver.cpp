#include "uv_driver.hpp"

#include <poll.h>

#include <boost/asio/post.hpp>

namespace circuit::fsd {

uv_driver::uv_driver(boost::asio::io_context& io) : io_(io), fd_(io), timer_(io) {
  uv_loop_init(&loop_);
  fd_.assign(uv_backend_fd(&loop_));
  arm();
}

uv_driver::~uv_driver() {
  stop();
  // Close what is left (children of a daemon that keeps its workers), so
  // the loop can be closed.
  uv_walk(&loop_, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

void uv_driver::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  fd_.cancel();
  fd_.release();  // libuv owns its descriptor
}

void uv_driver::kick() {
  if (kicked_ || stopped_) return;
  kicked_ = true;
  boost::asio::post(io_, [this] { run(); });
}

void uv_driver::arm() {
  armed_ = true;
  fd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                 [this](boost::system::error_code ec) {
                   armed_ = false;
                   if (ec || stopped_) return;
                   run();
                 });
}

void uv_driver::run() {
  kicked_ = false;
  if (stopped_) return;
  uv_run(&loop_, UV_RUN_NOWAIT);
  // With nothing alive libuv's timeout is 0, not "forever", and uv_run
  // reads nothing, so what is left in its descriptor (the inotify event of
  // a watch just removed) stays readable: neither watch it nor run again,
  // or this spins. The runtime kicks after it starts a handle; that run
  // reads what was left and watches again.
  if (!uv_loop_alive(&loop_)) return;
  if (!armed_) arm();
  // The watch is edge-triggered: if libuv left events unread, no new edge
  // will come for them, so run again rather than wait.
  pollfd p{uv_backend_fd(&loop_), POLLIN, 0};
  if (poll(&p, 1, 0) > 0) return kick();
  int ms = uv_backend_timeout(&loop_);
  if (ms < 0) return;
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) run();
  });
}

}  // namespace circuit::fsd
