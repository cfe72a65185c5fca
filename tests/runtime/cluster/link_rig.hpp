// link_rig.hpp — a member listening for links on a loopback port, and a
// loop to dial it and move bytes over its links, for the link tests.
#pragma once

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "circuit/cluster/link.hpp"

namespace circuit::cluster::link_testing {

using namespace std::chrono_literals;
namespace asio = boost::asio;

inline cluster_key key_of(std::uint8_t fill) {
  cluster_key k;
  k.bytes.fill(fill);
  return k;
}

using link_result = result<std::shared_ptr<peer_link>>;

// A member listening on a loopback port, and a loop to dial it from.
struct rig {
  asio::io_context io;
  link_context ctx;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<std::pair<link_result, std::string>> accepted;
  std::vector<std::shared_ptr<peer_link>> links;  // closed at the end

  explicit rig(cluster_key k, link_options opts = {}) : ctx(k) {
    accept_links(acceptor, ctx, opts, [this](link_result l, std::string peer) {
      if (l) links.push_back(*l);
      accepted.emplace_back(std::move(l), std::move(peer));
    });
  }
  ~rig() {
    acceptor.close();
    for (auto& l : links) l->close();
    io.restart();
    io.run_for(2s);  // returns as soon as the closed handshakes have finished
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }

  // Runs the loop until `done` holds (bounded: a broken link fails the
  // test rather than hanging it).
  template <class F>
  void run_until(F done) {
    for (int i = 0; i < 10000 && !done(); ++i) {
      if (io.stopped()) io.restart();
      io.run_one_for(1ms);
    }
    REQUIRE(done());
  }

  link_result dial(link_context& from) {
    std::optional<link_result> got;
    int calls = 0;
    dial_link(io.get_executor(), address(), from, {}, [&](link_result l) {
      ++calls;
      if (l) links.push_back(*l);
      got.emplace(std::move(l));
    });
    run_until([&] { return got.has_value() && !accepted.empty(); });
    CHECK(calls == 1);
    return *got;
  }

  // A plain TCP connection to the listener, for peers that do not speak TLS.
  tcp::socket raw() {
    tcp::socket s(io);
    s.connect(acceptor.local_endpoint());
    return s;
  }

  std::string read_exactly(peer_link& l, std::size_t n) {
    std::string got(n, '\0');
    std::size_t have = 0;
    while (have < n) {
      std::optional<boost::system::error_code> done;
      l.async_read_some(asio::buffer(got.data() + have, n - have),
                        [&](boost::system::error_code ec, std::size_t k) {
                          done = ec;
                          have += k;
                        });
      run_until([&] { return done.has_value(); });
      REQUIRE_FALSE(*done);
    }
    return got;
  }

  void write(peer_link& l, const std::string& data) {
    std::optional<boost::system::error_code> done;
    l.async_write(asio::buffer(data),
                  [&](boost::system::error_code ec, std::size_t) { done = ec; });
    run_until([&] { return done.has_value(); });
    REQUIRE_FALSE(*done);
  }

  // Whether the listener hung up on `s` (it reads to the end).
  bool dropped(tcp::socket& s) {
    std::optional<boost::system::error_code> done;
    auto buf = std::make_shared<std::string>(4096, '\0');
    std::function<void()> next = [&, buf] {
      s.async_read_some(asio::buffer(*buf), [&](boost::system::error_code ec, std::size_t) {
        if (ec) return void(done = ec);
        next();
      });
    };
    next();
    run_until([&] { return done.has_value(); });
    return true;
  }
};

inline std::string local_address(const tcp::socket& s) {
  return "127.0.0.1:" + std::to_string(s.local_endpoint().port());
}

}  // namespace circuit::cluster::link_testing
