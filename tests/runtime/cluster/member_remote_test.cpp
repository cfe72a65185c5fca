// member_remote: what a request to another member meets when the member is
// up, when its link is gone, and when it is down — stepped on a manual
// clock, against a link whose answers the test gives by hand.
#include "member_remote_rig.hpp"

using namespace member_remote_testing;

TEST_CASE("a member's requests go over its link, with the member's own fids", "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  std::uint32_t fid = f.walk_to({"channels", "c", "recv"});
  CHECK(fid < 100);  // ours, not the link's
  outcome<std::string> r;
  f.m->read(fid, 0, 100, r.op);
  f.link->answer();
  CHECK(**r.r == "message");
  outcome<void> c;
  f.m->clunk(fid, c.op);
  CHECK(*c.r);
  CHECK(f.link->clunked == 1);
}

TEST_CASE("a member declared down fails what waits on it at once, and every later request, with host down", "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  std::uint32_t fid = f.walk_to({"channels", "c", "recv"});
  outcome<std::string> parked;  // a receive waiting for a message
  f.m->read(fid, 0, 100, parked.op);
  CHECK(!parked.r);
  f.m->set_down(true);
  REQUIRE(parked.r);
  CHECK(parked.code() == errc::host_down);
  CHECK(parked.r->err().message == "host down: h2");
  CHECK(f.link->flushed == 1);  // the request on the link was flushed
  outcome<remote_walk> later;
  f.m->walk(f.who, std::nullopt, {"workers"}, walk_needs::attributes, later.op);
  REQUIRE(later.r);
  CHECK(later.code() == errc::host_down);
  outcome<void> c;
  f.m->clunk(fid, c.op);
  CHECK(c.code() == errc::host_down);
}

TEST_CASE("while a member is down its error files read host down, so a shell can cat error", "[cluster]") {
  fixture f;
  f.m->set_down(true);
  outcome<remote_walk> w;
  f.m->walk(f.who, std::nullopt, {"channels", "c", "error"}, walk_needs::attributes, w.op);
  REQUIRE(*w.r);
  REQUIRE((*w.r)->fid);
  CHECK((*w.r)->walked.size() == 3);
  CHECK((*w.r)->walked[0].is_dir);
  CHECK(!(*w.r)->walked[2].is_dir);
  outcome<attr> o;
  f.m->lopen(*(*w.r)->fid, 0, o.op);
  CHECK(*o.r);
  outcome<std::string> text;
  f.m->read(*(*w.r)->fid, 0, 4096, text.op);
  CHECK(**text.r == "host down: h2\n");
  outcome<void> c;
  f.m->clunk(*(*w.r)->fid, c.op);
  CHECK(*c.r);
}

TEST_CASE("without a link a walk waits for one, up to the link timeout, then host unreachable", "[cluster]") {
  fixture f;
  outcome<remote_walk> waits, gives_up;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::attributes, waits.op);
  f.clk.advance(2s);
  CHECK(!waits.r);
  f.m->set_link(f.link);  // in time: it goes on
  f.link->answer();
  REQUIRE(waits.r);
  CHECK(*waits.r);

  f.m->lost_link();
  f.m->walk(f.who, std::nullopt, {"workers"}, walk_needs::attributes, gives_up.op);
  f.clk.advance(2900ms);
  CHECK(!gives_up.r);
  f.clk.advance(200ms);
  REQUIRE(gives_up.r);
  CHECK(gives_up.code() == errc::host_unreachable);
  CHECK(gives_up.r->err().message.rfind("host unreachable: h2", 0) == 0);
}

TEST_CASE("a request whose link failed gets host down if the verdict comes within the link timeout", "[cluster]") {
  fixture f;
  outcome<std::string> parked;
  f.read_then_lose_link(parked);  // a killed daemon's connection ends first
  f.clk.advance(1s);
  CHECK(!parked.r);
  f.m->set_down(true);  // then its members see it down
  REQUIRE(parked.r);
  CHECK(parked.code() == errc::host_down);
}

