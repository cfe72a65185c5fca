// pool.hpp — the threads goroutines started by go() run on when they do
// not run on the program's server loop (loop.hpp: one that waits there is
// left to its thread, and the loop goes on a thread of the pool). Starting a
// thread costs tens of microseconds on a small machine (about 65 us here:
// its stack is mapped and cloned), more than the rest of a go() on one
// host; handing a function to a thread that waits idle costs a wake-up.
// A thread idle for `idle_for` ends, and its connections to the daemon
// with it (runtime.cpp: each thread has its own).
//
// Thread safety: any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace circuit::detail {

inline constexpr std::chrono::seconds idle_for{10};

// Runs `fn` on an idle thread of the pool, or on a new one. When no
// thread can be made (EAGAIN: the process's thread or memory limit),
// `fn` does not run, and why is returned.
[[nodiscard]] std::optional<std::string> run_on_a_thread(std::function<void()> fn);
// The calling thread serves the pool's tasks until it was idle for
// `idle_for`, then returns.
void join_pool();

}  // namespace circuit::detail
