// Unit tests of runtime/wire/src/spin.cpp: a spinner runs what is ready,
// polls only while hot, cools after a sleep longer than its window (but
// not after a spin that misses), keeps to a deadline while polling, and
// stops with its io_context.
#include "circuit/wire/spin.hpp"

#include <stdlib.h>
#include <time.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using circuit::wire::spin_window_from_env;
using circuit::wire::spinner;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Posts a handler to `io` from another thread after `after`.
std::thread post_later(asio::io_context& io, std::chrono::milliseconds after, int& ran) {
  return std::thread([&io, after, &ran] {
    std::this_thread::sleep_for(after);
    asio::post(io, [&ran] { ++ran; });
  });
}

// Posts a handler that counts in `ran` (from another thread after
// `after`, if given) and runs `s` once; what run_one returned.
std::size_t run_posted(spinner& s, asio::io_context& io, int& ran,
                       std::chrono::milliseconds after = {}) {
  if (after.count() == 0) {
    asio::post(io, [&ran] { ++ran; });
    return s.run_one(io);
  }
  auto t = post_later(io, after, ran);
  std::size_t n = s.run_one(io);
  t.join();
  return n;
}

}  // namespace

TEST_CASE("a spinner with no window is run_one: it never gets hot", "[spin]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  spinner s;
  int ran = 0;
  CHECK(run_posted(s, io, ran) == 1);
  CHECK(ran == 1);
  CHECK_FALSE(s.hot());
  CHECK(run_posted(s, io, ran, 5ms) == 1);
  CHECK(ran == 2);
  CHECK_FALSE(s.hot());
}

TEST_CASE(
    "a spinner gets hot when what it waits for comes within its window, and cools when it does not",
    "[spin]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  spinner s(10s);
  CHECK_FALSE(s.hot());  // cold at first: a new process sleeps
  int ran = 0;
  CHECK(run_posted(s, io, ran) == 1);
  CHECK(s.hot());
  // Hot: a handler another thread makes ready while it polls is run, and
  // it stays hot.
  CHECK(run_posted(s, io, ran, 20ms) == 1);
  CHECK(ran == 2);
  CHECK(s.hot());

  spinner brief(1ms);
  CHECK(run_posted(brief, io, ran) == 1);
  REQUIRE(brief.hot());
  CHECK(run_posted(brief, io, ran, 100ms) ==
        1);  // past the window: it polls, then sleeps, and cools
  CHECK(ran == 4);
  CHECK_FALSE(brief.hot());
}

TEST_CASE("a hot spinner keeps to the deadline it is given while it polls", "[spin]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  spinner s(30s);
  asio::post(io, [] {});
  REQUIRE(s.run_one(io) == 1);
  REQUIRE(s.hot());
  auto start = std::chrono::steady_clock::now();
  CHECK(s.run_one(io, start + 50ms) == 0);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 50ms);
  CHECK(took < 20s);  // not the window: bounded only so that a failure cannot hang
}

TEST_CASE("a hot spinner returns 0 once its io_context is stopped or out of work", "[spin]") {
  asio::io_context io;
  spinner s(30s);
  {
    auto work = asio::make_work_guard(io);
    asio::post(io, [] {});
    REQUIRE(s.run_one(io) == 1);
    REQUIRE(s.hot());
  }
  CHECK(s.run_one(io) == 0);  // no work left: not 30 s of polling
  io.restart();
  auto work = asio::make_work_guard(io);
  std::thread stopper([&io] {
    std::this_thread::sleep_for(20ms);
    io.stop();
  });
  CHECK(s.run_one(io) == 0);
  stopper.join();
}

TEST_CASE("one thread of a process polls at a time: another hot spinner sleeps meanwhile",
          "[spin]") {
  auto thread_cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  asio::io_context a, b;
  auto wa = asio::make_work_guard(a), wb = asio::make_work_guard(b);
  spinner first(30s), second(30s);
  asio::post(a, [] {});
  asio::post(b, [] {});
  REQUIRE(first.run_one(a) == 1);
  REQUIRE(second.run_one(b) == 1);
  REQUIRE((first.hot() && second.hot()));
  // `first` polls on another thread until something is posted to `a`.
  std::atomic<bool> polling{false};
  std::thread poller([&] {
    polling = true;
    first.run_one(a);
  });
  while (!polling) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // well inside its window
  int ran = 0;
  auto late = post_later(b, 200ms, ran);
  auto cpu = thread_cpu();
  CHECK(second.run_one(b) == 1);
  // Sleeping, it used next to no CPU; polling, it would have used most of
  // the 200 ms (a loaded machine can only make this smaller).
  CHECK(thread_cpu() - cpu < 50ms);
  late.join();
  CHECK(ran == 1);
  asio::post(a, [] {});
  poller.join();
}

TEST_CASE("a spin that misses stays hot when what it waits for comes within a window of its sleep",
          "[spin]") {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  spinner s(400ms);
  int ran = 0;
  REQUIRE(run_posted(s, io, ran) == 1);
  REQUIRE(s.hot());
  // It polls the 400 ms for nothing, then sleeps about 200 ms: an answer
  // that comes just after the window, as a cross-host one often does,
  // must find it polling the next time too.
  auto start = std::chrono::steady_clock::now();
  CHECK(run_posted(s, io, ran, 600ms) == 1);
  CHECK(ran == 2);
  if (std::chrono::steady_clock::now() - start < 790ms)
    CHECK(s.hot());  // else a stall slept past the window
}

TEST_CASE("the window from the environment: microseconds from 0 to 1000, else the default",
          "[spin]") {
  const char* name = "CIRCUIT_SPIN_TEST";
  auto from = [&](const char* v) {
    if (v)
      setenv(name, v, 1);
    else
      unsetenv(name);
    return spin_window_from_env(name, 7us);
  };
  CHECK(from(nullptr) == 7us);
  CHECK(from("") == 7us);
  CHECK(from("50") == 50us);
  CHECK(from("0") == 0us);
  CHECK(from("1000") == 1000us);
  for (const char* bad :
       {"1001", "100000", "-1", "+5", "abc", "5us", " 5", "99999999999999999999999"})
    CHECK(from(bad) == 7us);
  unsetenv(name);
}
