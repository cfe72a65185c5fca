// Unit tests of runtime/src/namespace.cpp and dir.cpp.
#include "circuit/core/namespace.hpp"

#include "host.hpp"

#include "fixture.hpp"

using namespace circuit;

TEST_CASE("every directory lists help and error first, then its table") {
  test::space s;
  auto l = s.n.list(s.who, s.walk("/h1"));
  REQUIRE(l.ok());
  std::vector<std::string> names;
  for (auto& e : *l) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"help", "error", "stat", "ctl", "channels", "workers", "bin"});
}

TEST_CASE("help is written from the table and names every file") {
  test::space s;
  s.mkchan("a");
  std::string help = s.text("/h1/channels/a/help");
  auto l = s.n.list(s.who, s.walk("/h1/channels/a"));
  REQUIRE(l.ok());
  for (auto& e : *l) CHECK(help.find("\n  " + e.name + " ") != std::string::npos);
}

TEST_CASE("read-only and write-only files refuse the other way with access") {
  test::space s;
  auto w = s.open("/h1/stat", O_WRONLY);
  REQUIRE(w->result);
  CHECK(w->result->err().code == errc::access);
  auto r = s.open("/h1/ctl", O_RDONLY);
  REQUIRE(r->result);
  CHECK(r->result->err().code == errc::access);
  CHECK(s.text("/h1/error") == "ctl: write-only file; open it for writing\n");
}

TEST_CASE("mkdir refuses taken names and file names") {
  test::space s;
  s.mkchan("a");
  auto ch = s.walk("/h1/channels");
  CHECK(s.n.mkdir(s.who, ch, "a").err().code == errc::exists);
  CHECK(s.n.mkdir(s.who, ch, "help").err().code == errc::exists);
  CHECK(s.n.mkdir(s.who, s.walk("/h1"), "x").err().code == errc::not_permitted);
  CHECK(s.n.mkdir(s.who, ch, std::string(65, 'x')).err().code == errc::invalid);
}

TEST_CASE("inode numbers of a removed channel go stale and are not reused") {
  test::space s;
  s.mkchan("a");
  auto old = s.walk("/h1/channels/a/stat");
  REQUIRE(s.n.rmdir(s.who, s.walk("/h1/channels"), "a").ok());
  CHECK(s.n.getattr(s.who, old).err().code == errc::not_found);
  s.mkchan("a");
  CHECK(s.walk("/h1/channels/a/stat") != old);
}

TEST_CASE("help lists a directory's ctl commands from its verb table") {
  test::space s;
  std::string help = s.text("/h1/help");
  for (const auto& v : s.n.top().child("h1")->verbs())
    CHECK(help.find("\n  " + std::string(v.usage) + " ") != std::string::npos);
  CHECK(help.find("ctl commands:") != std::string::npos);
  CHECK(s.text("/h1/channels/help").find("ctl commands:") == std::string::npos);
}

TEST_CASE("files of a removed channel fail reads and writes with removed, but a taken message reads on") {
  test::space s;
  std::string c = s.mkchan("c", 2);
  REQUIRE(s.send(c, "kept").ok());
  auto snd = s.open(c + "/send", O_WRONLY);
  auto rcv = s.open(c + "/recv", O_RDONLY);
  auto st = s.open(c + "/stat", O_RDONLY);
  REQUIRE(snd->result->ok());
  REQUIRE(rcv->result->ok());
  REQUIRE(st->result->ok());
  REQUIRE(s.n.rmdir(s.who, s.walk("/h1/channels"), "c").ok());
  auto w = s.write(snd->result->value(), 0, "late");
  REQUIRE_FALSE(w.ok());
  CHECK(w.err().code == errc::removed);
  std::optional<result<std::string>> got;
  s.n.read(*st->result->value(), s.who, 0, 100,
           make_op<std::string>([&](result<std::string> r) { got.emplace(std::move(r)); }));
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->err().code == errc::removed);
  CHECK(s.n.readable(*st->result->value(), nullptr));  // a read would fail at once
  CHECK(s.read_all(rcv->result->value()) == "kept");
  for (auto* o : {&snd, &rcv, &st}) s.n.release((*o)->result->value());
}
