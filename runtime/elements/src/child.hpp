// child.hpp — the libuv side of a worker: a watch on its process (a pidfd
// polled by libuv), its three pipes, its grace timer (on the namespace's
// clock) and, where the host
// allows it, its cgroup (cgroup.hpp) and a watch on that group.
//
// The process is started by start.cpp (clone with CLONE_VM|CLONE_VFORK: no
// copy of the daemon's page tables), as the worker's maker when the daemon
// is root. stdin, stdout and stderr are pipes, so /dev/stdin and
// /dev/stderr open inside the worker.
//
// stdin is written here, not through libuv's write queue: the pipe is
// non-blocking and written as far as it takes; a write(2) that does not fit
// waits in `pending` with the bytes left (taken from the daemon's memory
// budget) and the count written so far. A cancelled write (Ctrl-C, a
// signal) completes with that count if it is not 0, else EINTR, and its
// remaining bytes are dropped: nothing is written after the writer was
// told, and nothing stays queued.
//
// The worker's processes are tracked by its cgroup where the daemon can
// make one; else by a reaper of its own (circuit/elements/reaper.hpp,
// descendants.hpp): the daemon's child is then the reaper, the leader is
// its child, and the leader's end comes as a record on the report pipe.
// The processes are "alive" while the leader has not ended or its group
// (or its reaper) still holds a process; the child ends (and the group is
// removed) when both are over. A child deletes itself once every handle
// has closed; it reaches its worker only through a weak pointer, and the
// worker's pointer to it is cleared when it goes.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "cgroup.hpp"
#include "circuit/core/budget.hpp"
#include "circuit/core/clock.hpp"
#include "circuit/core/wait_queue.hpp"
#include "worker.hpp"

namespace circuit {

struct worker::process {
  uv_poll_t proc;        // the pidfd: readable when the daemon's child has ended
  uv_poll_t report;      // the reaper's report pipe (no cgroup)
  uv_poll_t in;          // the stdin pipe, watched for room while writes wait
  uv_pipe_t out, err;
  uv_fs_event_t watch;   // the group's cgroup.events: it has emptied
  timer_ptr kill_timer;  // SIGKILL at the end of a stop's grace period (ns::clock)
  circuit::clock* clk = nullptr;
  int pidfd = -1, in_fd = -1, report_fd = -1;
  pid_t pid = 0;        // the worker's process (the leader)
  pid_t direct = 0;     // the daemon's child: the leader, or its reaper
  std::unique_ptr<cgroup> group;
  budget* memory = nullptr;
  std::weak_ptr<worker> owner;
  int open = 0;  // handles not yet closed
  bool in_open = false, out_open = false, err_open = false;
  bool leader_alive = true, direct_alive = true, ended = false, killed_late = false;
  bool watched = false;  // `watch` was made (there was a group)

  struct stdin_write {
    std::string left;        // bytes not yet in the pipe (taken from the budget)
    std::size_t written = 0; // bytes of this write(2) already in the pipe
  };
  wait_queue<std::size_t, stdin_write> pending;

  process();
  ~process();  // tells the worker, if it is still there
  static result<process*> spawn(worker& w, const spec& s, uv_loop_t* loop);

  // stdin
  void write(std::string_view data, op_ptr<std::size_t> done);
  void close_stdin();
  void pump();  // writes what waits, as far as the pipe takes it
  std::size_t held() const {  // bytes waiting for the pipe
    std::size_t n = 0;
    for (auto& w : pending) n += w.data.left.size();
    return n;
  }

  void resume(bool stdout_pipe);

  // The processes: every one of them, through the group where there is one.
  bool alive() const { return !ended; }
  std::size_t procs() const;
  bool signal(int sig);  // false: nobody was there to get it
  void kill_all();
  void arm_kill(double seconds);
  bool reaping() const { return report_fd >= 0; }  // under a reaper of its own
  std::vector<pid_t> processes() const;            // below the reaper
  void reaped(const siginfo_t& info);  // the leader ended
  void direct_ended(const siginfo_t& info);  // the daemon's child was reaped
  void read_reports();                 // what the reaper wrote
  void check_empty();                  // ends the child once nothing is left
  void end_now();   // the daemon stops: KILL now; reaped on the loop (never waits)
  void keep();      // the daemon leaves the processes running

  void close_all();  // the worker goes away: close every handle left
  void close(uv_handle_t* h);  // idempotent; deletes the child after its last handle
};

}  // namespace circuit
