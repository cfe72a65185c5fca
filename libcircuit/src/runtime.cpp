// runtime.cpp — connections per thread, chans decoded from JSON, and the
// channels a program makes.
#include "circuit/runtime.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <unordered_map>

#include "circuit/errors.hpp"
#include "program.hpp"
#include "runtime_impl.hpp"
#include "session.hpp"

namespace circuit {

namespace {

std::atomic<std::uint64_t> next_runtime{1};
std::atomic<runtime*> newest{nullptr};  // chans decode into it by default
thread_local runtime* decoding_into = nullptr;

// Each thread's sessions, by runtime id: a thread's calls use its own
// connection, and a thread's connections close when it ends.
thread_local std::unordered_map<std::uint64_t, std::unique_ptr<detail::session>> sessions;

// In a worker, on its daemon's socket, the host is the one its daemon
// named (CIRCUIT_HOST, the first name of CIRCUIT_WORKER's path): no round
// trip to ask /sysname.
std::optional<std::string> worker_host(const std::string& socket) {
  const char* host = std::getenv("CIRCUIT_HOST");
  const char* worker = std::getenv("CIRCUIT_WORKER");
  if (!socket.empty() || !host || !*host || !worker) return std::nullopt;
  std::string prefix = "/" + std::string(host) + "/workers/";
  if (std::string(worker).rfind(prefix, 0) != 0) return std::nullopt;
  return std::string(host);
}

std::string unique_name() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "chan-%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

namespace detail {

decoding::decoding(runtime* rt) : prev_(decoding_into) { decoding_into = rt; }
decoding::~decoding() { decoding_into = prev_; }

runtime& decoding_runtime() {
  runtime* rt = decoding_into ? decoding_into : newest.load();
  if (!rt) throw_error(EINVAL, "chan: a chan crosses as its path, and needs a circuit::runtime to open it");
  return *rt;
}

}  // namespace detail

runtime::runtime(int argc, char** argv) : runtime(std::string()) {
  if (spawned_run(argc, argv)) return;  // never: it exits
  // In a worker, the program's goroutines and files appear in its directory.
  if (std::getenv("CIRCUIT_WORKER")) detail::program::get().start(*this, "main");
}

runtime::runtime(const std::string& socket) : impl_(std::make_unique<impl>(next_runtime++)) {
  impl_->socket = socket.empty() ? wire::default_socket() : socket;
  auto& c = session().conn();
  if (auto h = worker_host(socket)) {
    impl_->host = *h;
  } else {
    auto name = c.slurp({"sysname"});
    if (!name) session().fail(name.err(), "runtime", "/sysname", true);
    impl_->host = *name;
  }
  while (!impl_->host.empty() && impl_->host.back() == '\n') impl_->host.pop_back();
  newest.store(this);
}

runtime::~runtime() {
  clean_up();
  runtime* self = this;
  newest.compare_exchange_strong(self, nullptr);
  sessions.erase(impl_->id);
}

const std::string& runtime::host() const { return impl_->host; }

detail::session& runtime::session() {
  auto& s = sessions[impl_->id];
  if (s && !s->conn().connected()) s.reset();  // the daemon went: connect again
  if (!s) s = std::make_unique<detail::session>(impl_->socket);
  return *s;
}

std::vector<std::string> runtime::hosts() {
  auto& s = session();
  auto m = s.conn().slurp({"members"});
  if (!m) s.fail(m.err(), "hosts", "/members", true);
  // Lines of "NAME ID ADDRESS STATE" (circuit(4)); a host declared down
  // stays listed a while, and has nothing to offer.
  std::vector<std::string> names;
  std::istringstream lines(*m);
  std::string name, id, address, state;
  while (lines >> name >> id >> address >> state)
    if (state != "down") names.push_back(name);
  return names;
}

std::string runtime::make_channel(const std::string& name, int cap) {
  std::string n = name.empty() ? unique_name() : name;
  std::string path = "/" + impl_->host + "/channels/" + n;
  if (cap < 0) throw_error(EINVAL, "make_chan: " + path + ": cap " + std::to_string(cap) + " is negative");
  make_held({impl_->host, "channels"}, n, "make_chan");
  auto& s = session();
  if (cap > 0)
    if (auto r = s.conn().put({impl_->host, "channels", n, "cap"}, std::to_string(cap) + "\n"); !r)
      s.fail(r.err(), "make_chan", path + "/cap", true);
  return path;
}

std::string runtime::find_channel(const std::string& path) {
  auto names = detail::names_of(path, "open_chan");
  auto& s = session();
  auto& c = s.conn();
  auto fid = c.walk(names);
  if (!fid) {
    if (fid.err().code == errc::not_found) throw_error(ENOENT, "open_chan: " + path + ": no such channel");
    s.fail(fid.err(), "open_chan", path, false);
  }
  (void)c.clunk(*fid);
  return detail::path_of(names);
}

}  // namespace circuit
