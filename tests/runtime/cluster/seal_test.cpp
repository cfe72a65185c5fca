// Unit tests of runtime/cluster/src/link/seal.cpp: sealed gossip packets.
#include "circuit/cluster/seal.hpp"

#include <catch2/catch.hpp>
#include <random>

using namespace circuit;
using namespace circuit::cluster;

namespace {

key32 key_of(std::uint8_t fill) {
  key32 k;
  k.fill(fill);
  return k;
}

}  // namespace

TEST_CASE("a sealed packet opens to the same bytes, and hides them", "[link]") {
  auto k = key_of(7);
  for (std::string plain : {std::string(""), std::string("ping h2 41"), std::string(1400, '\0')}) {
    std::string sealed = seal(k, plain);
    CHECK(sealed.size() == plain.size() + seal_overhead);
    CHECK(sealed[0] == 1);
    if (plain.size() > 4) CHECK(sealed.find(plain) == std::string::npos);
    auto opened = open(k, sealed);
    REQUIRE(opened.ok());
    CHECK(*opened == plain);
  }
}

TEST_CASE("the same packet sealed twice differs (a fresh nonce each time)", "[link]") {
  auto k = key_of(7);
  CHECK(seal(k, "ping") != seal(k, "ping"));
}

TEST_CASE("a packet sealed with another key does not open", "[link]") {
  auto r = open(key_of(8), seal(key_of(7), "ping"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid);
  CHECK(r.err().message == "gossip: packet not sealed with this cluster's key, or changed");
}

TEST_CASE("a change to any byte of a sealed packet is refused", "[link]") {
  auto k = key_of(7);
  std::string sealed = seal(k, "suspect h3 incarnation 9");
  for (std::size_t i = 1; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto r = open(k, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::invalid);
  }
}

TEST_CASE("a short packet, and one of another version, are refused by name", "[link]") {
  auto k = key_of(7);
  for (std::size_t n = 0; n < seal_overhead; ++n) {
    auto r = open(k, std::string(n, '\1'));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message == "gossip: packet too short to be sealed");
  }
  std::string sealed = seal(k, "ping");
  sealed[0] = 2;
  auto r = open(k, sealed);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message == "gossip: packet of seal version 2, not 1");
}

TEST_CASE("random and mutated packets never open and never crash", "[link]") {
  auto k = key_of(7);
  std::mt19937 rng(8);
  std::string sealed = seal(k, std::string(100, 'x'));
  int opened = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string p;
    if (i % 2) {
      p.resize(rng() % 200);
      for (auto& c : p) c = static_cast<char>(rng());
      if (!p.empty() && rng() % 2) p[0] = 1;
    } else {
      p = sealed.substr(0, rng() % (sealed.size() + 1));
      for (int flips = 1 + rng() % 3; flips > 0 && !p.empty(); --flips)
        p[rng() % p.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    if (p != sealed) opened += open(k, p).ok();
  }
  CHECK(opened == 0);
}
