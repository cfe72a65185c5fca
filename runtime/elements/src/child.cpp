#include "child.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include "circuit/core/namespace.hpp"
#include "circuit/elements/reaper.hpp"
#include "descendants.hpp"
#include "start.hpp"
#include "strays.hpp"

namespace circuit {
namespace {

using child = worker::process;
using process = worker::process;
constexpr auto by_pidfd = static_cast<idtype_t>(3);  // P_PIDFD (Linux 5.4)

child* of(uv_handle_t* h) { return static_cast<child*>(h->data); }
uv_handle_t* H(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char space[64 << 10];  // the loop thread reads one pipe at a time
  *buf = uv_buf_init(space, sizeof space);
}

void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  process* c = of(H(s));
  bool is_out = s == reinterpret_cast<uv_stream_t*>(&c->out);
  auto w = c->owner.lock();
  output* o = w ? (is_out ? &w->out() : &w->err()) : nullptr;
  if (n > 0) {
    if (!o) return;  // nobody will read it: drain so the process is not stuck
    o->push(buf->base, static_cast<std::size_t>(n));
    if (o->full()) uv_read_stop(s);
    return;
  }
  if (n == 0) return;  // EAGAIN
  if (o) o->end();
  (is_out ? c->out_open : c->err_open) = false;
  uv_read_stop(s);
  c->close(H(s));
}

// The pidfd turned readable: the daemon's child ended; reap it.
void on_process_exit(uv_poll_t* p, int, int) {
  process* c = of(H(p));
  siginfo_t info{};
  if (waitid(by_pidfd, c->pidfd, &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return;
  c->direct_ended(info);
}

// A watch that a completion run meanwhile may have closed (a worker over
// once its report is read closes the report's watch): closed is stopped.
void stop_watch(uv_poll_t* p) {
  if (!uv_is_closing(H(p))) uv_poll_stop(p);
}

// A pipe end for the child, kept above 2 so that moving it onto 0, 1 or 2
// never finds it already there.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

error stdin_closed(std::string_view why) { return make_error(errc::closed, "stdin: " + std::string(why)); }

}  // namespace

child::process() {
  // A cancelled write (Ctrl-C, a signal): what is in the pipe is reported,
  // the rest is dropped.
  pending.on_leave = [this](completions& batch, auto& w) {
    memory->give(w.data.left.size());
    if (w.data.written > 0) batch.add(w.op, result<std::size_t>(w.data.written));
    if (pending.empty() && in_open) stop_watch(&in);
  };
}

child::~process() {
  if (pidfd >= 0) ::close(pidfd);
  if (report_fd >= 0) ::close(report_fd);
  if (auto w = owner.lock()) w->child_gone(this);
}

void child::close(uv_handle_t* h) {
  if (uv_is_closing(h)) return;
  h->data = this;
  uv_close(h, [](uv_handle_t* h) {
    process* c = of(h);
    if (--c->open == 0) delete c;
  });
}

result<child*> child::spawn(worker& w, const spec& s, uv_loop_t* loop) {
  // [0] is the read end: stdin's goes to the child, stdout's and stderr's
  // stay here.
  int pipes[3][2];
  for (int i = 0; i < 3; ++i) {
    if (pipe2(pipes[i], O_CLOEXEC) != 0) {
      int e = errno;
      for (int j = 0; j < i; ++j) ::close(pipes[j][0]), ::close(pipes[j][1]);
      return make_error(errc::io, std::string("spawn: pipe: ") + strerror(e));
    }
  }
  int theirs[3] = {above_stdio(pipes[0][0]), above_stdio(pipes[1][1]), above_stdio(pipes[2][1])};
  int ours[3] = {pipes[0][1], pipes[1][0], pipes[2][0]};
  const config& cfg = w.space().cfg();
  auto group = cfg.cgroups ? cgroup::make() : nullptr;
  // Without a group, a reaper of its own keeps every process of the worker
  // below it, and the daemon adopts what escapes a killed reaper.
  bool reaper = !group && !cfg.reaper.empty();
  if (reaper) adopt_strays(loop, cfg.log);
  // A root daemon runs a non-root maker's worker as the maker, never as root.
  const principal& maker = w.maker();
  bool as_maker = geteuid() == 0 && maker.uid != 0;
  start_request req;
  req.s = &s;
  for (int i = 0; i < 3; ++i) req.fds[i] = theirs[i];
  req.cgroup_dir = group ? group->dir_fd() : -1;
  req.cgroup_procs = group ? group->procs_fd() : -1;
  req.as = as_maker ? &maker : nullptr;
  req.reaper = reaper ? cfg.reaper.c_str() : nullptr;
  // Where the worker is: a program finds its daemon and its own directory
  // (libcircuit writes its function's result there).
  std::vector<std::string> env{"CIRCUIT_HOST=" + cfg.host, "CIRCUIT_WORKER=" + w.path()};
  if (!cfg.socket.empty()) env.push_back("CIRCUIT_SOCKET=" + cfg.socket);
  req.env_extra = &env;
  req.nofile_soft = cfg.worker_nofile_soft;
  req.nofile_hard = cfg.worker_nofile_hard;
  auto st = start_process(req);
  for (int fd : theirs) ::close(fd);
  if (!st) {
    for (int fd : ours) ::close(fd);
    if (group) group->remove();
    return st.err();
  }
  if (group && !st->in_group) {
    w.space().log("worker " + w.path() + ": could not join its cgroup; its process group stands in");
    group->remove();
    group.reset();
  }

  auto* c = new process;
  c->owner = std::static_pointer_cast<worker>(w.shared_from_this());
  c->pid = st->pid;
  c->direct = st->child;
  c->pidfd = st->pidfd;
  c->report_fd = st->report_fd;
  own_child(c->direct);
  if (c->report_fd >= 0) fcntl(c->report_fd, F_SETFL, fcntl(c->report_fd, F_GETFL) | O_NONBLOCK);
  c->group = std::move(group);
  c->memory = &w.space().memory();
  c->in_fd = ours[0];
  fcntl(c->in_fd, F_SETFL, fcntl(c->in_fd, F_GETFL) | O_NONBLOCK);
  uv_poll_init(loop, &c->in, c->in_fd);
  c->in.data = c;
  uv_pipe_t* outs[] = {&c->out, &c->err};
  for (int i = 0; i < 2; ++i) {
    uv_pipe_init(loop, outs[i], 0);
    uv_pipe_open(outs[i], ours[i + 1]);
    outs[i]->data = c;
  }
  c->clk = &w.space().clock();
  uv_poll_init(loop, &c->proc, c->pidfd);
  c->proc.data = c;
  uv_poll_start(&c->proc, UV_READABLE, on_process_exit);
  c->open = 4;
  if (c->reaping()) {
    uv_poll_init(loop, &c->report, c->report_fd);
    c->report.data = c;
    ++c->open;
    uv_poll_start(&c->report, UV_READABLE, [](uv_poll_t* p, int, int) { of(H(p))->read_reports(); });
  }
  if (c->group) {
    uv_fs_event_init(loop, &c->watch);
    c->watch.data = c;
    c->watched = true;
    ++c->open;
    uv_fs_event_start(
        &c->watch, [](uv_fs_event_t* e, const char*, int, int) { of(H(e))->check_empty(); },
        c->group->events_path().c_str(), 0);
  }
  c->in_open = c->out_open = c->err_open = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->out), on_alloc, on_read);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->err), on_alloc, on_read);
  return c;
}

