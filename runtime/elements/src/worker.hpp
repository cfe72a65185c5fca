// worker.hpp — an OS process run and watched by this daemon.
//
// mkdir workers/NAME makes a worker in state "new"; writing a spec starts
// it (child.hpp: in a session of its own, as its maker when the daemon is
// root, in a cgroup of its own where the host allows). Its stdout and
// stderr are kept in bounded buffers (output.hpp); stdin takes writes until
// `eof`. wait parks until the process (the leader) ends, and gives its
// status. Signals, kill and stop reach every process the worker started,
// also those that left its session, for as long as any lives; rmdir of an
// ended worker kills what is left of it. No zombie is left: the leader is
// reaped when its pidfd turns readable (watched by libuv), and the
// daemon's shutdown stops the workers (TERM, grace, KILL; workers.hpp)
// unless told to keep them.
//
// Thread safety: belongs to the loop thread (the libuv loop is driven by
// the same thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "circuit/core/dir.hpp"
#include "bin.hpp"
#include "circuit/core/wait_queue.hpp"
#include "output.hpp"
#include "spec.hpp"

namespace circuit {

class worker final : public dir {
 public:
  enum class state { fresh, running, exited, signaled };

  worker(ns& space, dir* parent, std::string name);
  ~worker() override;

  std::span<const file_entry> files() const override;
  std::string_view about() const override;
  std::string_view example() const override;
  std::span<const verb> verbs() const override;
  void retire() override;
  // The directories its program serves (ctl `serve`): goroutines/ and
  // files/, while the process runs.
  dir* child(std::string_view name) override;
  std::vector<dir*> children() override;

  // The files.
  result<void> start(spec s);
  std::string spec_text() const;
  void open_wait(bool block, op_ptr<handle_ptr> done);
  result<void> signal(int sig);
  result<void> stop() { return stop(grace_); }  // TERM now, KILL after the grace period
  result<void> stop(double grace);
  result<void> close_stdin();
  // ctl `serve SOCKET`: the daemon connects to the 9P server of the
  // worker's program at SOCKET (a socket of the worker's user) and shows
  // its goroutines/ and files/ here, until the process ends.
  result<void> serve(const std::string& socket);
  void write_stdin(std::string_view data, op_ptr<std::size_t> done);
  std::string stat() const;  // the JSON of its stat table (worker.cpp)
  std::vector<stat_doc> stat_fields() const override;
  output& out() { return out_; }
  output& err() { return err_; }
  const output& out() const { return out_; }
  const output& err() const { return err_; }
  double& grace() { return grace_; }
  // The `result` file's bytes; set_outcome takes bytes already taken from
  // the memory budget, and gives back those of the result it replaces.
  const std::string& outcome() const { return result_; }
  void set_outcome(std::string bytes);

  state current() const { return state_; }
  pid_t pid() const { return pid_; }
  bool running() const { return state_ == state::running; }
  const std::optional<spec>& started_spec() const { return spec_; }
  std::chrono::system_clock::time_point started() const { return started_; }
  std::int64_t exit_status() const { return exit_status_; }
  int term_signal() const { return term_signal_; }
  // Some process of the worker lives: the leader, or one it started.
  bool live() const;
  std::size_t procs() const;  // how many live now
  std::size_t stdin_buffered() const;  // bytes of stdin writes waiting for the pipe
  bool killed_late() const;   // a stop had to KILL after the grace period
  // The daemon stops: end every process now (KILL, reap; bounded), or
  // leave them running.
  void end_now();
  void keep();

  // Called from libuv callbacks (child.cpp).
  void on_exit(std::int64_t status, int term_signal);
  void on_gone();  // the leader and every process it started have ended
  struct process;  // the libuv handles; may outlive the worker until they close
  void child_gone(process* c) {
    if (child_ == c) child_ = nullptr;
  }

 private:
  std::string wait_text() const;
  void kick() const;

  state state_ = state::fresh;
  std::optional<spec> spec_;
  bool eof_early_ = false;  // `eof` before the start: start with stdin closed
  process* child_ = nullptr;
  pid_t pid_ = 0;
  std::int64_t exit_status_ = 0;
  int term_signal_ = 0;
  std::chrono::system_clock::time_point started_{};
  double grace_;
  output out_, err_;
  bool stdin_open_ = false;
  std::string result_;
  std::vector<std::shared_ptr<dir>> served_;  // mount points
  bool dialing_ = false;
  void unserve();
  wait_queue<handle_ptr> waiters_;  // opens of wait
  bin_use binary_;  // a spec's "binary": held while its processes live

  friend struct process;
  friend class spec_handle;
};

// "new", "running", "exited" or "signaled", as stat and messages say it.
const char* state_name(worker::state s);

}  // namespace circuit
