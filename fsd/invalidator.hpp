// invalidator.hpp — tells the kernel to drop cached entries, off the loop.
//
// A notification is a write to /dev/fuse that the kernel serves while
// holding the parent directory's lock. If the loop wrote it while the
// kernel held that lock waiting for the loop (an rmdir in that directory,
// say), both would wait forever. So the loop only queues notifications and
// this one thread writes them.
//
// Thread safety: push() from the loop; the thread owns the queue's front.
// mu_ guards queue_ and stopping_.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

struct fuse_session;

namespace circuit::fsd {

class invalidator {
 public:
  explicit invalidator(fuse_session* se);
  ~invalidator() { stop(); }

  void push(std::uint64_t parent_fuse_ino, std::string name);
  void stop();  // idempotent; drops what is still queued

 private:
  void run();

  fuse_session* se_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::uint64_t, std::string>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace circuit::fsd
