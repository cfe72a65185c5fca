// cgroup.hpp — a cgroup v2 group per worker, so that every process a worker
// starts is known, signalled and killed with it.
//
// A process group is not enough: a descendant may leave it (setsid, a
// double fork) and its leader may die first, so a signal to the group
// misses it and the orphan runs on. A cgroup cannot be left by an
// unprivileged process. The daemon makes one group of its own beside
// itself in the cgroup2 hierarchy (circuitd-PID) and one per worker inside
// it; the child joins its group before exec (it writes "0" to procs_fd()),
// so even its first fork is inside. `cgroup.kill` kills them all at once;
// `cgroup.procs` lists them; the group is removed once it is empty.
//
// make() gives nothing where the host has no cgroup2 hierarchy the daemon
// may write (not root, a read-only /sys) or the daemon runs --no-cgroups:
// the worker is then started under a reaper of its own (reaper.hpp).
//
// Thread safety: used from the loop thread; the daemon's group is made
// once, under a function-local static.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace circuit {

class cgroup {
 public:
  // A new empty group for one worker, or nullptr (no cgroups here).
  static std::unique_ptr<cgroup> make();
  ~cgroup();
  cgroup(const cgroup&) = delete;
  cgroup& operator=(const cgroup&) = delete;

  int procs_fd() const { return procs_fd_; }  // write "0" here to join
  int dir_fd() const { return dir_fd_; }      // for clone3's CLONE_INTO_CGROUP
  const std::string& path() const { return path_; }
  std::string events_path() const { return path_ + "/cgroup.events"; }

  std::vector<pid_t> pids() const;  // the live processes in it now
  bool populated() const;           // any process left (cgroup.events)
  // Sends sig to every process in it (by pidfd: no pid reuse can misdirect
  // it); returns how many it reached.
  std::size_t signal(int sig) const;
  void kill() const;  // SIGKILL to all, at once where the kernel has cgroup.kill
  // Moves every process back to the daemon's own group (workers the daemon
  // leaves running when it stops), then removes this one.
  void release();
  bool remove();  // rmdir; false while a process is left

 private:
  cgroup(std::string path, int dir_fd, int procs_fd)
      : path_(std::move(path)), dir_fd_(dir_fd), procs_fd_(procs_fd) {}
  std::string path_;
  int dir_fd_, procs_fd_;
  bool removed_ = false;
};

}  // namespace circuit
