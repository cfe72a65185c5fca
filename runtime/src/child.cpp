#include "child.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

extern char** environ;

namespace circuit {
namespace {

using child = worker::child;

child* of(uv_handle_t* h) { return static_cast<child*>(h->data); }

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char space[64 << 10];  // the loop thread reads one pipe at a time
  *buf = uv_buf_init(space, sizeof space);
}

void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  child* c = of(reinterpret_cast<uv_handle_t*>(s));
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
  c->close(reinterpret_cast<uv_handle_t*>(s));
}

// The pidfd turned readable: the process ended; reap it.
void on_process_exit(uv_poll_t* p, int, int) {
  child* c = of(reinterpret_cast<uv_handle_t*>(p));
  constexpr auto by_pidfd = static_cast<idtype_t>(3);  // P_PIDFD (Linux 5.4)
  siginfo_t info{};
  if (waitid(by_pidfd, c->pidfd, &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return;
  uv_poll_stop(p);
  bool killed = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  if (auto w = c->owner.lock()) w->on_exit(killed ? 0 : info.si_status, killed ? info.si_status : 0);
  c->exited();
}

// A socket pair end for the child, kept above 2 so that moving it onto
// 0, 1 or 2 never finds it already there.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

errc spawn_errc(int e) {
  switch (e) {
    case ENOENT: return errc::not_found;
    case EACCES: case EPERM: case ENOEXEC: return errc::access;
    case E2BIG: return errc::too_big;
    default: return errc::io;
  }
}

struct write_req {
  uv_write_t req;
  std::string data;
  op_ptr<std::size_t> done;
  std::size_t total;
};

}  // namespace

child::~child() {
  if (pidfd >= 0) ::close(pidfd);
  if (auto w = owner.lock()) w->child_gone(this);
}

void child::close(uv_handle_t* h) {
  if (uv_is_closing(h)) return;
  h->data = this;
  uv_close(h, [](uv_handle_t* h) {
    child* c = of(h);
    if (--c->open == 0) delete c;
  });
}

result<child*> child::spawn(worker& w, const spec& s, uv_loop_t* loop) {
  int pairs[3][2];  // [0] stays here, [1] becomes the child's 0, 1, 2
  for (auto& p : pairs) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
      int e = errno;
      for (auto& q : pairs)
        if (&q < &p) ::close(q[0]), ::close(q[1]);
      return make_error(errc::io, std::string("spawn: socketpair: ") + strerror(e));
    }
    p[1] = above_stdio(p[1]);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int i = 0; i < 3; ++i) posix_spawn_file_actions_adddup2(&fa, pairs[i][1], i);
  if (!s.dir.empty()) posix_spawn_file_actions_addchdir_np(&fa, s.dir.c_str());
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &all);  // nothing the daemon ignores stays ignored
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv{const_cast<char*>(s.path.c_str())};
  for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (s.env) {
    for (auto& e : *s.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  pid_t pid = 0;
  int r = posix_spawn(&pid, s.path.c_str(), &fa, &at, argv.data(), s.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  for (auto& p : pairs) ::close(p[1]);
  int pidfd = r == 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (r != 0 || pidfd < 0) {
    int e = r != 0 ? r : errno;
    for (auto& p : pairs) ::close(p[0]);
    if (r == 0) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
    return make_error(spawn_errc(e), "spawn " + s.path + ": " + strerror(e));
  }

  auto* c = new child;
  c->owner = std::static_pointer_cast<worker>(w.shared_from_this());
  c->pid = pid;
  c->pidfd = pidfd;
  uv_pipe_t* pipes[] = {&c->in, &c->out, &c->err};
  for (int i = 0; i < 3; ++i) {
    uv_pipe_init(loop, pipes[i], 0);
    uv_pipe_open(pipes[i], pairs[i][0]);
    pipes[i]->data = c;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_poll_init(loop, &c->proc, pidfd);
  c->proc.data = c;
  uv_poll_start(&c->proc, UV_READABLE, on_process_exit);
  c->open = 5;
  c->in_open = c->out_open = c->err_open = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->out), on_alloc, on_read);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->err), on_alloc, on_read);
  return c;
}

void child::resume(bool stdout_pipe) {
  if (stdout_pipe ? !out_open : !err_open) return;
  uv_read_start(reinterpret_cast<uv_stream_t*>(stdout_pipe ? &out : &err), on_alloc, on_read);
}

void child::close_stdin() {
  if (!in_open) return;
  in_open = false;
  close(reinterpret_cast<uv_handle_t*>(&in));
}

// Writes what the pipe takes now; the rest waits in libuv's queue, and the
// write(2) that brought it completes when the pipe has taken it all.
void child::write(std::string_view data, op_ptr<std::size_t> done) {
  if (!in_open) return done->complete(make_error(errc::closed, "stdin: closed"));
  uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), data.size());
  auto* s = reinterpret_cast<uv_stream_t*>(&in);
  int n = uv_try_write(s, &b, 1);
  if (n == static_cast<int>(data.size())) return done->complete(data.size());
  if (n < 0 && n != UV_EAGAIN)
    return done->complete(make_error(errc::closed, std::string("stdin: ") + uv_strerror(n)));
  std::size_t sent = n > 0 ? n : 0;
  auto* req = new write_req{{}, std::string(data.substr(sent)), done, data.size()};
  b = uv_buf_init(req->data.data(), req->data.size());
  uv_write(&req->req, s, &b, 1, [](uv_write_t* r, int status) {
    std::unique_ptr<write_req> req(reinterpret_cast<write_req*>(r));
    if (req->done->done()) return;  // cancelled (Ctrl-C); the bytes went anyway
    if (status < 0)
      req->done->complete(make_error(errc::closed, std::string("stdin: ") + uv_strerror(status)));
    else
      req->done->complete(req->total);
  });
}

void child::arm_kill(double seconds) {
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        child* c = of(reinterpret_cast<uv_handle_t*>(t));
        if (c->pid > 0) kill(-c->pid, SIGKILL);
      },
      static_cast<uint64_t>(seconds * 1000), 0);
}

void child::close_all() {
  in_open = out_open = err_open = false;
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&in), reinterpret_cast<uv_handle_t*>(&out),
                         reinterpret_cast<uv_handle_t*>(&err), reinterpret_cast<uv_handle_t*>(&timer),
                         reinterpret_cast<uv_handle_t*>(&proc)})
    close(h);
}

void child::exited() {
  uv_timer_stop(&timer);
  close(reinterpret_cast<uv_handle_t*>(&timer));
  close(reinterpret_cast<uv_handle_t*>(&proc));
  close_stdin();
}

}  // namespace circuit
