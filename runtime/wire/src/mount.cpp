#include "circuit/wire/mount.hpp"

#include <fcntl.h>
#include <sys/stat.h>


namespace circuit::wire {

// A uid's attach: requests of that uid walk from its fid, once attached.
struct mount::user {
  std::uint32_t fid = 0;
  bool ready = false;
  std::optional<error> failed;
  std::vector<std::function<void()>> waiting;
};

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

std::string join_path(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += "/" + n;
  return out;
}

}  // namespace

mount::mount(std::shared_ptr<client> cl, std::string name, std::chrono::milliseconds deadline,
             std::vector<std::string> top)
    : cl_(std::move(cl)), name_(std::move(name)), deadline_(deadline), top_(std::move(top)), id_(++mounts_made) {}

mount::~mount() { cl_->close(); }

// A local ino: remote_ino_bit, this mount's number in bits 40-55, and the
// server's qid.path in the low 40 bits, with no table, so the memory does
// not grow with what the server makes and removes. A path too wide for that
// (the server mounts a third one) gets a number from a table, marked by
// bit 56.
std::uint64_t mount::ino_of(std::uint64_t path) {
  constexpr std::uint64_t low = (std::uint64_t{1} << 40) - 1, mapped = std::uint64_t{1} << 56;
  std::uint64_t prefix = remote_ino_bit | std::uint64_t{id_} << 40;
  if (path <= low) return prefix | path;
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

template <class T>
void mount::forward(const op_ptr<T>& o, bool deadline, const std::function<void()>& issue) {
  cl_->set_deadline(deadline ? std::chrono::duration_cast<client::duration>(deadline_) : client::duration::zero());
  issue();
  std::uint16_t tag = cl_->tag_of_last();
  cl_->set_deadline(client::duration::zero());
  std::weak_ptr<client> w = cl_;
  o->on_cancel([w, tag] {
    if (auto cl = w.lock()) cl->flush(tag, [](result<void>) {});
  });
}

// A handler that completes `o` unless a cancel did already.
template <class T, class R, class F>
handler<R> settle(op_ptr<T> o, F take) {
  return [o, take](result<R> r) mutable {
    if (o->done()) return;
    if (!r) return o->complete(r.err());
    o->complete(take(*r));
  };
}

void mount::walk(const principal& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
                 op_ptr<remote_walk> done) {
  promised_.reset();
  auto asked_from = from;
  auto asked_names = names;  // a walk that waits for its attach starts again as asked
  // A fid another uid walked: the same path again, from who's attach;
  // the answer gives the names asked (the path's are `skip`ped).
  std::vector<std::string> base;
  std::size_t skip = 0;
  if (from) {
    if (auto it = walked_.find(*from); it != walked_.end()) {
      if (it->second.uid != who.uid) {
        names.insert(names.begin(), it->second.path.begin(), it->second.path.end());
        skip = it->second.path.size();
        from.reset();
      } else {
        base = it->second.path;
      }
    }
  }
  if (names.size() > max_walk)
    return done->complete(make_error(errc::invalid, "walk: more than 16 names below " + name_));
  if (!from) {
    auto& u = users_[who.uid];
    if (!u) {
      u = std::make_shared<user>();
      u->fid = cl_->new_fid();
      std::weak_ptr<mount> self = shared_from_this();
      cl_->set_deadline(std::chrono::duration_cast<client::duration>(deadline_));
      auto settled = [self, u](result<void> r) {
        if (!self.lock()) return;
        if (r) u->ready = true;
        else u->failed = r.err();
        auto waiting = std::move(u->waiting);
        for (auto& w : waiting) w();
      };
      std::uint32_t at = u->fid;
      cl_->attach(at, "", who.uid, "", [self, u, at, settled](result<qid> r) {
        auto m = self.lock();
        if (!m) return;
        if (!r || m->top_.empty()) return settled(r ? result<void>() : result<void>(r.err()));
        // The subtree starts below the server's root: the uid's fid is
        // walked there once (a clone of its attach would name the root).
        u->fid = m->cl_->new_fid();
        m->cl_->set_deadline(std::chrono::duration_cast<client::duration>(m->deadline_));
        m->cl_->walk(at, u->fid, m->top_, [self, u, at, settled, n = m->top_.size()](result<std::vector<qid>> w) {
          auto m = self.lock();
          if (!m) return;
          m->cl_->clunk(at, [](result<void>) {});
          if (w && w->size() == n) return settled(result<void>());
          m->cl_->release_fid(u->fid);
          if (w) return settled(make_error(errc::not_found, "no " + join_path(m->top_) + " on the server"));
          settled(make_error(w.err().code, join_path(m->top_) + ": " + w.err().message));
        });
        m->cl_->set_deadline(client::duration::zero());
      });
      cl_->set_deadline(client::duration::zero());
    }
    if (!u->ready && !u->failed) {
      auto self = shared_from_this();
      u->waiting.push_back([self, who, asked_from, asked_names, done] {
        self->walk(who, asked_from, asked_names, done);
      });
      return;
    }
    if (u->failed) {
      error e = *u->failed;
      users_.erase(who.uid);  // a later walk tries again
      if (e.code == errc::access)  // the server's words stay in its log
        return done->complete(make_error(e.code, name_ + " refuses uid " + std::to_string(who.uid) +
                                                     ": not a user of that host, or not let in there"));
      return done->complete(make_error(e.code, name_ + ": attach as uid " + std::to_string(who.uid) + ": " + e.message));
    }
    from = u->fid;
  }
  std::uint32_t nf = cl_->new_fid();
  std::size_t asked = names.size();
  auto self = shared_from_this();
  base.insert(base.end(), names.begin(), names.end());
  walked_[nf] = walked{who.uid, std::move(base)};
  // The last name's attributes in full (owner, mode), for the kernel: a
  // getattr on the new fid, sent behind the walk without waiting for it.
  auto full = std::make_shared<std::optional<result<rgetattr>>>();
  auto then = std::make_shared<std::function<void()>>();
  forward(done, true, [&] {
    cl_->walk(*from, nf, std::move(names), [self, done, nf, asked, skip, full, then](result<std::vector<qid>> r) {
      bool pipelined = self->walking_.erase(nf) && self->opened_early_.erase(nf);
      if (done->done()) {  // cancelled: let go of what the walk may have made
        if (pipelined) return;  // an open sent behind it: its client's session ends it (remote.hpp)
        self->walked_.erase(nf);
        if (!r || r->size() == asked) self->cl_->clunk(nf, [](result<void>) {});
        else self->cl_->release_fid(nf);
        return;
      }
      if (!r) {
        // A walk that timed out or was flushed may have made nf on the
        // server after all: clunk it there before the number is reused.
        self->walked_.erase(nf);
        if (r.err().code == errc::timed_out || r.err().code == errc::interrupted)
          self->cl_->clunk(nf, [](result<void>) {});
        else
          self->cl_->release_fid(nf);
        return done->complete(r.err());
      }
      remote_walk w;
      for (std::size_t i = skip; i < r->size(); ++i) w.walked.push_back(self->attr_of((*r)[i]));
      if (r->size() < asked) {
        self->walked_.erase(nf);
        self->cl_->release_fid(nf);
        // Stopped on the path another uid walked: this uid may not go
        // there; or just after it: the first name asked is not there.
        if (r->size() < skip)
          return done->complete(make_error(errc::access, "walk: " + self->name_ + ": not reached as this uid"));
        if (r->size() == skip && skip > 0) return done->complete(make_error(errc::not_found, "no such file"));
        return done->complete(std::move(w));
      }
      w.fid = nf;
      if (asked == skip) return done->complete(std::move(w));  // a clone
      *then = [self, done, w, full]() mutable {
        if (done->done()) return;
        if (**full && !w.walked.empty()) w.walked.back() = self->attr_of(***full);
        done->complete(std::move(w));
      };
      if (*full) (*then)();
    });
  });
  if (done->done()) return;  // answered at once (a client closed)
  promised_ = nf;
  walking_.insert(nf);
  if (asked == skip) return;
  cl_->set_deadline(std::chrono::duration_cast<client::duration>(deadline_));
  cl_->getattr(nf, getattr_basic, [full, then](result<rgetattr> g) {
    *full = std::move(g);
    if (*then) (*then)();
    *then = nullptr;  // the cycle through `then` ends here
  });
  cl_->set_deadline(client::duration::zero());
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
  // A directory's listing is read whole at its open, as the local tree's.
  forward(done, false, [&] {
    cl_->lopen(fid, wire_flags(flags), [self, done, fid](result<rlopen> r) {
      if (done->done()) {
        if (r) self->undone_.insert(fid);  // its clunk undoes it
        return;
      }
      if (!r) return done->complete(r.err());
      attr a = self->attr_of(r->qid);
      if (!a.is_dir) return done->complete(a);
      auto listing = std::make_shared<std::vector<dir_entry>>();
      auto more = std::make_shared<std::function<void(std::uint64_t)>>();
      *more = [self, done, fid, a, listing, more](std::uint64_t offset) {
        self->cl_->set_deadline(std::chrono::duration_cast<client::duration>(self->deadline_));
        self->cl_->readdir(fid, offset, self->cl_->msize() - rread_overhead,
                           [self, done, fid, a, listing, more](result<std::vector<dirent>> r) {
                             if (done->done()) {
                               *more = nullptr;
                               return;
                             }
                             if (!r) {
                               *more = nullptr;
                               return done->complete(r.err());
                             }
                             if (r->empty()) {
                               self->listings_[fid] = std::move(*listing);
                               *more = nullptr;  // the cycle ends here
                               return done->complete(a);
                             }
                             for (auto& e : *r)
                               if (e.name != "." && e.name != "..")
                                 listing->push_back(dir_entry{e.name, self->attr_of(e.qid)});
                             (*more)(r->back().offset);
                           });
        self->cl_->set_deadline(client::duration::zero());
      };
      (*more)(0);
    });
  });
}

void mount::readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) {
  auto it = listings_.find(fid);
  if (it == listings_.end())
    return done->complete(make_error(errc::bad_fid, "readdir: not an open directory of " + name_));
  std::vector<dir_entry> out;
  for (std::uint64_t i = index; i < it->second.size(); ++i) out.push_back(it->second[i]);
  done->complete(std::move(out));
}

