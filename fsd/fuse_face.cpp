#define FUSE_USE_VERSION 34
#include "fuse_face.hpp"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "errno_map.hpp"
#include "invalidator.hpp"
#include "log.hpp"

namespace circuit::fsd {
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
  who.uid = c->uid;
  who.gid = c->gid;
  if (maker || (who.uid != 0 && who.uid != face(req).space().cfg().daemon.uid))
    who.groups = groups_of(req);
  return who;
}

// The kernel's root inode is 1; the namespace's is ns::root_ino.
fuse_ino_t to_fuse(std::uint64_t ino) { return ino == ns::root_ino ? FUSE_ROOT_ID : ino; }
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

void on_interrupt(fuse_req_t req, void* data) {
  face(req).post_cancel(reinterpret_cast<std::uintptr_t>(data));
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

// Whether process `pid` is dying of a signal: the kernel sets a task's
// exit_code (field 52 of /proc/PID/stat) before it closes the task's
// files, so the FLUSH of a killed holder comes with a signal in it, and
// that of exit(2) with none. Field 2 is "(comm)", which may hold spaces
// and parentheses: fields are counted after its last ')'.
bool dying_of_signal(pid_t pid) {
  if (pid <= 0) return false;
  char path[32];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[2048];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  if (!p) return false;
  // After ") " comes field 3; field 52 is 49 fields further.
  ++p;
  for (int field = 2; field < 52; ++field) {
    p = strchr(p, ' ');
    if (!p) return false;
    ++p;
  }
  int exit_code = atoi(p);
  return (exit_code & 0x7f) != 0;
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

const fuse_lowlevel_ops ops = [] {
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

// Says why a mount point cannot be used, or nothing.
std::string check_mountpoint(const std::string& path) {
  struct stat st {}, up {};
  // Asked of the file system itself, not the kernel's cache: a FUSE
  // daemon killed a moment ago leaves attributes cached for a second.
  struct statx sx {};
  if (statx(AT_FDCWD, path.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) != 0 ||
      stat(path.c_str(), &st) != 0) {
    if (errno == ENOTCONN)
      return "mount point " + path + " is a dead FUSE mount (a daemon died there); run: fusermount3 -u " + path;
    if (errno == ENOENT) return "mount point " + path + " does not exist; create it with: mkdir -p " + path;
    return "mount point " + path + ": " + strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "mount point " + path + " is not a directory";
  std::string parent = path + "/..";
  if (stat(parent.c_str(), &up) == 0 && (up.st_dev != st.st_dev || up.st_ino == st.st_ino))
    return "mount point " + path + " is busy: something is already mounted there (another circuitd?)";
  return {};
}

}  // namespace

fuse_face::fuse_face(boost::asio::io_context& io, ns& space, std::string mountpoint, bool debug,
                     bool kernel_checks)
    : io_(io),
      space_(space),
      mountpoint_(std::move(mountpoint)),
      debug_(debug),
      kernel_checks_(kernel_checks),
      fd_(io) {}

fuse_face::~fuse_face() { stop(); }

result<void> fuse_face::start() {
  if (auto why = check_mountpoint(mountpoint_); !why.empty()) return make_error(errc::busy, why);
  std::vector<std::string> argv = {"circuitd", "-o", "fsname=circuit,subtype=circuit"};
  // The kernel checks the modes the namespace reports, before it asks us:
  // a second wall behind the core's own check (access.hpp).
  if (kernel_checks_) argv.back() += ",default_permissions";
  // Other users reach a mount only with allow_other, which only root may
  // give; the core then decides who is let in.
  if (getuid() == 0) argv.back() += ",allow_other";
  if (debug_) argv.push_back("-d");
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(cargv.size()), cargv.data());
  se_ = fuse_session_new(&args, &ops, sizeof ops, this);
  fuse_opt_free_args(&args);
  if (!se_) return make_error(errc::io, "fuse: cannot create a session");
  if (fuse_session_mount(se_, mountpoint_.c_str()) != 0) {
    fuse_session_destroy(se_);
    se_ = nullptr;
    return make_error(errc::io, "fuse: cannot mount " + mountpoint_ + " (see the lines above)");
  }
  mounted_ = true;
  invalidator_ = std::make_unique<invalidator>(se_);
  int fd = fuse_session_fd(se_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_.assign(fd);
  arm();
  return {};
}

void fuse_face::arm() {
  fd_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
    if (ec || !se_) return;
    drain();
  });
}

// Serves every request waiting on the device, then waits again.
void fuse_face::drain() {
  fuse_buf buf{};
  buf.mem = buf_mem_;
  for (int served = 0;; ++served) {
    if (served == 64) {
      // Let other work run. The watch is edge-triggered, so the device,
      // still readable, is drained again by a posted call, not a wait.
      boost::asio::post(io_, [this] {
        if (se_) drain();
      });
      return;
    }
    int r = fuse_session_receive_buf(se_, &buf);
    buf_mem_ = buf.mem;
    if (r == -EAGAIN) break;
    if (r == -EINTR) continue;
    if (r <= 0 || fuse_session_exited(se_)) {
      log_line("fuse: the kernel ended the session (unmounted)");
      if (on_unmounted) on_unmounted();
      return;
    }
    fuse_session_process_buf(se_, &buf);
  }
  if (se_) arm();
}

void fuse_face::watch_interrupt(void* req, std::uint64_t token, std::function<void()> cancel) {
  parked_.emplace(token, std::move(cancel));
  fuse_req_interrupt_func(static_cast<fuse_req_t>(req), on_interrupt,
                          reinterpret_cast<void*>(static_cast<std::uintptr_t>(token)));
}

// libfuse calls the interrupt hook inside its own request processing, with
// its locks held; the cancel (and its reply) runs after, on the loop.
void fuse_face::post_cancel(std::uint64_t token) {
  boost::asio::post(io_, [this, token] {
    auto it = parked_.find(token);
    if (it == parked_.end()) return;
    auto cancel = std::move(it->second);
    parked_.erase(it);
    cancel();
  });
}

void fuse_face::keep_poll(open_file* f, fuse_pollhandle* ph) {
  auto [it, fresh] = polls_.try_emplace(f, ph);
  if (fresh) return;
  fuse_pollhandle_destroy(it->second);  // the kernel's handle for the file is the same one
  it->second = ph;
}

void fuse_face::notify_poll(open_file* f) {
  auto it = polls_.find(f);
  if (it == polls_.end()) return;
  fuse_pollhandle* ph = it->second;
  polls_.erase(it);
  if (se_) fuse_lowlevel_notify_poll(ph);
  fuse_pollhandle_destroy(ph);
}

void fuse_face::drop_poll(open_file* f) {
  auto it = polls_.find(f);
  if (it == polls_.end()) return;
  fuse_pollhandle_destroy(it->second);
  polls_.erase(it);
}

void fuse_face::invalidate(std::uint64_t parent, const std::string& name) {
  if (parent == known_parent_ && name == known_name_) return;
  if (invalidator_) invalidator_->push(to_fuse(parent), name);
}

void fuse_face::finish(std::function<void()> done) {
  if (!invalidator_) {
    stop();
    return done();
  }
  invalidator_->finish([this, done] {
    boost::asio::post(io_, [this, done] {
      stop();
      done();
    });
  });
}

void fuse_face::stop() {
  for (auto& [f, ph] : polls_) fuse_pollhandle_destroy(ph);
  polls_.clear();
  if (!se_) return;
  // A notification still under way (the finish above gave up waiting)
  // keeps using the session: leave the thread and the session be; the
  // process is ending.
  bool joined = !invalidator_ || invalidator_->stop(false);
  if (fd_.is_open()) {
    fd_.cancel();
    fd_.release();  // libfuse owns the descriptor
  }
  if (mounted_) {
    fuse_session_unmount(se_);
    mounted_ = false;
    log_line("unmounted " + mountpoint_);
  }
  if (joined) fuse_session_destroy(se_);
  se_ = nullptr;
  free(buf_mem_);
  buf_mem_ = nullptr;
}

}  // namespace circuit::fsd
