// output.hpp — a worker's stdout or stderr as the daemon holds it.
//
// Bytes from the process's pipe are kept until a reader takes them; each
// byte goes to exactly one reader, like a pipe. When `bound` bytes are kept
// the daemon stops reading the pipe (full() turns true), so the process
// blocks in write(2): back-pressure, nothing dropped. When readers drain it
// below the bound, `on_room` resumes the pipe. A reader that finds nothing
// parks until bytes or the end come. poll(2) waits through watch(): a
// wake is called at the next bytes, end or stop.
//
// Thread safety: belongs to the loop thread.
#pragma once

#include <functional>
#include <string>

#include "circuit/core/wait_queue.hpp"
#include "circuit/core/wakes.hpp"

namespace circuit {

class output {
 public:
  explicit output(std::size_t bound = 1u << 20) : bound_(bound) {}

  void push(const char* data, std::size_t n);
  void end();  // the pipe reached its end: readers get end of file
  bool full() const { return size() >= bound_; }
  bool ended() const { return eof_; }
  bool readable() const { return size() > 0 || eof_; }  // a read now would not wait
  std::size_t size() const { return buf_.size() - head_; }
  std::size_t readers_waiting() const { return readers_.size(); }

  void read(std::size_t max, op_ptr<std::string> done);
  void stop(const error& e);  // fails parked readers
  void watch(const wake_ptr& w) { wakes_.add(w); }

  std::function<void()> on_room;

 private:
  std::string take(std::size_t max);
  void serve(completions& batch);

  std::size_t bound_;
  std::string buf_;
  std::size_t head_ = 0;
  bool eof_ = false;
  wait_queue<std::string, std::size_t> readers_;  // with the most each wants
  wakes wakes_;
};

}  // namespace circuit
