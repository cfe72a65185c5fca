#include "circuit/core/session.hpp"

#include <fcntl.h>

#include "session_queue.hpp"

namespace circuit {

session::session(ns& space) : space_(space) { space_.count_sessions(1); }

session::~session() {
  ending_ = true;
  // Parked and queued requests complete first (a receive parked on a fid
  // completes before the fid's open ends), in no particular order.
  while (!by_tag_.empty()) {
    auto r = by_tag_.begin()->second;
    auto stop = r->stop;  // the request is freed when it completes
    stop(make_error(errc::interrupted, "interrupted: the session ended"));
    if (!r->finished) {
      // Its result was on its way (op.hpp: settling): it will be dropped.
      space_.log("session: a request's result was on its way at the session's end; dropped");
      finish(r.get());
    }
  }
  caller nobody;
  for (auto& [fid, f] : fids_) {
    if (f.file) space_.drop(f.file, nobody);
    // A remote fid: an open one aborts (nothing it wrote is delivered).
    if (f.rt && !f.gone) {
      auto ignore = make_op<void>([](result<void>) {});
      if (f.open || f.opening) f.rt->remove(f.rfid, ignore);
      else f.rt->clunk(f.rfid, ignore);
    }
  }
  for (auto& [fid, f] : fids_) space_.count_fid(f.uid, -1);
  fids_.clear();
  space_.count_sessions(-1);
}

result<session::fid_state*> session::find(fid_t fid) {
  auto it = fids_.find(fid);
  if (it == fids_.end()) return make_error(errc::bad_fid, "fid " + std::to_string(fid) + ": unknown fid");
  return &it->second;
}

void session::attach(const caller& who, tag_t tag, fid_t fid, reply<attr> done) {
  submit<attr>(tag, {fid}, std::move(done), [this, who, fid](op_ptr<attr> o) {
    if (fids_.count(fid)) return o->complete(make_error(errc::bad_fid, "attach: fid " + std::to_string(fid) + " is in use"));
    auto a = space_.getattr(who, ns::root_ino);
    if (!a) return o->complete(a.err());
    if (auto room = room_for(who); !room) return o->complete(room.err());
    fids_[fid] = fid_state{.ino = a->ino, .uid = who.uid};
    space_.count_fid(who.uid, 1);
    o->complete(*a);
  });
}

void session::getattr(const caller& who, tag_t tag, fid_t fid, reply<attr> done) {
  submit<attr>(tag, {fid}, std::move(done), [this, who, fid](op_ptr<attr> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    if ((*f)->rt) {
      (*f)->rt->getattr((*f)->rfid, o);
      return pass_on();
    }
    o->complete(space_.getattr(who, (*f)->ino));
  });
}

void session::lopen(const caller& who, tag_t tag, fid_t fid, int flags, reply<attr> done) {
  submit<attr>(tag, {fid}, std::move(done), [this, who, fid, flags](op_ptr<attr> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    fid_state& s = **f;
    if (s.open || s.opening)
      return o->complete(make_error(errc::bad_fid, "lopen: fid " + std::to_string(fid) + " is open already"));
    if (s.rt) return lopen_remote(s, fid, flags, o, true);
    if (auto rt = space_.mount_at(s.ino)) {
      // A mount point not reached when it was walked to: reached now.
      s.opening = true;
      std::uint64_t at = s.ino;
      auto reached = make_op<remote_walk>([this, o, who, fid, flags, rt, at](result<remote_walk> r) {
        auto it = fids_.find(fid);
        if (it == fids_.end()) return o->complete(make_error(errc::bad_fid, "lopen: fid went away"));
        it->second.opening = false;
        if (!r || !r->fid) {
          error e = r ? make_error(errc::io, "lopen: " + rt->name() + " gave no fid") : r.err();
          if (e.code != errc::interrupted) space_.record_in(at, who, e);
          return o->complete(std::move(e));
        }
        it->second.rt = rt;
        it->second.rfid = *r->fid;
        lopen_remote(it->second, fid, flags, o, false);
      });
      o->cancel_through(reached);
      return rt->walk(who, std::nullopt, {}, walk_needs::qids, reached);
    }
    auto a = space_.getattr(who, s.ino);
    if (!a) return o->complete(a.err());
    if (a->is_dir) {
      if ((flags & O_ACCMODE) != O_RDONLY)
        return o->complete(make_error(errc::is_dir, "open: is a directory"));
      auto l = space_.list(who, s.ino);
      if (!l) return o->complete(l.err());
      s.listing = std::move(*l);
      s.open = true;
      s.flags = flags;
      return o->complete(*a);
    }
    s.opening = true;
    attr at = *a;
    // The fid outlives the open only if the session does: the inner op
    // is cancelled by o's cancel, and o is the request's, so it completes
    // before the session's fids go.
    auto inner = make_op<open_file*>([this, o, fid, flags, at](result<open_file*> r) {
      auto it = fids_.find(fid);
      if (it == fids_.end()) {  // cannot happen: the fid is queued on
        if (r) space_.drop(*r, caller{});
        return o->complete(make_error(errc::bad_fid, "lopen: fid went away"));
      }
      it->second.opening = false;
      if (!r) return o->complete(r.err());
      it->second.open = true;
      it->second.file = *r;
      it->second.flags = flags;
      o->complete(at);
    });
    o->cancel_through(inner);  // held weakly: inner holds o, not the reverse
    space_.open(s.ino, open_args{who, flags}, inner);
  });
}

void session::lopen_remote(fid_state& s, fid_t fid, int flags, op_ptr<attr> o, bool starting,
                           const std::function<void(op_ptr<attr>)>& issue) {
  s.opening = true;
  auto inner = make_op<attr>([this, o, fid, flags](result<attr> r) {
    auto it = fids_.find(fid);
    if (it != fids_.end()) {
      it->second.opening = false;
      it->second.open = r.ok();
      it->second.flags = flags;
      if (r) it->second.ino = r->ino;  // a create's: the fid names the new file
    }
    o->complete(std::move(r));
  });
  o->cancel_through(inner);
  if (issue) issue(inner);
  else s.rt->lopen(s.rfid, flags, inner);
  if (starting) pass_on();
}

void session::readdir(const caller&, tag_t tag, fid_t fid, std::uint64_t index,
                      reply<std::vector<dir_entry>> done) {
  submit<std::vector<dir_entry>>(tag, {fid}, std::move(done), [this, fid, index](auto o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    fid_state& s = **f;
    if (s.rt) {
      s.rt->readdir(s.rfid, index, o);
      return pass_on();
    }
    if (!s.open || s.file)
      return o->complete(make_error(errc::bad_fid, "readdir: fid " + std::to_string(fid) + " is not an open directory"));
    std::vector<dir_entry> out;
    for (std::uint64_t i = index; i < s.listing.size(); ++i) out.push_back(s.listing[i]);
    o->complete(std::move(out));
  });
}

void session::read(const caller& who, tag_t tag, fid_t fid, std::uint64_t off, std::size_t count,
                   reply<std::string> done, int nonblock) {
  submit<std::string>(tag, {fid}, std::move(done), [this, who, fid, off, count, nonblock](auto o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    fid_state& s = **f;
    if (s.rt) {
      s.rt->read(s.rfid, off, count, o);
      return pass_on();
    }
    if (!s.file) return o->complete(make_error(errc::bad_fid, "read: fid " + std::to_string(fid) + " is not an open file"));
    bool nb = nonblock < 0 ? (s.flags & O_NONBLOCK) != 0 : nonblock != 0;
    space_.read(*s.file, who, off, count, nb, o);
  });
}

void session::write(const caller& who, tag_t tag, fid_t fid, std::uint64_t off, std::string data,
                    reply<std::size_t> done) {
  submit<std::size_t>(tag, {fid}, std::move(done),
                      [this, who, fid, off, data = std::move(data)](auto o) mutable {
                        auto f = find(fid);
                        if (!f) return o->complete(f.err());
                        fid_state& s = **f;
                        if (s.rt) {
                          if (s.gone) return o->complete(aborted_error("write"));
                          s.wrote = true;
                          s.rt->write(s.rfid, off, std::move(data), o);  // runs once: the bytes go on
                          return pass_on();
                        }
                        if (!s.file)
                          return o->complete(make_error(
                              errc::bad_fid, "write: fid " + std::to_string(fid) + " is not an open file"));
                        space_.write(*s.file, who, off, std::move(data), o);
                      });
}

void session::fsync(const caller& who, tag_t tag, fid_t fid, reply<void> done) {
  submit<void>(tag, {fid}, std::move(done), [this, who, fid](op_ptr<void> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    if ((*f)->rt) {
      if ((*f)->gone) return o->complete(aborted_error("fsync"));
      (*f)->rt->fsync((*f)->rfid, o);
      return pass_on();
    }
    if (!(*f)->file) return o->complete(result<void>{});  // nothing to commit
    o->complete(space_.fsync(*(*f)->file, who));
  });
}

void session::clunk(const caller& who, tag_t tag, fid_t fid, reply<void> done) {
  submit<void>(tag, {fid}, std::move(done), [this, who, fid](op_ptr<void> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    open_file* file = (*f)->file;
    fid_state s = std::move(**f);
    fids_.erase(fid);
    space_.count_fid(s.uid, -1);
    if (s.rt) {
      if (s.gone) return o->complete(result<void>{});  // removed there at the abort
      if (s.aborted) s.rt->remove(s.rfid, o);
      else s.rt->clunk(s.rfid, o);
      return pass_on();
    }
    o->complete(file ? space_.commit(file, who) : result<void>{});
  });
}

void session::remove(const caller& who, tag_t tag, fid_t fid, reply<void> done) {
  submit<void>(tag, {fid}, std::move(done), [this, who, fid](op_ptr<void> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    fid_state s = std::move(**f);
    fids_.erase(fid);
    space_.count_fid(s.uid, -1);
    if (s.rt) {
      if (s.gone) return o->complete(result<void>{});
      s.rt->remove(s.rfid, o);
      return pass_on();
    }
    if (s.file) {
      space_.drop(s.file, who);
      return o->complete(result<void>{});
    }
    o->complete(space_.rmdir(who, s.ino));
  });
}

void session::mkdir(const caller& who, tag_t tag, fid_t dfid, std::string name, reply<attr> done) {
  submit<attr>(tag, {dfid}, std::move(done), [this, who, dfid, name = std::move(name)](op_ptr<attr> o) {
    auto f = find(dfid);
    if (!f) return o->complete(f.err());
    if ((*f)->rt) {
      (*f)->rt->mkdir(who, (*f)->rfid, name, o);
      return pass_on();
    }
    o->complete(space_.mkdir(who, (*f)->ino, name));
  });
}

void session::unlinkat(const caller& who, tag_t tag, fid_t dfid, std::string name, bool dir,
                       reply<void> done) {
  submit<void>(tag, {dfid}, std::move(done),
               [this, who, dfid, dir, name = std::move(name)](op_ptr<void> o) {
                 auto f = find(dfid);
                 if (!f) return o->complete(f.err());
                 if ((*f)->rt) {
                   (*f)->rt->unlinkat(who, (*f)->rfid, name, dir, o);
                   return pass_on();
                 }
                 std::uint64_t ino = (*f)->ino;
                 if (dir) return o->complete(space_.rmdir(who, ino, name));
                 o->complete(space_.unlink(who, ino, name));
               });
}

void session::refuse(const caller& who, tag_t tag, fid_t dfid, std::string name, std::string what,
                     reply<void> done) {
  submit<void>(tag, {dfid}, std::move(done),
               [this, who, dfid, name = std::move(name), what = std::move(what)](op_ptr<void> o) {
                 auto f = find(dfid);
                 if (!f) return o->complete(f.err());
                 if ((*f)->rt) {
                   (*f)->rt->refuse(who, (*f)->rfid, name, what, o);
                   return pass_on();
                 }
                 o->complete(space_.refuse(who, (*f)->ino, name, what));
               });
}

result<void> session::closed(const caller& who, fid_t fid) {
  auto it = fids_.find(fid);
  if (it == fids_.end() || !it->second.file) return {};
  return space_.flush(*it->second.file, who);
}

void session::abort(const caller& who, fid_t fid) {
  auto it = fids_.find(fid);
  if (it == fids_.end()) return;
  fid_state& s = it->second;
  if (!s.rt) {
    if (s.file) space_.abort(*s.file, who);
    return;
  }
  s.aborted = true;  // its clunk will be a remove
  bool making = s.wrote && (s.flags & O_ACCMODE) == O_WRONLY;
  if (!making || s.gone || !s.rt->aborts_at_death()) return;
  // An open for writing only, through which it was making something
  // there (a message): aborted there now, as here, so its place is freed
  // at once and the holders left (a child that inherited the descriptor)
  // can neither add to it nor deliver it with fsync. An open that also
  // reads (a goroutines/go read after a Ctrl-C'd cat) goes on until its
  // clunk, which aborts it. The remove goes behind what was sent on the
  // fid before.
  s.gone = true;
  space_.log("abort: an open of " + s.rt->name() + "'s (its fid " + std::to_string(s.rfid) +
             ") is aborted there: a process holding it died of a signal (pid " + std::to_string(who.pid) + ")");
  auto ignore = make_op<void>([](result<void>) {});
  s.rt->remove(s.rfid, ignore);
}

error session::aborted_error(const char* call) {
  return make_error(errc::bad_state, std::string(call) +
                                         ": the open was aborted, nothing it wrote is kept: a process holding it "
                                         "died of a signal");
}

bool session::abortable(fid_t fid) const {
  auto it = fids_.find(fid);
  if (it == fids_.end()) return false;
  // An open for reading only made nothing there: its close commits, so a
  // receive that had every byte keeps its message, as on the owner.
  if (it->second.rt)
    return it->second.open && !it->second.aborted && (it->second.flags & O_ACCMODE) != O_RDONLY;
  return it->second.file && space_.abortable(*it->second.file);
}

bool session::below_mount(fid_t fid) const {
  auto it = fids_.find(fid);
  return it != fids_.end() && it->second.rt;
}

bool session::readable(fid_t fid, std::function<void()> wake) {
  auto it = fids_.find(fid);
  if (it == fids_.end() || !it->second.file) return true;
  return space_.readable(*it->second.file, std::move(wake));
}

// Below a mount point the server checks at each request; access(2) is not
// carried (9P2000.L has no such request) and answers yes.
result<void> session::access(const caller& who, fid_t fid, int mask) {
  auto f = find(fid);
  if (!f) return f.err();
  if ((*f)->rt) return {};
  return space_.access(who, (*f)->ino, mask);
}

open_file* session::file(fid_t fid) const {
  auto it = fids_.find(fid);
  return it == fids_.end() ? nullptr : it->second.file;
}

}  // namespace circuit
