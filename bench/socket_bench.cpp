// socket_bench — a channel message through circuitd's socket face (9P2000.L
// with the project's client, runtime/wire/client.hpp), next to a raw
// Unix-socket request/reply floor of the same shape measured in the same run.
//
// Usage: socket_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]
//
// One round trip through the socket is two pipelined batches, each one
// socket round trip (the client writes a batch in one write):
//   send: walk h1/channels/c/send, lopen O_WRONLY, write the message, clunk
//         (the clunk commits it);
//   recv: walk h1/channels/c/recv, lopen O_RDONLY, read, read (end of
//         file), clunk;
// through a channel of cap 1, so no open waits. The floor is the same two
// exchanges on a Unix stream socket (socketpair) with a server process that
// does nothing but read each batch's frames (the very bytes the client's
// batches hold, made by the project's codec) and write back the replies
// circuitd would give (also made by the codec): the cost of the socket
// and two processes, without any 9P server. Rounds of the two alternate.
//
// Output (microseconds; medians of per-round medians, with the 99th
// percentile of all round trips):
//   socket channel round trip (64 B, 5 rounds of 2000): circuit 60.1 us (p99 130.2),
//     floor 30.3 us (p99 70.1), ratio 1.98 (p99 1.86; target <= 2)
//   circuitd idle cpu: 0.00% of one cpu over 3 s (limit 1%)
// The benchmark exits 1 if circuitd's idle CPU is above 1% (harness.hpp).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "circuit/wire/client.hpp"
#include "harness.hpp"

namespace wire = circuit::wire;

namespace {

template <class T>
T must(circuit::result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.err().message);
  return std::move(*r);
}

// The circuit side: one client, driven to completion of each batch.
struct through_socket {
  boost::asio::io_context io;
  std::shared_ptr<wire::client> cl;
  std::uint32_t root = 0;

  explicit through_socket(const std::string& path) {
    wire::client::connect_unix(io.get_executor(), path, {}, [this](auto c) { cl = must(std::move(c), "connect"); });
    run_until([this] { return cl != nullptr; });
    bool ok = false;
    cl->version([&](auto m) {
      must(std::move(m), "version");
      cl->attach(root, "root", static_cast<std::uint32_t>(getuid()), "", [&](auto q) {
        must(std::move(q), "attach");
        ok = true;
      });
    });
    run_until([&] { return ok; });
  }

  template <class F>
  void run_until(F done) {
    while (!done()) {
      io.restart();
      if (io.run_one() == 0) throw std::runtime_error("the client has nothing left to do");
    }
  }

  void round_trip(const std::string& msg) {
    bool sent = false, got = false;
    std::string received;
    std::uint32_t f = cl->new_fid();
    cl->walk(root, f, {"h1", "channels", "c", "send"}, [](auto r) { must(std::move(r), "walk send"); });
    cl->lopen(f, O_WRONLY, [](auto r) { must(std::move(r), "lopen send"); });
    cl->write(f, 0, msg, [](auto r) { must(std::move(r), "write send"); });
    cl->clunk(f, [&](auto r) {
      if (!r) throw std::runtime_error("clunk send: " + r.err().message);
      sent = true;
    });
    run_until([&] { return sent; });
    std::uint32_t g = cl->new_fid();
    auto size = static_cast<std::uint32_t>(msg.size() + 4096);
    cl->walk(root, g, {"h1", "channels", "c", "recv"}, [](auto r) { must(std::move(r), "walk recv"); });
    cl->lopen(g, O_RDONLY, [](auto r) { must(std::move(r), "lopen recv"); });
    cl->read(g, 0, size, [&](auto r) { received += must(std::move(r), "read recv"); });
    cl->read(g, msg.size(), size, [&](auto r) { received += must(std::move(r), "read recv (end)"); });
    cl->clunk(g, [&](auto r) {
      if (!r) throw std::runtime_error("clunk recv: " + r.err().message);
      got = true;
    });
    run_until([&] { return got; });
    if (received != msg) throw std::runtime_error("circuit: received bytes differ from those sent");
  }
};

// The floor: the same batches' bytes on a socketpair, answered by a server
// process with the bytes circuitd would answer.
struct floor_pair {
  std::string send_batch, send_reply, recv_batch, recv_reply;
  int fd = -1;
  pid_t server = 0;

