#include "circuit/wire/mount.hpp"

#include "mount_impl.hpp"

#include <fcntl.h>
#include <sys/stat.h>


namespace circuit::wire {

namespace {

constexpr std::uint32_t at_removedir_flag = 0x200;

std::uint32_t wire_flags(int flags) {
  std::uint32_t f = o_rdonly;
  if ((flags & O_ACCMODE) == O_WRONLY) f = o_wronly;
  if ((flags & O_ACCMODE) == O_RDWR) f = o_rdwr;
  if (flags & O_NONBLOCK) f |= o_nonblock;
  if (flags & O_EXCL) f |= o_excl;
  if (flags & O_TRUNC) f |= o_trunc;
  return f;
}

std::uint16_t mounts_made = 0;  // the loop thread's: numbers the mounts' inos

}  // namespace

mount::mount(std::shared_ptr<client> cl, std::string name, std::chrono::milliseconds deadline,
             std::vector<std::string> top, budget* held)
    : cl_(std::move(cl)),
      name_(std::move(name)),
      deadline_(deadline),
      top_(std::move(top)),
      id_(++mounts_made),
      held_(held) {}

mount::~mount() {
  cl_->close();
  if (held_)
    for (auto& [fid, l] : listings_) held_->give(l.bytes);
}

// A local ino: remote_ino_bit, this mount's number in bits 40-55, and the
// server's qid.path in the low 40 bits, with no table, so the memory does
// not grow with what the server makes and removes. A path too wide for that
// (the server mounts a third one) gets a number from a table, marked by
// bit 56.
std::uint64_t mount::ino_of(std::uint64_t path) {
  constexpr std::uint64_t low = (std::uint64_t{1} << 40) - 1, mapped = std::uint64_t{1} << 56;
  std::uint64_t prefix = remote_ino_bit | std::uint64_t{id_} << 40;
  if (path <= low) return prefix | path;
  if (inos_.size() >= max_mapped_inos && !inos_.count(path))  // a server that names without end
    return prefix | mapped | (std::hash<std::uint64_t>()(path) & low);
  auto [it, fresh] = inos_.try_emplace(path, 0);
  if (fresh) it->second = prefix | mapped | (next_ino_++ & low);
  return it->second;
}

attr mount::attr_of(const qid& q) {
  attr a;
  a.ino = ino_of(q.path);
  a.is_dir = q.type & qt_dir;
  a.perm = a.is_dir ? 0550 : 0440;
  return a;
}

attr mount::attr_of(const rgetattr& g) {
  attr a = attr_of(g.qid);
  a.perm = g.mode & 07777;
  a.uid = g.uid;
  a.gid = g.gid;
  a.size = g.size;
  return a;
}

void mount::getattr(std::uint32_t fid, op_ptr<attr> done) {
  auto self = shared_from_this();
  forward(done, true, [&] {
    cl_->getattr(fid, getattr_basic, settle<attr, rgetattr>(done, [self](rgetattr& g) { return self->attr_of(g); }));
  });
}

void mount::lopen(std::uint32_t fid, int flags, op_ptr<attr> done) {
  auto self = shared_from_this();
  if (walking_.count(fid)) opened_early_.insert(fid);
  opening_.insert_or_assign(fid, done);
  // A directory's listing is read whole at its open, as the local tree's.
  forward(done, false, [&] {
    cl_->lopen(fid, wire_flags(flags), [self, done, fid](result<rlopen> r) {
      if (done->done()) return self->opened_late(fid, r.ok());
      self->opening_.erase(fid);
      if (!r) return done->complete(r.err());
      attr a = self->attr_of(r->qid);
      if (!a.is_dir) return done->complete(a);
      self->read_listing(fid, a, done);
    });
  });
}

// A read or write that is cancelled completes with the owner's answer:
// bytes it read were taken from there, bytes it wrote went in.
void mount::read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) {
  forward(
      done, false,
      [&] {
        cl_->read(
            fid, off,
            static_cast<std::uint32_t>(std::min<std::size_t>(count, cl_->msize() - rread_overhead)),
            settle<std::string, std::string>(done, [](std::string& s) { return std::move(s); }));
      },
      std::make_shared<bool>());
}

void mount::write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) {
  if (data.size() <= cl_->max_write()) {
    return forward(
        done, false,
        [&] {
          cl_->write(fid, off, std::move(data),
                     settle<std::size_t, std::uint32_t>(
                         done, [](std::uint32_t& n) { return std::size_t{n}; }));
        },
        std::make_shared<bool>());
  }
  write_on(fid, off, std::make_shared<const std::string>(std::move(data)), 0, std::move(done));
}

