// Unit tests of runtime/cluster/src/link/link*.cpp: TLS 1.3 peer links
// keyed from the cluster key, on loopback, and 9P over them.
#include "circuit/cluster/link.hpp"

#include <fcntl.h>

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <optional>

#include "../fixture.hpp"
#include "circuit/wire/connection.hpp"
#include "link_rig.hpp"

using namespace circuit;
using namespace circuit::cluster;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using namespace circuit::cluster::link_testing;

TEST_CASE("members with the same key shake hands and carry bytes both ways", "[link]") {
  rig r(key_of(1));
  link_context same(key_of(1));
  auto l = r.dial(same);
  REQUIRE(l.ok());
  REQUIRE(r.accepted.size() == 1);
  REQUIRE(r.accepted[0].first.ok());
  auto theirs = *r.accepted[0].first;
  CHECK(r.accepted[0].second == theirs->peer());
  CHECK((*l)->peer() == r.address());
  CHECK((*l)->suite() == "TLSv1.3 TLS_AES_128_GCM_SHA256");
  CHECK(theirs->suite() == "TLSv1.3 TLS_AES_128_GCM_SHA256");
  r.write(**l, "Tversion over TLS");
  CHECK(r.read_exactly(*theirs, 17) == "Tversion over TLS");
  r.write(*theirs, "Rversion");
  CHECK(r.read_exactly(**l, 8) == "Rversion");
}

TEST_CASE("a peer with another key fails the handshake on both ends", "[link]") {
  rig r(key_of(1));
  link_context other(key_of(2));
  auto l = r.dial(other);
  REQUIRE_FALSE(l.ok());
  CHECK(l.err().code == errc::access);
  CHECK(l.err().message.starts_with("link " + r.address() + ": handshake failed ("));
  REQUIRE(r.accepted.size() == 1);
  auto& [theirs, peer] = r.accepted[0];
  REQUIRE_FALSE(theirs.ok());
  CHECK(theirs.err().code == errc::access);
  CHECK(theirs.err().message.starts_with("link " + peer + ": handshake failed ("));
  CHECK(theirs.err().message.ends_with("): not a member with this cluster's key"));
}

TEST_CASE("plaintext to the listener fails the handshake, named by the peer's address", "[link]") {
  rig r(key_of(1));
  auto s = r.raw();
  asio::write(s, asio::buffer(std::string("Tversion 9P2000.L please\r\n\r\n")));
  r.run_until([&] { return !r.accepted.empty(); });
  auto& [theirs, peer] = r.accepted[0];
  CHECK(peer == local_address(s));
  REQUIRE_FALSE(theirs.ok());
  CHECK(theirs.err().code == errc::access);
  CHECK(theirs.err().message.starts_with("link " + local_address(s) + ": handshake failed ("));
  CHECK(r.dropped(s));
}

TEST_CASE("a dialer without the key (no PSK offered) is refused", "[link]") {
  rig r(key_of(1));
  // An ordinary TLS 1.3 client: it offers no PSK, and the listener has no
  // certificate to show it.
  asio::ssl::context plain(asio::ssl::context::tls_client);
  asio::ssl::stream<tcp::socket> s(r.raw(), plain);
  std::optional<boost::system::error_code> mine;
  s.async_handshake(asio::ssl::stream_base::client,
                    [&](boost::system::error_code ec) { mine = ec; });
  r.run_until([&] { return mine.has_value() && !r.accepted.empty(); });
  CHECK(*mine);
  REQUIRE_FALSE(r.accepted[0].first.ok());
  CHECK(r.accepted[0].first.err().code == errc::access);
}

TEST_CASE("a client that connects and never speaks is dropped at the deadline", "[link]") {
  rig r(key_of(1), link_options{.deadline = 100ms});
  auto s = r.raw();
  r.run_until([&] { return !r.accepted.empty(); });
  auto& [theirs, peer] = r.accepted[0];
  REQUIRE_FALSE(theirs.ok());
  CHECK(theirs.err().code == errc::timed_out);
  CHECK(theirs.err().message == "link " + local_address(s) + ": no handshake within 0.1s; dropped");
  CHECK(r.dropped(s));
}

TEST_CASE("handshakes in progress are bounded: a connection over the bound ends the oldest, and a member gets in",
          "[link]") {
  rig r(key_of(1), link_options{.deadline = 2s, .max_handshakes = 8});
  std::vector<tcp::socket> silent;
  for (int i = 0; i < 100; ++i) silent.push_back(r.raw());
  r.run_until([&] { return r.accepted.size() == 1; });
  // One line for the 92 dropped (the first), not one each.
  REQUIRE_FALSE(r.accepted[0].first.ok());
  CHECK(r.accepted[0].first.err().code == errc::busy);
  CHECK(r.accepted[0].first.err().message.find("the oldest dropped to let it in (1 dropped so far)") !=
        std::string::npos);
  CHECK(r.dropped(silent[0]));
  CHECK(r.dropped(silent[91]));
  // A member with the key gets in while the last eight still wait: it
  // pushes the oldest of them out.
  link_context member(key_of(1));
  auto l = r.dial(member);
  CHECK(l.ok());
  auto served = [&] {
    std::size_t ok = 0;
    for (auto& [a, peer] : r.accepted) ok += a.ok();
    return ok;
  };
  r.run_until([&] { return served() == 1; });
}

