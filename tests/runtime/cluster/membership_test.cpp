// Unit tests of runtime/cluster (membership): real members on simnet, one
// manual clock, time stepped. Everything is seeded: each run is the same.
#include "circuit/cluster/membership.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "circuit/cluster/simnet.hpp"
#include "packet.hpp"

using namespace circuit;
using namespace circuit::cluster;
using namespace std::chrono_literals;

namespace {

// A cluster of h1..hn on simnet, recording every event as "observer: event name".
struct testnet {
  manual_clock clk;
  std::vector<std::string> events;
  std::vector<std::string> logs;
  simnet net;

  explicit testnet(simnet::options o = {})
      : net(clk, with_hooks(std::move(o))) {}
  // h1..hn on a network seeded with `seed`, started and settled.
  testnet(std::uint64_t seed, int n) : testnet(seeded(seed)) { start(n); }

  static simnet::options seeded(std::uint64_t seed) {
    simnet::options o;
    o.seed = seed;
    return o;
  }

  simnet::options with_hooks(simnet::options o) {
    o.on_event = [this](const std::string& at, std::string_view ev, const member& m) {
      events.push_back(at + ": " + std::string(ev) + " " + m.name);
    };
    o.on_log = [this](const std::string& at, std::string_view line) {
      logs.push_back(at + ": " + std::string(line));
    };
    return o;
  }

  void start(int n) {
    net.spawn("h1");
    for (int i = 2; i <= n; ++i) net.spawn("h" + std::to_string(i), {"h1"});
    clk.advance(5s);
  }
  int count(const std::string& event) const {
    int c = 0;
    for (auto& e : events) c += e.find(": " + event) != std::string::npos;
    return c;
  }
  // Steps the clock 10 ms at a time until `done()` or `limit`; the
  // seconds it took.
  template <class F>
  double step_until(F done, clock::duration limit = 30s) {
    auto start = clk.now();
    while (!done() && clk.now() - start < limit) clk.advance(10ms);
    return std::chrono::duration<double>(clk.now() - start).count();
  }
  // How many members hold `name` in state `st`.
  int holding(const std::string& name, state st, int n) {
    int c = 0;
    for (int i = 1; i <= n; ++i) {
      auto h = "h" + std::to_string(i);
      if (h == name || !net.has(h)) continue;
      auto* m = net.at(h).find(name);
      c += m && m->st == st;
    }
    return c;
  }
};

}  // namespace

TEST_CASE("members that join through one seed all come to know each other", "[cluster]") {
  testnet c;
  c.start(5);
  for (int i = 1; i <= 5; ++i) {
    auto h = "h" + std::to_string(i);
    REQUIRE(c.net.joined(h));
    CHECK(c.net.joined(h)->ok());
    auto ms = c.net.at(h).members();
    REQUIRE(ms.size() == 5);
    for (auto& m : ms) CHECK(m.st == state::alive);
  }
  CHECK(c.count("join") == 5 * 4);  // each learns each other once
  CHECK(c.count("suspect") == 0);
}

TEST_CASE("a join retries a seed that is not up yet, and says so", "[cluster]") {
  testnet c;
  c.net.spawn("h2", {"h1"});
  c.clk.advance(3s);
  CHECK(c.net.joined("h2") == nullptr);
  CHECK(!c.logs.empty());
  CHECK(c.logs.front().find("h2: cluster: join: h1 does not answer") == 0);
  c.net.spawn("h1");
  c.clk.advance(10s);
  REQUIRE(c.net.joined("h2"));
  CHECK(c.net.joined("h2")->ok());
  CHECK(c.net.at("h1").find("h2"));
}

TEST_CASE("a crashed member is declared down by every other member within the bound", "[cluster]") {
  testnet c;
  c.start(5);
  c.net.crash("h3");
  // A round of probes (4 targets), one interval, the longest suspicion
  // (6 x 2 x log10(6) x 0.5 s = 4.7 s) and gossip: under 8 s.
  c.clk.advance(8s);
  CHECK(c.holding("h3", state::down, 5) == 4);
  CHECK(c.count("down h3") == 4);
  for (int i : {1, 2, 4, 5})
    for (int j : {1, 2, 4, 5}) CHECK(c.net.at("h" + std::to_string(i)).find("h" + std::to_string(j))->st == state::alive);
}

