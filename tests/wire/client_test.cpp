// Unit tests of runtime/wire/src/client.cpp (and requests.cpp): the client
// against the small server of test_server.hpp, over a socket pair.
#include "circuit/wire/client.hpp"
#include "circuit/wire/conn.hpp"
#include "circuit/wire/turn.hpp"

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>

#include "client_rig.hpp"

using namespace circuit;
using namespace circuit::wire;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::rig;
using test::slot;


TEST_CASE("version settles on the smaller msize and attach gives the root's qid") {
  rig t;
  slot<std::uint32_t> v;
  t.c->version(v.h());
  t.run_until([&] { return v.done(); });
  REQUIRE(v.r->ok());
  CHECK(**v.r == 8192);
  CHECK(t.c->msize() == 8192);
  CHECK(t.server.received[0].tag == notag);
  slot<qid> a;
  t.c->attach(0, "me", 1000, "ctl", a.h());
  t.run_until([&] { return a.done(); });
  CHECK(**a.r == test::root_qid);
  auto& att = std::get<tattach>(t.server.received[1].message);
  CHECK(att.afid == nofid);
  CHECK(att.n_uname == 1000);
  CHECK(att.aname == "ctl");
}

TEST_CASE("a server that speaks another version is refused") {
  rig t;
  t.server.version = "unknown";
  slot<std::uint32_t> v;
  t.c->version(v.h());
  t.run_until([&] { return v.done(); });
  CHECK(v.r->err().code == errc::not_supported);
  CHECK(v.r->err().message == "9p: the server speaks unknown, not 9P2000.L");
}

TEST_CASE("walk, lopen, read and clunk issued without waiting go out in one write") {
  rig t;
  t.start();
  std::size_t before = t.server.received.size();
  std::uint32_t f = t.c->new_fid();
  slot<std::vector<qid>> w;
  slot<rlopen> o;
  slot<std::string> r;
  slot<void> cl;
  t.c->walk(0, f, {"a"}, w.h());
  t.c->lopen(f, o_rdonly, o.h());
  t.c->read(f, 0, 100, r.h());
  t.c->clunk(f, cl.h());
  CHECK(t.c->in_flight() == 4);
  t.run_until([&] { return cl.done(); });
  CHECK(t.server.received.size() == before + 4);
  CHECK(**w.r == std::vector<qid>{test::a_qid});
  CHECK((*o.r)->qid == test::a_qid);
  CHECK(**r.r == "hello");
  CHECK(cl.r->ok());
  CHECK(t.c->in_flight() == 0);
}

TEST_CASE("a client sent by its owner writes requests at write_queued(), or at the end of the turn they were made in") {
  client::options opts;
  opts.sent_by_owner = true;
  rig t(opts);
  bool versioned = false;
  t.c->version([&](result<std::uint32_t> m) { versioned = m.ok(); });
  t.c->write_queued();
  t.run_until([&] { return versioned; });
  std::size_t before = t.server.received.size();
  std::uint32_t f = t.c->new_fid();
  slot<qid> a;
  slot<std::vector<qid>> w;
  t.c->attach(0, "me", 1000, "", a.h());
  t.c->walk(0, f, {"a"}, w.h());
  for (int i = 0; i < 20; ++i) {  // the loop runs, but nothing was posted to write them
    if (t.io.stopped()) t.io.restart();
    t.io.run_one_for(1ms);
  }
  CHECK(t.server.received.size() == before);
  CHECK(!a.done());
  t.c->write_queued();
  t.run_until([&] { return w.done(); });
  CHECK(t.server.received.size() == before + 2);
  CHECK(a.r->ok());
  CHECK(**w.r == std::vector<qid>{test::a_qid});
  slot<void> cl;
  {
    turn in_a_handler;
    t.c->clunk(f, cl.h());
  }
  t.run_until([&] { return cl.done(); });  // no write_queued(): the turn's end wrote it
  CHECK(cl.r->ok());
}

TEST_CASE("replies that come back in any order reach their own requests") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tread};
  std::vector<slot<std::string>> reads(3);
  std::vector<std::uint16_t> tags;
  for (auto& s : reads) {
    t.c->read(0, 0, 10, s.h());
    tags.push_back(t.c->tag_of_last());
  }
  t.run_until([&] { return t.server.parked.size() == 3; });
  CHECK(tags[0] != tags[1]);
  CHECK(tags[1] != tags[2]);
  t.server.reply(tags[2], rread{"two"});
  t.server.reply(tags[0], rread{"zero"});
  t.server.reply(tags[1], rread{"one"});
  t.run_until([&] { return reads[0].done() && reads[1].done() && reads[2].done(); });
  CHECK(**reads[0].r == "zero");
  CHECK(**reads[1].r == "one");
  CHECK(**reads[2].r == "two");
}