void mount::read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) {
  forward(done, false, [&] {
    cl_->read(fid, off, static_cast<std::uint32_t>(std::min<std::size_t>(count, cl_->msize() - rread_overhead)),
              settle<std::string, std::string>(done, [](std::string& s) { return std::move(s); }));
  });
}

void mount::write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) {
  if (data.size() > cl_->max_write()) data.resize(cl_->max_write());  // a short write: the caller goes on
  forward(done, false, [&] {
    cl_->write(fid, off, std::move(data),
               settle<std::size_t, std::uint32_t>(done, [](std::uint32_t& n) { return std::size_t{n}; }));
  });
}

void mount::fsync(std::uint32_t fid, op_ptr<void> done) {
  forward(done, false, [&] {
    cl_->fsync(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

void mount::clunk(std::uint32_t fid, op_ptr<void> done) {
  listings_.erase(fid);
  walked_.erase(fid);
  if (undone_.erase(fid)) return remove(fid, done);
  forward(done, true, [&] {
    cl_->clunk(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

void mount::remove(std::uint32_t fid, op_ptr<void> done) {
  listings_.erase(fid);
  walked_.erase(fid);
  undone_.erase(fid);
  forward(done, true, [&] {
    cl_->remove(fid, [done](result<void> r) {
      if (!done->done()) done->complete(std::move(r));
    });
  });
}

void mount::as_walker(const principal& who, std::uint32_t dfid, std::function<void(std::uint32_t)> then,
                      std::function<void(error)> fail) {
  auto it = walked_.find(dfid);
  if (it == walked_.end() || it->second.uid == who.uid) return then(dfid);
  auto self = shared_from_this();
  walk(who, dfid, {}, make_op<remote_walk>([self, then, fail](result<remote_walk> r) {
    if (!r) return fail(r.err());
    if (!r->fid) return fail(make_error(errc::not_found, "walk: " + self->name_ + ": no such file"));
    then(*r->fid);
    self->clunk(*r->fid, make_op<void>([](result<void>) {}));
  }));
}

void mount::mkdir(const principal& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) {
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

void mount::unlinkat(const principal& who, std::uint32_t dfid, std::string name, bool dir, op_ptr<void> done) {
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

// The fid becomes the file made, as 9P says: it must be who's own, since
// a clone walked as who would be another fid than the session's.
void mount::lcreate(const principal& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
                    op_ptr<attr> done) {
  auto it = walked_.find(dfid);
  if (it != walked_.end() && it->second.uid != who.uid)
    return done->complete(make_error(errc::access, "create: " + name + ": the directory on " + name_ +
                                                       " was reached as another uid; walk to it again"));
  auto self = shared_from_this();
  if (walking_.count(dfid)) opened_early_.insert(dfid);
  forward(done, true, [&] {
    cl_->lcreate(dfid, name, wire_flags(flags), mode, 0, [self, done, dfid, name](result<rlcreate> r) {
      if (done->done()) {
        if (r) self->undone_.insert(dfid);  // its clunk undoes it
        return;
      }
      if (!r) return done->complete(r.err());
      if (auto w = self->walked_.find(dfid); w != self->walked_.end()) w->second.path.push_back(name);
      done->complete(self->attr_of(r->qid));
    });
  });
}

}  // namespace circuit::wire
