// Unit tests of runtime/core/src/session.cpp: fids, tags, per-fid order,
// flush, commit and abort, and the end of a session, stepped one request
// at a time on the namespace core.
#include "circuit/core/session.hpp"

#include <fcntl.h>

#include "circuit/core/completions.hpp"
#include "fixture.hpp"

using namespace circuit;
using circuit::test::space;

namespace {

// Records one request's completion.
template <class T>
struct answer {
  std::optional<result<T>> got;
  int count = 0;
  std::vector<std::string>* order = nullptr;
  std::string name;
  reply<T> cb() {
    return [this](result<T> r) {
      ++count;
      got.emplace(std::move(r));
      if (order) order->push_back(name);
    };
  }
  bool ok() const { return got && got->ok(); }
  errc code() const { return got && !got->ok() ? got->err().code : errc::ok; }
};

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// A session with its root at fid 0.
struct client {
  session ses;
  caller who;
  tag_t next = 1;
  explicit client(space& s) : ses(s.n), who(s.who) {
    answer<attr> a;
    ses.attach(who, next++, 0, a.cb());
    REQUIRE(a.got);
    INFO((a.got->ok() ? std::string() : a.got->err().message));
    REQUIRE(a.ok());
  }
  // Walks fid 0 to `path`, into `fid`.
  void walk(fid_t fid, const std::string& path) {
    answer<std::vector<attr>> a;
    ses.walk(who, next++, 0, fid, split(path), a.cb());
    REQUIRE(a.ok());
  }
  // Opens `fid`; the open must succeed at once.
  void lopen(fid_t fid, int flags) {
    answer<attr> a;
    ses.lopen(who, next++, fid, flags, a.cb());
    REQUIRE(a.ok());
  }
  // Writes `data` at offset 0 of open `fid`; it must be taken whole at once.
  void write(fid_t fid, const std::string& data) {
    answer<std::size_t> a;
    ses.write(who, next++, fid, 0, data, a.cb());
    REQUIRE(a.ok());
    CHECK(a.got->value() == data.size());
  }
  // Clunks `fid`, which commits its open; the commit must succeed.
  void clunk(fid_t fid) {
    answer<void> a;
    ses.clunk(who, next++, fid, a.cb());
    REQUIRE(a.ok());
  }
};

}  // namespace

TEST_CASE("a pipelined walk, lopen, write and clunk deliver one message, answered in order") {
  space s;
  auto c = s.mkchan("a", 1);
  client cl(s);
  std::vector<std::string> order;
  answer<std::vector<attr>> w{.order = &order, .name = "walk"};
  answer<attr> o{.order = &order, .name = "lopen"};
  answer<std::size_t> wr{.order = &order, .name = "write"};
  answer<void> cu{.order = &order, .name = "clunk"};
  // All four go in before any is looked at: each waits for the one before
  // it on fid 1.
  cl.ses.walk(cl.who, 10, 0, 1, split(c + "/send"), w.cb());
  cl.ses.lopen(cl.who, 11, 1, O_WRONLY, o.cb());
  cl.ses.write(cl.who, 12, 1, 0, "hello", wr.cb());
  cl.ses.clunk(cl.who, 13, 1, cu.cb());
  CHECK(order == std::vector<std::string>{"walk", "lopen", "write", "clunk"});
  CHECK(cu.ok());
  CHECK(wr.got->value() == 5);
  CHECK(cl.ses.fids() == 1);  // the root's
  CHECK(s.recv(c) == "hello");
}

TEST_CASE("requests on a fid wait for a parked one, and requests on other fids do not") {
  space s;
  auto c = s.mkchan("a");
  client cl(s);
  cl.walk(1, c + "/recv");
  answer<attr> parked;
  cl.ses.lopen(cl.who, 20, 1, O_RDONLY, parked.cb());
  CHECK_FALSE(parked.got);  // no message yet
  answer<std::string> behind;
  cl.ses.read(cl.who, 21, 1, 0, 100, behind.cb());
  CHECK_FALSE(behind.got);  // queued behind the lopen
  answer<attr> other;
  cl.walk(2, c + "/stat");
  cl.ses.getattr(cl.who, 22, 2, other.cb());
  CHECK(other.ok());  // another fid: not held up
  REQUIRE(s.send(c, "x").ok());  // meets the parked receiver
  REQUIRE(parked.ok());
  REQUIRE(behind.ok());  // and the read behind it ran then
  CHECK(behind.got->value() == "x");
}