// Steps the clock 10 ms at a time until some member declares `name`
// down; the seconds from its first suspicion to that verdict, or -1.
double suspicion_to_down(testnet& c, const std::string& name, clock::duration limit) {
  clock::time_point suspected{};
  for (auto end = c.clk.now() + limit; c.clk.now() < end; c.clk.advance(10ms)) {
    if (suspected == clock::time_point{} && c.count("suspect " + name) > 0) suspected = c.clk.now();
    if (c.count("down " + name) > 0)
      return std::chrono::duration<double>(c.clk.now() - suspected).count();
  }
  return -1;
}

TEST_CASE("the relays of the probe that raised a suspicion confirm it at once", "[cluster]") {
  // Five members: three confirmations are expected, and the relays that
  // pinged the crashed member for the first prober are three. Waiting for
  // the others' own probes instead takes seconds (the timer starts at 6 s).
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    testnet c(seed, 5);
    c.net.crash("h3");
    double t = suspicion_to_down(c, "h3", 10s);
    INFO("seed " << seed);
    CHECK(t >= 1.0);   // the floor: never under a second
    CHECK(t <= 1.25);  // the floor, and a gossip round for the confirmations
  }
}

TEST_CASE("a suspicion waits at least the suspicion floor", "[cluster]") {
  simnet::options o;
  o.tm.suspicion_floor = 3s;
  testnet c(o);
  c.start(5);
  c.net.crash("h3");
  double t = suspicion_to_down(c, "h3", 20s);
  CHECK(t >= 3.0);
  CHECK(t <= 3.25);
}

TEST_CASE("a slow member is suspected at most, refutes, and is never declared down", "[cluster]") {
  testnet c;
  c.start(5);
  c.net.slow("h3", 300ms);  // a round trip over the probe interval
  c.clk.advance(60s);
  CHECK(c.count("suspect h3") > 0);
  CHECK(c.count("down") == 0);
  CHECK(c.net.at("h3").self().incarnation > 0);  // it refuted
  c.net.slow("h3", 0ms);
  c.clk.advance(10s);
  CHECK(c.holding("h3", state::alive, 5) == 4);
}

TEST_CASE("a member stopped for a second, again and again, is never declared down", "[cluster]") {
  testnet c;
  c.start(5);
  for (int i = 0; i < 10; ++i) {  // SIGSTOP: it answers late, then refutes
    c.net.stop("h2", 1200ms);     // a second, and room for a slow resume
    c.clk.advance(5s);
  }
  CHECK(c.count("suspect h2") > 0);
  CHECK(c.count("down") == 0);
  CHECK(c.holding("h2", state::alive, 5) == 4);
}

TEST_CASE("a member whose own link loses most packets gets no one else declared down", "[cluster]") {
  testnet c;
  c.start(5);
  c.net.link_loss("h5", 0.8);
  c.clk.advance(60s);
  for (int i = 1; i <= 4; ++i) CHECK(c.count("down h" + std::to_string(i)) == 0);
  CHECK(c.net.at("h5").awareness() > 0);  // Lifeguard: it knows it is the slow one
}

TEST_CASE("a member that leaves is seen leaving by all at once", "[cluster]") {
  testnet c;
  c.start(4);
  bool done = false;
  c.net.at("h2").leave([&] { done = true; });
  c.clk.advance(500ms);
  CHECK(done);
  CHECK(c.count("leave h2") == 3);
  CHECK(c.count("down") == 0);
  for (auto h : {"h1", "h3", "h4"}) {
    CHECK(c.net.at(h).find("h2") == nullptr);
    CHECK(c.net.at(h).members().size() == 3);
  }
}

TEST_CASE("a join under a name a live member holds is refused with words", "[cluster]") {
  testnet c;
  c.start(3);
  c.net.spawn("h2", {"h1"}, "elsewhere");
  c.clk.advance(2s);
  auto* r = c.net.joined("elsewhere");
  REQUIRE(r);
  REQUIRE(!r->ok());
  CHECK(r->err().code == errc::exists);
  CHECK(r->err().message == "cluster: name h2 is in use by 2 at h2");
  CHECK(c.net.at("h1").find("h2")->address == "h2");
}

