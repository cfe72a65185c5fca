// The cluster's members in the tree: a member's directory comes and goes
// with its events, and `members` is the membership's text.
#include <catch2/catch.hpp>

#include "../fixture.hpp"
#include "circuit/cluster/member_remote.hpp"

using namespace circuit;
using namespace std::chrono_literals;

namespace {
std::string next_events(test::space& s, open_file* f) {
  std::optional<result<std::string>> got;
  s.n.read(*f, s.who, 0, 4096, make_op<std::string>([&](result<std::string> r) { got.emplace(std::move(r)); }));
  REQUIRE(got);
  REQUIRE(*got);
  return **got;
}
}  // namespace

TEST_CASE("a member's directory comes with join and goes with leave, and events carries the membership's lines", "[cluster]") {
  test::space s;
  manual_clock clk;
  auto events = s.open("/events", O_RDONLY);
  REQUIRE(events->result);
  open_file* f = events->result->value();
  CHECK(next_events(s, f) == "join h1\n");
  auto m = std::make_shared<cluster::member_remote>("h2", clk, 1s);
  REQUIRE(add_member(s.n, "h2", m));
  CHECK(s.n.top().child("h2") != nullptr);
  member_event(s.n, "h2", "suspect");
  member_event(s.n, "h2", "");  // a new link: no line
  member_event(s.n, "h2", "down");
  CHECK(next_events(s, f) == "join h2\nsuspect h2\ndown h2\n");
  CHECK(add_member(s.n, "h2", m).err().code == errc::exists);
  REQUIRE(remove_member(s.n, "h2"));
  CHECK(s.n.top().child("h2") == nullptr);
  CHECK(next_events(s, f) == "leave h2\n");
  CHECK(remove_member(s.n, "h2").err().code == errc::not_found);
  s.n.release(f);
}

TEST_CASE("members is the membership's text where there is one, else this host alone", "[cluster]") {
  test::space s;
  CHECK(s.text("/members").rfind("h1 ", 0) == 0);
  s.n.cfg().members = [] { return std::string("h1 1 10.0.0.1:7000 alive\nh2 2 10.0.0.2:7000 suspect\n"); };
  CHECK(s.text("/members") == "h1 1 10.0.0.1:7000 alive\nh2 2 10.0.0.2:7000 suspect\n");
}
