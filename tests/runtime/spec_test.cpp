// Unit tests of runtime/src/spec.cpp.
#include "spec.hpp"

#include <catch2/catch.hpp>

using namespace circuit;

namespace {
std::string why(std::string_view text) {
  auto s = parse_spec(text);
  REQUIRE_FALSE(s.ok());
  return s.err().message;
}
}  // namespace

TEST_CASE("a spec needs only a path and reads back as one JSON line") {
  auto s = parse_spec(R"({"path":"/bin/ls"})");
  REQUIRE(s.ok());
  CHECK(s->path == "/bin/ls");
  CHECK(s->args.empty());
  CHECK_FALSE(s->env);
  CHECK(to_json(*s) == "{\"path\":\"/bin/ls\",\"args\":[]}\n");
  auto full = parse_spec(R"({"path":"/bin/ls","args":["-l"],"env":["A=1"],"dir":"/tmp"})");
  REQUIRE(full.ok());
  CHECK(to_json(*full) == "{\"path\":\"/bin/ls\",\"args\":[\"-l\"],\"env\":[\"A=1\"],\"dir\":\"/tmp\"}\n");
}

TEST_CASE("a spec refuses bad JSON, wrong types, unknown and missing fields by name") {
  CHECK(why("nonsense").find("bad spec: not JSON") == 0);
  CHECK(why("[1,2]") == "bad spec: must be a JSON object, not array");
  CHECK(why(R"({"path":42})") == "bad spec: \"path\" must be a string");
  CHECK(why(R"({"path":"/bin/ls","args":["a",1]})") ==
        "bad spec: \"args\" must be an array of strings; element 1 is int64");
  CHECK(why(R"({"path":"/bin/ls","args":"a"})") == "bad spec: \"args\" must be an array of strings");
  CHECK(why(R"({"path":"/bin/ls","env":["NOEQUALS"]})").find("NAME=VALUE") != std::string::npos);
  CHECK(why(R"({"path":"/bin/ls","colour":"red"})") == "bad spec: unknown field \"colour\"");
  CHECK(why(R"({"args":[]})") == "bad spec: \"path\" or \"binary\" is required");
  CHECK(why(R"({"path":"ls"})") == "bad spec: \"path\" must be an absolute path");
}

TEST_CASE("an incomplete spec is told apart from a bad one") {
  CHECK(parse_spec(R"({"path":"/bin)").err().code == errc::would_block);
  CHECK(parse_spec(R"({"path":"/bin/ls"}})").err().code == errc::invalid);
}

TEST_CASE("a spec over the size limit is refused") {
  std::string big = R"({"path":"/bin/ls","args":[")" + std::string(max_spec_bytes, 'a') + R"("]})";
  CHECK(parse_spec(big).err().code == errc::too_big);
}

TEST_CASE("check_spec names what is wrong on this host") {
  CHECK(check_spec({.path = "/nonexistent/x"}).err().code == errc::not_found);
  CHECK(check_spec({.path = "/tmp"}).err().code == errc::is_dir);
  CHECK(check_spec({.path = "/etc/passwd"}).err().code == errc::access);
  CHECK(check_spec({.path = "/bin/sh", .dir = "/nonexistent"}).err().code == errc::not_found);
  CHECK(check_spec({.path = "/bin/sh"}).ok());
}

TEST_CASE("a refused spec quotes user values short, with control bytes escaped") {
  auto why = [](std::string_view body) { return parse_spec(body).err().message; };
  CHECK(why(R"({"path":"/bin/ls","a\nb":1})") == "bad spec: unknown field \"a\\x0ab\"");
  std::string long_env = R"({"path":"/bin/ls","env":[")" + std::string(100000, 'e') + R"("]})";
  CHECK(why(long_env) == "bad spec: \"env\" entries are NAME=VALUE; \"" + std::string(40, 'e') + "...\" is not");
  auto missing = check_spec(spec{.path = "/no/" + std::string(250000, 'p') + "/end"});
  CHECK(missing.err().message.size() < 200);
  CHECK(missing.err().message.ends_with("ppp/end: no such file"));
}

TEST_CASE("a spec names a path or a binary of the store by its sha256, never both") {
  std::string sha(64, 'a');
  auto s = parse_spec(R"({"binary":")" + sha + R"(","args":["x"]})");
  REQUIRE(s.ok());
  CHECK(s->binary == sha);
  CHECK(s->path.empty());
  s->path = "/var/lib/circuit/h1/bin/" + sha;  // as the worker's start sets it
  CHECK(to_json(*s) == "{\"binary\":\"" + sha + "\",\"args\":[\"x\"]}\n");
  CHECK(why(R"({"binary":")" + sha + R"(","path":"/bin/ls"})") == "bad spec: give \"path\" or \"binary\", not both");
  CHECK(why(R"({"binary":"ABC"})").find("bad spec: \"binary\": \"ABC\" is not a sha256") == 0);
  CHECK(why(R"({"binary":")" + std::string(64, 'A') + "\"}").find("is not a sha256") != std::string::npos);
  CHECK(why(R"({"binary":7})") == "bad spec: \"binary\" must be a string");
}
