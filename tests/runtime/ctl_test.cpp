// Unit tests of runtime/src/ctl.cpp.
#include "circuit/core/ctl.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace circuit;

TEST_CASE("parse_count takes a plain non-negative number and nothing else") {
  CHECK(parse_count("n", "42\n", 100).value() == 42);
  CHECK(parse_count("n", " 7 ", 100).value() == 7);
  CHECK(parse_count("n", "abc", 100).err().code == errc::invalid);
  CHECK(parse_count("n", "4 2", 100).err().code == errc::invalid);
  CHECK(parse_count("n", "0x10", 100).err().code == errc::invalid);
  CHECK(parse_count("n", "-1", 100).err().code == errc::invalid);
  CHECK(parse_count("n", "+1", 100).err().code == errc::invalid);
  CHECK(parse_count("n", "101", 100).err().code == errc::out_of_range);
  CHECK(parse_count("n", "99999999999999999999999", 100).err().code == errc::out_of_range);
}

TEST_CASE("host ctl runs several commands and names the line that fails") {
  test::space s;
  REQUIRE(s.put("/h1/ctl", "max-message 100\n\nmax-message 200\n").ok());
  CHECK(s.n.cfg().max_message == 200);
  auto r = s.put("/h1/ctl", "max-message 300\nfrobnicate\n");
  CHECK(r.err().code == errc::invalid);
  CHECK(r.err().message.find("line 2: unknown command \"frobnicate\"") != std::string::npos);
  CHECK(s.n.cfg().max_message == 300);
  CHECK(s.put("/h1/ctl", "max-message").err().message.find("usage: max-message BYTES") !=
        std::string::npos);
}

TEST_CASE("clip shows a long value by its two ends and escapes control bytes") {
  CHECK(clip("/bin/ls") == "/bin/ls");
  CHECK(clip("a\nb\x01") == "a\\x0ab\\x01");
  std::string path = "/start/" + std::string(100000, 'p') + "/end";
  std::string c = clip(path);
  CHECK(c.size() == 100);
  CHECK(c.starts_with("/start/ppp"));
  CHECK(c.ends_with("ppp/end"));
  CHECK(c.find("...") != std::string::npos);
  CHECK(quote(std::string(100, 'q')) == "\"" + std::string(40, 'q') + "...\"");
}
