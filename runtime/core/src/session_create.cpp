// session_create.cpp — a session's lcreate: a fid naming a directory
// becomes the file made in it, open for writing; below a mount point the
// remote makes it. And what a remote that makes or links no files says.
#include "circuit/core/session.hpp"

#include "session_queue.hpp"

namespace circuit {

void remote::lcreate(const caller&, std::uint32_t, std::string name, int, mode_t, op_ptr<attr> done) {
  done->complete(make_error(errc::not_permitted, "create: " + name + ": " + this->name() + " makes no files"));
}

void remote::refuse(const caller&, std::uint32_t, std::string name, std::string what,
                    op_ptr<void> done) {
  done->complete(make_error(
      errc::not_permitted, what + ": " + name + ": " + this->name() + " has a fixed set of files"));
}

void session::lcreate(const caller& who, tag_t tag, fid_t fid, std::string name, int flags, mode_t mode,
                      reply<attr> done) {
  submit<attr>(tag, {fid}, std::move(done), [this, who, fid, flags, mode, name = std::move(name)](op_ptr<attr> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    fid_state& s = **f;
    if (s.open || s.opening)
      return o->complete(make_error(errc::bad_fid, "lcreate: fid " + std::to_string(fid) + " is open already"));
    if (s.rt) {
      s.made = true;
      return lopen_remote(s, fid, flags, o, true, [&](op_ptr<attr> inner) {
        s.rt->lcreate(who, s.rfid, name, flags, mode, inner);
      });
    }
    // A mount point not reached yet: its own tree makes the file, once a
    // walk into it has reached it.
    if (space_.mount_at(s.ino))
      return o->complete(make_error(errc::not_permitted, "create: " + name + ": walk into the mount first"));
    s.opening = true;
    auto inner = make_op<ns::created>([this, o, fid, flags](result<ns::created> r) {
      auto it = fids_.find(fid);
      if (it == fids_.end()) {  // cannot happen: the fid is queued on
        if (r) space_.drop(r->f, caller{});
        return o->complete(make_error(errc::bad_fid, "lcreate: fid went away"));
      }
      it->second.opening = false;
      if (!r) return o->complete(r.err());
      it->second.ino = r->a.ino;
      it->second.open = true;
      it->second.file = r->f;
      it->second.flags = flags;
      o->complete(r->a);
    });
    o->cancel_through(inner);
    space_.create(s.ino, name, open_args{who, flags}, inner);
  });
}

void session::closed(const caller& who, tag_t tag, fid_t fid, reply<void> done) {
  auto it = fids_.find(fid);
  if (it == fids_.end() || !it->second.made || !it->second.wrote) return done(closed(who, fid));
  submit<void>(tag, {fid}, std::move(done), [this, fid](op_ptr<void> o) {
    auto f = find(fid);
    if (!f) return o->complete(f.err());
    if (!(*f)->rt) return o->complete(result<void>{});
    (*f)->rt->fsync((*f)->rfid, o);
    pass_on();
  });
}

}  // namespace circuit
