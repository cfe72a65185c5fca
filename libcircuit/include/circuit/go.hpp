// go.hpp — start a function in an existing libcircuit worker, on any
// host, as a goroutine of that program; and serve files of one's own.
//
//   auto w = rt.spawn("h2", serve_forever);        // a worker running a libcircuit program
//   auto g = rt.go(w.path(), square, 7);            // square(7) in that program, in a new thread
//   int v = g.wait();                               // 49
//
//   rt.serve("load", [] { return std::to_string(load()); });   // .../files/load
//
// A libcircuit program in a worker serves its goroutines/ and files/ over
// 9P, and its daemon shows them in its worker directory (circuit(4)). go()
// is an open of WORKER/goroutines/go for reading and writing and a write
// of {"fn":NAME,"args":[...]} (one round trip); wait() reads the result.
// A shell does the same: exec 3<>go; echo '{"fn":"square","args":[7]}' >&3; cat <&3
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "circuit/spawn.hpp"

namespace circuit {

// A function running in another program: wait() for its value. It belongs
// to the thread that called go() (its open is on that thread's
// connection): wait() and its end must happen there.
template <class R>
class goroutine {
 public:
  goroutine(goroutine&& o) noexcept
      : rt_(o.rt_),
        worker_(std::move(o.worker_)),
        fid_(std::exchange(o.fid_, 0)),
        call_size_(o.call_size_),
        thread_(o.thread_) {}
  goroutine& operator=(goroutine&&) = delete;
  ~goroutine() {
    if (fid_) rt_->end_go(fid_, thread_);
  }

  // The function's value; app_error with its exception's words,
  // worker_died when the program died while it ran, host_down when the
  // worker's host is down, timeout when `within` (zero: for ever) passed
  // (wait again later), cancelled when the calling goroutine is cancelled.
  R wait(duration within = {}) {
    std::string v = rt_->await_go(worker_, fid_, call_size_, thread_, within);
    if constexpr (!std::is_void_v<R>) {
      detail::decoding with(rt_);
      auto t = boost::json::try_value_to<R>(boost::json::parse(v));
      if (!t) throw exception(EINVAL, "go: " + worker_ + ": the result is JSON of another type: " + v);
      return std::move(*t);
    }
  }
  const std::string& worker() const { return worker_; }

 private:
  friend class runtime;
  goroutine(runtime* rt, std::string worker, std::pair<std::uint32_t, std::size_t> open)
      : rt_(rt), worker_(std::move(worker)), fid_(open.first), call_size_(open.second),
        thread_(std::this_thread::get_id()) {}
  runtime* rt_;
  std::string worker_;
  std::uint32_t fid_;
  std::size_t call_size_;
  std::thread::id thread_;
};

template <class R, class... P, class... A>
goroutine<R> runtime::go(const std::string& worker, R (*fn)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "go: give every argument of the function");
  std::string json = detail::encode_args<std::tuple<std::decay_t<P>...>>(std::index_sequence_for<P...>{},
                                                                          std::forward<A>(args)...);
  return goroutine<R>(this, worker, start_go(worker, reinterpret_cast<detail::fn_key>(fn), json));
}

}  // namespace circuit
