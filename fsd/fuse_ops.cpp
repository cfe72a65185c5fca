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

void reply_entry(fuse_req_t req, const result<attr>& a) {
  if (!a) return reply_err(req, a.err());
  fuse_entry_param e{};
  e.ino = to_fuse(a->ino);
  e.attr = stat_of(*a);
  e.attr_timeout = cache_timeout(req);
  e.entry_timeout = cache_timeout(req);
  fuse_reply_entry(req, &e);
}

open_file* file_of(fuse_file_info* fi) { return reinterpret_cast<open_file*>(fi->fh); }

// Runs an asynchronous namespace call: `reply` answers the request once;
// if the call parked, a FUSE INTERRUPT cancels it.
template <class T, class Start, class Reply>
void serve(fuse_req_t req, Start start, Reply reply) {
  fuse_face& f = face(req);
  std::uint64_t token = f.next_token();
  auto o = make_op<T>([&f, req, token, reply](result<T> r) mutable {
    f.unwatch(token);
    reply(req, std::move(r));
  });
  start(o);
  if (!o->done()) {
    std::weak_ptr<op<T>> w = o;
    f.watch_interrupt(req, token, [w] {
      if (auto p = w.lock()) p->cancel(make_error(errc::interrupted, "interrupted"));
    });
  }
}


void op_init(void*, fuse_conn_info* conn) {
  // O_TRUNC comes with the open instead of a separate setattr: one round
  // trip less for every `echo x > file`.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  reply_entry(req, face(req).space().lookup(caller_of(req), from_fuse(parent), name));
}

void op_forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void op_forget_multi(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto a = face(req).space().getattr(caller_of(req), from_fuse(ino));
  if (!a) return reply_err(req, a.err());
  struct stat st = stat_of(*a);
  fuse_reply_attr(req, &st, cache_timeout(req));
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
  f.known_change(from_fuse(parent), name);
  reply_entry(req, f.space().mkdir(caller_of(req, true), from_fuse(parent), name));
  f.known_change(0, {});
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto r = face(req).space().rmdir(caller_of(req), from_fuse(parent), name);
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

// Only asked when the kernel does not check modes itself (no
// default_permissions): `[ -w file ]` then asks the core.
void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  auto r = face(req).space().access(caller_of(req), from_fuse(ino), mask);
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

void op_refuse(fuse_req_t req, fuse_ino_t parent, const char* name, const char* what) {
  error e = face(req).space().refuse(caller_of(req), from_fuse(parent), name, what);
  fuse_reply_err(req, to_errno(e.code));
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

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  open_args args{caller_of(req), fi->flags};
  fuse_file_info info = *fi;
  fuse_face& f = face(req);
  serve<open_file*>(
      req, [&](auto o) { f.space().open(from_fuse(ino), args, o); },
      [info, &f](fuse_req_t req, result<open_file*> r) mutable {
        if (!r) return reply_err(req, r.err());
        info.fh = reinterpret_cast<std::uint64_t>(r.value());
        info.direct_io = 1;
        info.keep_cache = 0;
        // The open's caller is gone (its request was aborted): nobody will
        // close this file, so drop it as never opened. libfuse has freed
        // `req` by now, whatever the reply did: only `f` may be used.
        if (fuse_reply_open(req, &info) == 0) return;
        log_line("open: " + r.value()->path + ": the caller was gone; dropped as never opened");
        f.space().abandon(r.value());
      });
}

// libfuse gives the file's flags of the moment (fcntl may have changed
// them since the open): O_NONBLOCK makes a read that would wait EAGAIN.
void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  open_file* f = file_of(fi);
  caller who = caller_of(req);
  bool nonblock = fi->flags & O_NONBLOCK;
  serve<std::string>(
      req, [&](auto o) { face(req).space().read(*f, who, off, size, nonblock, o); },
      [](fuse_req_t req, result<std::string> r) {
        if (!r) return reply_err(req, r.err());
        fuse_reply_buf(req, r->data(), r->size());
      });
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
              fuse_file_info* fi) {
  open_file* f = file_of(fi);
  caller who = caller_of(req);
  serve<std::size_t>(
      req, [&](auto o) { face(req).space().write(*f, who, off, std::string_view(buf, size), o); },
      [](fuse_req_t req, result<std::size_t> r) {
        if (!r) return reply_err(req, r.err());
        fuse_reply_write(req, *r);
      });
}


// Every close(2) of a descriptor; a holder dying of a signal aborts what
// the open was making instead (namespace.hpp).
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  caller who = caller_of(req);
  ns& space = face(req).space();
  if (space.abortable(*file_of(fi)) && dying_of_signal(who.pid)) {
    space.abort(*file_of(fi), who);
    return (void)fuse_reply_err(req, 0);
  }
  auto r = space.flush(*file_of(fi), who);
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  auto r = face(req).space().fsync(*file_of(fi), caller_of(req));
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fuse_face& f = face(req);
  f.drop_poll(file_of(fi));
  f.space().release(file_of(fi));
  fuse_reply_err(req, 0);
}

// poll(2): a file opened for writing is always writable (a write to a
// full stdin still waits); one opened for reading is readable when a read
// would be answered at once. When it is not and the kernel asks to be
// told (ph), the handle wakes the face once, which notifies the kernel,
// which polls again.
void op_poll(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, fuse_pollhandle* ph) {
  fuse_face& f = face(req);
  open_file* file = file_of(fi);
  int acc = file->flags & O_ACCMODE;
  unsigned revents = 0;
  if (acc == O_WRONLY || acc == O_RDWR) revents |= POLLOUT | POLLWRNORM;
  if (acc == O_RDONLY || acc == O_RDWR) {
    std::function<void()> wake;
    if (ph) wake = [&f, file] { f.notify_poll(file); };
    if (f.space().readable(*file, std::move(wake))) {
      revents |= POLLIN | POLLRDNORM;
    } else if (ph) {
      f.keep_poll(file, ph);
      ph = nullptr;
    }
  }
  if (ph) fuse_pollhandle_destroy(ph);
  fuse_reply_poll(req, revents);
}

// A directory listing is taken at opendir, so readdir offsets stay stable.
struct listing {
  std::vector<std::pair<std::string, struct stat>> rows;
};

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto l = face(req).space().list(caller_of(req), from_fuse(ino));
  if (!l) return reply_err(req, l.err());
  auto* out = new listing;
  struct stat self {};
  self.st_mode = S_IFDIR;
  out->rows.emplace_back(".", self);
  out->rows.emplace_back("..", self);
  for (auto& e : *l) out->rows.emplace_back(std::move(e.name), stat_of(e.a));
  fi->fh = reinterpret_cast<std::uint64_t>(out);
  if (fuse_reply_open(req, fi) != 0) delete out;
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  auto* l = reinterpret_cast<listing*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = off; i < l->rows.size(); ++i) {
    auto& [name, st] = l->rows[i];
    size_t n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st, i + 1);
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<listing*>(fi->fh);
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
