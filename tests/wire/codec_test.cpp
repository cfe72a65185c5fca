// Unit tests of runtime/wire/src/codec.cpp: round trips, bytes as the
// 9P2000.L text (diod's protocol.md) lays them out, and refused frames.
#include "circuit/wire/codec.hpp"

#include <catch2/catch.hpp>

#include "samples.hpp"

using namespace circuit;
using namespace circuit::wire;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(char(c));
  return s;
}

// The message of a refusal, checked to be errc::invalid.
template <class R>
std::string refusal(const R& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid);
  return r.err().message;
}

}  // namespace

TEST_CASE("every request survives an encode and a decode unchanged") {
  std::uint16_t tag = 1;
  for (const auto& m : test::sample_tmessages()) {
    std::string f = encode(tag, m);
    auto d = decode_t(f, max_msize);
    INFO(mtype_name(type_code(m)));
    REQUIRE(d.ok());
    CHECK(d->tag == tag);
    CHECK(d->message == m);
    CHECK(*next_frame_size(f, max_msize) == f.size());
    ++tag;
  }
}

TEST_CASE("every reply survives an encode and a decode unchanged") {
  std::uint16_t tag = 100;
  for (const auto& m : test::sample_rmessages()) {
    std::string f = encode(tag, m);
    auto d = decode_r(f, max_msize);
    INFO(mtype_name(std::uint8_t(type_of(m))));
    REQUIRE(d.ok());
    CHECK(d->tag == tag);
    CHECK(d->message == m);
    ++tag;
  }
}

TEST_CASE("Tversion is laid out as size type tag msize version") {
  CHECK(encode(notag, tversion{8192, "9P2000.L"}) ==
        bytes({21, 0, 0, 0, 100, 0xff, 0xff, 0, 0x20, 0, 0, 8, 0}) + "9P2000.L");
}

TEST_CASE("Rlerror carries the errno in four little-endian bytes") {
  CHECK(encode(1, rlerror{2}) == bytes({11, 0, 0, 0, 7, 1, 0, 2, 0, 0, 0}));
  auto d = decode_r(bytes({11, 0, 0, 0, 7, 1, 0, 0x5f, 0, 0, 0}), 8192);
  REQUIRE(d.ok());
  CHECK(std::get<rlerror>(d->message).ecode == 95);
}

TEST_CASE("Twalk is laid out as fid newfid nwname and the names") {
  CHECK(encode(3, twalk{1, 2, {"a", "bc"}}) ==
        bytes({24, 0, 0, 0, 110, 3, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0, 'a', 2, 0, 'b', 'c'}));
}

TEST_CASE("Rlopen is laid out as qid (type version path) and iounit") {
  CHECK(encode(4, rlopen{qid{qt_dir, 5, 0x0102030405060708}, 0x100}) ==
        bytes({24, 0, 0, 0, 13, 4, 0, 0x80, 5, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 0, 0}));
}

