// goroutines.cpp — the registry of goroutines, their blocking calls, and
// their stacks (taken by the goroutine's own thread, in a signal handler).
#include "goroutines.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <thread>

#include "circuit/errors.hpp"
#include "circuit/wire/conn.hpp"

namespace circuit::detail {

namespace {

thread_local goroutine* current = nullptr;

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A stack is taken by the thread itself: the reader signals it, and its
// handler writes the return addresses here.
constexpr int max_frames = 64;
struct capture {
  void* frames[max_frames];
  std::atomic<int> n{-1};
};
std::atomic<capture*> wanted{nullptr};
std::mutex capture_mu;  // one capture at a time

int stack_signal() { return SIGRTMIN + 3; }

void on_stack_signal(int) {
  capture* c = wanted.load();
  if (!c) return;
  int saved = errno;
  c->n.store(::backtrace(c->frames, max_frames));
  errno = saved;
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* warm[1];
    ::backtrace(warm, 1);  // loads what backtrace needs now, not in a handler
    struct sigaction sa {};
    sa.sa_handler = on_stack_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(stack_signal(), &sa, nullptr);
  });
}

std::string symbolized(void* pc) {
  Dl_info info{};
  char buf[64];
  if (!dladdr(pc, &info) || !info.dli_sname) {
    std::snprintf(buf, sizeof buf, "%p", pc);
    std::string where = info.dli_fname ? std::string(" in ") + info.dli_fname : "";
    return buf + where;
  }
  int status = 0;
  char* name = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
  std::string s = status == 0 && name ? name : info.dli_sname;
  std::free(name);
  std::snprintf(buf, sizeof buf, "+0x%zx", static_cast<std::size_t>(static_cast<char*>(pc) - static_cast<char*>(info.dli_saddr)));
  return s + buf;
}

}  // namespace

goroutines& goroutines::all() {
  static goroutines* g = new goroutines;  // never destroyed: the server's thread may outlive main
  return *g;
}

std::shared_ptr<goroutine> goroutines::enter(std::string fn) {
  install_handler();
  auto g = std::make_shared<goroutine>();
  g->fn = std::move(fn);
  g->thread = pthread_self();
  g->started = g->since = std::chrono::system_clock::now();
  std::function<void()> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    g->id = next_++;
    live_.push_back(g);
    changed = changed_;
  }
  current = g.get();
  if (changed) changed();
  return g;
}

void goroutines::leave(const std::shared_ptr<goroutine>& g) {
  std::function<void()> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(live_, g);
    changed = changed_;
  }
  if (current == g.get()) current = nullptr;
  if (changed) changed();
}

std::vector<std::shared_ptr<goroutine>> goroutines::list() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

std::shared_ptr<goroutine> goroutines::find(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& g : live_)
    if (g->id == id) return g;
  return nullptr;
}

void goroutines::on_change(std::function<void()> f) {
  std::lock_guard<std::mutex> lock(mu_);
  changed_ = std::move(f);
}

std::string goroutines::stat(const goroutine& g) {
  std::lock_guard<std::mutex> lock(mu_);
  boost::json::object o;
  o["id"] = g.id;
  o["fn"] = g.fn;
  o["state"] = g.waiting.empty() ? "running" : "waiting";
  o["waiting"] = g.waiting.empty() ? boost::json::value(nullptr) : boost::json::value(g.waiting);
  o["since"] = unix_seconds(g.since);
  o["started"] = unix_seconds(g.started);
  o["cancel"] = g.cancel;
  return boost::json::serialize(o) + "\n";
}

std::string goroutines::stack(const goroutine& g) {
  std::lock_guard<std::mutex> lock(capture_mu);
  capture c;
  wanted.store(&c);
  int sent = pthread_kill(g.thread, stack_signal());
  for (int i = 0; sent == 0 && i < 1000 && c.n.load() < 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  wanted.store(nullptr);
  int n = c.n.load();
  if (n < 0) return "stack: goroutine " + std::to_string(g.id) + " did not answer (it blocks signals)\n";
  std::string out;
  // Frames 0 and 1 are the handler and the kernel's return to the thread.
  for (int i = 2; i < n; ++i) out += "#" + std::to_string(i - 2) + " " + symbolized(c.frames[i]) + "\n";
  return out;
}

void goroutines::cancel(goroutine& g) {
  std::lock_guard<std::mutex> lock(mu_);
  g.cancel = true;
  if (g.in_call) g.in_call->interrupt();
}

blocking::blocking(std::string what, wire::conn& c) : g_(current), c_(c) {
  if (!g_) return;
  auto& all = goroutines::all();
  std::unique_lock<std::mutex> lock(all.mu_);
  if (g_->cancel) {
    g_->cancel = false;
    lock.unlock();
    throw cancelled(ECANCELED, what + ": cancelled (ctl cancel of goroutine " + std::to_string(g_->id) + ")");
  }
  g_->waiting = std::move(what);
  g_->since = std::chrono::system_clock::now();
  g_->in_call = &c;
}

blocking::~blocking() {
  if (!g_) return;
  auto& all = goroutines::all();
  {
    std::lock_guard<std::mutex> lock(all.mu_);
    g_->waiting.clear();
    g_->since = std::chrono::system_clock::now();
    g_->in_call = nullptr;
  }
  c_.drain();  // an interrupt that came too late must not reach the next call
}

bool take_cancel(std::string& words) {
  goroutine* g = current;
  if (!g) return false;
  auto& all = goroutines::all();
  std::lock_guard<std::mutex> lock(all.mu_);
  if (!g->cancel) return false;
  g->cancel = false;
  words = "cancelled (ctl cancel of goroutine " + std::to_string(g->id) + ")";
  return true;
}

}  // namespace circuit::detail
