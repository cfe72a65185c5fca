// client_rig.hpp — what the unit tests of the 9P client and of wire::mount
// share: a client and the small server of test_server.hpp joined by a
// socket pair on one io_context, and a slot that keeps a handler's result.
#pragma once

#include "circuit/wire/client.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "test_server.hpp"

namespace circuit::wire::test {

using namespace std::chrono_literals;

// A client and a server joined by a socket pair, on one io_context.
struct rig {
  boost::asio::io_context io;
  test_server server{io};
  std::shared_ptr<circuit::wire::client> c;

  explicit rig(circuit::wire::client::options opts = {}) {
    stream_socket mine(io);
    boost::asio::local::connect_pair(mine, server.socket());
    server.start();
    c = circuit::wire::client::make(io.get_executor(), circuit::wire::unix_transport(std::move(mine)), opts);
  }
  ~rig() {
    c->close();
    server.hang_up();
    io.restart();
    io.run_for(2s);  // returns as soon as the closed reads have finished
  }

  // Runs the loop until `done` holds (bounded: a broken client fails the
  // test rather than hanging it).
  template <class F>
  void run_until(F done) {
    for (int i = 0; i < 5000 && !done(); ++i) {
      if (io.stopped()) io.restart();  // it stops when it runs out of work
      io.run_one_for(1ms);
    }
    REQUIRE(done());
  }

  // Version only (no attach): what a wire::mount starts from.
  void version() {
    bool ok = false;
    c->version([&](circuit::result<std::uint32_t> m) {
      REQUIRE(m.ok());
      ok = true;
    });
    run_until([&] { return ok; });
  }

  // Version and attach as uid 1000 on fid 0.
  void start() {
    version();
    bool ok = false;
    c->attach(0, "me", 1000, "", [&](circuit::result<circuit::wire::qid> q) { REQUIRE(q.ok()); ok = true; });
    run_until([&] { return ok; });
  }
};

template <class T>
struct slot {
  std::optional<circuit::result<T>> r;
  int calls = 0;
  circuit::wire::handler<T> h() {
    return [this](circuit::result<T> x) {
      ++calls;
      r.emplace(std::move(x));
    };
  }
  bool done() const { return calls > 0; }
};


}  // namespace circuit::wire::test
