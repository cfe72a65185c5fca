// fuse_face.hpp — the namespace served to the kernel through /dev/fuse.
//
// The FUSE face is a client of the core, as plan9port's 9pfuse is a client
// of 9P: the mount is one session (session.hpp), the face keeps the map
// from the kernel's inodes to the session's fids (inode_table.hpp), and
// each kernel request becomes calls on that session, whose completion
// becomes exactly one fuse_reply_*. INTERRUPT is flush; the last close of
// an open (RELEASE) is clunk, which commits; a holder's close (FLUSH) is
// not 9P's flush but the session's `closed` (or `abort` for a holder dying
// of a signal). The
// device is read non-blocking from the daemon's one Asio loop, so no thread
// waits for a parked request. A request the namespace parks (an open of
// recv on an empty channel) registers an interrupt hook; a FUSE INTERRUPT
// (Ctrl-C on `cat`) posts its cancellation to the loop, which completes it
// with EINTR at once.
//
// Thread safety: everything runs on the loop thread of `io`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "circuit/core/error.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/core/session.hpp"
#include "inode_table.hpp"

struct fuse_session;
struct fuse_pollhandle;

namespace circuit::fsd {

class invalidator;

class fuse_face {
 public:
  // kernel_checks: mount with default_permissions, so the kernel checks
  // the modes the namespace reports before the core checks them again.
  fuse_face(boost::asio::io_context& io, ns& space, std::string mountpoint, bool debug,
            bool kernel_checks = true);
  ~fuse_face();

  // Mounts and starts serving. Fails with a message when the mount point is
  // missing, busy, or the mount is refused.
  result<void> start();
  // Ends the invalidator while requests are still served, then unmounts
  // (on the loop) and runs `done`. Parked requests must be completed
  // first (ns::stop).
  void finish(std::function<void()> done);
  // Unmounts; idempotent. Parked requests must be completed first (ns::stop).
  void stop();
  // Called when the kernel ends the session (fusermount -u).
  std::function<void()> on_unmounted;

  // Used by the request handlers (fuse_face.cpp).
  ns& space() { return space_; }
  session& ses() { return ses_; }
  inode_table& inodes() { return inodes_; }
  bool kernel_checks() const { return kernel_checks_; }
  void watch_interrupt(void* req, std::uint64_t token, std::function<void()> cancel);
  void unwatch(std::uint64_t token) { parked_.erase(token); }
  std::uint64_t next_token() { return ++tokens_; }
  void post_cancel(std::uint64_t token);
  // Drops the kernel's cached entry NAME of directory PARENT (ns inode),
  // unless it is the one the kernel is changing itself (known_change).
  void invalidate(std::uint64_t parent, const std::string& name);
  // Drops every entry the kernel holds in directory DIR (ns inode).
  void invalidate_below(std::uint64_t dir);
  void known_change(std::uint64_t parent, std::string_view name) {
    known_parent_ = parent;
    known_name_ = name;
  }
  // poll(2) notifications: the kernel's handle kept for a file that is not
  // readable yet, used once when the file's handle wakes the face.
  void keep_poll(fid_t f, fuse_pollhandle* ph);
  void notify_poll(fid_t f);
  void drop_poll(fid_t f);  // the file is released

 private:
  void arm();
  void drain();

  boost::asio::io_context& io_;
  ns& space_;
  std::string mountpoint_;
  bool debug_;
  bool kernel_checks_;
  fuse_session* se_ = nullptr;
  bool mounted_ = false;
  boost::asio::posix::stream_descriptor fd_;
  void* buf_mem_ = nullptr;
  std::uint64_t tokens_ = 0;
  std::unordered_map<std::uint64_t, std::function<void()>> parked_;
  std::unordered_map<fid_t, fuse_pollhandle*> polls_;
  session ses_;
  inode_table inodes_;
  std::unique_ptr<invalidator> invalidator_;
  std::uint64_t known_parent_ = 0;
  std::string known_name_;
};

}  // namespace circuit::fsd
