// child.hpp — the libuv side of a worker: a watch on its process (a pidfd
// polled by libuv), its three pipes and its grace timer. The process is
// started with posix_spawn (vfork and exec, no copy of the daemon's page
// tables: libuv 1.44's uv_spawn forks, which cost half of a start). A child deletes itself once every handle has
// closed; it reaches its worker only through a weak pointer, and the
// worker's pointer to it is cleared when it goes.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "circuit/runtime/worker.hpp"

namespace circuit {

struct worker::child {
  uv_poll_t proc;  // readable when the process has ended
  int pidfd = -1;
  pid_t pid = 0;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  std::weak_ptr<worker> owner;
  int open = 0;  // handles not yet closed
  bool in_open = false, out_open = false, err_open = false;

  ~child();  // tells the worker, if it is still there
  static result<child*> spawn(worker& w, const spec& s, uv_loop_t* loop);
  void close_stdin();
  void resume(bool stdout_pipe);
  void write(std::string_view data, op_ptr<std::size_t> done);
  void arm_kill(double seconds);
  void exited();     // closes what the process no longer needs
  void close_all();  // the worker goes away: close every handle left
  void close(uv_handle_t* h);  // idempotent; deletes the child after its last handle
};

}  // namespace circuit
