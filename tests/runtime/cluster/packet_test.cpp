// Unit tests of runtime/cluster/src/packet.cpp and suspicion.cpp.
#include "packet.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "suspicion.hpp"

using namespace circuit;
using namespace circuit::cluster;
using namespace std::chrono_literals;

namespace {
std::vector<wire::message> every_kind() {
  return {wire::ping{7, "h2", "h1", "10.0.0.1:7000"},
          wire::indirect_ping{0xffffffff, "h3", "10.0.0.3:7000", "h1", "10.0.0.1:7000"},
          wire::ack{1}, wire::nack{300},
          wire::alive{"h4", 0xfedcba9876543210ull, "[::1]:7000", 42},
          wire::suspect{"h4", 43, "h2"}, wire::dead{"h4", 44, "h4"}};
}
}  // namespace

TEST_CASE("every message kind comes back from its bytes as it went", "[cluster]") {
  auto ms = every_kind();
  auto bytes = wire::encode(ms);
  CHECK(bytes[0] == 1);
  auto back = wire::decode(bytes);
  REQUIRE(back.ok());
  REQUIRE(back->size() == ms.size());
  CHECK(std::get<wire::indirect_ping>((*back)[1]).seq == 0xffffffff);
  CHECK(std::get<wire::alive>((*back)[4]).id == 0xfedcba9876543210ull);
  CHECK(std::get<wire::alive>((*back)[4]).address == "[::1]:7000");
  CHECK(std::get<wire::dead>((*back)[6]).from == "h4");
  CHECK(wire::encode(*back) == bytes);
}

TEST_CASE("a state exchange comes back as it went, and a refusal with its reason", "[cluster]") {
  wire::exchange e{wire::exchange_kind::join,
                   {{"h1", 1, "a1", state::alive, 3}, {"h2", 2, "a2", state::down, 9}}, {}};
  auto back = wire::decode_exchange(wire::encode_exchange(e));
  REQUIRE(back.ok());
  REQUIRE(back->members.size() == 2);
  CHECK(back->members[1].st == state::down);
  CHECK(back->members[1].incarnation == 9);
  auto r = wire::decode_exchange(
      wire::encode_exchange({wire::exchange_kind::refused, {}, "cluster: name h2 is in use"}));
  REQUIRE(r.ok());
  CHECK(r->reason == "cluster: name h2 is in use");
}

TEST_CASE("every cut of a packet or an exchange is refused", "[cluster]") {
  auto bytes = wire::encode(every_kind());
  // A cut at a message boundary is a shorter valid packet; anywhere else, an error.
  int refused = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) refused += !wire::decode(bytes.substr(0, n)).ok();
  CHECK(refused >= int(bytes.size()) - 7);
  auto x = wire::encode_exchange({wire::exchange_kind::state, {{"h1", 1, "a1", state::alive, 3}}, {}});
  for (std::size_t n = 0; n < x.size(); ++n) {
    auto r = wire::decode_exchange(x.substr(0, n));
    CHECK(!r.ok());
    if (!r.ok()) CHECK(r.err().code == errc::invalid);
  }
  CHECK(!wire::decode_exchange(x + "z").ok());
}

TEST_CASE("numbers too large, long strings and lying counts are refused", "[cluster]") {
  CHECK(wire::decode(std::string("\x01\x03\x80\x80\x80\x80\x10", 7)).err().message ==
        "cluster: malformed packet: number too large");
  std::string longname = "\x01\x05" + std::string("\x81\x04", 2) + std::string(513, 'x');
  CHECK(wire::decode(longname).err().message == "cluster: malformed packet: string too long");
  CHECK(wire::decode_exchange(std::string("\x01\x03\xff\xff\x03", 5)).err().message ==
        "cluster: malformed packet: too many members");
  CHECK(wire::decode("\x02\x03\x01").err().message == "cluster: malformed packet: unknown version");
}

TEST_CASE("the decoders survive random mutations of valid bytes", "[cluster]") {
  std::mt19937 rng(8);
  auto packet = wire::encode(every_kind());
  auto x = wire::encode_exchange({wire::exchange_kind::push_pull,
                                  {{"h1", 1, "a1", state::alive, 3}, {"h2", 2, "a2", state::suspect, 4}}, {}});
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    auto p = i % 2 ? packet : x;
    for (int k = 1 + int(rng() % 4); k > 0; --k) {
      switch (rng() % 3) {
        case 0: p[rng() % p.size()] = char(rng()); break;
        case 1: p.erase(rng() % p.size(), 1); break;
        default: p.insert(rng() % (p.size() + 1), 1, char(rng())); break;
      }
      if (p.empty()) p = "\x01";
    }
    ok += i % 2 ? wire::decode(p).ok() : wire::decode_exchange(p).ok();
  }
  CHECK(ok < 20000);  // most mutations are caught; none crashed
}

TEST_CASE("a suspicion timeout shrinks from max toward min as members confirm it", "[cluster]") {
  manual_clock clk;
  int expired = 0;
  suspicion s(clk, "h1", 3, 1s, 6s, [&] { ++expired; });
  CHECK(s.timeout() == 6s);
  CHECK(!s.confirm("h1"));  // who raised it does not confirm it
  CHECK(s.confirm("h2"));
  CHECK(!s.confirm("h2"));  // nor does anyone twice
  CHECK(s.timeout() == 6s - std::chrono::duration_cast<clock::duration>(5s * 0.5));  // log 2 / log 4
  clk.advance(3s);
  CHECK(s.confirm("h3"));
  CHECK(s.confirm("h4"));
  CHECK(s.timeout() == 1s);  // k confirmations: min, due already
  CHECK(expired == 0);
  clk.advance(0s);
  CHECK(expired == 1);
  CHECK(!s.confirm("h5"));  // past k: nothing more to gain
}
