// pool.cpp — goroutine threads (pool.hpp).
#include "pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace circuit::detail {

namespace {

struct pool {
  std::mutex mu;
  std::condition_variable work;
  std::deque<std::function<void()>> tasks;
  std::size_t idle = 0;  // threads waiting for a task
};

// Never destroyed: an idle thread may still wait on it while the process
// runs its exit handlers.
pool& the_pool() {
  static pool* p = new pool;
  return *p;
}

void serve(pool& p) {
  std::unique_lock lk(p.mu);
  for (;;) {
    ++p.idle;
    bool got = p.work.wait_for(lk, idle_for, [&p] { return !p.tasks.empty(); });
    --p.idle;
    if (!got) return;
    auto fn = std::move(p.tasks.front());
    p.tasks.pop_front();
    lk.unlock();
    fn();
    fn = nullptr;  // what it held goes before the thread waits again
    lk.lock();
  }
}

}  // namespace

void run_on_a_thread(std::function<void()> fn) {
  pool& p = the_pool();
  bool idle;
  {
    std::lock_guard lk(p.mu);
    p.tasks.push_back(std::move(fn));
    // Each waiting task has an idle thread of its own to take it.
    idle = p.idle >= p.tasks.size();
  }
  if (idle) return p.work.notify_one();  // unlocked: the thread it wakes takes the lock at once
  std::thread([&p] { serve(p); }).detach();
}

}  // namespace circuit::detail
