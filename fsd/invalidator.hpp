// invalidator.hpp — tells the kernel to drop cached entries, off the loop.
//
// A notification is a write to /dev/fuse that the kernel serves while
// holding the parent directory's lock. If the loop wrote it while the
// kernel held that lock waiting for the loop (an rmdir in that directory,
// say), both would wait forever. So the loop only queues notifications and
// this one thread writes them.
//
// The same holds at the stop: a notification under way may wait for a
// request of the kernel that only the loop can answer, so the thread is
// ended while the loop still serves (finish), and only then joined.
//
// Thread safety: push() from the loop; the thread owns the queue's front.
// mu_ guards queue_, stopping_, ended_, busy_ and on_end_.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

struct fuse_session;

namespace circuit::fsd {

class invalidator {
 public:
  explicit invalidator(fuse_session* se);
  ~invalidator() { stop(false); }

  void push(std::uint64_t parent_fuse_ino, std::string name);
  // Drops what is queued; `ended` runs on the thread once it has finished
  // the notification under way (at once if it has ended already).
  void finish(std::function<void()> ended);
  // Idempotent. Joins the thread, unless it is in a notification and not
  // `wait`: then leaves it (detached) and returns false, as it may still
  // use the session.
  bool stop(bool wait = true);

 private:
  void run();

  fuse_session* se_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::uint64_t, std::string>> queue_;
  bool stopping_ = false, ended_ = false, busy_ = false;  // busy_: in a notification
  std::function<void()> on_end_;
  std::thread thread_;
};

}  // namespace circuit::fsd
