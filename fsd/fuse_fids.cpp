#include "fuse_fids.hpp"

#include <cerrno>

namespace circuit::fsd {

std::optional<fid_t> inode_fid(fuse_face& f, fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return inode_table::root_fid;
  return f.inodes().fid_of(ino);
}

void clunk(fuse_face& f, const caller& who, fid_t fid) {
  f.ses().clunk(who, f.next_token(), fid, [&f, fid](result<void>) { f.inodes().free_fid(fid); });
}

open_clone clone_fid(fuse_face& f, const caller& who, fid_t from) {
  open_clone c{f.inodes().make_fid(), std::make_shared<std::optional<error>>()};
  f.ses().walk(who, f.next_token(), from, c.fid, {}, [failed = c.failed](result<std::vector<attr>> r) {
    if (!r) *failed = r.err();
  });
  return c;
}

bool opened(fuse_face& f, fuse_req_t req, const caller& who, const open_clone& c, const result<attr>& r) {
  if (*c.failed) {
    f.inodes().free_fid(c.fid);
    reply_err(req, **c.failed);
    return false;
  }
  if (!r) {
    clunk(f, who, c.fid);
    reply_err(req, r.err());
    return false;
  }
  return true;
}

void undo_open(fuse_face& f, const caller& who, fid_t fid) {
  f.ses().remove(who, f.next_token(), fid, [&f, fid](result<void>) { f.inodes().free_fid(fid); });
}

void enter(fuse_req_t req, fuse_ino_t parent, std::string name, const caller& who) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  fid_t nf = f.inodes().make_fid();
  f.ses().walk(who, f.next_token(), *pf, nf, {std::move(name)},
               [&f, req, nf, who](result<std::vector<attr>> r) {
                 if (!r || r->empty()) {
                   f.inodes().free_fid(nf);
                   return reply_err(req, r ? make_error(errc::not_found, "no such file") : r.err());
                 }
                 attr a = r->back();
                 if (auto extra = f.inodes().looked_up(a.ino, nf)) clunk(f, who, *extra);
                 // The kernel holds the entry only if the reply reached it.
                 if (reply_entry(req, a) != 0)
                   if (auto gone = f.inodes().forget(a.ino, 1)) clunk(f, who, *gone);
               });
}

}  // namespace circuit::fsd
