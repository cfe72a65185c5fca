// Unit tests of runtime/cluster/src/link/key.cpp: the key file and the
// keys derived from it.
#include "circuit/cluster/key.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace circuit;
using namespace circuit::cluster;

namespace {

// A private directory that goes with the test.
struct scratch {
  std::string dir;
  scratch() {
    char tmpl[] = "/tmp/circuit-key-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
  }
  ~scratch() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }
  void put(const std::string& name, const std::string& text, mode_t mode) const {
    std::ofstream(path(name)) << text;
    REQUIRE(::chmod(path(name).c_str(), mode) == 0);
  }
};

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string hex64 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

}  // namespace

TEST_CASE("a new key is 64 hex digits and a newline, in a file of mode 0600", "[link]") {
  scratch s;
  REQUIRE(write_new_key(s.path("key")).ok());
  struct stat st {};
  REQUIRE(::stat(s.path("key").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  std::string text = contents(s.path("key"));
  REQUIRE(text.size() == 65);
  CHECK(text.back() == '\n');
  CHECK(text.find_first_not_of("0123456789abcdef") == 64);
  auto k = load_key(s.path("key"));
  REQUIRE(k.ok());
}

TEST_CASE("two new keys differ", "[link]") {
  scratch s;
  REQUIRE(write_new_key(s.path("a")).ok());
  REQUIRE(write_new_key(s.path("b")).ok());
  CHECK(contents(s.path("a")) != contents(s.path("b")));
}

TEST_CASE("keygen never writes over a file that is there, and says so", "[link]") {
  scratch s;
  s.put("key", "old\n", 0600);
  auto r = write_new_key(s.path("key"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::exists);
  CHECK(r.err().message == "key " + s.path("key") +
                               " exists already; a new key is never written over an old one: "
                               "remove it first, or pick another file");
  CHECK(contents(s.path("key")) == "old\n");
}

TEST_CASE("a key that group or others may read is refused with how to fix it", "[link]") {
  scratch s;
  s.put("key", hex64 + "\n", 0644);
  auto r = load_key(s.path("key"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::access);
  CHECK(r.err().message ==
        "key " + s.path("key") + " may be read by others (mode 0644): chmod 600 " + s.path("key"));
  s.put("key", hex64 + "\n", 0640);
  CHECK(load_key(s.path("key")).err().code == errc::access);
  s.put("key", hex64 + "\n", 0620);
  CHECK(load_key(s.path("key")).err().message ==
        "key " + s.path("key") + " may be changed by others (mode 0620): chmod 600 " +
            s.path("key"));
}

TEST_CASE("a malformed key file is refused with words", "[link]") {
  scratch s;
  for (std::string bad : {std::string(""), hex64.substr(1) + "\n", hex64 + "0\n",
                          hex64.substr(0, 63) + "g\n", hex64 + "\n\n", std::string(200, 'a')}) {
    s.put("key", bad, 0600);
    auto r = load_key(s.path("key"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::invalid);
    CHECK(r.err().message == "key " + s.path("key") +
                                 " is not a cluster key (64 hex digits and a newline); make one "
                                 "with: circuitd keygen FILE");
  }
}

TEST_CASE("a key path that is a directory or a FIFO is refused, without hanging", "[link]") {
  scratch s;
  REQUIRE(::mkfifo(s.path("fifo").c_str(), 0600) == 0);
  auto r = load_key(s.path("fifo"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message == "key " + s.path("fifo") + " is not a regular file");
  CHECK(load_key(s.dir).err().message == "key " + s.dir + " is not a regular file");
}

TEST_CASE("a missing key file is refused with how to make one", "[link]") {
  scratch s;
  auto r = load_key(s.path("none"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::not_found);
  CHECK(r.err().message == "key " + s.path("none") +
                               ": No such file or directory; make one with: circuitd keygen " +
                               s.path("none"));
}

TEST_CASE("a key reads the same with or without its newline, in either case of hex", "[link]") {
  scratch s;
  s.put("a", hex64 + "\n", 0600);
  s.put("b", hex64, 0400);
  auto a = load_key(s.path("a")), b = load_key(s.path("b"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->bytes == b->bytes);
  CHECK(a->bytes[0] == 0x00);
  CHECK(a->bytes[5] == 0x55);
  CHECK(a->bytes[31] == 0xff);
}

TEST_CASE("derived keys depend on the label and on the key, and match HKDF-SHA256", "[link]") {
  cluster_key k;
  for (std::size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<std::uint8_t>(i);
  CHECK(derive(k, link_label) == derive(k, link_label));
  CHECK(derive(k, link_label) != derive(k, gossip_label));
  cluster_key other = k;
  other.bytes[0] ^= 1;
  CHECK(derive(k, link_label) != derive(other, link_label));
  CHECK(derive(k, link_label) != k.bytes);
}