TEST_CASE("an Rlerror is the errno's code and words") {
  rig t;
  t.start();
  slot<std::vector<qid>> w;
  t.c->walk(0, 5, {"nosuch"}, w.h());
  t.run_until([&] { return w.done(); });
  CHECK(w.r->err().code == errc::not_found);
  CHECK(w.r->err().message == "No such file or directory");
}

TEST_CASE("a request past its deadline fails with timed_out and is flushed on the server") {
  rig t({.msize = max_msize, .deadline = 20ms});
  t.start();
  t.server.park_types = {mtype::tlopen};
  slot<rlopen> o;
  t.c->lopen(0, o_rdonly, o.h());
  std::uint16_t tag = t.c->tag_of_last();
  t.run_until([&] { return o.done(); });
  CHECK(o.r->err().code == errc::timed_out);
  // The tag stays taken until the server's Rflush (the stub answers it).
  t.run_until([&] { return t.c->in_flight() == 0; });
  auto& last = t.server.received.back();
  REQUIRE(std::holds_alternative<tflush>(last.message));
  CHECK(std::get<tflush>(last.message).oldtag == tag);
  // A late reply to the flushed tag is dropped, not given to anyone.
  t.server.reply(tag, rlopen{test::a_qid, 0});
  slot<qid> a;
  t.c->attach(0, "me", 1000, "", a.h());
  t.run_until([&] { return a.done(); });
  CHECK(o.calls == 1);
}

TEST_CASE("each request's deadline is its own: a shorter one after a longer one expires first") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tlopen};
  slot<rlopen> slow, quick;
  t.c->set_deadline(400ms);
  t.c->lopen(0, o_rdonly, slow.h());
  t.c->set_deadline(20ms);
  t.c->lopen(0, o_rdonly, quick.h());
  t.c->set_deadline({});
  auto began = std::chrono::steady_clock::now();
  t.run_until([&] { return quick.done(); });
  CHECK(quick.r->err().code == errc::timed_out);
  CHECK(!slow.done());
  CHECK(std::chrono::steady_clock::now() - began < 300ms);
  t.run_until([&] { return slow.done(); });
  CHECK(slow.r->err().code == errc::timed_out);
  CHECK(std::chrono::steady_clock::now() - began >= 400ms);
}

TEST_CASE("a request answered in time never expires, though the deadline passes later") {
  rig t({.msize = max_msize, .deadline = 30ms});
  t.start();
  slot<qid> a;
  t.c->attach(0, "me", 1000, "", a.h());
  t.run_until([&] { return a.done(); });
  REQUIRE(a.r->ok());
  t.io.restart();
  t.io.run_for(80ms);  // past the deadline: nothing may fire
  CHECK(a.calls == 1);
  auto flushes = std::count_if(t.server.received.begin(), t.server.received.end(),
                               [](auto& m) { return std::holds_alternative<tflush>(m.message); });
  CHECK(flushes == 0);
}

TEST_CASE("flush of a parked request completes it with interrupted, then the flush") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tlopen};
  std::vector<std::string> order;
  std::optional<error> open_error;
  t.c->lopen(0, o_rdonly, [&](result<rlopen> r) {
    order.push_back("lopen");
    if (!r) open_error = r.err();
  });
  std::uint16_t tag = t.c->tag_of_last();
  t.run_until([&] { return t.server.parked.size() == 1; });
  bool flushed_ok = false;
  t.c->flush(tag, [&](result<void> r) {
    order.push_back("flush");
    flushed_ok = r.ok();
  });
  t.run_until([&] { return order.size() == 2; });
  CHECK(order == std::vector<std::string>{"lopen", "flush"});
  REQUIRE(open_error);
  CHECK(open_error->code == errc::interrupted);
  CHECK(flushed_ok);
  CHECK(t.c->in_flight() == 0);
}

TEST_CASE("a reply that beats the flush is the request's result") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tlopen, mtype::tflush};
  slot<rlopen> o;
  t.c->lopen(0, o_rdonly, o.h());
  std::uint16_t tag = t.c->tag_of_last();
  slot<void> f;
  t.c->flush(tag, f.h());
  std::uint16_t ftag = t.c->tag_of_last();
  t.run_until([&] { return t.server.parked.size() == 2; });
  t.server.reply(tag, rlopen{test::a_qid, 0});
  t.server.reply(ftag, rflush{});
  t.run_until([&] { return f.done(); });
  REQUIRE(o.r->ok());
  CHECK((*o.r)->qid == test::a_qid);
  CHECK(o.calls == 1);
  CHECK(f.r->ok());
}

