// mount_walk.cpp — a mount's walks: each caller's own attach (made once
// per uid), and a fid another uid walked walked again from the caller's.
#include "mount_impl.hpp"

namespace circuit::wire {

void mount::walk(const principal& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
                 walk_needs needs, op_ptr<remote_walk> done) {
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
      u->waiting.push_back([self, who, asked_from, asked_names, needs, done] {
        self->walk(who, asked_from, asked_names, needs, done);
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
  // getattr on the new fid, sent behind the walk without waiting for it
  // (a 9P caller needs only qids: none then).
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
  if (needs == walk_needs::qids) {
    *full = make_error(errc::invalid, "not asked");  // attr_of the qid stays
    return;
  }
  cl_->set_deadline(std::chrono::duration_cast<client::duration>(deadline_));
  cl_->getattr(nf, getattr_basic, [full, then](result<rgetattr> g) {
    *full = std::move(g);
    if (*then) (*then)();
    *then = nullptr;  // the cycle through `then` ends here
  });
  cl_->set_deadline(client::duration::zero());
}

void mount::as_walker(const principal& who, std::uint32_t dfid, std::function<void(std::uint32_t)> then,
                      std::function<void(error)> fail) {
  auto it = walked_.find(dfid);
  if (it == walked_.end() || it->second.uid == who.uid) return then(dfid);
  auto self = shared_from_this();
  walk(who, dfid, {}, walk_needs::qids, make_op<remote_walk>([self, then, fail](result<remote_walk> r) {
    if (!r) return fail(r.err());
    if (!r->fid) return fail(make_error(errc::not_found, "walk: " + self->name_ + ": no such file"));
    then(*r->fid);
    self->clunk(*r->fid, make_op<void>([](result<void>) {}));
  }));
}

}  // namespace circuit::wire
