// fuse_fids.hpp — the face's fids (fuse_face.hpp): how a kernel request
// becomes calls on the mount's session. An inode the kernel holds has a
// fid (inode_table.hpp), an open has one of its own, and an asynchronous
// call runs under a fresh tag that a FUSE INTERRUPT flushes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuse_request.hpp"
#include "log.hpp"

namespace circuit::fsd {

// The fid of an open: libfuse keeps it as the file handle.
inline fid_t fid_of(fuse_file_info* fi) { return static_cast<fid_t>(fi->fh); }

// The fid of an inode the kernel holds; the root is always there.
std::optional<fid_t> inode_fid(fuse_face& f, fuse_ino_t ino);

// Forgets a fid of the face's own (an inode's, or an open's at RELEASE):
// clunk commits what an open made; the fid is free once clunked.
void clunk(fuse_face& f, const caller& who, fid_t fid);

// The entry `name` of `parent`, for the kernel's lookup and after mkdir:
// a walk to a fresh fid, kept as the inode's fid unless it has one.
void enter(fuse_req_t req, fuse_ino_t parent, std::string name, const caller& who);

// Runs an asynchronous session call under a fresh tag: `reply` answers the
// request once; while the call is parked, a FUSE INTERRUPT flushes it.
template <class T, class Start, class Reply>
void serve(fuse_req_t req, Start start, Reply reply) {
  fuse_face& f = face(req);
  tag_t tag = f.next_token();
  auto answered = std::make_shared<bool>(false);
  start(tag, circuit::reply<T>([&f, req, tag, reply, answered](result<T> r) mutable {
    *answered = true;
    f.unwatch(tag);
    reply(req, std::move(r));
  }));
  if (!*answered)
    f.watch_interrupt(req, tag, [&f, tag] { f.ses().flush(tag, [](result<void>) {}); });
}

// The errno of a call that failed on a file the kernel took from its
// cache (an open, a lookup in a directory it holds): ENOENT from another
// member's file becomes ESTALE, when `may_tell`, and the kernel's entry
// of the file is dropped, when the file itself is gone. That member may have removed it and made another of the same
// name, which this mount cannot know; on ESTALE the kernel walks the
// path once more, asking us rather than its cache (LOOKUP_REVAL), and
// finds the new file, or that the name is gone (ENOENT then). Not twice
// in a row to one process (inode_table::went_stale): a walk that starts
// there (a shell's working directory, removed) cannot go otherwise, and
// its retry gets ENOENT, as it would on this host.
int cached_errno(fuse_req_t req, fuse_ino_t cached, const error& e, bool may_tell = true);

// A fid of an open's own: a clone of the inode's fid `from`, walked now.
// The clone can fail (a member of the cluster that is down): the open then
// fails with its reason, not with the unknown fid it left.
struct open_clone {
  fuse_ino_t from;  // the inode whose fid was cloned
  fid_t fid;
  std::shared_ptr<std::optional<error>> failed;  // the clone's walk's error
};
open_clone clone_fid(fuse_face& f, const caller& who, fuse_ino_t ino, fid_t from);
// The answer of the request that opened a clone (lopen, lcreate): true
// when it is open; else the request is answered with the error and the
// clone let go.
bool opened(fuse_face& f, fuse_req_t req, const caller& who, const open_clone& c, const result<attr>& r);
// An open the caller never got (its request was aborted): undone, as never
// opened (nothing it was making is kept).
void undo_open(fuse_face& f, const caller& who, fid_t fid);

// An open is a fid of its own: a walk from the inode's fid (a clone), then
// lopen, which may park (a receive on an empty channel) until a flush.
// `on_open` replies; when the reply cannot reach the caller (its request
// was aborted), nobody will close the file, so the open is undone.
template <class OnOpen>
void open_fid(fuse_req_t req, fuse_ino_t ino, int flags, OnOpen on_open) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, ino);
  if (!fid) return (void)fuse_reply_err(req, ENOENT);
  caller who = caller_of(req);
  open_clone c = clone_fid(f, who, ino, *fid);
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().lopen(who, tag, c.fid, flags, done); },
      [&f, c, who, on_open](fuse_req_t req, result<attr> r) {
        if (!opened(f, req, who, c, r)) return;
        if (on_open(req, c.fid) == 0) return;
        // libfuse has freed `req` by now, whatever the reply did.
        log_line("open: fid " + std::to_string(c.fid) + ": the caller was gone; dropped as never opened");
        undo_open(f, who, c.fid);
      });
}

// A create is an open of a file made on the way: a clone of the
// directory's fid becomes the new file (the session's lcreate), then the
// file's entry is walked to as a lookup's is, so the kernel holds an inode
// (with its fid) and an open. `on_create` replies; as in open_fid, an open
// the caller never got is undone (nothing it was making is kept), and so
// is its entry.
template <class OnCreate>
void create_fid(fuse_req_t req, fuse_ino_t parent, std::string name, int flags, mode_t mode, OnCreate on_create) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  caller who = caller_of(req);
  open_clone c = clone_fid(f, who, parent, *pf);
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().lcreate(who, tag, c.fid, name, flags, mode, done); },
      [&f, parent, c, who, name, on_create](fuse_req_t req, result<attr> r) {
        if (!opened(f, req, who, c, r)) return;
        auto pf = inode_fid(f, parent);
        if (!pf) {
          undo_open(f, who, c.fid);
          return (void)fuse_reply_err(req, ENOENT);
        }
        fid_t ef = f.inodes().make_fid();
        f.ses().walk(who, f.next_token(), *pf, ef, {name}, [&f, req, ef, who, on_create, nf = c.fid, parent, name](result<std::vector<attr>> w) {
          if (!w || w->empty()) {
            f.inodes().free_fid(ef);
            undo_open(f, who, nf);
            return reply_err(req, w ? make_error(errc::not_found, "create: the file went as it was made") : w.err());
          }
          attr a = w->back();
          if (auto extra = f.inodes().looked_up(a.ino, ef, from_fuse(parent), name)) clunk(f, who, *extra);
          if (on_create(req, entry_of(req, a), nf) == 0) return;
          log_line("create: fid " + std::to_string(nf) + ": the caller was gone; dropped as never opened");
          if (auto gone = f.inodes().forget(a.ino, 1)) clunk(f, who, *gone);
          undo_open(f, who, nf);
        });
      });
}

}  // namespace circuit::fsd
