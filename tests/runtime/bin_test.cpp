// Unit tests of runtime/elements/src/{sha256,incoming,bin}.cpp, and of the
// core's files made by create(2) (ns::create, ns::unlink) through bin/.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "circuit/core/namespace.hpp"
#include "circuit/elements/tree.hpp"
#include "incoming.hpp"
#include "sha256.hpp"

using namespace circuit;
namespace fs = std::filesystem;

namespace {

const std::string abc_sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/circuit-bin-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename());
    return out;
  }
};

}  // namespace

TEST_CASE("sha256 is computed as bytes come, and can be read between them") {
  sha256 h;
  h.update("a");
  h.update("b");
  CHECK(h.hex() != abc_sha);
  h.update("c");
  CHECK(h.hex() == abc_sha);
  CHECK(check_sha256("bin", abc_sha).ok());
  CHECK_FALSE(check_sha256("bin", abc_sha.substr(1)).ok());
  CHECK_FALSE(check_sha256("bin", "../" + abc_sha.substr(3)).ok());
}

TEST_CASE("an upload takes bytes in order, up to its bound, and is named only when they are its name") {
  temp_dir d;
  int dir_fd = open(d.path.c_str(), O_RDONLY | O_DIRECTORY);
  {
    auto in = incoming::begin(dir_fd, abc_sha, 5);
    REQUIRE(in.ok());
    CHECK(d.names().empty());  // no name while it comes
    CHECK((*in)->write(0, "a").ok());
    auto late = (*in)->write(2, "c");
    REQUIRE_FALSE(late.ok());
    CHECK(late.err().code == errc::invalid);
    CHECK(late.err().message.find("writes must be in order: this one is at byte 2, the next is at byte 1") !=
          std::string::npos);
    CHECK((*in)->write(1, "b").ok());
    auto v = (*in)->verdict();
    REQUIRE_FALSE(v.ok());
    CHECK(v.err().code == errc::io);
    CHECK(v.err().message.find("(2 bytes), not its name " + abc_sha) != std::string::npos);
    auto big = (*in)->write(2, "cdef");
    REQUIRE_FALSE(big.ok());
    CHECK(big.err().code == errc::too_big);
    CHECK((*in)->write(2, "c").ok());
    CHECK((*in)->verdict().ok());
    CHECK((*in)->read(1, 10).value() == "bc");
    REQUIRE((*in)->commit(dir_fd).ok());
  }
  CHECK(d.names() == std::vector<std::string>{abc_sha});
  CHECK((fs::status(d.path / abc_sha).permissions() & fs::perms::all) == fs::perms(0511));
  {
    // The same bytes again: committed too, the one there stays.
    auto in = incoming::begin(dir_fd, abc_sha, 5);
    REQUIRE(in.ok());
    CHECK((*in)->write(0, "abc").ok());
    CHECK((*in)->commit(dir_fd).ok());
  }
  {
    // Not committed: nothing is left of it.
    auto in = incoming::begin(dir_fd, std::string(64, '0'), 5);
    REQUIRE(in.ok());
    CHECK((*in)->write(0, "abc").ok());
    CHECK_FALSE((*in)->commit(dir_fd).ok());
  }
  CHECK(d.names() == std::vector<std::string>{abc_sha});
  close(dir_fd);
}

namespace {

// A namespace with a store in a temporary directory, and the calls a face
// makes on it.
struct store_space {
  temp_dir d;
  std::optional<ns> n;
  caller who;
  store_space() { n.emplace(config{.host = "h1", .store = (d.path / "store").string(), .store_bound = 1000}, make_tree); }
  std::uint64_t bin_ino() {
    auto h = n->lookup(who, ns::root_ino, "h1");
    REQUIRE(h.ok());
    auto b = n->lookup(who, h->ino, "bin");
    REQUIRE(b.ok());
    return b->ino;
  }
  result<ns::created> create(const std::string& name, int flags = O_WRONLY | O_CREAT) {
    std::optional<result<ns::created>> got;
    n->create(bin_ino(), name, open_args{who, flags}, make_op<ns::created>([&](result<ns::created> r) { got.emplace(std::move(r)); }));
    REQUIRE(got);
    return std::move(*got);
  }
  result<std::size_t> write(open_file* f, std::uint64_t off, std::string data) {
    std::optional<result<std::size_t>> got;
    n->write(*f, who, off, std::move(data), make_op<std::size_t>([&](result<std::size_t> r) { got.emplace(std::move(r)); }));
    REQUIRE(got);
    return std::move(*got);
  }
  std::vector<std::string> listed() {
    auto l = n->list(who, bin_ino());
    REQUIRE(l.ok());
    std::vector<std::string> out;
    for (auto& e : *l)
      if (e.name != "help" && e.name != "error" && e.name != "stat") out.push_back(e.name);
    return out;
  }
};

}  // namespace

TEST_CASE("a file made by create keeps its inode while it lives, and a name made again gets a new one") {
  store_space s;
  auto c = s.create(abc_sha);
  REQUIRE(c.ok());
  std::uint64_t ino = c->a.ino;
  CHECK(c->a.size == 0);
  CHECK(s.write(c->f, 0, "abc").ok());
  CHECK(s.n->getattr(s.who, ino)->size == 3);  // while it comes
  REQUIRE(s.n->commit(c->f, s.who).ok());
  CHECK(s.listed() == std::vector<std::string>{abc_sha});
  CHECK(s.n->lookup(s.who, s.bin_ino(), abc_sha)->ino == ino);
  CHECK(s.n->getattr(s.who, ino)->size == 3);
  CHECK(s.create(abc_sha, O_WRONLY | O_CREAT | O_EXCL).err().code == errc::exists);
  REQUIRE(s.n->unlink(s.who, s.bin_ino(), abc_sha).ok());
  CHECK(s.listed().empty());
  CHECK(s.n->getattr(s.who, ino).err().code == errc::not_found);
  auto again = s.create(abc_sha);
  REQUIRE(again.ok());
  CHECK(again->a.ino != ino);
  s.n->drop(again->f, s.who);  // aborted: nothing kept
  CHECK(s.listed().empty());
  CHECK(s.n->unlink(s.who, s.bin_ino(), "stat").err().code == errc::not_permitted);
  CHECK(s.n->unlink(s.who, s.bin_ino(), abc_sha).err().code == errc::not_found);
}

TEST_CASE("directories of fixed files refuse create with EPERM and their words") {
  store_space s;
  auto h = s.n->lookup(s.who, ns::root_ino, "h1");
  std::optional<result<ns::created>> got;
  s.n->create(h->ino, "x", open_args{s.who, O_WRONLY | O_CREAT},
              make_op<ns::created>([&](result<ns::created> r) { got.emplace(std::move(r)); }));
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->err().code == errc::not_permitted);
  CHECK(got->err().message == "create: x: /h1 has a fixed set of files; mkdir makes elements (see help)");
}

TEST_CASE("past the bound the least recently used binary goes, never the one just stored") {
  store_space s;
  std::vector<std::string> names;
  for (char tag : {'1', '2', '3'}) {
    std::string data(400, tag);
    sha256 h;
    h.update(data);
    auto c = s.create(h.hex());
    REQUIRE(c.ok());
    REQUIRE(s.write(c->f, 0, data).ok());
    REQUIRE(s.n->commit(c->f, s.who).ok());
    names.push_back(h.hex());
  }
  // 1200 bytes over a bound of 1000: the first stored went.
  auto l = s.listed();
  std::sort(names.begin() + 1, names.end());
  CHECK(l == std::vector<std::string>(names.begin() + 1, names.end()));
}
