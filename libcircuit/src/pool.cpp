// pool.cpp — goroutine threads (pool.hpp).
#include "pool.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace circuit::detail {

namespace {

struct pool {
  std::mutex mu;
  std::condition_variable work;
  std::deque<std::pair<std::uint64_t, std::function<void()>>> tasks;  // numbered
  std::uint64_t next = 0;
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
    auto fn = std::move(p.tasks.front().second);
    p.tasks.pop_front();
    lk.unlock();
    fn();
    fn = nullptr;  // what it held goes before the thread waits again
    lk.lock();
  }
}

}  // namespace

void join_pool() { serve(the_pool()); }

std::optional<std::string> run_on_a_thread(std::function<void()> fn) {
  pool& p = the_pool();
  bool idle;
  std::uint64_t mine;
  {
    std::lock_guard lk(p.mu);
    mine = p.next++;
    p.tasks.emplace_back(mine, std::move(fn));
    // Each waiting task has an idle thread of its own to take it.
    idle = p.idle >= p.tasks.size();
  }
  if (idle) {
    p.work.notify_one();  // unlocked: the thread it wakes takes the lock at once
    return std::nullopt;
  }
  try {
    std::thread([&p] { serve(p); }).detach();
    return std::nullopt;
  } catch (const std::system_error& e) {
    // No thread: the task is taken back, unless a thread that came idle
    // meanwhile took it (then it runs).
    std::lock_guard lk(p.mu);
    for (auto it = p.tasks.begin(); it != p.tasks.end(); ++it)
      if (it->first == mine) {
        p.tasks.erase(it);
        return std::string(e.what());
      }
    return std::nullopt;
  }
}

}  // namespace circuit::detail
