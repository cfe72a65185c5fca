// Unit tests of runtime/src/channel_ends.cpp for a receiver on another
// member (caller::remote), through the namespace core.
#include "channel.hpp"

#include "circuit/core/completions.hpp"

#include "fixture.hpp"

using namespace circuit;
using circuit::test::space;

// A receiver on another member (caller::remote): the last bytes handed out
// may be lost with its link, so they do not make the message received.
TEST_CASE("a remote receiver's message is received at a read past its end or a commit, not at its last byte") {
  space s;
  s.who.remote = true;
  auto c = s.mkchan("a", 3);
  REQUIRE(s.send(c, "kept").ok());
  REQUIRE(s.send(c, "read past").ok());
  REQUIRE(s.send(c, "committed").ok());
  auto read_exactly = [&](open_file* f, std::size_t n) {
    std::optional<result<std::string>> got;
    s.n.read(*f, s.who, 0, n, make_op<std::string>([&](result<std::string> r) { got.emplace(std::move(r)); }));
    REQUIRE(got);
    REQUIRE(got->ok());
    return got->value();
  };
  // Every byte handed out, then the session ends (drop): it goes back.
  auto first = s.open(c + "/recv", O_RDONLY);
  REQUIRE(first->result);
  CHECK(read_exactly(first->result->value(), 4) == "kept");
  CHECK(s.text(c + "/stat").find("\"held\":1") != std::string::npos);
  s.n.drop(first->result->value(), s.who);
  CHECK(s.text(c + "/stat").find("\"received\":0") != std::string::npos);
  CHECK(s.recv(c) == "kept");  // read past the end: received
  CHECK(s.text(c + "/stat").find("\"received\":1") != std::string::npos);
  CHECK(s.recv(c) == "read past");
  // Every byte, then a commit (a 9P clunk): received.
  auto last = s.open(c + "/recv", O_RDONLY);
  REQUIRE(last->result);
  CHECK(read_exactly(last->result->value(), 9) == "committed");
  REQUIRE(s.n.commit(last->result->value(), s.who).ok());
  CHECK(s.text(c + "/stat").find("\"received\":3") != std::string::npos);
  CHECK(s.text(c + "/stat").find("\"held\":0") != std::string::npos);
}
