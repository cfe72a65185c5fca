// session_walk.cpp — a session's walks: through the local tree, and on
// into a remote below a mount point, where the new fid may be made before
// the remote answers so that requests can follow it at once (pipelining,
// remote.hpp).
#include "circuit/core/session.hpp"

#include "session_queue.hpp"

namespace circuit {

void session::walk(const caller& who, tag_t tag, fid_t fid, fid_t newfid,
                   std::vector<std::string> names, walk_needs needs, reply<std::vector<attr>> done) {
  submit<std::vector<attr>>(
      tag, {fid, newfid}, std::move(done),
      [this, who, fid, newfid, needs, names = std::move(names)](op_ptr<std::vector<attr>> o) {
        auto f = find(fid);
        if (!f) return o->complete(f.err());
        // 9P says a walk starts from a fid not opened; an open directory
        // is allowed all the same, as diod allows it (diodls -l walks to
        // each entry from the fid it lists).
        if ((*f)->file || (*f)->opening)
          return o->complete(make_error(errc::bad_fid, "walk: fid " + std::to_string(fid) + " is an open file"));
        if (newfid != fid && fids_.count(newfid))
          return o->complete(make_error(errc::bad_fid, "walk: newfid " + std::to_string(newfid) + " is in use"));
        if (auto room = newfid != fid ? room_for(who) : result<void>(); !room) {
          space_.record_in((*f)->rt ? 0 : (*f)->ino, who, room.err());
          return o->complete(room.err());
        }
        if ((*f)->rt) return walk_remote(who, fid, newfid, (*f)->rt, (*f)->rfid, names, needs, {}, 0, o);
        std::uint64_t ino = (*f)->ino;
        // A mount point not reached when it was walked to: from the top.
        if (auto rt = space_.mount_at(ino))
          return walk_remote(who, fid, newfid, rt, std::nullopt, names, needs, {}, ino, o);
        std::vector<attr> walked;
        for (std::size_t i = 0; i < names.size(); ++i) {
          auto a = space_.lookup(who, ino, names[i]);
          if (!a) {
            if (walked.empty()) return o->complete(a.err());
            return o->complete(std::move(walked));  // partial: newfid not made
          }
          std::uint64_t above = std::exchange(ino, a->ino);
          walked.push_back(*a);
          // A mount point: the rest of the walk is the remote's.
          if (auto rt = space_.mount_at(ino))
            return walk_remote(who, fid, newfid, rt, std::nullopt,
                               std::vector<std::string>(names.begin() + i + 1, names.end()), needs,
                               std::move(walked), above, o);
        }
        make_fid(who, fid, newfid, fid_state{.ino = ino});
        o->complete(std::move(walked));
      });
}

// A walk's new fid counts against the walker; one walked in place stays
// its maker's.
void session::make_fid(const caller& who, fid_t fid, fid_t newfid, fid_state st) {
  if (newfid != fid) {
    st.uid = who.uid;
    space_.count_fid(who.uid, 1);
  } else if (auto it = fids_.find(fid); it != fids_.end()) {
    st.uid = it->second.uid;
  }
  fids_[newfid] = std::move(st);
}

void session::walk_remote(const caller& who, fid_t fid, fid_t newfid, std::shared_ptr<remote> rt,
                          std::optional<std::uint32_t> from, std::vector<std::string> names, walk_needs needs,
                          std::vector<attr> walked, std::uint64_t above, op_ptr<std::vector<attr>> o) {
  std::size_t asked = names.size();
  // The remote's fid promised before the answer (pipelining): newfid is
  // made with it at once, and the walk's answer settles it.
  auto early = std::make_shared<std::optional<std::uint32_t>>();
  auto inner = make_op<remote_walk>([this, o, who, fid, newfid, rt, asked, above, early,
                                     here = std::move(walked)](result<remote_walk> r) mutable {
    // Made early and still there (a pipelined clunk may have ended it),
    // or made now: newfid becomes `st`; or goes, when `st` is empty.
    auto settle = [&](std::optional<fid_state> st) {
      if (!*early) {
        if (st) make_fid(who, fid, newfid, std::move(*st));
        return;
      }
      auto it = fids_.find(newfid);
      if (it == fids_.end() || it->second.rt != rt || it->second.rfid != **early) return;
      if (st && st->rt) return (void)(it->second.ino = st->ino);  // what was pipelined on it stays
      if (st) {
        st->uid = it->second.uid;
        return (void)(it->second = std::move(*st));
      }
      // An interrupted walk (a flush, the session's end) may have made the
      // fid there after all, and requests pipelined on it may have opened
      // it: it stays, so its end (a clunk, or the session's, which aborts
      // an open) is the client's.
      if (!r && r.err().code == errc::interrupted) return;
      space_.count_fid(it->second.uid, -1);
      fids_.erase(it);
    };
    if (!r) {
      // The walk ends at the mount point, which is here: newfid is made
      // here, unreached (its directory shows; an open of it, or a walk
      // from it, tries the remote again and fails with its error).
      if (asked == 0 && !here.empty()) {
        settle(fid_state{.ino = here.back().ino});
        return o->complete(std::move(here));
      }
      settle(std::nullopt);
      if (above && r.err().code != errc::interrupted) space_.record_in(above, who, r.err());
      if (here.empty()) return o->complete(r.err());
      return o->complete(std::move(here));  // stopped at the mount point
    }
    bool whole = r->fid && r->walked.size() == asked;
    for (auto& a : r->walked) here.push_back(a);
    if (whole) {
      std::uint64_t ino = here.empty() ? 0 : here.back().ino;
      if (here.empty())  // a clone of a remote fid: the same file
        if (auto it = fids_.find(fid); it != fids_.end()) ino = it->second.ino;
      settle(fid_state{.ino = ino, .rt = rt, .rfid = *r->fid});
    } else {
      settle(std::nullopt);
      if (r->fid) {
        auto ignore = make_op<void>([](result<void>) {});
        rt->clunk(*r->fid, ignore);
      }
    }
    o->complete(std::move(here));
  });
  o->cancel_through(inner);
  rt->walk(who, from, std::move(names), needs, inner);
  auto promised = rt->promised();  // taken always: none is left for the next walk
  if (promised && newfid != fid && !inner->done() && !fids_.count(newfid)) {
    *early = promised;
    make_fid(who, fid, newfid, fid_state{.rt = rt, .rfid = *promised});
    pass_on();
  }
}

}  // namespace circuit