  explicit floor_pair(const std::string& msg) {
    auto q = wire::qid{};
    std::uint32_t root = 0, f = 1;
    auto count = static_cast<std::uint32_t>(msg.size() + 4096);
    std::vector<std::string> send_path{"h1", "channels", "c", "send"}, recv_path{"h1", "channels", "c", "recv"};
    wire::encode_to(send_batch, 1, wire::twalk{root, f, send_path});
    wire::encode_to(send_batch, 2, wire::tlopen{f, O_WRONLY});
    wire::encode_to(send_batch, 3, wire::twrite{f, 0, msg});
    wire::encode_to(send_batch, 4, wire::tclunk{f});
    wire::encode_to(send_reply, 1, wire::rwalk{{q, q, q, q}});
    wire::encode_to(send_reply, 2, wire::rlopen{q, 0});
    wire::encode_to(send_reply, 3, wire::rwrite{static_cast<std::uint32_t>(msg.size())});
    wire::encode_to(send_reply, 4, wire::rclunk{});
    wire::encode_to(recv_batch, 5, wire::twalk{root, f, recv_path});
    wire::encode_to(recv_batch, 6, wire::tlopen{f, O_RDONLY});
    wire::encode_to(recv_batch, 7, wire::tread{f, 0, count});
    wire::encode_to(recv_batch, 8, wire::tread{f, msg.size(), count});
    wire::encode_to(recv_batch, 9, wire::tclunk{f});
    wire::encode_to(recv_reply, 5, wire::rwalk{{q, q, q, q}});
    wire::encode_to(recv_reply, 6, wire::rlopen{q, 0});
    wire::encode_to(recv_reply, 7, wire::rread{msg});
    wire::encode_to(recv_reply, 8, wire::rread{""});
    wire::encode_to(recv_reply, 9, wire::rclunk{});
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) bench::fail("socketpair");
    server = fork();
    if (server < 0) bench::fail("fork");
    if (server == 0) {  // system calls only: the parent has threads
      close(sv[0]);
      for (;;) {
        if (!exchange(sv[1], send_batch.size(), send_reply)) _exit(0);
        if (!exchange(sv[1], recv_batch.size(), recv_reply)) _exit(0);
      }
    }
    close(sv[1]);
    fd = sv[0];
  }
  ~floor_pair() {
    close(fd);  // the server reads end of file and exits
    waitpid(server, nullptr, 0);
  }

  // Reads a batch of `in` bytes, then writes `out`; false at end of file.
  static bool exchange(int fd, std::size_t in, const std::string& out) {
    char buf[1 << 17];
    for (std::size_t got = 0; got < in;) {
      ssize_t n = read(fd, buf, std::min(sizeof buf, in - got));
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size());
  }

  void round_trip() {
    ask(send_batch, send_reply.size());
    ask(recv_batch, recv_reply.size());
  }

  void ask(const std::string& batch, std::size_t answer) {
    if (write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) bench::fail("floor write");
    char buf[1 << 17];
    for (std::size_t got = 0; got < answer;) {
      ssize_t n = read(fd, buf, std::min(sizeof buf, answer - got));
      if (n <= 0) bench::fail("floor read");
      got += static_cast<std::size_t>(n);
    }
  }
};

struct figures {
  std::vector<double> round_medians, samples;
  double us() const { return bench::median(round_medians) * 1e6; }
  double p99_us() const { return bench::p99(samples) * 1e6; }
  template <class F>
  void round(int iters, F trip) {
    std::vector<double> s(iters);
    for (auto& x : s) {
      auto began = std::chrono::steady_clock::now();
      trip();
      x = bench::seconds_since(began);
    }
    round_medians.push_back(bench::median(s));
    samples.insert(samples.end(), s.begin(), s.end());
  }
};

int body(int argc, char** argv) {
  int rounds = 5, iters = 2000, size = 64, warmup = 300;
  bench::parse_counts(argc, argv, "socket_bench CIRCUITD [--rounds N] [--iters N] [--size BYTES]",
                      {{"--rounds", &rounds}, {"--iters", &iters}, {"--size", &size}});
  if (size > (1 << 16)) throw std::runtime_error("--size is at most 65536");
  auto daemon = bench::server::circuitd_with_socket(argv[1], "h1");
  std::string chan = daemon.mount() + "/h1/channels/c";
  if (mkdir(chan.c_str(), 0755) != 0) bench::fail("mkdir " + chan);
  bench::write_file(chan + "/cap", "1\n");

  std::string msg(size, 'm');
  for (int i = 0; i < size; ++i) msg[i] = 'a' + i % 26;
  through_socket circuit(daemon.socket());
  floor_pair floor(msg);
  for (int i = 0; i < warmup; ++i) circuit.round_trip(msg), floor.round_trip();
  figures c, f;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      c.round(iters, [&] { circuit.round_trip(msg); });
      f.round(iters, [&] { floor.round_trip(); });
    } else {
      f.round(iters, [&] { floor.round_trip(); });
      c.round(iters, [&] { circuit.round_trip(msg); });
    }
  }
  printf("socket channel round trip (%d B, cap 1, %d rounds of %d): circuit %.1f us (p99 %.1f), "
         "floor %.1f us (p99 %.1f), ratio %.2f (p99 %.2f; target <= 2)\n",
         size, rounds, iters, c.us(), c.p99_us(), f.us(), f.p99_us(), c.us() / f.us(), c.p99_us() / f.p99_us());
  printf("  per-round medians (us): circuit [%s] floor [%s]\n", bench::list_us(c.round_medians).c_str(),
         bench::list_us(f.round_medians).c_str());
  return bench::idle_cpu_ok(daemon.pid()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return bench::main(argc, argv, body); }
