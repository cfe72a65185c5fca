// socket_client.cpp — see socket_client.hpp.
#include "socket_client.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <stdexcept>

namespace bench {
namespace {

namespace wire = circuit::wire;

template <class T>
T must(circuit::result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.err().message);
  return std::move(*r);
}

std::vector<std::string> path(std::vector<std::string> top, const char* end, const std::string& chan = "c") {
  top.insert(top.end(), {"channels", chan, end});
  return top;
}

// Issues `n` batches, `window` of them in flight: issue(i) sends batch i
// and calls its argument when the batch's last reply came.
template <class Issue, class Run>
void windowed(int n, int window, Issue issue, Run run_until) {
  int issued = 0, done = 0;
  std::function<void()> next = [&] {
    ++done;
    if (issued < n) issue(issued++, next);
  };
  while (issued < std::min(n, window)) issue(issued++, next);
  run_until([&] { return done == n; });
}

}  // namespace

socket_client::socket_client(const std::string& path) {
  wire::client::connect_unix(io_.get_executor(), path, {}, [this](auto c) { cl_ = must(std::move(c), "connect"); });
  run_until([this] { return cl_ != nullptr; });
  bool ok = false;
  cl_->version([&](auto m) {
    must(std::move(m), "version");
    cl_->attach(root_, "root", static_cast<std::uint32_t>(getuid()), "", [&](auto q) {
      must(std::move(q), "attach");
      ok = true;
    });
  });
  run_until([&] { return ok; });
}

template <class F>
void socket_client::run_until(F done) {
  while (!done()) {
    io_.restart();
    if (io_.run_one() == 0) throw std::runtime_error("the client has nothing left to do");
  }
}

void socket_client::round_trip(const std::string& host, const std::string& msg) {
  bool sent = false, got = false;
  std::string received;
  std::uint32_t f = cl_->new_fid();
  cl_->walk(root_, f, path({host}, "send"), [](auto r) { must(std::move(r), "walk send"); });
  cl_->lopen(f, O_WRONLY, [](auto r) { must(std::move(r), "lopen send"); });
  cl_->write(f, 0, msg, [](auto r) { must(std::move(r), "write send"); });
  cl_->clunk(f, [&](auto r) {
    if (!r) throw std::runtime_error("clunk send: " + r.err().message);
    sent = true;
  });
  run_until([&] { return sent; });
  std::uint32_t g = cl_->new_fid();
  auto size = static_cast<std::uint32_t>(msg.size() + 4096);
  cl_->walk(root_, g, path({host}, "recv"), [](auto r) { must(std::move(r), "walk recv"); });
  cl_->lopen(g, O_RDONLY, [](auto r) { must(std::move(r), "lopen recv"); });
  cl_->read(g, 0, size, [&](auto r) { received += must(std::move(r), "read recv"); });
  cl_->read(g, msg.size(), size, [&](auto r) { received += must(std::move(r), "read recv (end)"); });
  cl_->clunk(g, [&](auto r) {
    if (!r) throw std::runtime_error("clunk recv: " + r.err().message);
    got = true;
  });
  run_until([&] { return got; });
  if (received != msg) throw std::runtime_error("circuit: received bytes differ from those sent");
}

void socket_client::send_stream(const std::string& host, const std::string& chan, std::size_t size, int n,
                                int window) {
  if (size + wire::twrite_overhead > cl_->msize()) throw std::runtime_error("a message does not fit in msize");
  auto to = path({host}, "send", chan);
  windowed(n, window, [&](int i, std::function<void()>& next) {
    std::uint32_t f = cl_->new_fid();
    cl_->walk(root_, f, to, [](auto r) { must(std::move(r), "walk send"); });
    cl_->lopen(f, O_WRONLY, [](auto r) { must(std::move(r), "lopen send"); });
    cl_->write(f, 0, numbered(i, size), [size](auto r) {
      if (must(std::move(r), "write send") != size) throw std::runtime_error("write send: short count");
    });
    cl_->clunk(f, [&next](auto r) {
      if (!r) throw std::runtime_error("clunk send: " + r.err().message);
      next();
    });
  }, [this](auto done) { run_until(done); });
}