TEST_CASE("a request waiting for the verdict can be cancelled at once", "[cluster]") {
  fixture f;
  outcome<std::string> parked;
  f.read_then_lose_link(parked);
  parked.op->cancel(make_error(errc::interrupted, "interrupted"));
  REQUIRE(parked.r);
  CHECK(parked.code() == errc::interrupted);
  f.m->set_down(true);  // nothing completes it twice
  f.clk.advance(5s);
}

TEST_CASE("a lost link fails its requests after the link timeout, and its fids stay void on the next link", "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  std::uint32_t fid = f.walk_to({"channels", "c", "send"});
  outcome<attr> o;
  f.m->lopen(fid, O_WRONLY, o.op);
  f.link->answer();
  REQUIRE(*o.r);
  outcome<std::size_t> w;
  f.m->write(fid, 0, "abc", w.op);
  f.m->lost_link();
  CHECK(!w.r);
  f.clk.advance(3s);
  REQUIRE(w.r);
  CHECK(w.code() == errc::host_unreachable);
  auto again = std::make_shared<held_link>();
  f.m->set_link(again);
  outcome<std::size_t> stale;
  f.m->write(fid, 0, "abc", stale.op);
  REQUIRE(stale.r);
  CHECK(stale.code() == errc::host_unreachable);
  CHECK(stale.r->err().message.find("open it again") != std::string::npos);
  CHECK(again->walks.empty());  // an open file is not walked to again
  outcome<void> c;  // its clunk says the message was not delivered
  f.m->clunk(fid, c.op);
  CHECK(c.code() == errc::host_unreachable);
  CHECK(again->clunked == 0);
}

TEST_CASE("a walk cancelled while it waits for a link leaves nothing waiting", "[cluster]") {
  fixture f;
  outcome<remote_walk> w;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::attributes, w.op);
  w.op->cancel(make_error(errc::interrupted, "interrupted"));
  REQUIRE(w.r);
  CHECK(w.code() == errc::interrupted);
  f.m->set_link(f.link);  // nothing runs for it
  CHECK(f.link->answers.empty());
  f.clk.advance(5s);
}

TEST_CASE("a member back from down is served again over a new link", "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  f.m->set_down(true);
  f.m->set_down(false);
  auto again = std::make_shared<held_link>();
  f.m->set_link(again);
  f.link = again;
  std::uint32_t fid = f.walk_to({"channels"});
  CHECK(fid > 0);
}

TEST_CASE("a link is asked for when a request first needs one, not before, and not while one is up", "[cluster]") {
  fixture f;
  int wanted = 0;
  f.m->on_wanted([&] { ++wanted; });
  CHECK(wanted == 0);
  outcome<remote_walk> first;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::attributes, first.op);
  CHECK(wanted == 1);
  f.m->set_link(f.link);
  f.link->answer();
  REQUIRE(first.r);
  CHECK(*first.r);
  f.walk_to({"workers"});
  CHECK(wanted == 1);  // the link is up: nothing asked
  f.m->set_down(true);
  outcome<remote_walk> down;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::attributes, down.op);
  CHECK(wanted == 1);  // down: it fails at once, no link is asked for
  CHECK(down.code() == errc::host_down);
}

