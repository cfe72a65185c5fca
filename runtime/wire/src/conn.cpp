// conn.cpp — the client, one request at a time.
#include "circuit/wire/conn.hpp"
#include "circuit/wire/turn.hpp"

#include <boost/asio/post.hpp>

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "circuit/core/dir.hpp"

namespace circuit::wire {

// Every channel call splits its path; without a stringstream, whose
// construction (and locale) was most of what splitting cost.
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> names;
  for (std::size_t at = 0; at < path.size();) {
    std::size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    if (end > at) names.emplace_back(path, at, end - at);
    at = end + 1;
  }
  return names;
}

std::string default_socket(const std::string& host) {
  if (host.empty())
    if (const char* env = std::getenv("CIRCUIT_SOCKET"); env && *env) return env;
  std::string name = host;
  if (name.empty())
    if (const char* h = std::getenv("CIRCUIT_HOST"); h && *h) name = h;
  if (name.empty()) {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    name = check_name("name", buf) ? buf : "local";  // as circuitd names itself
  }
  return "/run/circuit/" + name + ".sock";
}

template <class T, class F>
result<T> conn::wait(F issue, duration within) {
  std::optional<result<T>> out;
  client_->set_deadline(within);
  issue([&out](result<T> r) { out.emplace(std::move(r)); });
  client_->set_deadline({});
  run_until([&out] { return out.has_value(); });
  return std::move(*out);
}

void conn::interrupt() {
  boost::asio::post(io_, [cl = client_] { cl->interrupt_all(); });
}

// The requests made since the last wait leave now (sent_by_owner), the
// write's completion at the end of this turn rather than posted.
void conn::send_queued() {
  turn t;
  client_->write_queued();
}

conn::conn() : spin_(spin_window_from_env("CIRCUIT_SPIN", default_program_spin_window)) {}

namespace {
thread_local std::function<void()> next_wait;

void about_to_wait() {
  if (!next_wait) return;
  auto f = std::exchange(next_wait, nullptr);
  f();
}
}  // namespace

void conn::before_next_wait(std::function<void()> f) { next_wait = std::move(f); }

void conn::run_until(const std::function<bool()>& done) {
  if (!done()) about_to_wait();
  while (!done()) {
    if (io_.stopped()) io_.restart();
    send_queued();
    spin_.run_one(io_);
  }
}

bool conn::run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point until) {
  if (!done()) about_to_wait();
  while (!done()) {
    if (io_.stopped()) io_.restart();
    send_queued();
    if (spin_.run_one(io_, until) == 0 && std::chrono::steady_clock::now() >= until) return done();
  }
  return true;
}

result<std::unique_ptr<conn>> conn::open(const std::string& socket) {
  std::unique_ptr<conn> c(new conn());
  std::optional<result<std::shared_ptr<client>>> cl;
  client::options opts;
  opts.sent_by_owner = true;  // run_until sends them
  client::connect_unix(c->io_.get_executor(), socket, opts, [&cl](auto r) { cl.emplace(std::move(r)); });
  about_to_wait();
  while (!cl) c->io_.run_one();
  if (!*cl) return cl->err();
  c->client_ = **cl;
  // Version and attach leave together: the server takes the attach once
  // the version has made the session (an attach is smaller than any msize).
  const passwd* pw = getpwuid(getuid());
  std::string uname = pw ? pw->pw_name : "nobody";
  batch b;
  c->client_->version(b.on<result<std::uint32_t>>("version"));
  c->root_ = c->client_->new_fid();
  c->client_->attach(c->root_, uname, getuid(), "", b.on<result<qid>>("attach"));
  c->finish(b);
  if (b.failed) return *b.failed;
  return c;
}

result<std::uint32_t> conn::walk(const std::vector<std::string>& names) {
  std::uint32_t fid = client_->new_fid();
  std::uint32_t from = root_;
  std::size_t at = 0;
  do {
    std::size_t n = std::min<std::size_t>(max_walk, names.size() - at);
    std::vector<std::string> step(names.begin() + at, names.begin() + at + n);
    auto q = wait<std::vector<qid>>(
        [&](auto done) { client_->walk(from, fid, step, std::move(done)); });
    if (q && q->size() < n) q = make_error(errc::not_found, "No such file or directory");
    if (!q) {
      if (from == fid) (void)clunk(fid);  // walked part of the way: let go
      else client_->release_fid(fid);
      return q.err();
    }
    from = fid;
    at += n;
  } while (at < names.size());
  return fid;
}

result<rlopen> conn::lopen(std::uint32_t fid, std::uint32_t flags, duration within) {
  return wait<rlopen>([&](auto done) { client_->lopen(fid, flags, std::move(done)); }, within);
}

