// Unit tests of runtime/wire/src/server.cpp: how feed() cuts a byte stream
// into frames, whatever reads the stream came in.
#include "circuit/wire/server.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "circuit/core/namespace.hpp"
#include "circuit/elements/tree.hpp"
#include "circuit/wire/codec.hpp"

using namespace circuit;
using namespace circuit::wire;

namespace {

// A session's requests: a version (msize 1 MiB), an attach, then clones
// of the root, each followed by a write of `big` bytes to a fid that is
// not open (answered EBADF): frames of a few bytes and of many, in turn.
std::string requests(std::size_t clones, std::size_t big) {
  std::string out = encode(notag, tmessage{tversion{1 << 20, "9P2000.L"}});
  out += encode(1, tmessage{tattach{0, nofid, "", "", nofid}});
  for (std::uint16_t i = 0; i < clones; ++i) {
    out += encode(std::uint16_t(100 + 2 * i), tmessage{twalk{0, 1000u + i, {}}});
    out += encode(std::uint16_t(101 + 2 * i), tmessage{twrite{0, 0, std::string(big, 'x')}});
  }
  return out;
}

struct rig {
  ns space{config{.host = "h1"}, make_tree};
  std::vector<std::uint16_t> tags;
  bool full = false;
  server srv{space, caller{}, [this](std::uint16_t tag, const rmessage&) { tags.push_back(tag); }};
  rig() { srv.hold_when([this] { return full; }); }
};

// The replies' tags when `bytes` come in reads of the sizes `next` gives.
template <class Next>
std::vector<std::uint16_t> replies(const std::string& bytes, Next next) {
  rig r;
  for (std::size_t at = 0; at < bytes.size();) {
    std::size_t n = std::min(next(), bytes.size() - at);
    REQUIRE(r.srv.feed(std::string_view(bytes).substr(at, n)));
    at += n;
  }
  CHECK(r.srv.buffered() == 0);
  return r.tags;
}

}  // namespace

TEST_CASE("a server cuts the same frames from a stream whatever reads bring it") {
  std::string bytes = requests(8, 70 * 1024);
  auto whole = replies(bytes, [&] { return bytes.size(); });
  REQUIRE(whole.size() == 2 + 16);
  CHECK(replies(bytes, [] { return std::size_t{1}; }) == whole);
  CHECK(replies(bytes, [] { return std::size_t{3}; }) == whole);
  CHECK(replies(bytes, [] { return std::size_t{64 * 1024}; }) == whole);
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round)
    CHECK(replies(bytes, [&] { return std::size_t(1 + rng() % (200 * 1024)); }) == whole);
}

TEST_CASE("a server holds frames back while its face is full, and serves them in order after") {
  std::string bytes = requests(6, 50 * 1024);
  auto whole = replies(bytes, [&] { return bytes.size(); });
  std::mt19937 rng(11);
  for (int round = 0; round < 10; ++round) {
    rig r;
    std::size_t at = 0;
    while (at < bytes.size()) {
      r.full = rng() % 3 == 0;  // a face over its bound now and then
      std::size_t n = std::min<std::size_t>(1 + rng() % (90 * 1024), bytes.size() - at);
      REQUIRE(r.srv.feed(std::string_view(bytes).substr(at, n)));
      at += n;
      if (!r.full) continue;
      std::size_t before = r.tags.size();
      REQUIRE(r.srv.feed({}));
      CHECK(r.tags.size() == before);  // still full: nothing served
    }
    r.full = false;
    REQUIRE(r.srv.feed({}));
    CHECK(r.srv.buffered() == 0);
    CHECK(r.tags == whole);
  }
}

TEST_CASE("a server refuses a stream whose frame size lies, whichever read brings the size") {
  std::string bytes = requests(1, 10);
  std::string liar = std::string("\xff\xff\xff\x7f", 4) + "junk";
  for (std::size_t split = 0; split <= liar.size(); ++split) {
    rig r;
    REQUIRE(r.srv.feed(bytes));
    auto first = r.srv.feed(std::string_view(liar).substr(0, split));
    auto second = first ? r.srv.feed(std::string_view(liar).substr(split)) : first;
    CHECK(!second);
  }
}