TEST_CASE("Twrite is laid out as fid offset count and the data") {
  CHECK(encode(5, twrite{7, 1, "hi"}) == bytes({25, 0, 0, 0, 118, 5, 0, 7, 0, 0, 0, 1, 0, 0, 0,
                                                0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'}));
}

TEST_CASE("Rgetattr takes the 160 bytes of the 9P2000.L text") {
  CHECK(encode(1, rgetattr{}).size() == 160);
  CHECK(encode(1, rstatfs{}).size() == 7 + 4 + 4 + 6 * 8 + 4);
}

TEST_CASE("a Tfsync carries fid and datasync as Linux sends them") {
  CHECK(encode(2, tfsync{9, 1}) == bytes({15, 0, 0, 0, 50, 2, 0, 9, 0, 0, 0, 1, 0, 0, 0}));
}

TEST_CASE("a directory entry is qid offset type name") {
  std::string data;
  dirent d{qid{qt_dir, 0, 2}, 1, dt_dir, "a"};
  encode_dirent(data, d);
  encode_dirent(data, dirent{qid{qt_file, 0, 3}, 2, dt_reg, "recv"});
  CHECK(data.substr(0, dirent_size(d)) ==
        bytes({0x80, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 'a'}));
  auto back = decode_dirents(data);
  REQUIRE(back.ok());
  REQUIRE(back->size() == 2);
  CHECK((*back)[0] == d);
  CHECK((*back)[1].name == "recv");
  CHECK(refusal(decode_dirents(data.substr(0, data.size() - 1))) ==
        "9p: Rreaddir: entry 1 ends inside a string");
}

TEST_CASE("a request circuit does not serve decodes as unsupported, body unread") {
  // Txattrwalk fid 1 newfid 2 name "a".
  std::string f = bytes({18, 0, 0, 0, 30, 7, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 'a'});
  auto d = decode_t(f, 8192);
  REQUIRE(d.ok());
  CHECK(d->tag == 7);
  CHECK(std::get<tunsupported>(d->message).type == 30);
  CHECK(mtype_name(30) == "Txattrwalk");
  // 9P2000's Topen and Tstat are refused the same way.
  CHECK(is_known_tmessage(112));
  CHECK(is_known_tmessage(124));
}

TEST_CASE("an unknown type, a reply sent as a request and Terror are refused") {
  CHECK(refusal(decode_t(bytes({7, 0, 0, 0, 200, 0, 0}), 8192)) == "9p: unknown message type 200");
  CHECK(refusal(decode_t(encode(1, rclunk{}), 8192)) == "9p: unknown message type 121");
  CHECK(refusal(decode_t(bytes({7, 0, 0, 0, 106, 0, 0}), 8192)) == "9p: unknown message type 106");
  CHECK(refusal(decode_r(encode(1, tclunk{1}), 8192)) == "9p: unknown message type 120");
}

TEST_CASE("a frame cut anywhere is refused") {
  for (const auto& m : test::sample_tmessages()) {
    std::string f = encode(1, m);
    for (std::size_t n = 0; n < f.size(); ++n) {
      std::string cut = f.substr(0, n);
      if (n >= 4) cut[0] = char(n);  // even with an honest size field
      CHECK_FALSE(decode_t(cut, max_msize).ok());
    }
  }
}

TEST_CASE("a frame cut inside a field says where") {
  std::string f = encode(1, twalk{1, 2, {"abc"}});
  f.resize(f.size() - 1);
  f[0] = char(f.size());
  CHECK(refusal(decode_t(f, 8192)) == "9p: Twalk: ends inside a string");
  std::string w = encode(1, twrite{1, 0, "data"});
  w.resize(w.size() - 2);
  w[0] = char(w.size());
  CHECK(refusal(decode_t(w, 8192)) == "9p: Twrite: ends inside data");
}

TEST_CASE("bytes after the last field are refused") {
  std::string f = encode(1, tclunk{1}) + "xy";
  f[0] = char(f.size());
  CHECK(refusal(decode_t(f, 8192)) == "9p: Tclunk: 2 bytes after the last field");
}

TEST_CASE("a size field that does not match the frame is refused") {
  std::string f = encode(1, tclunk{1});
  f[0] = char(f.size() + 1);
  CHECK(refusal(decode_t(f, 8192)) == "9p: size field says 12, frame has 11 bytes");
}

TEST_CASE("a frame over msize is refused, and so is its size prefix") {
  std::string f = encode(1, twrite{1, 0, std::string(200, 'x')});
  CHECK(decode_t(f, 8192).ok());
  CHECK(refusal(decode_t(f, 100)) == "9p: frame of 223 bytes is over msize 100");
  CHECK(refusal(next_frame_size(f, 100)) == "9p: size field says 223, over msize 100");
}

TEST_CASE("the stream helper waits for four bytes and refuses a size under the header") {
  CHECK(*next_frame_size("", 8192) == 0);
  CHECK(*next_frame_size(bytes({9, 0, 0}), 8192) == 0);
  CHECK(*next_frame_size(bytes({9, 0, 0, 0}), 8192) == 9);
  CHECK(refusal(next_frame_size(bytes({6, 0, 0, 0}), 8192)) ==
        "9p: size field says 6, shorter than a header");
  CHECK(refusal(decode_t(bytes({6, 0, 0, 0, 120, 0}), 8192)) ==
        "9p: frame of 6 bytes is shorter than its header");
}

TEST_CASE("a walk of more than sixteen names is refused") {
  std::vector<std::string> names(16, "n");
  CHECK(decode_t(encode(1, twalk{1, 2, names}), 8192).ok());
  names.push_back("n");
  CHECK(refusal(decode_t(encode(1, twalk{1, 2, names}), 8192)) ==
        "9p: Twalk: 17 path elements (at most 16)");
}

TEST_CASE("a data count larger than the frame is refused without reading on") {
  std::string f = encode(1, rread{"abc"});
  f[7] = char(0xff);
  f[8] = char(0xff);
  CHECK(refusal(decode_r(f, 8192)) == "9p: Rread: ends inside data");
}

TEST_CASE("the tag of a whole header can be read before decoding") {
  CHECK(peek_tag(encode(0x1234, tclunk{1})) == 0x1234);
  CHECK(peek_tag(bytes({7, 0, 0, 0, 120, 1})) == notag);
}