result<std::string> conn::read(std::uint32_t fid, std::uint64_t offset, duration within) {
  return wait<std::string>(
      [&](auto done) { client_->read(fid, offset, client_->msize() - rread_overhead, std::move(done)); },
      within);
}

result<std::uint32_t> conn::write(std::uint32_t fid, std::uint64_t offset, std::string data) {
  return wait<std::uint32_t>(
      [&](auto done) { client_->write(fid, offset, std::move(data), std::move(done)); });
}

result<void> conn::clunk(std::uint32_t fid) {
  return wait<void>([&](auto done) { client_->clunk(fid, std::move(done)); });
}

result<void> conn::remove(std::uint32_t fid) {
  return wait<void>([&](auto done) { client_->remove(fid, std::move(done)); });
}

result<std::vector<dirent>> conn::readdir(std::uint32_t fid, std::uint64_t offset) {
  return wait<std::vector<dirent>>([&](auto done) {
    client_->readdir(fid, offset, client_->msize() - rread_overhead, std::move(done));
  });
}

result<rgetattr> conn::getattr(std::uint32_t fid) {
  return wait<rgetattr>(
      [&](auto done) { client_->getattr(fid, getattr_all, std::move(done)); });
}

result<qid> conn::mkdir(std::uint32_t dfid, const std::string& name, std::uint32_t mode) {
  return wait<qid>(
      [&](auto done) { client_->mkdir(dfid, name, mode, getgid(), std::move(done)); });
}

result<void> conn::rmdir(std::uint32_t dfid, const std::string& name) {
  return wait<void>(
      [&](auto done) { client_->unlinkat(dfid, name, at_removedir, std::move(done)); });
}

result<rlcreate> conn::create(std::uint32_t dfid, const std::string& name, std::uint32_t flags,
                              std::uint32_t mode) {
  return wait<rlcreate>(
      [&](auto done) { client_->lcreate(dfid, name, flags, mode, getgid(), std::move(done)); });
}

result<void> conn::unlink(std::uint32_t dfid, const std::string& name) {
  return wait<void>([&](auto done) { client_->unlinkat(dfid, name, 0, std::move(done)); });
}

result<void> conn::fsync(std::uint32_t fid) {
  return wait<void>([&](auto done) { client_->fsync(fid, std::move(done)); });
}

std::uint32_t conn::walk_into(batch& b, const std::vector<std::string>& names) {
  if (names.size() > max_walk) {
    auto fid = walk(names);
    auto mark = b.on_walk(0);
    if (!fid) {
      mark(fid.err());
      return client_->new_fid();  // unknown to the server: what follows fails, after the walk
    }
    mark(std::vector<qid>{});
    return *fid;
  }
  std::uint32_t fid = client_->new_fid();
  client_->walk(root_, fid, names, b.on_walk(names.size()));
  return fid;
}

result<std::string> conn::read_rest(std::uint32_t fid, std::string all) {
  for (;;) {
    auto part = read(fid, all.size());
    if (!part) return part.err();
    if (part->empty()) return all;
    all += *part;
  }
}

result<std::string> conn::slurp(const std::vector<std::string>& names) {
  std::uint32_t count = client_->msize() - rread_overhead;
  batch b;
  std::uint32_t fid = walk_into(b, names);
  std::optional<result<std::string>> first;
  client_->lopen(fid, o_rdonly, b.on<result<rlopen>>("open"));
  client_->read(fid, 0, count, b.keep("read", first));
  finish(b);
  if (b.failed) {
    if (b.walked)
      (void)clunk(fid);
    else
      client_->release_fid(fid);
    return *b.failed;
  }
  std::string all = std::move(**first);
  batch end;
  std::optional<result<std::string>> more;
  if (!all.empty()) client_->read(fid, all.size(), count, end.keep("read", more));
  client_->clunk(fid, end.on<result<void>>("clunk"));
  finish(end);
  if (end.failed) return *end.failed;
  if (!more || (*more)->empty()) return all;
  // Longer than one read: all of it, from a new walk.
  auto again = walk(names);
  if (!again) return again.err();
  auto o = lopen(*again, o_rdonly);
  auto r = o ? read_rest(*again, {}) : result<std::string>(o.err());
  auto c = clunk(*again);
  if (!r) return r.err();
  if (!c) return c.err();
  return r;
}

result<void> conn::put(const std::vector<std::string>& names, std::string data) {
  batch b;
  std::uint32_t fid = walk_into(b, names);
  client_->lopen(fid, o_wronly, b.on<result<rlopen>>("open"));
  client_->write(fid, 0, std::move(data), b.on<result<std::uint32_t>>("write"));
  client_->clunk(fid, b.on<result<void>>("clunk"));
  finish(b);
  if (b.failed) return *b.failed;
  return {};
}

}  // namespace circuit::wire
