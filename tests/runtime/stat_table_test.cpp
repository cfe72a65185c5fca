// Unit tests of runtime/src/stat_table.cpp: stat JSON and help from one table.
#include "circuit/core/stat_table.hpp"

#include <boost/json/parse.hpp>
#include <limits>

#include "channel.hpp"
#include "host.hpp"
#include "fixture.hpp"

using namespace circuit;
namespace json = boost::json;

namespace {
struct thing {
  std::string name;
  std::uint64_t count = 0;
  double load = 0;
  bool on = false;
};

const stat_field<thing> thing_stat[] = {
    {"name", "its name", [](const thing& t) { return json::value(t.name); }},
    {"count", "how many", [](const thing& t) { return json::value(t.count); }},
    {"load", "a fraction", [](const thing& t) { return json::value(t.load); }, 2},
    {"on", "whether on", [](const thing& t) { return json::value(t.on); }},
    {"none", "always null", [](const thing&) { return json::value(nullptr); }},
};

std::string text(const thing& t) { return stat_json<thing>(thing_stat, t); }
}  // namespace

TEST_CASE("a stat table writes one JSON line with its rows' keys in order") {
  CHECK(text({"a", 7, 0.5, true}) == "{\"name\":\"a\",\"count\":7,\"load\":0.50,\"on\":true,\"none\":null}\n");
  CHECK(text({}) == "{\"name\":\"\",\"count\":0,\"load\":0.00,\"on\":false,\"none\":null}\n");
}

TEST_CASE("a stat table escapes any bytes of a string and keeps long values whole") {
  std::string nasty = "q\"b\\s\n\t\x01\x1f/\x7f";
  nasty += std::string(60 << 10, 'x');
  nasty += "\xc3\xa9";  // UTF-8
  std::string line = text({nasty, 1, 0, false});
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  json::value v = json::parse(line);
  CHECK(v.at("name").as_string() == nasty);
  CHECK(v.at("count").as_int64() == 1);
}

TEST_CASE("a stat table writes a double that is not finite as null and a huge one validly") {
  auto nan = json::parse(text({"n", 0, std::numeric_limits<double>::quiet_NaN()}));
  CHECK(nan.at("load").is_null());
  auto inf = json::parse(text({"n", 0, std::numeric_limits<double>::infinity()}));
  CHECK(inf.at("load").is_null());
  auto big = json::parse(text({"n", 0, 1e300}));
  CHECK(big.at("load").as_double() == 1e300);
}

TEST_CASE("the docs of a stat table are its rows' names and help, in order") {
  auto docs = stat_docs<thing>(thing_stat);
  REQUIRE(docs.size() == 5);
  CHECK(docs[0].name == "name");
  CHECK(docs[2].help == "a fraction");
  CHECK(docs[4].name == "none");
}

TEST_CASE("every key of a channel's and a host's stat is listed, in order, in their help") {
  test::space s;
  REQUIRE(s.n.mkdir(s.who, s.walk("/h1/channels"), "a").ok());
  for (std::string path : {"/h1/channels/a", "/h1"}) {
    INFO(path);
    json::object o = json::parse(s.text(path + "/stat")).as_object();
    std::string help = s.text(path + "/help");
    auto block = help.find("\nstat fields");
    REQUIRE(block != std::string::npos);
    std::size_t at = block;
    for (const auto& kv : o) {
      auto row = help.find("\n  " + std::string(kv.key()) + " ", at);
      CHECK(row != std::string::npos);
      if (row != std::string::npos) at = row;
    }
    CHECK(o.size() == s.n.find(s.walk(path) >> file_bits)->stat_fields().size());
  }
}