TEST_CASE("flush of a parked lopen answers it with interrupted, then itself") {
  space s;
  auto c = s.mkchan("a");
  client cl(s);
  cl.walk(1, c + "/recv");
  std::vector<std::string> order;
  answer<attr> parked{.order = &order, .name = "lopen"};
  cl.ses.lopen(cl.who, 30, 1, O_RDONLY, parked.cb());
  answer<std::string> queued{.order = &order, .name = "read"};
  cl.ses.read(cl.who, 31, 1, 0, 10, queued.cb());
  answer<void> fl{.order = &order, .name = "flush"};
  cl.ses.flush(30, fl.cb());
  CHECK(order == std::vector<std::string>{"lopen", "read", "flush"});
  CHECK(parked.code() == errc::interrupted);
  CHECK(queued.code() == errc::bad_fid);  // the fid never opened
  CHECK(parked.count == 1);
  CHECK(s.text(c + "/stat").find("\"receivers_waiting\":0") != std::string::npos);
}

TEST_CASE("flush after the reply leaves the result alone, and an unknown tag flushes at once") {
  space s;
  auto c = s.mkchan("a", 1);
  REQUIRE(s.send(c, "kept").ok());
  client cl(s);
  cl.walk(1, c + "/recv");
  answer<attr> o;
  cl.ses.lopen(cl.who, 40, 1, O_RDONLY, o.cb());
  REQUIRE(o.ok());
  answer<void> fl;
  cl.ses.flush(40, fl.cb());
  CHECK(fl.ok());
  CHECK(o.count == 1);
  answer<std::string> r;
  cl.ses.read(cl.who, 41, 1, 0, 100, r.cb());
  CHECK(r.got->value() == "kept");
}

TEST_CASE("flush of a queued request takes it out before it starts") {
  space s;
  auto c = s.mkchan("a", 1);
  client cl(s);
  cl.walk(1, c + "/recv");
  answer<attr> parked;
  cl.ses.lopen(cl.who, 50, 1, O_RDONLY, parked.cb());
  answer<void> clunk;
  cl.ses.clunk(cl.who, 51, 1, clunk.cb());
  answer<void> fl;
  cl.ses.flush(51, fl.cb());
  CHECK(clunk.code() == errc::interrupted);
  CHECK(fl.ok());
  CHECK_FALSE(parked.got);  // still waiting: only 51 was flushed
  REQUIRE(s.send(c, "m").ok());
  REQUIRE(parked.ok());
}

TEST_CASE("a session that ends mid-receive puts the message back whole") {
  space s;
  auto c = s.mkchan("a", 2);
  REQUIRE(s.send(c, "first message").ok());
  REQUIRE(s.send(c, "second").ok());
  {
    client cl(s);
    cl.walk(1, c + "/recv");
    cl.lopen(1, O_RDONLY);
    answer<std::string> r;
    cl.ses.read(cl.who, 61, 1, 0, 5, r.cb());
    CHECK(r.got->value() == "first");
  }  // the session ends with the message taken and half read
  CHECK(s.recv(c) == "first message");
  CHECK(s.recv(c) == "second");
}

TEST_CASE("a session that ends between write and clunk delivers nothing and frees the place") {
  space s;
  auto c = s.mkchan("a", 1);
  {
    client cl(s);
    cl.walk(1, c + "/send");
    cl.lopen(1, O_WRONLY);
    cl.write(1, "never");
  }
  CHECK(s.text(c + "/stat").find("\"len\":0") != std::string::npos);
  REQUIRE(s.send(c, "next").ok());  // the place was given back
  CHECK(s.recv(c) == "next");
}

TEST_CASE("remove of an open send aborts it, and fsync delivers at once with the verdict") {
  space s;
  auto c = s.mkchan("a", 1);
  client cl(s);
  cl.walk(1, c + "/send");
  cl.lopen(1, O_WRONLY);
  cl.write(1, "aborted");
  answer<void> rm;
  cl.ses.remove(cl.who, 82, 1, rm.cb());
  CHECK(rm.ok());
  CHECK(cl.ses.fids() == 1);
  CHECK(s.text(c + "/stat").find("\"len\":0") != std::string::npos);

  cl.walk(2, c + "/send");
  cl.lopen(2, O_WRONLY);
  cl.write(2, "synced");
  answer<void> sy;
  cl.ses.fsync(cl.who, 85, 2, sy.cb());
  CHECK(sy.ok());
  CHECK(s.text(c + "/stat").find("\"len\":1") != std::string::npos);
  cl.clunk(2);
  CHECK(s.recv(c) == "synced");
}

TEST_CASE("a session ending with a parked lopen completes it once") {
  space s;
  auto c = s.mkchan("a");
  answer<attr> parked;
  {
    client cl(s);
    cl.walk(1, c + "/recv");
    cl.ses.lopen(cl.who, 90, 1, O_RDONLY, parked.cb());
    CHECK_FALSE(parked.got);
  }
  CHECK(parked.count == 1);
  CHECK(parked.code() == errc::interrupted);
  CHECK(s.text(c + "/stat").find("\"receivers_waiting\":0") != std::string::npos);
}