TEST_CASE("a member restarted at its address takes its name over", "[cluster]") {
  testnet c;
  c.start(4);
  auto old_id = c.net.at("h1").find("h3")->id;
  c.net.crash("h3");
  c.net.spawn("h3", {"h1"});  // at once: the others still think it alive
  c.clk.advance(10s);
  REQUIRE(c.net.joined("h3"));
  CHECK(c.net.joined("h3")->ok());
  for (auto h : {"h1", "h2", "h4"}) {
    auto* m = c.net.at(h).find("h3");
    REQUIRE(m);
    CHECK(m->id != old_id);
    CHECK(m->st == state::alive);
  }
  CHECK(c.count("alive h3") == 3);
  CHECK(c.count("down h3") == 0);
}

TEST_CASE("a member restarted after it was declared down is alive again", "[cluster]") {
  testnet c;
  c.start(4);
  c.net.crash("h3");
  c.clk.advance(10s);
  CHECK(c.holding("h3", state::down, 4) == 3);
  c.net.spawn("h3", {"h2"});
  c.clk.advance(5s);
  CHECK(c.holding("h3", state::alive, 4) == 3);
  CHECK(c.count("alive h3") == 3);
}

TEST_CASE("a down member is forgotten after forget_after, with a leave", "[cluster]") {
  simnet::options o;
  o.tm.forget_after = 10s;
  testnet c(o);
  c.start(4);
  c.net.crash("h4");
  c.clk.advance(8s);
  CHECK(c.holding("h4", state::down, 4) == 3);
  CHECK(c.count("leave h4") == 0);
  c.clk.advance(11s);
  CHECK(c.count("leave h4") == 3);
  for (auto h : {"h1", "h2", "h3"}) CHECK(c.net.at(h).find("h4") == nullptr);
}

TEST_CASE("stale gossip of a forgotten member does not bring it back; its restart does", "[cluster]") {
  simnet::options o;
  o.tm.forget_after = 10s;
  testnet c(o);
  c.start(4);
  member old = *c.net.at("h1").find("h4");
  c.net.crash("h4");
  c.clk.advance(19s);
  REQUIRE(c.count("leave h4") == 3);
  // Replayed news of it, as gossip still in flight or a packet sent again:
  // its last alive, and a suspicion of it, at its last incarnation.
  auto joins = c.count("join h4");
  auto events = c.events.size();
  c.net.inject("h2", "h1",
               wire::encode({wire::alive{old.name, old.id, old.address, old.incarnation},
                             wire::suspect{old.name, old.incarnation, "h3"}}));
  c.clk.advance(1s);
  CHECK(c.net.at("h1").find("h4") == nullptr);
  CHECK(c.events.size() == events);
  // A daemon started again under the name (a new id) is a member again.
  c.net.spawn("h4", {"h2"});
  c.clk.advance(5s);
  CHECK(c.count("join h4") == joins + 3);
  CHECK(c.holding("h4", state::alive, 4) == 3);
}

TEST_CASE("malformed packets and exchanges are counted and ignored", "[cluster]") {
  testnet c;
  c.start(3);
  const std::string bad[] = {"", "\x02", "\x01", "\x01\x09", "\x01\x01\x05", "\x01\x03\xff\xff\xff\xff\xff",
                             std::string("\x01\x05\x02h9\x01", 5)};
  for (auto& b : bad) c.net.inject("h2", "h1", b);
  c.clk.advance(1s);
  CHECK(c.net.at("h1").malformed() == std::size(bad));
  CHECK(c.net.at("h1").find("h9") == nullptr);
  auto reply = c.net.at("h1").serve_exchange("h2", "\x01\x01\x05");
  CHECK(reply.substr(0, 2) == std::string("\x01\x04", 2));  // refused
  CHECK(c.net.at("h1").malformed() == std::size(bad) + 1);
  c.clk.advance(5s);
  CHECK(c.holding("h1", state::alive, 3) == 2);
}

TEST_CASE("two members cut from each other but not from the rest are never declared down", "[cluster]") {
  testnet c;
  c.start(5);
  c.net.cut({"h1"}, {"h2"});  // indirect probes go around the cut
  c.clk.advance(60s);
  CHECK(c.count("down") == 0);
  CHECK(c.holding("h1", state::alive, 5) == 4);
  CHECK(c.holding("h2", state::alive, 5) == 4);
}

