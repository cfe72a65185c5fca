// uv_driver.hpp — runs libuv inside the Asio loop, so one thread owns all.
//
// libuv (children, their pipes, timers) keeps its events behind one epoll
// descriptor, its backend fd. The driver watches that descriptor and libuv's
// next timer from Asio, and runs libuv without blocking (UV_RUN_NOWAIT)
// when either fires, or when the runtime kicks it after changing handles.
// While no handle is alive it watches nothing: the runtime's kick after it
// starts one brings the watch back.
//
// Thread safety: everything on the thread that runs `io`.
#pragma once

#include <uv.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace circuit::fsd {

class uv_driver {
 public:
  explicit uv_driver(boost::asio::io_context& io);
  ~uv_driver();

  uv_loop_t* loop() { return &loop_; }
  void kick();  // run libuv soon; several kicks coalesce
  void run_now() { uv_run(&loop_, UV_RUN_NOWAIT); }  // callbacks of closed handles
  void stop();  // idempotent

 private:
  void arm();
  void run();

  boost::asio::io_context& io_;
  uv_loop_t loop_;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer timer_;
  bool kicked_ = false;
  bool armed_ = false;  // a wait on the backend descriptor is pending
  bool stopped_ = false;
};

}  // namespace circuit::fsd
