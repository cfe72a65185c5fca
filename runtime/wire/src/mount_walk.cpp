// mount_walk.cpp — a mount's walks: each caller's own attach (made once
// per uid and session), and a fid another caller walked walked again from
// the caller's.
#include "mount_impl.hpp"

namespace circuit::wire {

void mount::walk(const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
                 walk_needs needs, op_ptr<remote_walk> done) {
  promised_.reset();
  walker me = walker_of(who);
  // A fid another caller walked: the same path again, from who's attach;
  // the answer gives the names asked (the path's are `skip`ped).
  std::vector<std::string> base;
  std::size_t skip = 0;
  if (from) {
    if (auto it = walked_.find(*from); it != walked_.end()) {
      if (it->second.by != me) {
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
  std::shared_ptr<user> via;  // the attach the walk starts from, if it does
  if (!from) {
    if (users_.size() >= max_attaches && !users_.count(me)) clunk_idle_attaches();
    if (auto it = users_.find(me); it != users_.end()) {
      via = it->second;
    } else {
      via = attach(who.uid, me);
      if (!via->failed) users_.emplace(me, via);  // else the client had closed: the walk fails too
    }
    from = via->fid;
  }
  std::uint32_t nf = cl_->new_fid();
  std::size_t asked = names.size();
  auto self = shared_from_this();
  base.insert(base.end(), names.begin(), names.end());
  walked_from(nf, walked{me, std::move(base)});
  // The last name's attributes in full (owner, mode), for the kernel: a
  // getattr on the new fid, sent behind the walk without waiting for it
  // (a 9P caller needs only qids: none then).
  auto full = std::make_shared<std::optional<result<rgetattr>>>();
  auto then = std::make_shared<std::function<void()>>();
  forward(done, true, [&] {
    cl_->walk(*from, nf, std::move(names), [self, done, nf, asked, skip, full, then, via](result<std::vector<qid>> r) {
      bool pipelined = self->walking_.erase(nf) && self->opened_early_.erase(nf);
      if (done->done()) {  // cancelled: let go of what the walk may have made
        if (pipelined) return;  // an open sent behind it: its client's session ends it (remote.hpp)
        self->forget(nf);
        if (!r || r->size() == asked) self->cl_->clunk(nf, [](result<void>) {});
        else self->cl_->release_fid(nf);
        return;
      }
      if (r && via && via->failed) {  // a server that walked from a refused attach all the same
        self->forget(nf);
        if (r->size() == asked) self->cl_->clunk(nf, [](result<void>) {});
        else self->cl_->release_fid(nf);
        return done->complete(self->attach_error(*via->failed, via->uid));
      }
      if (!r) {
        // A walk that timed out or was flushed may have made nf on the
        // server after all: clunk it there before the number is reused.
        self->forget(nf);
        if (r.err().code == errc::timed_out || r.err().code == errc::interrupted)
          self->cl_->clunk(nf, [](result<void>) {});
        else
          self->cl_->release_fid(nf);
        if (via && via->failed) return done->complete(self->attach_error(*via->failed, via->uid));
        return done->complete(r.err());
      }
      remote_walk w;
      for (std::size_t i = skip; i < r->size(); ++i) w.walked.push_back(self->attr_of((*r)[i]));
      if (r->size() < asked) {
        self->forget(nf);
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

void mount::as_walker(const caller& who, std::uint32_t dfid, std::function<void(std::uint32_t)> then,
                      std::function<void(error)> fail) {
  auto it = walked_.find(dfid);
  if (it == walked_.end() || it->second.by == walker_of(who)) return then(dfid);
  auto self = shared_from_this();
  walk(who, dfid, {}, walk_needs::qids, make_op<remote_walk>([self, then, fail](result<remote_walk> r) {
    if (!r) return fail(r.err());
    if (!r->fid) return fail(make_error(errc::not_found, "walk: " + self->name_ + ": no such file"));
    then(*r->fid);
    self->clunk(*r->fid, make_op<void>([](result<void>) {}));
  }));
}

// A caller's attach, sent now: walks from it go right behind it, without
// waiting for its answer (the server runs the requests on one fid in
// order), so a caller's first walk costs no round trip more than its
// others. A failed attach fails the walks sent behind it, with its own
// words (attach_error), and goes: the caller's next walk attaches again.
std::shared_ptr<mount::user> mount::attach(uid_t uid, const walker& me) {
  auto u = std::make_shared<user>();
  u->uid = uid;
  std::uint32_t at = cl_->new_fid();
  // The subtree starts below the server's root: the caller's fid is
  // walked there once (a clone of its attach would name the root).
  u->fid = top_.empty() ? at : cl_->new_fid();
  std::weak_ptr<mount> self = shared_from_this();
  auto fail = [self, u, me](error e) {
    auto m = self.lock();
    if (!m || u->failed) return;
    u->failed = std::move(e);
    if (auto it = m->users_.find(me); it != m->users_.end() && it->second == u) m->users_.erase(it);
  };
  cl_->set_deadline(std::chrono::duration_cast<client::duration>(deadline_));
  // uname names the caller's session: the server keys its error words by
  // it (circuit-wire(7)).
  cl_->attach(at, std::to_string(me.session), uid, "", [fail](result<qid> r) {
    if (!r) fail(r.err());
  });
  if (!top_.empty()) {
    cl_->walk(at, u->fid, top_, [self, u, fail, n = top_.size()](result<std::vector<qid>> w) {
      auto m = self.lock();
      if (!m || (w && w->size() == n) || u->failed) return;  // made, or the attach says why not
      if (!w) return fail(make_error(w.err().code, join_path(m->top_) + ": " + w.err().message));
      m->cl_->release_fid(u->fid);
      fail(make_error(errc::not_found, "no " + join_path(m->top_) + " on the server"));
    });
    cl_->clunk(at, [](result<void>) {});
  }
  cl_->set_deadline(client::duration::zero());
  return u;
}

error mount::attach_error(const error& e, uid_t uid) const {
  if (e.code == errc::access)  // the server's words stay in its log
    return make_error(e.code, name_ + " refuses uid " + std::to_string(uid) +
                                  ": not a user of that host, or not let in there");
  return make_error(e.code, name_ + ": attach as uid " + std::to_string(uid) + ": " + e.message);
}

void mount::walked_from(std::uint32_t fid, walked w) {
  if (auto u = users_.find(w.by); u != users_.end()) ++u->second->fids;
  walked_[fid] = std::move(w);
}

void mount::forget(std::uint32_t fid) {
  auto it = walked_.find(fid);
  if (it == walked_.end()) return;
  if (auto u = users_.find(it->second.by); u != users_.end() && u->second->fids > 0) --u->second->fids;
  walked_.erase(it);
}

// Every session of a shell, every client of the socket, gets an attach of
// its own; those no fid comes from any more go once there are many, so
// their number follows the callers of the moment, not all there ever were.
// A caller that comes back attaches again: the server keys its words by
// the session (uname), not by the attach, so its `error` files still say
// them.
void mount::clunk_idle_attaches() {
  for (auto it = users_.begin(); it != users_.end();) {
    auto& u = *it->second;
    if (u.fids == 0) {
      cl_->clunk(u.fid, [](result<void>) {});
      it = users_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace circuit::wire
