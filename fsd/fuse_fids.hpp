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
  fid_t nf = f.inodes().make_fid();
  // The clone can fail (a member of the cluster that is down): the open
  // then fails with its reason, not with the unknown fid it left.
  auto walked = std::make_shared<std::optional<error>>();
  f.ses().walk(who, f.next_token(), *fid, nf, {}, [walked](result<std::vector<attr>> r) {
    if (!r) *walked = r.err();
  });
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().lopen(who, tag, nf, flags, done); },
      [&f, nf, who, on_open, walked](fuse_req_t req, result<attr> r) {
        if (*walked) {
          f.inodes().free_fid(nf);
          return reply_err(req, **walked);
        }
        if (!r) {
          clunk(f, who, nf);
          return reply_err(req, r.err());
        }
        if (on_open(req, nf) == 0) return;
        // libfuse has freed `req` by now, whatever the reply did.
        log_line("open: fid " + std::to_string(nf) + ": the caller was gone; dropped as never opened");
        f.ses().remove(who, f.next_token(), nf, [&f, nf](result<void>) { f.inodes().free_fid(nf); });
      });
}

}  // namespace circuit::fsd