// A write larger than a message (a FUSE write of 1 MiB, over a link whose
// messages carry a little less) goes as several, each sent when the last
// was taken whole: the caller sees one write, as on the owner, never a
// short one (the kernel would end the write(2) there), unless it is
// interrupted after a part went in: then it says how much, as a local
// write does. A failure before any part is the whole write's.
void mount::write_on(std::uint32_t fid, std::uint64_t off, std::shared_ptr<const std::string> data,
                     std::size_t at, op_ptr<std::size_t> done) {
  std::size_t n = std::min<std::size_t>(data->size() - at, cl_->max_write());
  std::weak_ptr<mount> self = weak_from_this();
  auto cancelled = std::make_shared<bool>(false);
  forward(
      done, false,
      [&] {
        cl_->write(fid, off + at, data->substr(at, n),
                   [self, fid, off, data, at, n, done, cancelled](result<std::uint32_t> r) {
                     if (done->done()) return;
                     if (!r && at == 0) return done->complete(r.err());
                     std::size_t sum = at + (r ? *r : 0);
                     auto m = self.lock();
                     if (!m || !r || *cancelled || *r < n || sum == data->size())
                       return done->complete(sum);
                     m->write_on(fid, off, data, sum, done);
                   });
      },
      cancelled);
}

void mount::fsync(std::uint32_t fid, op_ptr<void> done) {
  forward(done, false, [&] {
    cl_->fsync(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

// The answer to an open (or create) of `fid` that a cancel completed
// already: if it opened the file after all, the fid's clunk undoes that
// (a remove: a message it made is aborted, one it took goes back), and a
// clunk that came meanwhile, held until now, is sent as that remove.
void mount::opened_late(std::uint32_t fid, bool opened) {
  opening_.erase(fid);
  auto held = clunk_after_open_.extract(fid);
  if (opened) undone_.insert(fid);
  if (!held.empty()) clunk(fid, held.mapped());
}

void mount::clunk(std::uint32_t fid, op_ptr<void> done) {
  // A clunk sent now, behind a cancelled open whose answer may still be
  // "opened", would commit what it made there (a message, empty). One
  // behind an open still going goes at once (pipelined: it is served after).
  if (auto o = opening_.find(fid); o != opening_.end() && o->second->done())
    return (void)clunk_after_open_.insert_or_assign(fid, std::move(done));
  drop_listing(fid);
  forget(fid);
  if (undone_.erase(fid)) return remove(fid, done);
  forward(done, true, [&] {
    cl_->clunk(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

void mount::remove(std::uint32_t fid, op_ptr<void> done) {
  drop_listing(fid);
  forget(fid);
  undone_.erase(fid);
  forward(done, true, [&] {
    cl_->remove(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

void mount::mkdir(const caller& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) {
  auto self = shared_from_this();
  as_walker(
      who, dfid,
      [self, done, name](std::uint32_t fid) mutable {
        self->forward(done, true, [&] {
          self->cl_->mkdir(fid, std::move(name), 0750, 0,
                           settle<attr, qid>(done, [self](qid& q) { return self->attr_of(q); }));
        });
      },
      [done](error e) {
        if (!done->done()) done->complete(std::move(e));
      });
}

void mount::unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir, op_ptr<void> done) {
  auto self = shared_from_this();
  as_walker(
      who, dfid,
      [self, done, name, dir](std::uint32_t fid) mutable {
        self->forward(done, true, [&] {
          self->cl_->unlinkat(fid, std::move(name), dir ? at_removedir_flag : 0, [done](result<void> r) {
            if (!done->done()) done->complete(std::move(r));
          });
        });
      },
      [done](error e) {
        if (!done->done()) done->complete(std::move(e));
      });
}

// Asked of the server, which refuses it with its words: Trenameat,
// Tlink, Tsymlink or Tmknod (`what` as the session names it).
void mount::refuse(const caller& who, std::uint32_t dfid, std::string name, std::string what,
                   op_ptr<void> done) {
  auto self = shared_from_this();
  as_walker(
      who, dfid,
      [self, done, name, what](std::uint32_t fid) mutable {
        self->forward(done, true, [&] {
          auto answered = [done](result<void> r) {
            if (!done->done()) done->complete(std::move(r));
          };
          auto& cl = *self->cl_;
          if (what == "rename")
            cl.renameat(fid, name, fid, name, answered);
          else if (what == "link")
            cl.link(fid, fid, std::move(name), answered);
          else if (what == "symlink")
            cl.symlink(fid, std::move(name), "", 0, answered);
          else
            cl.mknod(fid, std::move(name), 0, 0, answered);
        });
      },
      [done](error e) {
        if (!done->done()) done->complete(std::move(e));
      });
}

// The fid becomes the file made, as 9P says: it must be who's own, since
// a clone walked as who would be another fid than the session's.
void mount::lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
                    op_ptr<attr> done) {
  auto it = walked_.find(dfid);
  if (it != walked_.end() && it->second.by != walker_of(who))
    return done->complete(make_error(errc::access, "create: " + name + ": the directory on " + name_ +
                                                       " was reached by another caller; walk to it again"));
  auto self = shared_from_this();
  if (walking_.count(dfid)) opened_early_.insert(dfid);
  opening_.insert_or_assign(dfid, done);
  forward(done, true, [&] {
    cl_->lcreate(dfid, name, wire_flags(flags), mode, 0,
                 [self, done, dfid, name](result<rlcreate> r) {
                   if (done->done()) return self->opened_late(dfid, r.ok());
                   self->opening_.erase(dfid);
                   if (!r) return done->complete(r.err());
                   if (auto w = self->walked_.find(dfid); w != self->walked_.end())
                     w->second.path.push_back(name);
                   done->complete(self->attr_of(r->qid));
                 });
  });
}

}  // namespace circuit::wire
