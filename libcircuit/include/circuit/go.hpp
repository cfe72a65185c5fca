// go.hpp — start a function in an existing libcircuit worker, on any
// host, as a goroutine of that program; and serve files of one's own.
//
//   auto w = rt.spawn("h2", serve_forever);        // a worker running a libcircuit program
//   auto g = rt.go(w.path(), square, 7);            // square(7) in that program, on a thread of its own
//   int v = g.wait();                               // 49
//
//   rt.serve("load", [] { return std::to_string(load()); });   // .../files/load
//
// A libcircuit program in a worker serves its goroutines/ and files/ over
// 9P, and its daemon shows them in its worker directory (circuit(4)). go()
// is an open of WORKER/goroutines/go for reading and writing, a write of
// {"fn":NAME,"args":[...]} and a read of the result, sent together; wait()
// takes the read's answer: the two are one round trip.
// A shell does the same: exec 3<>go; echo '{"fn":"square","args":[7]}' >&3; cat <&3
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "circuit/spawn.hpp"

namespace circuit {

// A function running in another program: wait() for its value. It belongs
// to the thread that called go() (its open is on that thread's
// connection): wait() and its end must happen there.
template <class R>
class goroutine {
 public:
  goroutine(goroutine&& o) noexcept : rt_(o.rt_), worker_(std::move(o.worker_)), call_(std::move(o.call_)) {}
  goroutine& operator=(goroutine&&) = delete;
  ~goroutine() {
    if (call_) rt_->end_go(call_);
  }

  // The function's value; app_error with its exception's words,
  // worker_died when the program died while it ran, host_down when the
  // worker's host is down, timeout when `within` (zero: for ever) passed
  // (wait again later), cancelled when the calling goroutine is cancelled.
  R wait(duration within = {}) {
    return detail::result_as<R>(rt_, "go: " + worker_, rt_->await_go(call_, within));
  }
  const std::string& worker() const { return worker_; }

 private:
  friend class runtime;
  goroutine(runtime* rt, std::string worker, std::shared_ptr<detail::go_open> call)
      : rt_(rt), worker_(std::move(worker)), call_(std::move(call)) {}
  runtime* rt_;
  std::string worker_;
  std::shared_ptr<detail::go_open> call_;  // go.cpp's: the open of goroutines/go, its read under way
};

template <class R, class... P, class... A>
goroutine<R> runtime::go(const std::string& worker, R (*fn)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "go: give every argument of the function");
  std::string json = detail::encode_args<std::tuple<std::decay_t<P>...>>(std::index_sequence_for<P...>{},
                                                                          std::forward<A>(args)...);
  return goroutine<R>(this, worker, start_go(worker, reinterpret_cast<detail::fn_key>(fn), json));
}

}  // namespace circuit