void child::resume(bool stdout_pipe) {
  if (stdout_pipe ? !out_open : !err_open) return;
  uv_read_start(reinterpret_cast<uv_stream_t*>(stdout_pipe ? &out : &err), on_alloc, on_read);
}

// ---- stdin ----

void child::write(std::string_view data, op_ptr<std::size_t> done) {
  if (!in_open) return done->complete(stdin_closed("closed"));
  std::size_t n = 0;
  if (pending.empty()) {  // behind others it would jump the queue
    ssize_t r = ::write(in_fd, data.data(), data.size());
    if (r < 0 && errno != EAGAIN) return done->complete(stdin_closed(strerror(errno)));
    n = r > 0 ? static_cast<std::size_t>(r) : 0;
    if (n == data.size()) return done->complete(n);
  }
  std::size_t left = data.size() - n;
  if (!memory->take(left)) {
    if (n > 0) return done->complete(n);  // what went in is reported; the rest is refused next time
    return done->complete(make_error(
        errc::no_memory, "stdin: the daemon's memory budget is spent (" + std::to_string(memory->used()) +
                             " of " + std::to_string(memory->limit()) + " bytes held); let the worker read"));
  }
  pending.park(std::move(done), stdin_write{std::string(data.substr(n)), n});
  uv_poll_start(&in, UV_WRITABLE, [](uv_poll_t* p, int status, int) {
    process* c = of(H(p));
    if (status < 0) return c->close_stdin();
    c->pump();
  });
}

void child::pump() {
  completions batch;
  while (!pending.empty()) {
    stdin_write& w = pending.front().data;
    ssize_t r = ::write(in_fd, w.left.data(), w.left.size());
    if (r < 0) {
      if (errno == EAGAIN) return;
      return close_stdin();  // EPIPE: the process closed its stdin
    }
    auto n = static_cast<std::size_t>(r);
    memory->give(n);
    w.written += n;
    if (n < w.left.size()) {
      w.left.erase(0, n);
      continue;
    }
    std::size_t total = w.written;
    pending.wake_front(batch, total);
  }
  stop_watch(&in);
}

