// The kernel's requests: one handler each, each a call on the namespace
// whose completion is exactly one fuse_reply_*, and the table libfuse
// dispatches on. The session that feeds them is fuse_face.cpp.
#include "fuse_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <vector>

#include "circuit/core/access.hpp"
#include "circuit/core/errno_map.hpp"
#include "fuse_face.hpp"
#include "fuse_fids.hpp"
#include "fuse_request.hpp"
#include "proc_exit.hpp"

namespace circuit::fsd {

fuse_ino_t to_fuse(std::uint64_t ino) { return ino == ns::root_ino ? FUSE_ROOT_ID : ino; }

namespace {

void op_init(void*, fuse_conn_info* conn) {
  // O_TRUNC comes with the open instead of a separate setattr: one round
  // trip less for every `echo x > file`.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  enter(req, parent, name, caller_of(req));
}

void forget_one(fuse_face& f, fuse_ino_t ino, std::uint64_t n) {
  if (ino == FUSE_ROOT_ID) return;
  if (auto fid = f.inodes().forget(ino, n)) clunk(f, caller{}, *fid);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  forget_one(face(req), ino, n);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* list) {
  for (size_t i = 0; i < count; ++i) forget_one(face(req), list[i].ino, list[i].nlookup);
  fuse_reply_none(req);
}

// The kernel asks only once its copy of the attributes is a second old.
// FUSE does not say whether fstat(2) or stat(2) by path asks, so a file
// gone is ENOENT, as on its own host, never ESTALE (cached_errno).
void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, ino);
  if (!fid) return (void)fuse_reply_err(req, ENOENT);
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().getattr(caller_of(req), tag, *fid, done); },
      [ino](fuse_req_t req, result<attr> a) {
        if (!a) return (void)fuse_reply_err(req, cached_errno(req, ino, a.err(), false));
        struct stat st = stat_of(*a);
        fuse_reply_attr(req, &st, cache_timeout(req));
      });
}

// Truncation (`echo x > ctl`) and times (`touch`) are accepted and ignored.
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int to_set, fuse_file_info*) {
  constexpr int ignored = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                          FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if (to_set & ~ignored) return (void)fuse_reply_err(req, EPERM);
  op_getattr(req, ino, nullptr);
}

// A mkdir through this mount: the kernel makes the entry from our reply,
// so it needs no invalidation (which would cost the next lookup a round
// trip). An rmdir is invalidated all the same: the kernel has dropped the
// entry already, so it costs nothing, and it keeps the invalidator's path
// (and its deadlock-free design) exercised by every rmdir.
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  caller who = caller_of(req, true);
  f.known_change(from_fuse(parent), name);
  f.ses().mkdir(who, f.next_token(), *pf, name, [req, parent, who, n = std::string(name)](result<attr> r) {
    if (!r) return reply_err(req, r.err());
    enter(req, parent, n, who);
  });
  f.known_change(0, {});
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  f.ses().unlinkat(caller_of(req), f.next_token(), *pf, name, true,
                   [req](result<void> r) { reply_status(req, r); });
}

// Only asked when the kernel does not check modes itself (no
// default_permissions): `[ -w file ]` then asks the core. Below a mount
// (another member's file) 9P has no access call: the owner's attributes,
// asked for as the caller, are judged by the same rule, as v9fs judges.
void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, ino);
  if (!fid) return (void)fuse_reply_err(req, ENOENT);
  caller who = caller_of(req);
  if (!f.ses().below_mount(*fid)) return reply_status(req, f.ses().access(who, *fid, mask));
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().getattr(who, tag, *fid, done); },
      [who, mask, ino](fuse_req_t req, result<attr> a) {
        if (!a) return (void)fuse_reply_err(req, cached_errno(req, ino, a.err(), false));
        fuse_reply_err(req, permits(who, *a, mask) ? 0 : EACCES);
      });
}

void op_refuse(fuse_req_t req, fuse_ino_t parent, const char* name, const char* what) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  f.ses().refuse(caller_of(req), f.next_token(), *pf, name, what,
                 [req](result<void> r) { reply_status(req, r); });
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, dev_t) {
  op_refuse(req, parent, name, "create");
}