void socket_client::receive_stream(const std::string& host, const std::string& chan, std::size_t size, int n,
                                   int window) {
  auto from = path({host}, "recv", chan);
  std::uint32_t count = cl_->msize() - wire::rread_overhead;
  windowed(n, window, [&](int i, std::function<void()>& next) {
    auto got = std::make_shared<std::string>();
    std::uint32_t g = cl_->new_fid();
    cl_->walk(root_, g, from, [](auto r) { must(std::move(r), "walk recv"); });
    cl_->lopen(g, O_RDONLY, [](auto r) { must(std::move(r), "lopen recv"); });
    cl_->read(g, 0, count, [got](auto r) { *got += must(std::move(r), "read recv"); });
    cl_->read(g, size, count, [got](auto r) { *got += must(std::move(r), "read recv (end)"); });
    cl_->clunk(g, [&next, got, i, size](auto r) {
      if (!r) throw std::runtime_error("clunk recv: " + r.err().message);
      if (got->size() != size || number_of(*got) != i)
        throw std::runtime_error("receive " + std::to_string(i) + ": got " + std::to_string(got->size()) +
                                 " bytes numbered " + std::to_string(number_of(*got)));
      next();
    });
  }, [this](auto done) { run_until(done); });
}

std::string numbered(std::uint64_t seq, std::size_t size) {
  std::string m(size, 's');
  for (int b = 0; b < 8; ++b) m[b] = static_cast<char>(seq >> (8 * b));
  return m;
}

std::int64_t number_of(const std::string& msg) {
  if (msg.size() < 8) return -1;
  std::uint64_t seq = 0;
  for (int b = 0; b < 8; ++b) seq |= std::uint64_t(static_cast<unsigned char>(msg[b])) << (8 * b);
  return static_cast<std::int64_t>(seq);
}

round_trip_frames channel_frames(const std::string& msg, std::vector<std::string> top) {
  auto q = wire::qid{};
  std::uint32_t root = 0, f = 1;
  auto count = static_cast<std::uint32_t>(msg.size() + 4096);
  auto send_path = path(top, "send"), recv_path = path(top, "recv");
  std::vector<wire::qid> qids(send_path.size(), q);
  std::uint16_t tag = 0;
  round_trip_frames out;
  auto add = [&](std::vector<frame>& to, const auto& t, const auto& r) {
    frame fr;
    wire::encode_to(fr.request, ++tag, t);
    wire::encode_to(fr.reply, tag, r);
    to.push_back(std::move(fr));
  };
  add(out.send, wire::twalk{root, f, send_path}, wire::rwalk{qids});
  add(out.send, wire::tlopen{f, O_WRONLY}, wire::rlopen{q, 0});
  add(out.send, wire::twrite{f, 0, msg}, wire::rwrite{static_cast<std::uint32_t>(msg.size())});
  add(out.send, wire::tclunk{f}, wire::rclunk{});
  add(out.recv, wire::twalk{root, f, recv_path}, wire::rwalk{qids});
  add(out.recv, wire::tlopen{f, O_RDONLY}, wire::rlopen{q, 0});
  add(out.recv, wire::tread{f, 0, count}, wire::rread{msg});
  add(out.recv, wire::tread{f, msg.size(), count}, wire::rread{""});
  add(out.recv, wire::tclunk{f}, wire::rclunk{});
  return out;
}

std::string requests(const std::vector<frame>& frames) {
  std::string out;
  for (auto& f : frames) out += f.request;
  return out;
}

std::string replies(const std::vector<frame>& frames) {
  std::string out;
  for (auto& f : frames) out += f.reply;
  return out;
}

bool read_exactly(int fd, std::size_t n) {
  char buf[1 << 17];
  for (std::size_t got = 0; got < n;) {
    ssize_t r = read(fd, buf, std::min(sizeof buf, n - got));
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

void await_readable(int fd, std::chrono::nanoseconds window) {
  if (window.count() <= 0) return;
  auto until = std::chrono::steady_clock::now() + window;
  char c;
  do {
    if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 || errno != EAGAIN) return;
    sched_yield();
  } while (std::chrono::steady_clock::now() < until);
}

bool write_all(int fd, const std::string& data) {
  for (std::size_t put = 0; put < data.size();) {
    ssize_t w = write(fd, data.data() + put, data.size() - put);
    if (w <= 0) return false;
    put += static_cast<std::size_t>(w);
  }
  return true;
}

double figures::us() const { return median(round_medians) * 1e6; }
double figures::p99_us() const { return p99(samples) * 1e6; }

}  // namespace bench
