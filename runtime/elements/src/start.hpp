// start.hpp — starts a worker's process: fast, and as the right user.
//
// posix_spawn cannot change user ids, and fork copies the daemon's page
// tables (half the cost of a start). So the process is made with
// clone(CLONE_VM | CLONE_VFORK): the child borrows the daemon's memory on a
// stack of its own until its execve, and the daemon's thread waits for
// that. In between, the child uses raw system calls only (glibc's setuid
// family would signal the daemon's other threads): it takes every signal
// back to its default, joins the worker's cgroup, starts a session of its
// own, puts the pipes on 0, 1 and 2, takes the maker's groups, gid and uid,
// moves to the spec's dir and executes. A failure is written into memory
// the daemon reads after the clone returns, with the step that failed.
// CLONE_PIDFD gives the pidfd with the pid, so no pid is ever reused under it.
//
// Without a cgroup the process is started under a reaper of its own
// (circuit/elements/reaper.hpp): the child executes circuit-reaper rather
// than the spec's path, and the reaper starts the path. The start then
// waits (briefly: one more exec) for the reaper's first record, so that a
// path that cannot be executed fails the start as it does without one.
//
// Thread safety: call from one thread at a time (the loop thread).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "circuit/core/dir.hpp"
#include "spec.hpp"

namespace circuit {

struct start_request {
  const spec* s = nullptr;
  int fds[3] = {-1, -1, -1};    // become 0, 1, 2 (must be above 2)
  int cgroup_dir = -1;          // the worker's cgroup (its directory); -1: none
  int cgroup_procs = -1;        // its cgroup.procs, open for writing
  const principal* as = nullptr;  // run as this user; nullptr: as the daemon
  const char* reaper = nullptr;   // start under this circuit-reaper (no cgroup)
  // "NAME=VALUE" added to the environment (the spec's, else the daemon's),
  // replacing a variable of the same name there.
  const std::vector<std::string>* env_extra = nullptr;
  // RLIMIT_NOFILE to start with (config::worker_nofile_*); soft 0: as is.
  std::uint64_t nofile_soft = 0, nofile_hard = 0;
};

struct started {
  pid_t pid = 0;          // the worker's process
  pid_t child = 0;        // the daemon's child: pid, or its reaper
  int pidfd = -1;         // the child's
  int report_fd = -1;     // the reaper's report pipe (read end), or -1
  bool in_group = false;  // the child joined the cgroup
};

result<started> start_process(const start_request& r);

}  // namespace circuit
