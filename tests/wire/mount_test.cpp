// Unit tests of runtime/wire/src/mount.cpp and mount_walk.cpp: a mount over
// the client, against the small server of test_server.hpp.
#include "circuit/wire/mount.hpp"

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>

#include "client_rig.hpp"

using namespace circuit;
using namespace circuit::wire;
using namespace std::chrono_literals;
using test::rig;

// wire::mount with a top: the subtree starts below the server's root (a
// cluster member's directory is its host's).
TEST_CASE("a mount with a top walks each uid's attach there once, and from there on") {
  rig t;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms, std::vector<std::string>{"d"});
  principal who{1000, 1000, {}};
  std::optional<result<remote_walk>> w;
  m->walk(who, std::nullopt, {}, walk_needs::attributes, make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
  t.run_until([&] { return w.has_value(); });
  REQUIRE(*w);
  REQUIRE((*w)->fid);
  std::optional<result<attr>> a;
  m->getattr(*(*w)->fid, make_op<attr>([&](result<attr> r) { a = std::move(r); }));
  t.run_until([&] { return a.has_value(); });
  REQUIRE(*a);
  CHECK((*a)->is_dir);
  std::size_t walks = 0;
  for (auto& f : t.server.received)
    if (auto* tw = std::get_if<twalk>(&f.message); tw && tw->wnames == std::vector<std::string>{"d"}) ++walks;
  CHECK(walks == 1);
  // Below the top: names are the subtree's, and the server's root is not reached.
  std::optional<result<remote_walk>> a_from_top;
  m->walk(who, std::nullopt, {"a"}, walk_needs::attributes, make_op<remote_walk>([&](result<remote_walk> r) { a_from_top = std::move(r); }));
  t.run_until([&] { return a_from_top.has_value(); });
  CHECK(!*a_from_top);
}

TEST_CASE("a mount's walk asks for the last name's attributes only for a caller that needs them") {
  rig t;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms);
  principal who{1000, 1000, {}};
  auto getattrs = [&] {
    return std::count_if(t.server.received.begin(), t.server.received.end(),
                         [](auto& f) { return std::holds_alternative<tgetattr>(f.message); });
  };
  for (auto needs : {walk_needs::attributes, walk_needs::qids}) {
    auto before = getattrs();
    std::optional<result<remote_walk>> w;
    m->walk(who, std::nullopt, {"a"}, needs, make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
    t.run_until([&] { return w.has_value(); });
    REQUIRE(*w);
    REQUIRE((*w)->walked.size() == 1);
    REQUIRE((*w)->fid);
    if (needs == walk_needs::attributes) {
      CHECK(getattrs() == before + 1);
      CHECK((*w)->walked[0].perm == 0644);  // the server's mode
    } else {
      CHECK(getattrs() == before);
      CHECK((*w)->walked[0].perm == 0440);  // what a qid alone says
    }
    CHECK((*w)->walked[0].ino != 0);
    bool gone = false;
    m->clunk(*(*w)->fid, make_op<void>([&](result<void>) { gone = true; }));
    t.run_until([&] { return gone; });
  }
}

TEST_CASE("a mount whose top the server does not have fails its walks with the path in the words") {
  rig t;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms, std::vector<std::string>{"nosuch"});
  std::optional<result<remote_walk>> w;
  m->walk(principal{1000, 1000, {}}, std::nullopt, {}, walk_needs::attributes, make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
  t.run_until([&] { return w.has_value(); });
  REQUIRE(!*w);
  CHECK(w->err().message.find("/nosuch") != std::string::npos);
}
