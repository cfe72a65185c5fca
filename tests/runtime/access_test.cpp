// Unit tests of runtime/src/access.cpp: who may do what, as the namespace
// core decides it for every face.
#include "circuit/core/access.hpp"

#include <unistd.h>

#include "fixture.hpp"

using namespace circuit;

namespace {

constexpr gid_t group = 70500;

caller user(uid_t uid, std::vector<gid_t> groups = {}) {
  caller c;
  c.uid = uid;
  c.gid = uid;  // a group of one's own, as useradd makes
  c.groups = std::move(groups);
  return c;
}

const caller maker = user(70001, {group});
const caller member = user(70002, {70100, group});
const caller stranger = user(70003, {70100});
const caller superuser = user(0);

struct shared_space : test::space {
  shared_space() {
    n.cfg().allow_group = group;
    n.cfg().daemon = user(::geteuid());
  }
  // An open as `c`, with O_NONBLOCK so nothing parks; the file is dropped
  // without close semantics. Returns the error code, or ok.
  errc try_open(const caller& c, const std::string& path, int flags) {
    std::optional<result<open_file*>> got;
    n.open(walk(path), open_args{c, flags | O_NONBLOCK},
           make_op<open_file*>([&](result<open_file*> r) { got.emplace(std::move(r)); }));
    REQUIRE(got);
    if (!got->ok()) return got->err().code;
    n.abandon(got->value());
    return errc::ok;
  }
  std::string make(const caller& c, const std::string& folder, const std::string& name) {
    REQUIRE(n.mkdir(c, walk("/h1/" + folder), name).ok());
    return "/h1/" + folder + "/" + name;
  }
};

// The kernel's rule, written again from the attributes alone.
bool by_mode(const caller& c, const attr& a, int mask) {
  if (c.uid == 0) return true;
  mode_t bits = c.uid == a.uid ? a.perm >> 6 : c.in_group(a.gid) ? a.perm >> 3 : a.perm;
  return (bits & mask) == static_cast<mode_t>(mask);
}

}  // namespace

TEST_CASE("a stranger is refused every operation, and nothing is kept for them") {
  shared_space s;
  auto chan = s.make(maker, "channels", "a");
  auto chans = s.walk("/h1/channels");
  std::uint64_t ino = s.walk(chan + "/stat");
  CHECK(s.n.lookup(stranger, ns::root_ino, "h1").err().code == errc::access);
  CHECK(s.n.getattr(stranger, ino).err().code == errc::access);
  CHECK(s.n.list(stranger, chans).err().code == errc::access);
  CHECK(s.n.access(stranger, ino, R_OK).err().code == errc::access);
  CHECK(s.n.mkdir(stranger, chans, "b").err().code == errc::access);
  CHECK(s.n.rmdir(stranger, chans, "a").err().code == errc::access);
  CHECK(s.n.refuse(stranger, chans, "f", "create").code == errc::access);
  CHECK(s.try_open(stranger, chan + "/recv", O_RDONLY) == errc::access);
  CHECK(s.n.getattr(stranger, ino).err().message ==
        "access: uid 70003 may not use this circuit; only root and uid " + std::to_string(::geteuid()) +
            " and members of group 70500 may");
  // Nothing recorded: the stranger's session (0 here) sees no message, nor
  // does anyone else's.
  CHECK(s.n.last_error(chans >> file_bits, stranger).empty());
  CHECK(s.n.last_error(s.walk(chan) >> file_bits, stranger).empty());
}

TEST_CASE("a member of the group is let in through a supplementary group") {
  shared_space s;
  CHECK(s.n.lookup(member, ns::root_ino, "h1").ok());
  caller primary = user(70004);
  primary.gid = group;
  CHECK(s.n.lookup(primary, ns::root_ino, "h1").ok());
}

TEST_CASE("an element records its maker, who owns its files with the allowed group") {
  shared_space s;
  auto w = s.make(maker, "workers", "w");
  auto a = s.n.getattr(maker, s.walk(w + "/spec"));
  REQUIRE(a.ok());
  CHECK(a->uid == 70001);
  CHECK(a->gid == group);
  CHECK(a->perm == 0600);
  CHECK(s.text(w + "/stat").find("\"uid\":70001,\"gid\":70001}") != std::string::npos);
  auto* d = s.n.find(s.walk(w) >> file_bits);
  REQUIRE(d);
  CHECK(d->maker().groups == std::vector<gid_t>{group});
}

