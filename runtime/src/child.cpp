#include "child.hpp"

#include <csignal>
#include <vector>

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

void on_process_exit(uv_process_t* p, int64_t status, int term_signal) {
  child* c = of(reinterpret_cast<uv_handle_t*>(p));
  if (auto w = c->owner.lock()) w->on_exit(status, term_signal);
  c->exited();
}

struct write_req {
  uv_write_t req;
  std::string data;
  op_ptr<std::size_t> done;
  std::size_t total;
};

}  // namespace

child::~child() {
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
  auto* c = new child;
  c->owner = std::static_pointer_cast<worker>(w.shared_from_this());
  uv_pipe_t* pipes[] = {&c->in, &c->out, &c->err};
  for (auto* p : pipes) {
    uv_pipe_init(loop, p, 0);
    p->data = c;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->proc.data = c;
  c->open = 4;  // pipes and timer; the process handle counts once spawned

  std::vector<char*> argv{const_cast<char*>(s.path.c_str())};
  for (auto& a : s.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (s.env) {
    for (auto& e : *s.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  uv_stdio_container_t stdio[3];
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&c->in);
  for (int i = 1; i < 3; ++i) {
    stdio[i].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[i].data.stream = reinterpret_cast<uv_stream_t*>(pipes[i]);
  }
  uv_process_options_t opt{};
  opt.exit_cb = on_process_exit;
  opt.file = s.path.c_str();
  opt.args = argv.data();
  opt.env = s.env ? envp.data() : nullptr;
  opt.cwd = s.dir.empty() ? nullptr : s.dir.c_str();
  opt.flags = UV_PROCESS_DETACHED;  // setsid: a process group of its own
  opt.stdio_count = 3;
  opt.stdio = stdio;
  if (int r = uv_spawn(loop, &c->proc, &opt); r < 0) {
    c->open = 5;
    c->owner.reset();
    c->close_all();
    errc code = r == UV_ENOENT   ? errc::not_found
                : r == UV_EACCES ? errc::access
                : r == UV_E2BIG  ? errc::too_big
                                 : errc::io;
    return make_error(code, "spawn " + s.path + ": " + uv_strerror(r));
  }
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
        if (c->proc.pid > 0) kill(-c->proc.pid, SIGKILL);
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