TEST_CASE("every pending request fails once when the connection drops, and later ones too") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tlopen, mtype::tread};
  slot<rlopen> o;
  slot<std::string> r;
  t.c->lopen(0, o_rdonly, o.h());
  t.c->read(0, 0, 1, r.h());
  t.run_until([&] { return t.server.parked.size() == 2; });
  t.server.hang_up();
  t.run_until([&] { return o.done() && r.done(); });
  CHECK(o.r->err().code == errc::host_unreachable);
  CHECK(o.r->err().message == "9p: connection lost: the server closed the connection");
  CHECK(r.r->err().code == errc::host_unreachable);
  CHECK_FALSE(t.c->connected());
  slot<void> later;
  t.c->clunk(0, later.h());
  CHECK_FALSE(later.done());  // never from inside the call
  t.run_until([&] { return later.done(); });
  CHECK(later.r->err().message == "9p: not connected");
  t.io.restart();
  t.io.run_for(10ms);
  CHECK(o.calls == 1);
  CHECK(r.calls == 1);
}

TEST_CASE("a reply that does not decode drops the connection with its reason") {
  rig t;
  t.start();
  t.server.park_types = {mtype::tclunk};
  slot<void> cl;
  t.c->clunk(1, cl.h());
  t.run_until([&] { return t.server.parked.size() == 1; });
  t.server.send(std::string("\x09\x00\x00\x00\xc8\x00\x00\x00\x00", 9));  // type 200
  t.run_until([&] { return cl.done(); });
  CHECK(cl.r->err().code == errc::invalid);
  CHECK(cl.r->err().message == "9p: unknown message type 200");
  CHECK_FALSE(t.c->connected());
}

TEST_CASE("readdir gives the entries, getattr the attributes, mkdir the new qid") {
  rig t;
  t.start();
  slot<std::vector<dirent>> d;
  slot<rgetattr> g;
  slot<qid> m;
  t.c->readdir(0, 0, 4096, d.h());
  t.c->getattr(0, getattr_basic, g.h());
  t.c->mkdir(0, "x", 0755, 0, m.h());
  t.run_until([&] { return d.done() && g.done() && m.done(); });
  REQUIRE(d.r->ok());
  REQUIRE((*d.r)->size() == 2);
  CHECK((**d.r)[1].name == "d");
  CHECK((**d.r)[1].type == dt_dir);
  CHECK((*g.r)->mode == 040755);
  CHECK(**m.r == (qid{qt_dir, 0, 9}));
}

TEST_CASE("a write over msize fails at once without reaching the server") {
  rig t;
  t.start();
  std::size_t before = t.server.received.size();
  slot<std::uint32_t> w;
  t.c->write(0, 0, std::string(t.c->max_write() + 1, 'x'), w.h());
  t.run_until([&] { return w.done(); });
  CHECK(w.r->err().code == errc::too_big);
  CHECK(w.r->err().message == "9p: Twrite of 8193 bytes is over msize 8192");
  t.io.run_for(5ms);
  CHECK(t.server.received.size() == before);
}

TEST_CASE("fids come back for reuse after clunk and remove") {
  rig t;
  t.start();
  std::uint32_t a = t.c->new_fid(), b = t.c->new_fid();
  CHECK(a != b);
  slot<void> cl;
  t.c->clunk(a, cl.h());
  CHECK(t.c->new_fid() == a);
  t.run_until([&] { return cl.done(); });
}

TEST_CASE("connecting to a socket nobody serves names the path and the errno") {
  asio::io_context io;
  slot<std::shared_ptr<client>> c;
  client::connect_unix(io.get_executor(), "/nonexistent/circuit.sock", {}, c.h());
  io.run_for(1s);
  REQUIRE(c.done());
  CHECK(c.r->err().code == errc::not_found);
  CHECK(c.r->err().message == "9p: /nonexistent/circuit.sock: No such file or directory");
}

TEST_CASE("split_path gives the names of a path, whatever its slashes", "[wire]") {
  using circuit::wire::split_path;
  using names = std::vector<std::string>;
  CHECK(split_path("/h1/channels/a/recv") == names{"h1", "channels", "a", "recv"});
  CHECK(split_path("h1/channels") == names{"h1", "channels"});
  CHECK(split_path("//h1///channels//") == names{"h1", "channels"});
  CHECK(split_path("/") == names{});
  CHECK(split_path("") == names{});
  CHECK(split_path("a") == names{"a"});
  CHECK(split_path("/a b/ c/") == names{"a b", " c"});
}