TEST_CASE("the core's check gives the same answer as the modes it reports, for every file and user") {
  shared_space s;
  auto c = s.make(maker, "channels", "c");
  auto w = s.make(maker, "workers", "w");
  for (const std::string& dir : {c, w, std::string("/h1"), std::string("/")}) {
    auto files = s.n.list(superuser, s.walk(dir));
    REQUIRE(files.ok());
    for (const auto& e : *files) {
      if (e.a.is_dir) continue;
      std::string path = dir + (dir == "/" ? "" : "/") + e.name;
      if (path == "/h1/ctl") continue;  // a write-open is harmless, but keep the daemon's own file out
      for (const caller* who : {&maker, &member, &superuser}) {
        for (int mask : {R_OK, W_OK}) {
          INFO(path << " uid " << who->uid << " mask " << mask);
          bool way = (e.a.perm & (mask << 6)) != 0;  // the file opens this way at all
          bool want = way && by_mode(*who, e.a, mask);
          errc got = s.try_open(*who, path, mask == R_OK ? O_RDONLY : O_WRONLY);
          CHECK((got != errc::access) == want);
          CHECK(s.n.access(*who, e.a.ino, mask).ok() == by_mode(*who, e.a, mask));
        }
      }
    }
  }
}

TEST_CASE("a member shares a channel but only reads a worker's stat and wait") {
  shared_space s;
  auto c = s.make(maker, "channels", "c");
  auto w = s.make(maker, "workers", "w");
  for (auto f : {"/send", "/trysend", "/close"}) CHECK(s.try_open(member, c + f, O_WRONLY) != errc::access);
  for (auto f : {"/recv", "/tryrecv", "/stat", "/cap"}) CHECK(s.try_open(member, c + f, O_RDONLY) != errc::access);
  CHECK(s.try_open(member, c + "/cap", O_WRONLY) == errc::access);
  for (auto f : {"/stat", "/wait", "/trywait", "/help", "/error"})
    CHECK(s.try_open(member, w + f, O_RDONLY) != errc::access);
  for (auto f : {"/stdout", "/stderr", "/spec"}) CHECK(s.try_open(member, w + f, O_RDONLY) == errc::access);
  for (auto f : {"/spec", "/stdin", "/signal", "/ctl"}) CHECK(s.try_open(member, w + f, O_WRONLY) == errc::access);
  s.who = member;
  CHECK(s.text(w + "/error") == "/h1/workers/w/ctl: permission denied: only its owner (uid 70001) and root may write it\n");
}

TEST_CASE("only the maker or root removes an element") {
  shared_space s;
  s.make(maker, "channels", "a");
  s.make(maker, "channels", "b");
  auto chans = s.walk("/h1/channels");
  auto r = s.n.rmdir(member, chans, "a");
  CHECK(r.err().code == errc::not_permitted);
  CHECK(r.err().message == "rmdir: /h1/channels/a: only its maker (uid 70001) and root may remove it");
  CHECK(s.n.rmdir(maker, chans, "a").ok());
  CHECK(s.n.rmdir(superuser, chans, "b").ok());
}

TEST_CASE("a member makes elements in the folders only, and may not write the host's ctl") {
  shared_space s;
  CHECK(s.n.mkdir(member, s.walk("/h1"), "x").err().code == errc::access);
  CHECK(s.n.mkdir(member, s.walk("/h1/channels"), "x").ok());
  CHECK(s.try_open(member, "/h1/ctl", O_WRONLY) == errc::access);
  CHECK(s.try_open(s.n.cfg().daemon.uid == 0 ? superuser : user(::geteuid()), "/h1/stat", O_RDONLY) == errc::ok);
}

TEST_CASE("without an allowed group, the group bits are cleared and members are strangers") {
  test::space s;
  s.n.cfg().daemon = user(::geteuid());
  s.who = superuser;
  s.mkchan("a");
  auto a = s.n.getattr(superuser, s.walk("/h1/channels/a/send"));
  REQUIRE(a.ok());
  CHECK(a->perm == 0200);
  CHECK(s.n.getattr(superuser, s.walk("/h1/channels"))->perm == 01700);
  if (::geteuid() != 70002) CHECK(s.n.lookup(member, ns::root_ino, "h1").err().code == errc::access);
}
