// member_remote: a fid only walked to (not opened) on a link that is gone
// is walked to again from the member's top on the next link, as its walker
// — stepped on a manual clock, against a link answered by hand.
#include "member_remote_rig.hpp"

using namespace member_remote_testing;

TEST_CASE(
    "a fid only walked to is walked to again on the next link, as its walker, and the request goes "
    "on",
    "[cluster]") {
  fixture f;
  f.who.uid = 1000;
  f.m->set_link(f.link);
  std::uint32_t top = f.walk_to({});
  outcome<remote_walk> w;  // on, from that fid: the path adds up
  f.m->walk(f.who, top, {"channels", "c"}, walk_needs::qids, w.op);
  f.link->answer();
  std::uint32_t c = *(*w.r)->fid;
  f.m->set_down(true);  // the member is down, then back
  f.m->set_down(false);
  f.m->lost_link();
  auto again = std::make_shared<held_link>();
  f.m->set_link(again);
  // Two requests on it at once: each walks, one walk's fid is let go.
  outcome<std::vector<dir_entry>> r1, r2;
  f.m->readdir(c, 0, r1.op);
  f.m->readdir(c, 0, r2.op);
  REQUIRE(again->walks.size() == 2);
  CHECK(!again->walks[0].first);  // from the top
  CHECK(again->walks[0].second == std::vector<std::string>{"channels", "c"});
  CHECK(again->walkers[0] == 1000);
  again->answer();  // the first walk: its readdir goes out
  again->answer();  // the second: its fid is let go, its readdir goes out too
  CHECK(again->clunked == 1);
  again->answer();
  again->answer();
  REQUIRE(r1.r);
  REQUIRE(r2.r);
  CHECK(*r1.r);
  CHECK(*r2.r);
  CHECK(again->walks.size() == 2);  // walked once more each, not per request after
  outcome<std::vector<dir_entry>> r3;
  f.m->readdir(c, 0, r3.op);
  CHECK(again->walks.size() == 2);
  again->answer();
  CHECK(*r3.r);
  // The top fid too, with no names.
  outcome<attr> t;
  f.m->getattr(top, t.op);
  REQUIRE(again->walks.size() == 3);
  CHECK(again->walks[2].second.empty());
  again->answer();
  again->answer();
  CHECK(*t.r);
}

TEST_CASE("a fid only walked to, gone from the member by the next link, fails with not found",
          "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  std::uint32_t c = f.walk_to({"channels", "c"});
  f.m->lost_link();
  auto again = std::make_shared<held_link>();
  again->missing = "c";
  f.m->set_link(again);
  outcome<attr> r;
  f.m->getattr(c, r.op);
  again->answer();
  REQUIRE(r.r);
  CHECK(r.code() == errc::not_found);
  CHECK(r.r->err().message == "/h2/channels/c: gone since the link was made again");
}

TEST_CASE("a fid only walked to, stale, waits for a link; its clunk leaves nothing to do",
          "[cluster]") {
  fixture f;
  bool wanted = false;
  f.m->on_wanted([&] { wanted = true; });
  f.m->set_link(f.link);
  std::uint32_t c = f.walk_to({"channels"});
  f.m->lost_link();
  outcome<attr> r;
  f.m->getattr(c, r.op);
  CHECK(wanted);
  CHECK(!r.r);  // waits for the next link
  auto again = std::make_shared<held_link>();
  f.m->set_link(again);
  again->answer();
  again->answer();
  REQUIRE(r.r);
  CHECK(*r.r);
  f.m->lost_link();
  outcome<void> k;
  f.m->clunk(c, k.op);
  REQUIRE(k.r);
  CHECK(*k.r);
}

TEST_CASE(
    "a request on a link that went silent fails at once with host unreachable, and so do later "
    "ones until a link",
    "[cluster]") {
  fixture f;
  bool wanted = false;
  f.m->on_wanted([&] { wanted = true; });
  f.m->set_link(f.link);
  std::uint32_t fid = f.walk_to({"channels", "c", "recv"});
  outcome<std::string> parked;
  f.m->read(fid, 0, 100, parked.op);
  // The link's kernel gave up on the peer (TCP_USER_TIMEOUT): its client
  // fails what was pending with timed_out, then says the link dropped.
  f.link->up = false;
  f.link->fail_reads = make_error(errc::timed_out, "9p: connection lost: Connection timed out");
  f.link->answer();
  REQUIRE(parked.r);  // not held for a verdict: the silence was the wait
  CHECK(parked.code() == errc::host_unreachable);
  CHECK(parked.r->err().message == "host unreachable: h2 (the link went silent)");
  f.m->lost_link();
  outcome<remote_walk> w;  // no wait of its own
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::qids, w.op);
  REQUIRE(w.r);
  CHECK(w.code() == errc::host_unreachable);
  CHECK(wanted);
  outcome<remote_walk> e;  // the error file says so, here
  f.m->walk(f.who, std::nullopt, {"error"}, walk_needs::qids, e.op);
  REQUIRE(e.r);
  REQUIRE(*e.r);
  outcome<std::string> text;
  f.m->read(*(*e.r)->fid, 0, 200, text.op);
  CHECK(**text.r == "host unreachable: h2 (no link since the link timeout; trying again)\n");
  auto again = std::make_shared<held_link>();
  f.m->set_link(again);
  f.link = again;
  CHECK(f.walk_to({"channels"}) > 0);
}