TEST_CASE("a member cut from everyone is down on all, and alive again on all after the heal", "[cluster]") {
  testnet c;
  c.start(5);
  c.net.cut({"h5"}, {"h1", "h2", "h3", "h4"});
  c.clk.advance(10s);
  CHECK(c.holding("h5", state::down, 5) == 4);
  c.net.heal();
  // Each probes the members it holds down now and then, telling them;
  // the one told refutes: no push-pull (30 s) needed.
  c.clk.advance(5s);
  CHECK(c.holding("h5", state::alive, 5) == 4);
  for (auto h : {"h1", "h2", "h3", "h4"}) CHECK(c.net.at("h5").find(h)->st == state::alive);
  CHECK(c.count("alive h5") == 4);
}

TEST_CASE("a member cut from everyone again and again is down on all within 3 s each time", "[cluster]") {
  // After a heal, the members that relayed pings to the cut one, or had
  // to refute its stale suspicions, look a little unhealthy for a while
  // (Lifeguard's awareness). A relay's nack must still come before the
  // prober's probe ends, or the prober counts it missing and looks
  // unhealthy in turn, and the next cut is called down ever later.
  for (std::uint64_t seed : {1, 2, 3}) {
    testnet c(seed, 5);
    for (int round = 0; round < 8; ++round) {
      c.net.cut({"h5"}, {"h1", "h2", "h3", "h4"});
      double down = c.step_until([&] { return c.holding("h5", state::down, 5) == 4; });
      c.net.heal();
      double alive = c.step_until([&] { return c.holding("h5", state::alive, 5) == 4; });
      INFO("seed " << seed << ", round " << round);
      CHECK(down <= 3.0);
      CHECK(alive <= 3.0);
    }
  }
}

TEST_CASE("a relay that looks unhealthy still nacks before the prober's probe ends", "[cluster]") {
  // Lifeguard stretches a member's own probe interval and timeout with its
  // awareness. Its wait for a relayed ping must not stretch: a nack that
  // comes after the prober's probe ended counts as missing, and makes the
  // healthy prober look unhealthy in turn (it then stops confirming
  // suspicions, and calls members down later).
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    testnet c(seed, 5);
    // h2 is told, again and again, that it is suspected in its current
    // life: it refutes each time, and its awareness grows.
    for (int i = 0; i < 7; ++i) {
      auto now = c.net.at("h2").self().incarnation;
      c.net.at("h2").receive("h4", wire::encode({wire::suspect{"h2", now, "h4"}}));
    }
    REQUIRE(c.net.at("h2").awareness() > 2);
    c.net.crash("h3");
    c.step_until([&] { return c.holding("h3", state::down, 5) == 4; }, 10s);
    INFO("seed " << seed);
    REQUIRE(c.holding("h3", state::down, 5) == 4);
    for (auto h : {"h1", "h4", "h5"}) CHECK(c.net.at(h).awareness() == 0);
  }
}

TEST_CASE("copies of a stale suspicion are refuted once while the refutation is gossiped",
          "[cluster]") {
  // A member back from a cut hears the suspicions raised meanwhile many
  // times over (each is gossiped by every member). Its first refutation
  // answers them all: each copy must not raise its awareness, or its
  // timers stretch and it calls the next crash down late. Once its word
  // is spent, a stale suspicion is refuted again: the suspecter may never
  // have heard it.
  testnet c(1, 5);
  auto& h2 = c.net.at("h2");
  h2.receive("h4", wire::encode({wire::suspect{"h2", 0, "h4"}}));
  REQUIRE(h2.self().incarnation == 1);
  REQUIRE(h2.awareness() == 1);
  for (int i = 0; i < 10; ++i) h2.receive("h3", wire::encode({wire::suspect{"h2", 0, "h3"}}));
  CHECK(h2.self().incarnation == 1);
  CHECK(h2.awareness() == 1);
  c.clk.advance(5s);  // the refutation is spent; successful probes lower the awareness
  h2.receive("h4", wire::encode({wire::suspect{"h2", 0, "h4"}}));
  CHECK(h2.self().incarnation == 2);
}
