// The FUSE session: mount, read the device on the loop, interrupts, poll
// notifications, invalidation, and the stop. The request handlers are
// fuse_ops.cpp.
#include "fuse_face.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <vector>

#include "fuse_ops.hpp"
#include "invalidator.hpp"
#include "log.hpp"
#include "mountpoint.hpp"

namespace circuit::fsd {

fuse_face::fuse_face(boost::asio::io_context& io, ns& space, std::string mountpoint, bool debug,
                     bool kernel_checks)
    : io_(io),
      space_(space),
      mountpoint_(std::move(mountpoint)),
      debug_(debug),
      kernel_checks_(kernel_checks),
      fd_(io),
      ses_(space) {
  ses_.bounded_fids(false);  // the kernel bounds the inodes it keeps (session.hpp)
  // The root's fid, which every walk starts from. The attach is the
  // daemon's own; each later request carries its caller.
  caller self;
  static_cast<principal&>(self) = space.cfg().daemon;
  ses_.attach(self, 0, inode_table::root_fid, [](result<attr>) {});
}

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
  se_ = fuse_session_new(&args, &fuse_ops(), sizeof(fuse_lowlevel_ops), this);
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

void fuse_face::keep_poll(fid_t f, fuse_pollhandle* ph) {
  auto [it, fresh] = polls_.try_emplace(f, ph);
  if (fresh) return;
  fuse_pollhandle_destroy(it->second);  // the kernel's handle for the file is the same one
  it->second = ph;
}

void fuse_face::notify_poll(fid_t f) {
  auto it = polls_.find(f);
  if (it == polls_.end()) return;
  fuse_pollhandle* ph = it->second;
  polls_.erase(it);
  if (se_) fuse_lowlevel_notify_poll(ph);
  fuse_pollhandle_destroy(ph);
}

void fuse_face::drop_poll(fid_t f) {
  auto it = polls_.find(f);
  if (it == polls_.end()) return;
  fuse_pollhandle_destroy(it->second);
  polls_.erase(it);
}

void fuse_face::invalidate(std::uint64_t parent, const std::string& name) {
  if (parent == known_parent_ && name == known_name_) return;
  if (invalidator_) invalidator_->push(to_fuse(parent), name);
}

void fuse_face::invalidate_below(std::uint64_t dir) {
  for (auto& name : inodes_.names_in(dir)) invalidate(dir, name);
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