// create(2) (O_CREAT of a name the kernel does not know): the session's
// lcreate on a fid of its own (create_fid), which directories of fixed
// files refuse; bin/ makes the file.
void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  fuse_file_info info = *fi;
  create_fid(req, parent, name, fi->flags, mode & 07777, [info](fuse_req_t req, const fuse_entry_param& e, fid_t fid) {
    fuse_file_info out = info;
    out.fh = fid;
    out.direct_io = 1;
    out.keep_cache = 0;
    return fuse_reply_create(req, &e, &out);
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_face& f = face(req);
  auto pf = inode_fid(f, parent);
  if (!pf) return (void)fuse_reply_err(req, ENOENT);
  f.ses().unlinkat(caller_of(req), f.next_token(), *pf, name, false,
                   [req](result<void> r) { reply_status(req, r); });
}
void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t, const char*,
               unsigned) {
  op_refuse(req, parent, name, "rename");
}

// Links of either kind: the namespace has none (as Plan 9's has none).
// Refused with EPERM and words, where the kernel would say ENOSYS.
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t parent, const char* name) {
  op_refuse(req, parent, name, "link");
}
void op_symlink(fuse_req_t req, const char*, fuse_ino_t parent, const char* name) {
  op_refuse(req, parent, name, "symlink");
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  fuse_file_info info = *fi;
  open_fid(req, ino, fi->flags, [info](fuse_req_t req, fid_t fid) {
    fuse_file_info out = info;
    out.fh = fid;
    out.direct_io = 1;
    out.keep_cache = 0;
    return fuse_reply_open(req, &out);
  });
}

// libfuse gives the file's flags of the moment (fcntl may have changed
// them since the open): O_NONBLOCK makes a read that would wait EAGAIN.
void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  fid_t fid = fid_of(fi);
  caller who = caller_of(req);
  int nonblock = (fi->flags & O_NONBLOCK) ? 1 : 0;
  serve<std::string>(
      req, [&](tag_t tag, auto done) { face(req).ses().read(who, tag, fid, off, size, done, nonblock); },
      [](fuse_req_t req, result<std::string> r) {
        if (!r) return reply_err(req, r.err());
        fuse_reply_buf(req, r->data(), r->size());
      });
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
              fuse_file_info* fi) {
  fid_t fid = fid_of(fi);
  caller who = caller_of(req);
  serve<std::size_t>(
      req,
      [&](tag_t tag, auto done) { face(req).ses().write(who, tag, fid, off, std::string(buf, size), done); },
      [](fuse_req_t req, result<std::size_t> r) {
        if (!r) return reply_err(req, r.err());
        fuse_reply_write(req, *r);
      });
}

// Every close(2) of a descriptor; a holder dying of a signal aborts what
// the open was making instead (namespace.hpp).
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  caller who = caller_of(req);
  session& s = face(req).ses();
  if (s.abortable(fid_of(fi)) && dying_of_signal(who.pid)) {
    s.abort(who, fid_of(fi));
    return (void)fuse_reply_err(req, 0);
  }
  fid_t fid = fid_of(fi);
  serve<void>(
      req, [&](tag_t tag, auto done) { s.closed(who, tag, fid, done); },
      [](fuse_req_t req, result<void> r) { reply_status(req, r); });
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  fid_t fid = fid_of(fi);
  caller who = caller_of(req);
  serve<void>(
      req, [&](tag_t tag, auto done) { face(req).ses().fsync(who, tag, fid, done); },
      [](fuse_req_t req, result<void> r) { reply_status(req, r); });
}

// The last close of an open: clunk commits (a send delivers). Nobody waits
// for the verdict; a failure was reported by a write, or is in `error`.
void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fuse_face& f = face(req);
  f.drop_poll(fid_of(fi));
  clunk(f, caller_of(req), fid_of(fi));
  fuse_reply_err(req, 0);
}

