#include "fuse_request.hpp"

#include <unistd.h>

#include <ctime>
#include <vector>

#include "circuit/core/errno_map.hpp"
#include "fuse_ops.hpp"

namespace circuit::fsd {
namespace {

const time_t started = time(nullptr);

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

}  // namespace

fuse_face& face(fuse_req_t req) { return *static_cast<fuse_face*>(fuse_req_userdata(req)); }

double cache_timeout(fuse_req_t req) { return face(req).kernel_checks() ? 1.0 : 0.0; }

caller caller_of(fuse_req_t req, bool maker) {
  const fuse_ctx* c = fuse_req_ctx(req);
  caller who;
  who.pid = c->pid;
  // The caller's Unix session keys its error messages, looked up only when
  // one is recorded or read (most requests need none); a process already
  // gone (its pid unknown) shares the key 0.
  who.key_of = [](pid_t pid) -> std::uint64_t {
    pid_t sid = pid > 0 ? getsid(pid) : -1;
    return sid < 0 ? 0 : static_cast<std::uint64_t>(sid);
  };
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
  st.st_size = static_cast<off_t>(a.size);  // control files: 0, their size means nothing; reads go to us
  st.st_blksize = 4096;
  st.st_atime = st.st_mtime = st.st_ctime = started;
  return st;
}

void reply_err(fuse_req_t req, const error& e) { fuse_reply_err(req, to_errno(e.code)); }

fuse_entry_param entry_of(fuse_req_t req, const attr& a) {
  fuse_entry_param e{};
  e.ino = to_fuse(a.ino);
  e.attr = stat_of(a);
  e.attr_timeout = cache_timeout(req);
  e.entry_timeout = cache_timeout(req);
  return e;
}

int reply_entry(fuse_req_t req, const attr& a) {
  fuse_entry_param e = entry_of(req, a);
  return fuse_reply_entry(req, &e);
}

void reply_status(fuse_req_t req, const result<void>& r) {
  fuse_reply_err(req, r ? 0 : to_errno(r.err().code));
}

}  // namespace circuit::fsd
