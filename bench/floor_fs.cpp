// floor_fs.cpp — the reference file system. See floor_fs.hpp.
#define FUSE_USE_VERSION 34
#include "floor_fs.hpp"

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace bench {
namespace {

constexpr fuse_ino_t file_ino = 2;
constexpr double timeout = 1.0;  // entry and attr, as circuitd

std::mutex contents_mutex;  // guards `contents`: the mt loop serves from several threads
std::string contents;

bool stat_of(fuse_ino_t ino, struct stat& st) {
  st = {};
  st.st_ino = ino;
  st.st_uid = getuid();
  st.st_gid = getgid();
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else if (ino == file_ino) {
    st.st_mode = S_IFREG | 0666;
    st.st_nlink = 1;
    st.st_size = 0;  // as circuitd's files: with direct_io every read comes to us
  } else {
    return false;
  }
  return true;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e{};
  if (parent != FUSE_ROOT_ID || std::strcmp(name, floor_file) != 0)
    return (void)fuse_reply_err(req, ENOENT);
  e.ino = file_ino;
  stat_of(file_ino, e.attr);
  e.attr_timeout = e.entry_timeout = timeout;
  fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st;
  if (!stat_of(ino, st)) return (void)fuse_reply_err(req, ENOENT);
  fuse_reply_attr(req, &st, timeout);
}

// Truncation (`>`) is accepted and ignored, as circuitd does.
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int, fuse_file_info* fi) {
  op_getattr(req, ino, fi);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != file_ino) return (void)fuse_reply_err(req, EISDIR);
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  std::lock_guard lock(contents_mutex);
  if (static_cast<size_t>(off) >= contents.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  fuse_reply_buf(req, contents.data() + off, std::min(size, contents.size() - off));
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
              fuse_file_info*) {
  std::lock_guard lock(contents_mutex);
  if (off == 0) contents.clear();
  if (contents.size() < off + size) contents.resize(off + size);
  std::memcpy(contents.data() + off, buf, size);
  fuse_reply_write(req, size);
}

// circuitd answers flush (it delivers there); without it the kernel would
// stop sending FLUSH to the floor and the floor would do one request less.
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }
void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

const fuse_lowlevel_ops ops = [] {
  fuse_lowlevel_ops o{};
  o.lookup = op_lookup;
  o.getattr = op_getattr;
  o.setattr = op_setattr;
  o.open = op_open;
  o.read = op_read;
  o.write = op_write;
  o.flush = op_flush;
  o.release = op_release;
  return o;
}();

}  // namespace

int serve_floor(const char* mount, bool multithreaded) {
  char a0[] = "floor_fs", a1[] = "-o", a2[] = "fsname=floor,subtype=floor";
  char* argv[] = {a0, a1, a2, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, argv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (!se) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, mount) == 0) {
      if (multithreaded) {
        // libfuse's defaults: one device fd shared by the threads, 10 idle.
        fuse_loop_config cfg{};
        cfg.clone_fd = 0;
        cfg.max_idle_threads = 10;
        rc = fuse_session_loop_mt(se, &cfg);
      } else {
        rc = fuse_session_loop(se);
      }
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return rc < 0 ? 1 : 0;  // a signal value means we were told to stop: fine
}

}  // namespace bench