TEST_CASE("a bad address is refused without dialing", "[link]") {
  rig r(key_of(1));
  std::optional<link_result> got;
  dial_link(r.io.get_executor(), "nowhere", r.ctx, {},
            [&](link_result l) { got.emplace(std::move(l)); });
  r.run_until([&] { return got.has_value(); });
  REQUIRE_FALSE(got->ok());
  CHECK(got->err().message == "link nowhere: not an address (host:port)");
}

TEST_CASE("a refused connection is host_unreachable, named by address", "[link]") {
  std::string address;
  {
    rig gone(key_of(1));
    address = gone.address();
  }
  rig r(key_of(1));
  std::optional<link_result> got;
  dial_link(r.io.get_executor(), address, r.ctx, {},
            [&](link_result l) { got.emplace(std::move(l)); });
  r.run_until([&] { return got.has_value(); });
  REQUIRE_FALSE(got->ok());
  CHECK(got->err().code == errc::host_unreachable);
  CHECK(got->err().message == "link " + address + ": connect: Connection refused");
}

TEST_CASE("the 9P client walks and reads a file of a real namespace over a link", "[link]") {
  circuit::test::space sp;
  auto chan = sp.mkchan("c", 1);
  REQUIRE(sp.send(chan, "hello over TLS").ok());
  rig r(key_of(1));
  link_context same(key_of(1));
  auto l = r.dial(same);
  REQUIRE(l.ok());
  REQUIRE(r.accepted[0].first.ok());
  caller peer;  // root: the relay may attach as any uid
  peer.key = std::uint64_t{3} << 32;
  std::optional<error> ended;
  auto conn =
      wire::connection::start(sp.n, peer, link_transport(*r.accepted[0].first),
                              [&](wire::connection*, std::optional<error> why) { ended = why; });
  auto c = wire::client::make(r.io.get_executor(), link_transport(*l), {});
  std::optional<std::string> text;
  c->version([&](result<std::uint32_t> m) {
    REQUIRE(m.ok());
    c->attach(0, "root", 0, "", [&](result<wire::qid> q) { REQUIRE(q.ok()); });
    c->walk(0, 1, {"h1", "channels", "c", "recv"}, [&](result<std::vector<wire::qid>> w) {
      REQUIRE(w.ok());
      CHECK(w->size() == 4);
    });
    c->lopen(1, O_RDONLY, [&](result<wire::rlopen> o) { REQUIRE(o.ok()); });
    c->read(1, 0, 4096, [&](result<std::string> d) {
      REQUIRE(d.ok());
      text = *d;
    });
  });
  r.run_until([&] { return text.has_value(); });
  CHECK(*text == "hello over TLS");
  c->close();
  r.run_until([&] { return conn->closed(); });
  CHECK_FALSE(ended.has_value());
}

TEST_CASE("a dial to a listener that never answers the handshake fails at the deadline", "[link]") {
  rig r(key_of(1));
  tcp::acceptor mute(r.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string address = "127.0.0.1:" + std::to_string(mute.local_endpoint().port());
  std::optional<link_result> got;
  int calls = 0;
  dial_link(r.io.get_executor(), address, r.ctx, link_options{.deadline = 100ms},
            [&](link_result l) {
              ++calls;
              got.emplace(std::move(l));
            });
  r.run_until([&] { return got.has_value(); });
  REQUIRE_FALSE(got->ok());
  CHECK(got->err().code == errc::host_unreachable);
  CHECK(got->err().message == "link " + address + ": no answer within 0.1s");
  r.io.restart();
  r.io.run_for(200ms);
  CHECK(calls == 1);
}

TEST_CASE("a frame over msize from a member ends its 9P connection with why", "[link]") {
  circuit::test::space sp;
  rig r(key_of(1));
  link_context same(key_of(1));
  auto l = r.dial(same);
  REQUIRE(l.ok());
  REQUIRE(r.accepted[0].first.ok());
  std::optional<std::optional<error>> ended;
  auto conn = wire::connection::start(
      sp.n, caller{}, link_transport(*r.accepted[0].first),
      [&](wire::connection*, std::optional<error> why) { ended.emplace(std::move(why)); });
  r.write(**l, std::string("\xff\xff\xff\x7f\x64\x00\x00", 7));  // size 2 GiB, Tversion
  r.run_until([&] { return ended.has_value(); });
  REQUIRE(ended->has_value());
  CHECK((*ended)->code == errc::invalid);
  CHECK(conn->closed());
}
