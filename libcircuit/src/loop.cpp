// loop.cpp — the server loop's threads and the goroutines that start on it
// (loop.hpp).
#include "loop.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <system_error>
#include <thread>

#include "circuit/wire/conn.hpp"
#include "circuit/wire/spin.hpp"
#include "pool.hpp"

namespace circuit::detail {

namespace {

// What the calling thread is to a loop.
thread_local const loop* my_loop = nullptr;
thread_local std::uint64_t my_gen = 0;
thread_local bool my_goroutine = false;  // it runs a goroutine of the loop
thread_local std::uint64_t my_seq = 0;

}  // namespace

void loop::run() {
  run_as(gen_.load());
  join_pool();
}

void loop::run_as(std::uint64_t gen) {
  char before[16] = "";
  pthread_getname_np(pthread_self(), before, sizeof before);
  // Named as top -H and /proc/PID/task/*/comm show it.
  pthread_setname_np(pthread_self(), "circuit-files");
  my_loop = this;
  my_gen = gen;
  // The daemon's requests, polling for the next while they come quickly
  // (circuit/wire/spin.hpp), as the program's own calls do. A hand-off
  // may store the new generation just after its thread began: newer or
  // the same is this thread's.
  wire::spinner spin(wire::spin_window_from_env("CIRCUIT_SPIN", wire::default_program_spin_window));
  while (gen_.load(std::memory_order_acquire) <= gen && spin.run_one(io_)) {
  }
  my_loop = nullptr;
  pthread_setname_np(pthread_self(), before);
}

std::optional<std::string> loop::start(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (!queued_ && !watching_) {
      try {
        std::thread([this] { watch(); }).detach();
        watching_ = true;
      } catch (const std::system_error&) {
        // No watcher: nothing would take the loop from a goroutine that
        // blocks without a circuit call. It runs on the pool.
      }
    }
    if (queued_ || !watching_) return run_on_a_thread(std::move(fn));
    queued_ = true;
  }
  boost::asio::post(io_, [this, fn = std::move(fn)]() mutable { run_here(fn); });
  return std::nullopt;
}

void loop::run_here(std::function<void()>& fn) {
  bool wake;
  {
    std::lock_guard lk(mu_);
    my_seq = ++seq_;
    running_ = true;
    handed_ = false;
    last_start_ = clock::now();
    wake = parked_;
  }
  if (wake) cv_.notify_one();
  my_goroutine = true;
  wire::conn::before_next_wait([this] { leave(); });
  fn();
  wire::conn::before_next_wait(nullptr);
  my_goroutine = false;
  std::lock_guard lk(mu_);
  // Handed on, this thread leaves the loop as this handler returns, and
  // the loop may run another goroutine meanwhile: what is said of the
  // loop's goroutine is then that one's.
  if (my_seq == seq_) running_ = false;
  if (my_gen >= gen_.load()) queued_ = false;
}

bool loop::on_this_thread() const {
  return my_loop == this && my_gen >= gen_.load(std::memory_order_acquire);
}

void loop::leave() {
  if (my_loop == this && my_goroutine) hand_off(my_seq);
}

void loop::hand_off(std::uint64_t seq) {
  std::lock_guard lk(mu_);
  if (!running_ || seq != seq_ || handed_) return;
  std::uint64_t next = gen_.load() + 1;
  // With no thread to take it, the loop waits for this goroutine, as it
  // would have waited for a thread; the watcher tries again each slice.
  if (run_on_a_thread([this, next] { run_as(next); })) return;
  handed_ = true;
  gen_.store(next, std::memory_order_release);
  queued_ = false;  // the loop is free for the next goroutine
}

// Every slice while goroutines start on the loop; asleep from a tenth of
// a second after the last start until the next (which wakes it).
void loop::watch() {
  pthread_setname_np(pthread_self(), "circuit-sysmon");
  std::unique_lock lk(mu_);
  for (;;) {
    if (!running_ && clock::now() - last_start_ > std::chrono::milliseconds(100)) {
      parked_ = true;
      cv_.wait(lk, [this] { return running_; });
      parked_ = false;
    }
    std::uint64_t seq = seq_;
    bool was = running_ && !handed_;
    cv_.wait_for(lk, slice);
    if (was && running_ && seq_ == seq && !handed_) {
      lk.unlock();
      hand_off(seq);
      lk.lock();
    }
  }
}

}  // namespace circuit::detail
