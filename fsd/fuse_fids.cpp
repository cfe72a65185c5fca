#include "fuse_fids.hpp"

#include <cerrno>

#include "circuit/core/errno_map.hpp"

namespace circuit::fsd {

std::optional<fid_t> inode_fid(fuse_face& f, fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return inode_table::root_fid;
  return f.inodes().fid_of(ino);
}

void clunk(fuse_face& f, const caller& who, fid_t fid) {
  f.ses().clunk(who, f.next_token(), fid, [&f, fid](result<void>) { f.inodes().free_fid(fid); });
}

int cached_errno(fuse_req_t req, fuse_ino_t cached, const error& e, bool may_tell) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, cached);
  if (e.code != errc::not_found || !fid || !f.ses().below_mount(*fid)) return to_errno(e.code);
  auto s = f.inodes().went_stale(cached, may_tell, fuse_req_ctx(req)->pid);
  if (!s) return ENOENT;
  f.invalidate(s->parent, s->name);  // the walks that come next ask us
  return s->tell ? ESTALE : ENOENT;
}

open_clone clone_fid(fuse_face& f, const caller& who, fuse_ino_t ino, fid_t from) {
  open_clone c{ino, f.inodes().make_fid(), std::make_shared<std::optional<error>>()};
  f.ses().walk(who, f.next_token(), from, c.fid, {}, [failed = c.failed](result<std::vector<attr>> r) {
    if (!r) *failed = r.err();
  });
  return c;
}

bool opened(fuse_face& f, fuse_req_t req, const caller& who, const open_clone& c, const result<attr>& r) {
  if (*c.failed) {
    f.inodes().free_fid(c.fid);
    fuse_reply_err(req, cached_errno(req, c.from, **c.failed));
    return false;
  }
  if (!r) {
    clunk(f, who, c.fid);
    fuse_reply_err(req, cached_errno(req, c.from, r.err()));
    return false;
  }
  return true;
}

void undo_open(fuse_face& f, const caller& who, fid_t fid) {
  f.ses().remove(who, f.next_token(), fid, [&f, fid](result<void>) { f.inodes().free_fid(fid); });
}

namespace {

// A lookup that did not find its name in a directory the kernel holds:
// ENOENT, unless that directory is another member's and is itself gone
// there (ESTALE, as cached_errno says; asked only then, so a lookup
// costs no more round trips than before).
void reply_missing(fuse_req_t req, fuse_ino_t parent, const caller& who, const error& e) {
  fuse_face& f = face(req);
  auto dir = inode_fid(f, parent);
  if (e.code != errc::not_found || !dir || !f.ses().below_mount(*dir)) return reply_err(req, e);
  f.ses().getattr(who, f.next_token(), *dir, [req, parent](result<attr> a) {
    fuse_reply_err(req, a ? ENOENT : cached_errno(req, parent, a.err()));
  });
}

}  // namespace

void enter(fuse_req_t req, fuse_ino_t parent, std::string name, const caller& who) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  fid_t nf = f.inodes().make_fid();
  f.ses().walk(who, f.next_token(), *pf, nf, {name},
               [&f, req, nf, who, parent, name](result<std::vector<attr>> r) {
                 if (!r || r->empty()) {
                   f.inodes().free_fid(nf);
                   return reply_missing(req, parent, who, r ? make_error(errc::not_found, "no such file") : r.err());
                 }
                 attr a = r->back();
                 if (auto extra = f.inodes().looked_up(a.ino, nf, from_fuse(parent), name)) clunk(f, who, *extra);
                 // The kernel holds the entry only if the reply reached it.
                 if (reply_entry(req, a) != 0)
                   if (auto gone = f.inodes().forget(a.ino, 1)) clunk(f, who, *gone);
               });
}

}  // namespace circuit::fsd