// Every waiting write ends: with the count it wrote, or an error if none.
void child::close_stdin() {
  if (!in_open) return;
  completions batch;
  in_open = false;
  while (!pending.empty()) {
    stdin_write& w = pending.front().data;
    memory->give(w.left.size());
    if (w.written > 0) pending.wake_front(batch, w.written);
    else pending.wake_front(batch, stdin_closed("the process no longer reads its input"));
  }
  close(H(&in));
  ::close(in_fd);
  in_fd = -1;
}

// ---- the processes ----

std::vector<pid_t> child::processes() const {
  return direct_alive ? descendants_of(direct) : std::vector<pid_t>{};
}

std::size_t child::procs() const {
  if (group) return group->pids().size();
  if (reaping()) return processes().size();
  return leader_alive ? 1 : 0;
}

bool child::signal(int sig) {
  if (ended) return false;
  if (sig == SIGKILL) {
    kill_all();
    return true;
  }
  if (group) return group->signal(sig) > 0;
  if (reaping()) return signal_each([this] { return processes(); }, sig) > 0;
  return ::kill(-pid, sig) == 0 || ::kill(pid, sig) == 0;
}

void child::kill_all() {
  if (ended) return;
  if (group) group->kill();
  else if (reaping()) kill_each([this] { return processes(); });
  else if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
}

void child::arm_kill(double seconds) {
  if (ended) return;
  auto grace = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  kill_timer = clk->start_timer(grace, [this] {
    if (ended) return;
    killed_late = true;
    kill_all();
  });
}

// The leader ended: its status is the worker's.
void child::reaped(const siginfo_t& info) {
  if (!leader_alive) return;
  leader_alive = false;
  bool killed = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  if (auto w = owner.lock()) w->on_exit(killed ? 0 : info.si_status, killed ? info.si_status : 0);
  close_stdin();
  check_empty();
}

// The daemon's child was reaped: the leader itself, or its reaper, which
// exits once nothing is left below it.
void child::direct_ended(const siginfo_t& info) {
  if (!direct_alive) return;
  direct_alive = false;
  disown_child(direct);
  close(H(&proc));
  if (!reaping()) return reaped(info);
  read_reports();  // the leader's end may still wait in the pipe
  if (leader_alive) {
    // The reaper was killed before its leader ended: what was below it
    // has gone to the daemon, which kills such strays (strays.hpp).
    if (auto w = owner.lock()) w->space().log("worker " + w->path() + ": its reaper was killed; its processes are killed");
    sweep_strays();
    siginfo_t killed{};
    killed.si_code = CLD_KILLED;
    killed.si_status = SIGKILL;
    reaped(killed);
  }
  check_empty();
}

void child::read_reports() {
  if (report_fd < 0) return;
  reaper::record r{};
  ssize_t n;
  while ((n = ::read(report_fd, &r, sizeof r)) == sizeof r) {
    if (r.what != reaper::kind::exited) continue;
    siginfo_t info{};
    info.si_code = r.a;
    info.si_status = r.b;
    reaped(info);
  }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) stop_watch(&report);  // the reaper is gone
}

void child::check_empty() {
  if (ended || leader_alive || direct_alive) return;
  if (group && group->populated()) return;
  ended = true;
  kill_timer.reset();
  if (group) group->remove();
  if (watched) close(H(&watch));
  if (reaping()) close(H(&report));
  if (auto w = owner.lock()) w->on_gone();
}

// Without waiting: the loop is not blocked, ever. The leader is reaped
// here if it has ended already; else its pidfd watch reaps it on the loop,
// like any exit, and the daemon's stop waits for that (bounded) on the loop.
void child::end_now() {
  if (ended) return;
  kill_all();
  if (direct_alive) {
    // The leader, or its reaper (which ends once all below it are reaped),
    // if it has ended already; else its pidfd watch reaps it on the loop.
    siginfo_t info{};
    if (waitid(by_pidfd, pidfd, &info, WEXITED | WNOHANG) == 0 && info.si_pid) direct_ended(info);
  }
  sweep_strays();
  check_empty();
}

void child::keep() {
  if (group) group->release();
  group.reset();
  ended = true;  // no longer ours to watch
}

void child::close_all() {
  close_stdin();
  out_open = err_open = false;
  for (uv_handle_t* h : {H(&out), H(&err)}) close(h);
  // Processes still running (killed, not yet gone) keep the group watched
  // until it is empty, so the group is removed.
  if (!ended) return;
  close(H(&proc));
  if (watched) close(H(&watch));
  if (reaping()) close(H(&report));
}

}  // namespace circuit