TEST_CASE(
    "a server counts what the requests in flight hold and may bring, until each is answered") {
  rig r;
  auto feed = [&](std::uint16_t tag, tmessage m) {
    std::string f = encode(tag, m);
    REQUIRE(r.srv.feed(f));
    return f.size();
  };
  feed(notag, tversion{1 << 20, "9P2000.L"});
  feed(1, tattach{0, nofid, "", "", nofid});
  feed(2, twalk{0, 1, {"h1", "channels"}});
  feed(3, tmkdir{1, "c", 0700, 0});
  feed(4, twalk{1, 2, {"c", "recv"}});
  CHECK(r.srv.in_flight() == 0);                                          // each answered at once
  std::size_t open = feed(5, tlopen{2, o_rdonly}) + server::small_reply;  // parks: no sender
  CHECK(r.srv.in_flight() == open);
  // Waiting behind it on fid 2: a read of at most msize, and a write
  // holding its bytes.
  std::size_t read = feed(6, tread{2, 0, 5000000}) + (1 << 20);
  std::size_t write = feed(7, twrite{2, 0, std::string(300000, 'x')}) + server::small_reply;
  CHECK(write > 300000);
  CHECK(r.srv.in_flight() == open + read + write);
  // A second request with a tag in flight is refused at once, and its
  // refusal counts off nothing.
  std::size_t replies = r.tags.size();
  feed(6, tread{2, 0, 100});
  REQUIRE(r.tags.size() == replies + 1);
  CHECK(r.tags.back() == 6);
  CHECK(r.srv.in_flight() == open + read + write);
  // The flush answers the open, then the read and write on a fid not
  // open, then itself.
  feed(8, tflush{5});
  CHECK(r.srv.in_flight() == 0);
  CHECK(std::vector<std::uint16_t>(r.tags.end() - 4, r.tags.end()) ==
        std::vector<std::uint16_t>{5, 6, 7, 8});
  // A new version ends what was in flight unanswered, and counts nothing of it.
  feed(9, tlopen{2, o_rdonly});
  CHECK(r.srv.in_flight() > 0);
  feed(notag, tversion{1 << 20, "9P2000.L"});
  CHECK(r.srv.in_flight() == 0);
}

// A relay's connection (root attaching as each caller, as a member's link
// does) with callers a (fid 1) and b (fid 2), and in channels/ of h1 a
// channel c whose recv a has open, parked (fid 12, tag 6): the requests
// behind it on fid 12 wait.
struct relay_rig {
  ns space{config{.host = "h1"}, make_tree};
  std::map<std::uint16_t, rmessage> got;
  server srv{space, caller{},
             [this](std::uint16_t tag, const rmessage& m) { got.insert_or_assign(tag, m); }};
  void feed(std::uint16_t tag, tmessage m) { REQUIRE(srv.feed(encode(tag, m))); }
  relay_rig() {
    feed(notag, tversion{1 << 20, "9P2000.L"});
    feed(1, tattach{1, nofid, "session-a", "", 0});
    feed(2, tattach{2, nofid, "session-b", "", 0});
    feed(3, twalk{1, 10, {"h1", "channels"}});
    feed(4, tmkdir{10, "c", 0700, 0});
    feed(5, twalk{10, 12, {"c", "recv"}});
    feed(6, tlopen{12, o_rdonly});  // parks: no sender
  }
  // Refused on `fid` (a directory): whose error file says so.
  void refuse(fid_t fid) {
    feed(50, tmkdir{fid, "no/slash", 0700, 0});
    REQUIRE(std::holds_alternative<rlerror>(got[50]));
  }
  // What `from`'s caller reads in channels/error.
  std::string words(fid_t from, fid_t fid, std::uint16_t tag) {
    feed(tag, twalk{from, fid, {"h1", "channels", "error"}});
    feed(tag + 1, tlopen{fid, o_rdonly});
    feed(tag + 2, tread{fid, 0, 4096});
    auto* r = std::get_if<rread>(&got[tag + 2]);
    return r ? r->data : std::string("(no rread)");
  }
};

TEST_CASE("a fid reused by a walk behind its pending clunk belongs to the walk's caller") {
  // A fid the relay's client clunked may be walked to again at once,
  // while the clunk still waits here behind a parked open on that fid.
  relay_rig r;
  r.feed(7, tclunk{12});                        // waits behind the open
  r.feed(8, twalk{2, 12, {"h1", "channels"}});  // b's, with a's fid number
  CHECK(r.got.count(7) == 0);
  r.feed(9, tflush{6});  // the open ends; the clunk, then the walk, go on
  REQUIRE(std::holds_alternative<rwalk>(r.got[8]));
  r.refuse(12);  // b's: b reads it in error, a does not
  std::string b = r.words(2, 20, 20), a = r.words(1, 21, 30);
  INFO("b: " << b << " a: " << a);
  CHECK(b.find("name has the character '/'") != std::string::npos);
  CHECK(a.find("name has the character") == std::string::npos);
}

TEST_CASE("a walk that fails late does not unbind the fid another walk reused since") {
  // The client clunked the walk's newfid behind it (pipelined) and walked
  // to that fid number again before the first walk was answered.
  relay_rig r;
  r.feed(7, twalk{12, 11, {"nothing"}});  // a's; waits behind the open, then fails
  r.feed(8, tclunk{11});
  r.feed(9, twalk{2, 11, {"h1", "channels"}});  // b's, with the same fid number
  CHECK(r.got.count(7) == 0);
  r.feed(10, tflush{6});
  REQUIRE(std::holds_alternative<rlerror>(r.got[7]));
  REQUIRE(std::holds_alternative<rwalk>(r.got[9]));
  r.refuse(11);
  CHECK(r.words(2, 20, 20).find("name has the character '/'") != std::string::npos);
}
