// strays.hpp — the daemon as the last reaper of its workers' processes.
//
// Where workers have no cgroups, each has a reaper of its own (reaper.hpp)
// below which all its processes stay. A reaper can still be killed (a
// worker of the daemon's own user may `kill -9` it); its orphans would then
// go to init, beyond the daemon's reach. So the daemon makes itself a child
// subreaper too: such orphans come to it instead. It cannot tell whose
// they were any more, so it cannot signal, wait or stop them with their
// worker; a process nobody can control is what issue 6 calls a ghost, so
// the daemon kills each one it finds, logs it, and reaps it.
//
// A stray is told from the daemon's own forks (libfuse runs fusermount3)
// by its session: every worker's reaper begins a session of its own.
//
// Its own children (reapers, and workers' processes that have a cgroup)
// are reaped elsewhere, each through its pidfd, and libuv reaps the
// children of its own uv_spawn with waitpid(pid) after its SIGCHLD: the
// sweep reaps only pids that are neither registered here nor a libuv
// process handle's, each through a pidfd (waitid P_PIDFD), never with
// waitpid(-1) or P_ALL, which would steal another watcher's status.
//
// Thread safety: the loop thread only.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <string_view>

namespace circuit {

// Makes the daemon a child subreaper and sweeps strays at every SIGCHLD
// on `loop`. Idempotent: the first call sets it up.
void adopt_strays(uv_loop_t* loop, std::function<void(std::string_view)> log);

// A child of the daemon reaped by its own watcher: the sweep leaves it.
void own_child(pid_t pid);
void disown_child(pid_t pid);

// Kills and reaps the strays there are now (also at the daemon's stop).
void sweep_strays();

}  // namespace circuit
