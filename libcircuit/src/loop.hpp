// loop.hpp — the program's server loop (program.hpp), run by one thread at
// a time, and the goroutines go() starts on it.
//
// Handing a goroutine to a thread that waits idle costs a wake-up, and its
// result coming back to the loop another: on a small virtual machine more
// than the function, for the short functions go() mostly runs. So, as Go
// runs a new goroutine on the processor that made it, a goroutine starts
// on the loop's own thread when no other does, and the loop goes on
// another thread (of the pool, pool.hpp) if the goroutine waits: before
// its first circuit call waits for its daemon, or, when it blocks or
// computes without one, after a watcher ("sysmon", as Go's) saw it run for
// a slice (1 to 2 ms). The thread it ran on then joins the pool. A second
// goroutine that comes while one runs or waits to run on the loop starts
// on a pool thread at once, as all did before.
//
// Thread safety: start() on the loop's thread; the rest from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace circuit::detail {

class loop {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds slice{5};

  explicit loop(boost::asio::io_context& io) : io_(io) {}
  boost::asio::io_context& io() { return io_; }

  // Runs the loop on the calling thread while it is this thread's; when
  // it was handed on, the thread serves the pool until that lets it go.
  void run();
  // Runs `fn` as a goroutine: on the loop when no goroutine runs or waits
  // to run there, else on a pool thread. Why not, when no thread can be
  // made for it (then it does not run).
  [[nodiscard]] std::optional<std::string> start(std::function<void()> fn);
  // From a goroutine running on the loop: hands the loop to another
  // thread now (nothing otherwise).
  void leave();
  // Whether the loop is the calling thread's: what belongs to the loop
  // may be done here at once (after leave(), only when no thread could
  // take the loop).
  bool on_this_thread() const;

 private:
  void run_as(std::uint64_t gen);
  void run_here(std::function<void()>& fn);
  void hand_off(std::uint64_t seq);
  void watch();

  boost::asio::io_context& io_;
  // Each hand-off makes a generation; a thread runs the loop while its
  // own is the newest.
  std::atomic<std::uint64_t> gen_{0};
  std::mutex mu_;
  std::condition_variable cv_;  // the watcher's
  bool queued_ = false;         // a goroutine runs or waits to run on the loop
  bool running_ = false;        // it runs
  bool handed_ = false;         // its loop went on (or could not: no thread)
  std::uint64_t seq_ = 0;       // goroutines run on the loop
  clock::time_point last_start_{};
  bool watching_ = false, parked_ = false;  // the watcher: started, asleep
};

}  // namespace circuit::detail
