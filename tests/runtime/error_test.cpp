// Unit tests of runtime/src/error.cpp.
#include "circuit/core/error.hpp"

#include <catch2/catch.hpp>

#include "fixture.hpp"

using namespace circuit;

TEST_CASE("a text within the bound is kept as it is") {
  CHECK(cut_text("short") == "short");
  CHECK(cut_text(std::string(1024, 'a')) == std::string(1024, 'a'));
}

TEST_CASE("a long text is cut to the bound and says its original length") {
  std::string t = cut_text(std::string(250 << 10, 'a'));
  CHECK(t.size() <= max_error_text);
  CHECK(t.size() > max_error_text - 8);
  CHECK(t.ends_with("a... (256000 bytes)"));
  CHECK(make_error(errc::invalid, std::string(5000, 'b')).message.size() <= max_error_text);
}

TEST_CASE("a cut never ends inside a UTF-8 character") {
  std::string e = "\xc3\xa9";  // two bytes; the cut would fall between them
  std::string t = std::string(5, 'x');
  for (int i = 0; i < 10; ++i) t += e;
  CHECK(cut_text(t, 20) == "xxxxx... (25 bytes)");
  CHECK(cut_text(t, 21) == "xxxxx\xc3\xa9... (25 bytes)");
}

TEST_CASE("a session's error keeps at most the bound of a huge message") {
  test::space s;
  caller who;
  s.n.record(s.walk("/h1") >> file_bits, who,
             error{errc::invalid, "bad: " + std::string(300 << 10, 'z') + " end"});
  CHECK(s.n.last_error(s.walk("/h1") >> file_bits, who).size() <= max_error_text);
}

namespace {
int lookups = 0;
std::uint64_t session_of(pid_t pid) {
  ++lookups;
  return 1000 + static_cast<std::uint64_t>(pid);
}
}  // namespace

TEST_CASE("a face's session lookup runs only when an error is recorded or read, once per caller") {
  test::space s;
  auto dir = s.walk("/h1") >> file_bits;
  lookups = 0;
  caller a;
  a.pid = 7;
  a.key_of = session_of;
  caller b = a;  // another request of the same process
  CHECK(lookups == 0);
  s.n.record(dir, a, error{errc::invalid, "bad: a"});
  s.n.record(dir, a, error{errc::invalid, "bad: again"});
  CHECK(lookups == 1);
  CHECK(a.session_key() == 1007);
  CHECK(s.n.last_error(dir, b) == "bad: again");
  CHECK(lookups == 2);
  caller other;
  other.key = 1008;  // given outright, as the socket face does
  CHECK(s.n.last_error(dir, other).empty());
  CHECK(lookups == 2);
}
