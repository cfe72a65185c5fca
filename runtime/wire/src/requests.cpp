// requests.cpp — the typed requests of the client: each sends one
// T-message and takes what it needs out of the R-message it expects.
#include <algorithm>

#include <boost/asio/post.hpp>

#include "circuit/wire/client.hpp"

namespace circuit::wire {

// A handler of raw replies that passes `take(R)` to `done`, and refuses a
// reply of another type.
template <class R, class T, class F>
handler<rmessage> client::expect(handler<T> done, F take) {
  return [done = std::move(done), take = std::move(take)](result<rmessage> r) {
    if (!r) return done(r.err());
    auto* reply = std::get_if<R>(&*r);
    if (!reply)
      return done(make_error(errc::invalid, "9p: got " +
                                                std::string(mtype_name(std::uint8_t(type_of(*r)))) +
                                                " for a request expecting another reply"));
    if constexpr (std::is_void_v<T>) {
      take(*reply);
      done(result<void>{});
    } else {
      done(take(*reply));
    }
  };
}

namespace {
auto nothing = [](const auto&) {};

// A reply that gives more than was asked for: the server is wrong, and
// what it gave is not passed on.
error lied(const char* what, std::size_t asked, const char* of, std::size_t got, const char* in) {
  return make_error(errc::io, std::string("9p: the server answered a ") + what + " of " +
                                  std::to_string(asked) + " " + of + " with " +
                                  std::to_string(got) + " " + in);
}
}  // namespace

void client::version(handler<std::uint32_t> done) {
  auto self = shared_from_this();
  auto check = [self, done](result<rmessage> r) {
    if (!r) return done(r.err());
    auto* v = std::get_if<rversion>(&*r);
    if (!v) return done(make_error(errc::invalid, "9p: an answer to Tversion that is not Rversion"));
    if (v->version != version_9p2000l)
      return done(make_error(errc::not_supported,
                             "9p: the server speaks " + v->version + ", not 9P2000.L"));
    if (v->msize < min_msize || v->msize > self->msize_)
      return done(make_error(errc::invalid, "9p: the server's msize " + std::to_string(v->msize) +
                                                " is out of range"));
    self->msize_ = v->msize;
    done(v->msize);
  };
  request(tversion{msize_, std::string(version_9p2000l)}, check);
}

void client::attach(std::uint32_t fid, std::string uname, std::uint32_t n_uname,
                    std::string aname, handler<qid> done) {
  request(tattach{fid, nofid, std::move(uname), std::move(aname), n_uname},
          expect<rattach>(std::move(done), [](const rattach& r) { return r.qid; }));
}

void client::walk(std::uint32_t fid, std::uint32_t newfid, std::vector<std::string> names,
                  handler<std::vector<qid>> done) {
  if (names.size() > max_walk) {
    return boost::asio::post(ex_, [done] {
      done(make_error(errc::invalid, "9p: a walk of more than 16 names"));
    });
  }
  std::size_t asked = names.size();
  request(twalk{fid, newfid, std::move(names)},
          expect<rwalk>(std::move(done), [asked](const rwalk& r) -> result<std::vector<qid>> {
            if (r.wqids.size() > asked) return lied("walk", asked, "names", r.wqids.size(), "qids");
            return r.wqids;
          }));
}

void client::lopen(std::uint32_t fid, std::uint32_t flags, handler<rlopen> done) {
  request(tlopen{fid, flags}, expect<rlopen>(std::move(done), [](const rlopen& r) { return r; }));
}

void client::read(std::uint32_t fid, std::uint64_t offset, std::uint32_t count,
                  handler<std::string> done) {
  count = std::min(count, msize_ - rread_overhead);
  request(tread{fid, offset, count},
          expect<rread>(std::move(done), [count](const rread& r) -> result<std::string> {
            if (r.data.size() > count) return lied("read", count, "bytes", r.data.size(), "bytes");
            return r.data;
          }));
}

void client::write(std::uint32_t fid, std::uint64_t offset, std::string data,
                   handler<std::uint32_t> done) {
  request(twrite{fid, offset, std::move(data)},
          expect<rwrite>(std::move(done), [](const rwrite& r) { return r.count; }));
}

void client::clunk(std::uint32_t fid, handler<void> done) {
  release_fid(fid);  // 9P forgets the fid whatever the answer
  request(tclunk{fid}, expect<rclunk>(std::move(done), nothing));
}

void client::remove(std::uint32_t fid, handler<void> done) {
  release_fid(fid);
  request(tremove{fid}, expect<rremove>(std::move(done), nothing));
}

void client::mkdir(std::uint32_t dfid, std::string name, std::uint32_t mode, std::uint32_t gid,
                   handler<qid> done) {
  request(tmkdir{dfid, std::move(name), mode, gid},
          expect<rmkdir>(std::move(done), [](const rmkdir& r) { return r.qid; }));
}

void client::lcreate(std::uint32_t fid, std::string name, std::uint32_t flags, std::uint32_t mode,
                     std::uint32_t gid, handler<rlcreate> done) {
  request(tlcreate{fid, std::move(name), flags, mode, gid},
          expect<rlcreate>(std::move(done), [](const rlcreate& r) { return r; }));
}

void client::unlinkat(std::uint32_t dfid, std::string name, std::uint32_t flags,
                      handler<void> done) {
  request(tunlinkat{dfid, std::move(name), flags}, expect<runlinkat>(std::move(done), nothing));
}

void client::renameat(std::uint32_t dfid, std::string name, std::uint32_t newdfid,
                      std::string newname, handler<void> done) {
  request(trenameat{dfid, std::move(name), newdfid, std::move(newname)},
          expect<rrenameat>(std::move(done), nothing));
}

void client::link(std::uint32_t dfid, std::uint32_t fid, std::string name, handler<void> done) {
  request(tlink{dfid, fid, std::move(name)}, expect<rlink>(std::move(done), nothing));
}

void client::symlink(std::uint32_t dfid, std::string name, std::string target, std::uint32_t gid,
                     handler<void> done) {
  request(tsymlink{dfid, std::move(name), std::move(target), gid},
          expect<rsymlink>(std::move(done), nothing));
}

void client::mknod(std::uint32_t dfid, std::string name, std::uint32_t mode, std::uint32_t gid,
                   handler<void> done) {
  request(tmknod{dfid, std::move(name), mode, 0, 0, gid}, expect<rmknod>(std::move(done), nothing));
}

void client::getattr(std::uint32_t fid, std::uint64_t mask, handler<rgetattr> done) {
  request(tgetattr{fid, mask},
          expect<rgetattr>(std::move(done), [](const rgetattr& r) { return r; }));
}

void client::readdir(std::uint32_t fid, std::uint64_t offset, std::uint32_t count,
                     handler<std::vector<dirent>> done) {
  count = std::min(count, msize_ - rread_overhead);
  request(treaddir{fid, offset, count}, [count, done = std::move(done)](result<rmessage> r) {
    if (!r) return done(r.err());
    auto* d = std::get_if<rreaddir>(&*r);
    if (!d)
      return done(make_error(errc::invalid, "9p: an answer to Treaddir that is not Rreaddir"));
    if (d->data.size() > count)
      return done(lied("readdir", count, "bytes", d->data.size(), "bytes"));
    done(decode_dirents(d->data));
  });
}

void client::fsync(std::uint32_t fid, handler<void> done) {
  request(tfsync{fid, 0}, expect<rfsync>(std::move(done), nothing));
}

}  // namespace circuit::wire
