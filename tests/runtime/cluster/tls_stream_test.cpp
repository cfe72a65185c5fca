// Unit tests of runtime/cluster/src/link/tls_stream.cpp: TLS driven
// through buffers of its own — large writes batched into few sends, reads
// of any size, a peer that does not read, a peer that goes.
#include "circuit/cluster/tls_stream.hpp"

#include <atomic>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "link_rig.hpp"

using namespace circuit;
using namespace circuit::cluster;
using namespace circuit::cluster::link_testing;

namespace {

std::string noise(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

struct linked {
  rig r{key_of(3)};
  link_context same{key_of(3)};
  std::shared_ptr<peer_link> mine, theirs;
  linked() {
    auto l = r.dial(same);
    REQUIRE(l.ok());
    REQUIRE(r.accepted.size() == 1);
    REQUIRE(r.accepted[0].first.ok());
    mine = *l;
    theirs = *r.accepted[0].first;
  }
};

// Writes each of `parts` after the last completed; counts what completed.
struct writer {
  std::vector<std::string> parts;
  std::size_t next = 0, written = 0;
  std::optional<boost::system::error_code> failed;
  void start(peer_link& l) {
    if (next == parts.size()) return;
    auto& p = parts[next++];
    l.async_write(asio::buffer(p), [this, &l](boost::system::error_code ec, std::size_t n) {
      if (ec) return void(failed = ec);
      written += n;
      start(l);
    });
  }
  std::size_t total() const {
    std::size_t t = 0;
    for (auto& p : parts) t += p.size();
    return t;
  }
};

// Reads into a buffer of `chunk` bytes until `want` bytes have come.
struct reader {
  std::string got, buf;
  std::size_t want;
  std::optional<boost::system::error_code> failed;
  reader(std::size_t chunk, std::size_t want) : buf(chunk, '\0'), want(want) {}
  void start(peer_link& l) {
    if (got.size() >= want) return;
    l.async_read_some(asio::buffer(buf), [this, &l](boost::system::error_code ec, std::size_t n) {
      if (ec) return void(failed = ec);
      got.append(buf.data(), n);
      start(l);
    });
  }
};

}  // namespace

TEST_CASE("large writes both ways at once arrive whole and in order, read in any size", "[link][tls]") {
  linked k;
  writer out{{noise(1 << 20, 1), noise(1, 2), noise(300000, 3), noise(16384, 4), noise(16385, 5)}};
  writer back{{noise(2 << 20, 6), noise(777, 7)}};
  reader in(1000, out.total()), home(64 * 1024, back.total());
  out.start(*k.mine);
  back.start(*k.theirs);
  in.start(*k.theirs);
  home.start(*k.mine);
  k.r.run_until([&] {
    return (in.got.size() >= in.want && home.got.size() >= home.want) || in.failed || home.failed ||
           out.failed || back.failed;
  });
  REQUIRE_FALSE(in.failed);
  REQUIRE_FALSE(home.failed);
  k.r.run_until([&] { return out.written == out.total() && back.written == back.total(); });
  std::string sent, sent_back;
  for (auto& p : out.parts) sent += p;
  for (auto& p : back.parts) sent_back += p;
  CHECK(in.got == sent);  // not one byte more, none lost, none reordered
  CHECK(home.got == sent_back);
}

TEST_CASE("a write to a peer that never reads waits for the kernel, and fails when the link closes",
          "[link][tls]") {
  linked k;
  // Far more than both kernels' buffers hold: it cannot all be sent.
  writer out{{noise(64 << 20, 8)}};
  out.start(*k.mine);
  for (int i = 0; i < 200; ++i) k.r.io.run_one_for(1ms);
  CHECK(out.written == 0);  // not done: its records are not all on the socket
  CHECK_FALSE(out.failed);
  k.mine->close();
  k.r.run_until([&] { return out.failed.has_value(); });
  // And the next write fails at once rather than queue behind a dead one.
  std::optional<boost::system::error_code> next;
  std::string more = "more";
  k.mine->async_write(asio::buffer(more), [&](boost::system::error_code ec, std::size_t) { next = ec; });
  k.r.run_until([&] { return next.has_value(); });
  CHECK(*next);
}

TEST_CASE("a read parked on a link ends with an error when the peer goes", "[link][tls]") {
  linked k;
  reader in(4096, 1);
  in.start(*k.mine);
  for (int i = 0; i < 20; ++i) k.r.io.run_one_for(1ms);
  CHECK_FALSE(in.failed);
  k.theirs->close();
  k.r.run_until([&] { return in.failed.has_value(); });
  CHECK(in.got.empty());
}

TEST_CASE("a member that floods key updates and never reads is cut off, not answered without bound",
          "[link][tls]") {
  linked k;
  // The attacker, with the key, on a thread of its own: each byte it sends
  // comes after a KeyUpdate that asks for one back, and it reads nothing.
  asio::io_context attacker_io;
  asio::ssl::stream<tcp::socket> s(attacker_io, k.same.client());
  s.lowest_layer().open(tcp::v4());
  s.lowest_layer().set_option(asio::socket_base::receive_buffer_size(4096));  // the answers back up soon
  s.lowest_layer().connect(k.r.acceptor.local_endpoint());
  std::atomic<bool> shaken{false}, stop{false};
  std::atomic<long> sent{0};
  std::thread attacker([&] {
    boost::system::error_code ec;
    s.handshake(asio::ssl::stream_base::client, ec);
    shaken = !ec;
    while (!ec && !stop && sent < 2000000) {
      SSL_key_update(s.native_handle(), SSL_KEY_UPDATE_REQUESTED);
      asio::write(s, asio::buffer("x", 1), ec);
      if (!ec) ++sent;
    }
  });
  k.r.run_until([&] { return k.r.accepted.size() == 2; });
  REQUIRE(k.r.accepted[1].first.ok());
  auto victim = *k.r.accepted[1].first;
  reader in(64 * 1024, std::size_t(1) << 40);  // reads all it is sent, as a 9P server does
  in.start(*victim);
  auto began = std::chrono::steady_clock::now();
  while (!in.failed && std::chrono::steady_clock::now() - began < 60s) k.r.io.run_one_for(10ms);
  stop = true;
  boost::system::error_code ignored;
  s.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  attacker.join();
  INFO("key updates the attacker got through: " << sent);
  CHECK(in.failed.has_value());
}