// poll(2): a file opened for writing is always writable (a write to a
// full stdin still waits); one opened for reading is readable when a read
// would be answered at once. When it is not and the kernel asks to be
// told (ph), the handle wakes the face once, which notifies the kernel,
// which polls again.
void op_poll(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, fuse_pollhandle* ph) {
  fuse_face& f = face(req);
  fid_t fid = fid_of(fi);
  open_file* file = f.ses().file(fid);
  int acc = file ? file->flags & O_ACCMODE : O_RDONLY;
  unsigned revents = 0;
  if (acc == O_WRONLY || acc == O_RDWR) revents |= POLLOUT | POLLWRNORM;
  if (acc == O_RDONLY || acc == O_RDWR) {
    std::function<void()> wake;
    if (ph) wake = [&f, fid] { f.notify_poll(fid); };
    if (f.ses().readable(fid, std::move(wake))) {
      revents |= POLLIN | POLLRDNORM;
    } else if (ph) {
      f.keep_poll(fid, ph);
      ph = nullptr;
    }
  }
  if (ph) fuse_pollhandle_destroy(ph);
  fuse_reply_poll(req, revents);
}

// A directory's listing is taken at opendir (the session's lopen), so
// readdir offsets stay stable: 0 and 1 are "." and "..", then the entries.
void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  fuse_file_info info = *fi;
  open_fid(req, ino, O_RDONLY, [info](fuse_req_t req, fid_t fid) {
    fuse_file_info out = info;
    out.fh = fid;
    return fuse_reply_open(req, &out);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  fid_t fid = fid_of(fi);
  std::uint64_t from = off < 2 ? 0 : static_cast<std::uint64_t>(off) - 2;
  serve<std::vector<dir_entry>>(
      req, [&](tag_t tag, auto done) { face(req).ses().readdir(caller_of(req), tag, fid, from, done); },
      [size, off, from](fuse_req_t req, result<std::vector<dir_entry>> r) {
        if (!r) return reply_err(req, r.err());
        std::vector<char> buf(size);
        size_t used = 0;
        auto add = [&](const std::string& name, const struct stat& st, off_t next) {
          size_t n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st, next);
          if (n > size - used) return false;
          used += n;
          return true;
        };
        struct stat self {};
        self.st_mode = S_IFDIR;
        if (off < 1 && !add(".", self, 1)) return (void)fuse_reply_buf(req, buf.data(), used);
        if (off < 2 && !add("..", self, 2)) return (void)fuse_reply_buf(req, buf.data(), used);
        off_t next = static_cast<off_t>(from) + 2;
        for (auto& e : *r)
          if (!add(e.name, stat_of(e.a), ++next)) break;
        fuse_reply_buf(req, buf.data(), used);
      });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  clunk(face(req), caller_of(req), fid_of(fi));
  fuse_reply_err(req, 0);
}

const fuse_lowlevel_ops table = [] {
  fuse_lowlevel_ops o{};
  o.init = op_init;
  o.lookup = op_lookup;
  o.forget = op_forget;
  o.forget_multi = op_forget_multi;
  o.getattr = op_getattr;
  o.access = op_access;
  o.setattr = op_setattr;
  o.mknod = op_mknod;
  o.create = op_create;
  o.mkdir = op_mkdir;
  o.unlink = op_unlink;
  o.rmdir = op_rmdir;
  o.rename = op_rename;
  o.link = op_link;
  o.symlink = op_symlink;
  o.open = op_open;
  o.read = op_read;
  o.write = op_write;
  o.flush = op_flush;
  o.fsync = op_fsync;
  o.release = op_release;
  o.poll = op_poll;
  o.opendir = op_opendir;
  o.readdir = op_readdir;
  o.releasedir = op_releasedir;
  return o;
}();

}  // namespace

void on_interrupt(fuse_req_t req, void* data) {
  face(req).post_cancel(reinterpret_cast<std::uintptr_t>(data));
}

const fuse_lowlevel_ops& fuse_ops() { return table; }

}  // namespace circuit::fsd
