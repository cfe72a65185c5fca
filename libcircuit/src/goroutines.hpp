// goroutines.hpp — the goroutines of a libcircuit program: its main
// thread, the function a spawned worker runs, and each function started by
// rt.go(). The program's file server (program.hpp) shows them as
// goroutines/ID with stat, stack and ctl; a blocking circuit call records
// what it waits for, and `cancel` interrupts it (it throws
// circuit::cancelled), or the next one.
//
// Thread safety: every member may be called from any thread (one mutex).
#pragma once

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace circuit::wire {
class conn;
}

namespace circuit::detail {

// The most a call written to goroutines/go may be, {"fn":...,"args":...}
// whole: the program keeps it in memory until it parses. go() refuses a
// larger one before sending it (E2BIG); the file, past it (EFBIG).
inline constexpr std::size_t max_go_call = 8 << 20;

struct goroutine {
  std::uint64_t id = 0;
  std::string fn;
  pthread_t thread{};
  std::chrono::system_clock::time_point started;
  // Guarded by the registry's mutex.
  std::string waiting;  // what its blocking call waits for; empty: running
  std::chrono::system_clock::time_point since;
  bool cancel = false;               // a cancel not yet thrown
  wire::conn* in_call = nullptr;     // the connection of its blocking call
};

class goroutines {
 public:
  friend class blocking;
  friend bool take_cancel(std::string& words);
  static goroutines& all();

  // The calling thread becomes a goroutine running `fn`, until leave().
  std::shared_ptr<goroutine> enter(std::string fn);
  void leave(const std::shared_ptr<goroutine>& g);
  std::vector<std::shared_ptr<goroutine>> list();
  std::shared_ptr<goroutine> find(std::uint64_t id);

  // The files' contents.
  std::string stat(const goroutine& g);
  std::string stack(const goroutine& g);  // symbolized; may take a moment
  // Its blocking call now, or its next one, throws circuit::cancelled.
  void cancel(goroutine& g);

  // Called (on whatever thread) when one entered or left.
  void on_change(std::function<void()> f);

 private:
  std::mutex mu_;
  std::uint64_t next_ = 1;
  std::vector<std::shared_ptr<goroutine>> live_;
  std::function<void()> changed_;
};

// A blocking circuit call of the calling thread, waiting for `what`
// ("recv /h1/channels/jobs") on `c`: throws circuit::cancelled at once for
// a cancel that came before it; a cancel while it waits interrupts it.
class blocking {
 public:
  blocking(std::string what, wire::conn& c);
  ~blocking();
  blocking(const blocking&) = delete;
  blocking& operator=(const blocking&) = delete;

 private:
  goroutine* g_;
  wire::conn& c_;
};

// After a failed call: whether a cancel of this goroutine ended it (the
// cancel is then taken), and the words for it.
bool take_cancel(std::string& words);

}  // namespace circuit::detail
