// descendants.hpp — the processes below a worker's reaper, and signals that
// reach exactly the processes they were meant for.
//
// Where the daemon cannot make a cgroup per worker (it is not root, the
// host has no writable cgroup2, or --no-cgroups), each worker's process is
// started under a small reaper of its own (circuit-reaper, a child
// subreaper: see reaper.hpp). Every process the worker starts stays below
// that reaper, also one that called setsid() or whose parent died, so
// "the worker's processes" are the reaper's descendants. The kernel has no
// cheap list of them here (/proc/PID/task/TID/children needs
// CONFIG_PROC_CHILDREN), so they are found by one pass over /proc/*/stat.
//
// Signals by pid race with pid reuse: a process listed a moment ago may
// have been reaped and its pid given to a stranger. signal_each() closes
// that race with pidfds: it opens a pidfd per listed pid, lists again, and
// signals (pidfd_send_signal) only the pidfds whose pid is still listed.
// A pidfd names one process for good; if the pid was listed the second
// time, either the pidfd's process is still the one listed (ours), or it
// has died since and the signal goes nowhere. A stranger never gets it.
//
// Thread safety: plain functions; call from the loop thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

namespace circuit {

// The live (not zombie) processes below `root`, `root` excluded.
std::vector<pid_t> descendants_of(pid_t root);

// The live children of `parent` (zombies excluded unless `zombies`).
std::vector<pid_t> children_of(pid_t parent, bool zombies = false);

// Sends sig to every process list() names, through pidfds checked against
// a second call of list(); returns how many got it.
std::size_t signal_each(const std::function<std::vector<pid_t>()>& list, int sig);

// SIGKILL to what list() names, again while it names anyone (a process may
// fork between the listing and its kill); bounded rounds.
void kill_each(const std::function<std::vector<pid_t>()>& list);

int open_pidfd(pid_t pid);  // -1 when it is gone

}  // namespace circuit