TEST_CASE("walk: a bad first name fails, a bad later one stops short without newfid") {
  space s;
  s.mkchan("a");
  client cl(s);
  answer<std::vector<attr>> bad_first;
  cl.ses.walk(cl.who, 100, 0, 1, {"nosuch"}, bad_first.cb());
  CHECK(bad_first.code() == errc::not_found);
  answer<std::vector<attr>> partial;
  cl.ses.walk(cl.who, 101, 0, 1, {"h1", "channels", "nosuch"}, partial.cb());
  REQUIRE(partial.ok());
  CHECK(partial.got->value().size() == 2);
  CHECK(cl.ses.fids() == 1);
  answer<std::vector<attr>> up;
  cl.ses.walk(cl.who, 102, 0, 1, {"h1", "channels", "a", "..", "..", "."}, up.cb());
  REQUIRE(up.ok());
  CHECK(up.got->value().back().ino == s.walk("/h1"));
  answer<std::vector<attr>> taken;
  cl.ses.walk(cl.who, 103, 0, 1, {}, taken.cb());
  CHECK(taken.code() == errc::bad_fid);  // newfid 1 is in use
}

TEST_CASE("a tag in flight cannot be reused, and unknown fids are refused by name") {
  space s;
  auto c = s.mkchan("a");
  answer<attr> parked;  // outlives the session, whose end completes it
  client cl(s);
  cl.walk(1, c + "/recv");
  cl.ses.lopen(cl.who, 110, 1, O_RDONLY, parked.cb());
  answer<attr> again;
  cl.ses.getattr(cl.who, 110, 0, again.cb());
  CHECK(again.code() == errc::invalid);
  answer<attr> nofid;
  cl.ses.getattr(cl.who, 111, 42, nofid.cb());
  CHECK(nofid.code() == errc::bad_fid);
  CHECK(nofid.got->err().message == "fid 42: unknown fid");
}

TEST_CASE("mkdir through a fid makes an element, and remove of its fid removes it") {
  space s;
  client cl(s);
  cl.walk(1, "/h1/channels");
  answer<attr> made;
  cl.ses.mkdir(cl.who, 120, 1, "b", made.cb());
  REQUIRE(made.ok());
  CHECK(made.got->value().is_dir);
  cl.walk(2, "/h1/channels/b");
  answer<void> rm;
  cl.ses.remove(cl.who, 121, 2, rm.cb());
  CHECK(rm.ok());
  answer<std::vector<attr>> gone;
  cl.ses.walk(cl.who, 122, 1, 3, {"b"}, gone.cb());
  CHECK(gone.code() == errc::not_found);
  answer<void> unlink;
  cl.ses.unlinkat(cl.who, 123, 1, "help", false, unlink.cb());
  CHECK(unlink.code() == errc::not_permitted);
}

TEST_CASE("an open directory lists from an index, so the wire can page it") {
  space s;
  s.mkchan("a");
  client cl(s);
  cl.walk(1, "/h1/channels");
  cl.lopen(1, O_RDONLY);
  answer<std::vector<dir_entry>> all;
  cl.ses.readdir(cl.who, 131, 1, 0, all.cb());
  REQUIRE(all.ok());
  REQUIRE(all.got->value().size() == 3);  // help, error, a
  answer<std::vector<dir_entry>> rest;
  cl.ses.readdir(cl.who, 132, 1, 2, rest.cb());
  CHECK(rest.got->value().size() == 1);
  CHECK(rest.got->value()[0].name == "a");
}

TEST_CASE("a flush that comes while a parked lopen's result is on its way gets the reply once, and the fid is open") {
  space s;
  auto c = s.mkchan("a", 1);
  client cl(s);
  cl.walk(1, c + "/recv");
  std::vector<std::string> order;
  answer<attr> parked{.order = &order, .name = "lopen"};
  cl.ses.lopen(cl.who, 40, 1, O_RDONLY, parked.cb());
  answer<void> fl{.order = &order, .name = "flush"};
  auto snd = s.open(c + "/send", O_WRONLY);
  REQUIRE(snd->result);
  REQUIRE(s.write(snd->result->value(), 0, "m").ok());
  {
    completions step;  // the message is given; its completion waits here
    s.n.release(snd->result->value());
    CHECK(order.empty());
    cl.ses.flush(40, fl.cb());  // too late to cancel: the reply wins
    CHECK(order.empty());       // Rflush waits for the reply
  }
  CHECK(order == std::vector<std::string>{"lopen", "flush"});
  REQUIRE(parked.ok());
  CHECK(parked.count == 1);
  CHECK(fl.count == 1);
  answer<std::string> rd;
  cl.ses.read(cl.who, 41, 1, 0, 10, rd.cb());
  REQUIRE(rd.ok());
  CHECK(rd.got->value() == "m");
}
