// The kernel's requests: one handler each, each a call on the namespace
// whose completion is exactly one fuse_reply_*, and the table libfuse
// dispatches on. The session that feeds them is fuse_face.cpp.
#include "fuse_ops.hpp"

#include "circuit/core/errno_map.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <vector>

#include "fuse_face.hpp"
#include "log.hpp"
#include "proc_exit.hpp"

namespace circuit::fsd {

fuse_ino_t to_fuse(std::uint64_t ino) { return ino == ns::root_ino ? FUSE_ROOT_ID : ino; }

namespace {

const time_t started = time(nullptr);

fuse_face& face(fuse_req_t req) { return *static_cast<fuse_face*>(fuse_req_userdata(req)); }

// How long the kernel may keep entries and attributes. Without its own
// checks (--no-kernel-checks) it keeps nothing, so that every call of
// every user reaches the core's check, none answered from a cache that
// another user's call filled.
double cache_timeout(fuse_req_t req) { return face(req).kernel_checks() ? 1.0 : 0.0; }

std::vector<gid_t> groups_of(fuse_req_t req) {
  std::vector<gid_t> g(32);
  for (;;) {
    int n = fuse_req_getgroups(req, static_cast<int>(g.size()), g.data());
    if (n < 0) return {};  // the process is gone, or no /proc: its gid alone
    bool fit = static_cast<std::size_t>(n) <= g.size();
    g.resize(n);
    if (fit) return g;
  }
}

// The caller of a request. Its supplementary groups cost a read of
// /proc/PID/task/PID/status, so they are fetched only where they can
// matter: for a user who is neither root nor the daemon's (those pass
// every check without them), and at mkdir, where the caller becomes the
// element's maker and a worker runs with the maker's groups.
caller caller_of(fuse_req_t req, bool maker = false) {
  const fuse_ctx* c = fuse_req_ctx(req);
  caller who;
  who.pid = c->pid;
  // The caller's Unix session keys its error messages; a process already
  // gone (its pid unknown) shares the key 0.
  pid_t sid = c->pid > 0 ? getsid(c->pid) : -1;
  who.key = sid < 0 ? 0 : static_cast<std::uint64_t>(sid);
  who.uid = c->uid;
  who.gid = c->gid;
  if (maker || (who.uid != 0 && who.uid != face(req).space().cfg().daemon.uid))
    who.groups = groups_of(req);
  return who;
}

std::uint64_t from_fuse(fuse_ino_t ino) { return ino == FUSE_ROOT_ID ? ns::root_ino : ino; }

struct stat stat_of(const attr& a) {
  struct stat st {};
  st.st_ino = to_fuse(a.ino);
  st.st_mode = (a.is_dir ? S_IFDIR : S_IFREG) | a.perm;
  st.st_nlink = a.is_dir ? 2 : 1;
  st.st_uid = a.uid;  // the element's maker
  st.st_gid = a.gid;  // the allowed group
  st.st_size = 0;  // control files: their size means nothing; reads go to us
  st.st_blksize = 4096;
  st.st_atime = st.st_mtime = st.st_ctime = started;
  return st;
}

void reply_err(fuse_req_t req, const error& e) { fuse_reply_err(req, to_errno(e.code)); }

template <class T>
using reply_fn = reply<T>;

// Returns fuse_reply_entry's verdict: non-zero when the kernel did not take it.
int reply_entry(fuse_req_t req, const attr& a) {
  fuse_entry_param e{};
  e.ino = to_fuse(a.ino);
  e.attr = stat_of(a);
  e.attr_timeout = cache_timeout(req);
  e.entry_timeout = cache_timeout(req);
  return fuse_reply_entry(req, &e);
}

fid_t fid_of(fuse_file_info* fi) { return static_cast<fid_t>(fi->fh); }

// The fid of an inode the kernel holds; the root is always there.
std::optional<fid_t> inode_fid(fuse_face& f, fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return inode_table::root_fid;
  return f.inodes().fid_of(ino);
}

void reply_status(fuse_req_t req, const result<void>& r) {
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

// Runs an asynchronous session call under a fresh tag: `reply` answers the
// request once; while the call is parked, a FUSE INTERRUPT flushes it.
template <class T, class Start, class Reply>
void serve(fuse_req_t req, Start start, Reply reply) {
  fuse_face& f = face(req);
  tag_t tag = f.next_token();
  auto answered = std::make_shared<bool>(false);
  start(tag, reply_fn<T>([&f, req, tag, reply, answered](result<T> r) mutable {
    *answered = true;
    f.unwatch(tag);
    reply(req, std::move(r));
  }));
  if (!*answered)
    f.watch_interrupt(req, tag, [&f, tag] { f.ses().flush(tag, [](result<void>) {}); });
}

// Forgets a fid of the face's own (an inode's, or an open's at RELEASE):
// clunk commits what an open made; the fid is free once clunked.
void clunk(fuse_face& f, const caller& who, fid_t fid) {
  f.ses().clunk(who, f.next_token(), fid, [&f, fid](result<void>) { f.inodes().free_fid(fid); });
}

// The entry `name` of `parent`, for the kernel's lookup and after mkdir:
// a walk to a fresh fid, kept as the inode's fid unless it has one.
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

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, ino);
  if (!fid) return (void)fuse_reply_err(req, ENOENT);
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().getattr(caller_of(req), tag, *fid, done); },
      [](fuse_req_t req, result<attr> a) {
        if (!a) return reply_err(req, a.err());
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
// default_permissions): `[ -w file ]` then asks the core.
void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  fuse_face& f = face(req);
  auto fid = inode_fid(f, ino);
  if (!fid) return (void)fuse_reply_err(req, ENOENT);
  reply_status(req, f.ses().access(caller_of(req), *fid, mask));
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
void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, fuse_file_info*) {
  op_refuse(req, parent, name, "create");
}
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  op_refuse(req, parent, name, "unlink");
}
void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t, const char*,
               unsigned) {
  op_refuse(req, parent, name, "rename");
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
  f.ses().walk(who, f.next_token(), *fid, nf, {}, [](result<std::vector<attr>>) {});
  serve<attr>(
      req, [&](tag_t tag, auto done) { f.ses().lopen(who, tag, nf, flags, done); },
      [&f, nf, who, on_open](fuse_req_t req, result<attr> r) {
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
  reply_status(req, s.closed(who, fid_of(fi)));
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
