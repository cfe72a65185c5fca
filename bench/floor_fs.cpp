// floor_fs.cpp — the reference file system. See floor_fs.hpp.
#define FUSE_USE_VERSION 34
#include "floor_fs.hpp"

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <deque>
#include <map>
#include <utility>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>
#include <cstdint>

namespace bench {
namespace {

constexpr fuse_ino_t file_ino = 2, park_ino = 3, open_park_ino = 4;
constexpr double timeout = 1.0;  // entry and attr, as circuitd

std::mutex contents_mutex;  // guards `contents`: the mt loop serves from several threads
std::string contents;

// The park file (floor_fs.hpp), under contents_mutex too.
struct parked_read {
  fuse_req_t req = nullptr;
  size_t size = 0;
};
parked_read parked;
std::string kept;          // a write no reader was waiting for
bool kept_any = false;
std::uint64_t next_fh = 1;
std::vector<std::uint64_t> answered;  // opens whose read got its message: next read is EOF

// The open-park file (floor_fs.hpp), under contents_mutex too: each open's
// bytes by its fh (a writer's message so far; a reader's message), the
// open waiting for a message, and messages no open waited for.
std::map<std::uint64_t, std::string> open_bytes;
fuse_req_t parked_open = nullptr;
fuse_file_info parked_open_fi{};
std::deque<std::string> open_kept;

bool is_file(fuse_ino_t ino) { return ino == file_ino || ino == park_ino || ino == open_park_ino; }

bool stat_of(fuse_ino_t ino, struct stat& st) {
  st = {};
  st.st_ino = ino;
  st.st_uid = getuid();
  st.st_gid = getgid();
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else if (is_file(ino)) {
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
  if (parent != FUSE_ROOT_ID) return (void)fuse_reply_err(req, ENOENT);
  if (std::strcmp(name, floor_file) == 0) e.ino = file_ino;
  else if (std::strcmp(name, floor_park_file) == 0) e.ino = park_ino;
  else if (std::strcmp(name, floor_open_park_file) == 0) e.ino = open_park_ino;
  else return (void)fuse_reply_err(req, ENOENT);
  stat_of(e.ino, e.attr);
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
  if (!is_file(ino)) return (void)fuse_reply_err(req, EISDIR);
  fi->direct_io = 1;
  fi->keep_cache = 0;
  if (ino == park_ino || ino == open_park_ino) {
    std::lock_guard lock(contents_mutex);
    fi->fh = next_fh++;
    if (ino == open_park_ino) {
      open_bytes[fi->fh];
      if ((fi->flags & O_ACCMODE) == O_RDONLY) {
        if (open_kept.empty()) {
          if (parked_open) return (void)fuse_reply_err(req, EBUSY);  // one reader at a time
          parked_open = req;
          parked_open_fi = *fi;
          return;
        }
        open_bytes[fi->fh] = std::move(open_kept.front());
        open_kept.pop_front();
      }
    }
  }
  fuse_reply_open(req, fi);
}

// A writer's last close: its bytes are a message, for the waiting open or
// the next one.
void release_open_park(fuse_file_info* fi) {
  auto it = open_bytes.find(fi->fh);
  if (it == open_bytes.end()) return;
  std::string msg = std::move(it->second);
  open_bytes.erase(it);
  if ((fi->flags & O_ACCMODE) == O_RDONLY) return;
  if (!parked_open) return open_kept.push_back(std::move(msg));
  open_bytes[parked_open_fi.fh] = std::move(msg);
  fuse_reply_open(std::exchange(parked_open, nullptr), &parked_open_fi);
}

void read_park(fuse_req_t req, size_t size, fuse_file_info* fi) {
  std::lock_guard lock(contents_mutex);
  auto done = std::find(answered.begin(), answered.end(), fi->fh);
  if (done != answered.end()) return (void)fuse_reply_buf(req, nullptr, 0);
  answered.push_back(fi->fh);
  if (kept_any) {
    kept_any = false;
    fuse_reply_buf(req, kept.data(), std::min(size, kept.size()));
    return;
  }
  if (parked.req) return (void)fuse_reply_err(req, EBUSY);  // one reader at a time
  parked = {req, size};
}

void write_park(fuse_req_t req, const char* buf, size_t size) {
  std::lock_guard lock(contents_mutex);
  if (parked.req) {
    fuse_reply_buf(parked.req, buf, std::min(size, parked.size));
    parked = {};
  } else {
    kept.assign(buf, size);
    kept_any = true;
  }
  fuse_reply_write(req, size);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  if (ino == park_ino) return read_park(req, size, fi);
  std::lock_guard lock(contents_mutex);
  const std::string& bytes = ino == open_park_ino ? open_bytes[fi->fh] : contents;
  if (static_cast<size_t>(off) >= bytes.size()) return (void)fuse_reply_buf(req, nullptr, 0);
  fuse_reply_buf(req, bytes.data() + off, std::min(size, bytes.size() - off));
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
              fuse_file_info* fi) {
  if (ino == park_ino) return write_park(req, buf, size);
  std::lock_guard lock(contents_mutex);
  if (ino == open_park_ino) {
    open_bytes[fi->fh].append(buf, size);
    return (void)fuse_reply_write(req, size);
  }
  if (off == 0) contents.clear();
  if (contents.size() < off + size) contents.resize(off + size);
  std::memcpy(contents.data() + off, buf, size);
  fuse_reply_write(req, size);
}

// circuitd answers flush (it delivers there); without it the kernel would
// stop sending FLUSH to the floor and the floor would do one request less.
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }
void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino == park_ino || ino == open_park_ino) {
    std::lock_guard lock(contents_mutex);
    answered.erase(std::remove(answered.begin(), answered.end(), fi->fh), answered.end());
    if (ino == open_park_ino) release_open_park(fi);
  }
  fuse_reply_err(req, 0);
}

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
