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

namespace {

caller user(uid_t uid, std::uint64_t session = 0) {
  caller who;
  who.uid = who.gid = uid;
  who.key = session;
  return who;
}

}  // namespace

// wire::mount with a top: the subtree starts below the server's root (a
// cluster member's directory is its host's).
TEST_CASE("a mount with a top walks each uid's attach there once, and from there on") {
  rig t;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms, std::vector<std::string>{"d"});
  caller who = user(1000);
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
  caller who = user(1000);
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
  m->walk(user(1000), std::nullopt, {}, walk_needs::attributes, make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
  t.run_until([&] { return w.has_value(); });
  REQUIRE(!*w);
  CHECK(w->err().message.find("/nosuch") != std::string::npos);
}

TEST_CASE("a mount attaches once per uid and caller session, naming the session, and lets idle attaches go") {
  rig t;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms);
  auto walk = [&](const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names) {
    std::optional<result<remote_walk>> w;
    m->walk(who, from, std::move(names), walk_needs::qids, make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
    t.run_until([&] { return w.has_value(); });
    REQUIRE(*w);
    REQUIRE((*w)->fid);
    return *(*w)->fid;
  };
  auto attaches = [&] {
    std::vector<tattach> out;
    for (auto& f : t.server.received)
      if (auto* a = std::get_if<tattach>(&f.message)) out.push_back(*a);
    return out;
  };
  auto clunk = [&](std::uint32_t fid) {
    bool done = false;
    m->clunk(fid, make_op<void>([&](result<void>) { done = true; }));
    t.run_until([&] { return done; });
  };
  std::uint32_t a = walk(user(1000, 7), std::nullopt, {"a"});
  walk(user(1000, 7), std::nullopt, {"a"});
  REQUIRE(attaches().size() == 1);
  CHECK(attaches()[0].uname == "7");
  CHECK(attaches()[0].n_uname == 1000);
  // Another session of the same uid: its own attach, and a fid of the
  // first session's is walked again from there, not cloned.
  std::uint32_t b = walk(user(1000, 8), a, {});
  REQUIRE(attaches().size() == 2);
  CHECK(attaches()[1].uname == "8");
  auto& last = std::get<twalk>(t.server.received.back().message);
  CHECK(last.fid == attaches()[1].fid);
  CHECK(last.wnames == std::vector<std::string>{"a"});
  clunk(b);
  // Many sessions, each gone when the next comes: past max_attaches, the
  // attaches no fid comes from are clunked (a's session keeps its own).
  for (std::uint64_t s = 100; s < 100 + mount::max_attaches; ++s) clunk(walk(user(1000, s), std::nullopt, {"a"}));
  std::size_t attach_clunks = 0;
  for (auto& f : t.server.received)
    if (auto* c = std::get_if<tclunk>(&f.message))
      for (auto& at : attaches()) attach_clunks += c->fid == at.fid && at.uname != "7";
  CHECK(attach_clunks >= mount::max_attaches - 2);
  CHECK(walk(user(1000, 7), std::nullopt, {"a"}) != a);
  CHECK(attaches().size() == 2 + mount::max_attaches);  // session 7's attach stayed
}

namespace {

// A fid of `who`'s walked to "a" through `m`.
std::uint32_t walked_to_a(rig& t, mount& m, const caller& who) {
  std::optional<result<remote_walk>> w;
  m.walk(who, std::nullopt, {"a"}, walk_needs::qids,
         make_op<remote_walk>([&](result<remote_walk> r) { w = std::move(r); }));
  t.run_until([&] { return w.has_value(); });
  REQUIRE(*w);
  REQUIRE((*w)->fid);
  return *(*w)->fid;
}

}  // namespace

// The kernel hands a FUSE write of 1 MiB to a link whose messages carry a
// little less: cut short, write(2) would end there.
TEST_CASE(
    "a mount carries a write larger than a message as several, in order, and answers it as one") {
  rig t;
  t.server.msize = 8192;
  t.version();
  auto m = std::make_shared<mount>(t.c, "test", 500ms);
  std::uint32_t fid = walked_to_a(t, *m, user(1000));
  std::string data(20000, 'w');
  std::optional<result<std::size_t>> n;
  m->write(fid, 100, data, make_op<std::size_t>([&](result<std::size_t> r) { n = std::move(r); }));
  t.run_until([&] { return n.has_value(); });
  REQUIRE(*n);
  CHECK(**n == data.size());
  std::vector<std::pair<std::uint64_t, std::size_t>> writes;
  for (auto& f : t.server.received)
    if (auto* w = std::get_if<twrite>(&f.message)) writes.emplace_back(w->offset, w->data.size());
  std::size_t most = t.c->max_write();
  CHECK(writes == std::vector<std::pair<std::uint64_t, std::size_t>>{
                      {100, most}, {100 + most, most}, {100 + 2 * most, data.size() - 2 * most}});
}