// Pipelining (remote.hpp): our fid for the link's promised one, before the
// walk is answered, so requests on it can follow at once.
TEST_CASE("a walk's promised link fid is ours at once, and goes if the walk does not make it", "[cluster]") {
  fixture f;
  f.m->set_link(f.link);
  struct promising final : remote {
    std::shared_ptr<held_link> inner;
    std::string name() const override { return "promising"; }
    void walk(const caller& w, std::optional<std::uint32_t> from, std::vector<std::string> n, walk_needs needs,
              op_ptr<remote_walk> done) override {
      promised_ = inner->next;
      inner->walk(w, from, std::move(n), needs, done);
    }
    void getattr(std::uint32_t a, op_ptr<attr> d) override { inner->getattr(a, d); }
    void lopen(std::uint32_t a, int b, op_ptr<attr> d) override { inner->lopen(a, b, d); }
    void readdir(std::uint32_t a, std::uint64_t b, op_ptr<std::vector<dir_entry>> d) override { inner->readdir(a, b, d); }
    void read(std::uint32_t a, std::uint64_t b, std::size_t c, op_ptr<std::string> d) override { inner->read(a, b, c, d); }
    void write(std::uint32_t a, std::uint64_t b, std::string c, op_ptr<std::size_t> d) override {
      inner->write(a, b, std::move(c), d);
    }
    void fsync(std::uint32_t a, op_ptr<void> d) override { inner->fsync(a, d); }
    void clunk(std::uint32_t a, op_ptr<void> d) override { inner->clunk(a, d); }
    void remove(std::uint32_t a, op_ptr<void> d) override { inner->remove(a, d); }
    void mkdir(const caller& w, std::uint32_t a, std::string b, op_ptr<attr> d) override {
      inner->mkdir(w, a, std::move(b), d);
    }
    void unlinkat(const caller& w, std::uint32_t a, std::string b, bool c, op_ptr<void> d) override {
      inner->unlinkat(w, a, std::move(b), c, d);
    }
  };
  auto link = std::make_shared<promising>();
  link->inner = f.link;
  f.m->set_link(link);
  outcome<remote_walk> w;
  f.m->walk(f.who, std::nullopt, {"channels", "c", "send"}, walk_needs::attributes, w.op);
  auto early = f.m->promised();
  REQUIRE(early);
  outcome<attr> opened;
  f.m->lopen(*early, 1, opened.op);  // before the walk's answer
  f.link->answer();
  REQUIRE(w.r);
  REQUIRE(*w.r);
  CHECK((*w.r)->fid == early);
  f.link->answer();
  CHECK(*opened.r);
  // A walk that fails: its early fid is no more.
  outcome<remote_walk> lost;
  f.m->walk(f.who, std::nullopt, {"nosuch"}, walk_needs::attributes, lost.op);
  auto gone = f.m->promised();
  REQUIRE(gone);
  f.m->lost_link();  // its answer fails
  f.clk.advance(4s);
  REQUIRE(lost.r);
  outcome<attr> after;
  f.m->getattr(*gone, after.op);
  REQUIRE(after.r);
  CHECK(after.code() == errc::bad_fid);
}

TEST_CASE("EHOSTUNREACH the member answers over a link still up is the request's answer, not held", "[cluster]") {
  // h2 answers so when a program's 9P server behind it went away: h2 is up.
  fixture f;
  f.m->set_link(f.link);
  std::uint32_t fid = f.walk_to({"workers", "w", "goroutines", "go"});
  f.link->fail_reads = make_error(errc::host_unreachable, "No route to host");
  outcome<std::string> r;
  f.m->read(fid, 0, 100, r.op);
  f.link->answer();
  REQUIRE(r.r);  // at once, not after the link timeout
  CHECK(r.code() == errc::host_unreachable);
  CHECK(r.r->err().message == "No route to host");
}

TEST_CASE("once a request has waited the link timeout for a link in vain, the next fail at once",
          "[cluster]") {
  fixture f;
  outcome<remote_walk> first;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::qids, first.op);
  CHECK(!first.r);
  f.clk.advance(3s);
  REQUIRE(first.r);
  CHECK(first.code() == errc::host_unreachable);
  outcome<remote_walk> next;
  f.m->walk(f.who, std::nullopt, {"channels"}, walk_needs::qids, next.op);
  REQUIRE(next.r);
  CHECK(next.code() == errc::host_unreachable);
  f.m->set_link(f.link);
  CHECK(f.walk_to({"channels"}) > 0);
}