// The cancel completes the open at once; the server's Rlopen, already on
// its way, says it opened after all. A clunk sent behind the flush would
// commit what the open made there (a send: an empty message delivered).
TEST_CASE(
    "a clunk after a cancelled open waits for the open's answer, and is a remove if it opened") {
  for (bool opened : {true, false}) {
    rig t;
    t.version();
    auto m = std::make_shared<mount>(t.c, "test", 500ms);
    std::uint32_t fid = walked_to_a(t, *m, user(1000));
    t.server.park_types = {mtype::tlopen};
    auto open = make_op<attr>([](result<attr>) {});
    m->lopen(fid, O_WRONLY, open);
    t.run_until([&] { return !t.server.parked.empty(); });
    std::uint16_t tag = t.server.parked.begin()->first;
    // The server answers before it reads the flush (or the flush wins).
    if (opened) t.server.reply(tag, rlopen{test::a_qid, 0});
    open->cancel(make_error(errc::interrupted, "interrupted"));
    REQUIRE(open->done());
    bool clunked = false;
    m->clunk(fid, make_op<void>([&](result<void>) { clunked = true; }));
    t.run_until([&] { return clunked; });
    std::vector<mtype> after;
    for (auto& f : t.server.received) {
      if (auto* c = std::get_if<tclunk>(&f.message); c && c->fid == fid)
        after.push_back(mtype::tclunk);
      if (auto* r = std::get_if<tremove>(&f.message); r && r->fid == fid)
        after.push_back(mtype::tremove);
    }
    CHECK(after == std::vector<mtype>{opened ? mtype::tremove : mtype::tclunk});
  }
}

// A write interrupted while it waits on the owner (a full stdin): the
// owner may have taken it before the flush came. The caller must hear so,
// else it writes those bytes again. An owner that never answers the flush
// (a link gone silent) lets the caller go at the mount's deadline: the
// caller is a process in the kernel's uninterruptible wait for the reply.
TEST_CASE(
    "a cancelled read or write through a mount completes with the owner's answer, or at the "
    "deadline") {
  enum { reply_won, flush_won, silent };
  for (int how : {reply_won, flush_won, silent}) {
    rig t;
    t.version();
    auto m = std::make_shared<mount>(t.c, "test", 200ms);
    std::uint32_t fid = walked_to_a(t, *m, user(1000));
    t.server.park_types = {mtype::twrite, mtype::tread};
    if (how == silent) t.server.park_types.push_back(mtype::tflush);
    std::optional<result<std::size_t>> wrote;
    auto w = make_op<std::size_t>([&](result<std::size_t> r) { wrote = std::move(r); });
    m->write(fid, 0, "twelve bytes", w);
    std::optional<result<std::string>> got;
    auto r = make_op<std::string>([&](result<std::string> x) { got = std::move(x); });
    m->read(fid, 0, 100, r);
    t.run_until([&] { return t.server.parked.size() == 2; });
    if (how == reply_won) {  // answered before the server reads the flushes
      for (auto& [tag, msg] : t.server.parked) {
        if (std::holds_alternative<twrite>(msg))
          t.server.reply(tag, rwrite{12});
        else
          t.server.reply(tag, rread{"taken"});
      }
    }
    w->cancel(make_error(errc::interrupted, "interrupted"));
    r->cancel(make_error(errc::interrupted, "interrupted"));
    CHECK_FALSE(wrote);  // the owner says
    CHECK_FALSE(got);
    t.run_until([&] { return wrote.has_value() && got.has_value(); });
    if (how == reply_won) {
      REQUIRE(*wrote);
      CHECK(**wrote == 12);
      REQUIRE(*got);
      CHECK(**got == "taken");
    } else {
      CHECK(wrote->err().code == errc::interrupted);
      CHECK(got->err().code == errc::interrupted);
    }
  }
}
