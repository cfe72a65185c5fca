// program.cpp — the program's 9P server (program.hpp): a thread running an
// Asio loop, a core namespace with the program's tree, a Unix socket in a
// private directory, one 9P connection per client (the daemon).
#include "program.hpp"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>
#include <unordered_map>

#include "circuit/core/errno_map.hpp"
#include "circuit/core/namespace.hpp"
#include "circuit/errors.hpp"
#include "circuit/runtime.hpp"
#include "circuit/wire/connection.hpp"
#include "circuit/wire/spin.hpp"
#include "goroutines.hpp"
#include "loop.hpp"
#include "session.hpp"

namespace circuit::detail {

namespace asio = boost::asio;
using unix_socket = asio::local::stream_protocol;

namespace {

std::string socket_dir;  // removed at exit

void remove_socket() {
  if (socket_dir.empty()) return;
  ::unlink((socket_dir + "/9p").c_str());
  ::rmdir(socket_dir.c_str());
}

// Who connected: the kernel's word for it.
caller peer_of(int fd, std::uint64_t n) {
  caller who;
  who.key = n;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    who.uid = cred.uid;
    who.gid = cred.gid;
  } else {
    who.uid = who.gid = static_cast<uid_t>(-1);  // unknown: admitted nowhere
  }
  return who;
}

}  // namespace

struct program::impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  loop lp{io};  // its threads (loop.hpp)
  std::unique_ptr<ns> space;
  unix_socket::acceptor acceptor{io};
  std::unordered_map<wire::connection*, std::shared_ptr<wire::connection>> conns;
  std::uint64_t count = 0;
  runtime* rt = nullptr;
  std::string host, sock;
  std::shared_ptr<goroutine> main;
  // A refresh of goroutines/ is posted to the loop: changes until it runs
  // need no other (a go() of a short function enters and leaves at once).
  std::atomic<bool> refresh_posted{false};

  // On the server thread: the socket in a private directory, then, in a
  // worker, `serve SOCKET` to its ctl, so its daemon shows the tree there.
  // A step that fails for want of descriptors or memory (a program at its
  // limit as it starts) is tried again every 100 ms, said once on stderr;
  // another failure is said, and the program goes on without its files
  // (not_served says why). Returns false then.
  bool listen() {
    char tmpl[] = "/tmp/circuit-program-XXXXXX";
    if (!::mkdtemp(tmpl)) return said(std::string("cannot make a directory for its socket: ") + std::strerror(errno));
    sock = std::string(tmpl) + "/9p";
    socket_dir = tmpl;
    std::atexit(remove_socket);
    return next_step();
  }
  // The steps not yet done, in order; false when one failed for good.
  bool next_step() {
    if (!acceptor.is_open()) {
      // Close-on-exec, and so is each connection accepted: a program that
      // runs another must not hand it the daemon's connection to its files.
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0)
        return again_or_said(errno,
                             "cannot serve at " + sock + ": socket: " + std::strerror(errno));
      boost::system::error_code ec;
      acceptor.assign(unix_socket(), fd, ec);
      if (!ec) acceptor.non_blocking(true, ec);
      if (!ec) acceptor.bind(unix_socket::endpoint(sock), ec);
      if (!ec) acceptor.listen(64, ec);
      if (ec) {
        acceptor.close(ec);  // the next try starts again from a new socket
        ::unlink(sock.c_str());
        return again_or_said(ec.value(), "cannot serve at " + sock + ": " + ec.message());
      }
      ::chmod(sock.c_str(), 0600);
      accept();
    }
    if (const char* w = std::getenv("CIRCUIT_WORKER")) {
      auto names = wire::split_path(w);
      names.push_back("ctl");
      try {
        auto& s = rt->session();
        if (auto r = s.conn().put(names, "serve " + sock + "\n"); !r)
          return said(std::string(w) + "/ctl: serve: " + r.err().message);
      } catch (const exception& e) {
        std::string words = e.what();
        if (words.rfind("circuit: ", 0) == 0) words = words.substr(9);
        return again_or_said(e.errnum(), words);
      } catch (const std::exception& e) {
        return said(e.what());
      }
    }
    if (listen_waited) std::fprintf(stderr, "circuit: the program's files are served now\n");
    return true;
  }
  bool again_or_said(int err, const std::string& why) {
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) return said(why);
    if (!listen_waited)
      std::fprintf(stderr, "circuit: the program's files wait: %s; trying again every 100 ms\n",
                   why.c_str());
    listen_waited = true;
    listen_pause.expires_after(std::chrono::milliseconds(100));
    listen_pause.async_wait([this](boost::system::error_code ec) {
      if (!ec) next_step();
    });
    return true;
  }
  bool said(const std::string& why) {
    std::fprintf(stderr, "circuit: the program's files are not served: %s\n", why.c_str());
    not_served = why;
    return false;
  }
  std::string not_served;  // why, once that is so (the server's thread)
  asio::steady_timer listen_pause{io};
  bool listen_waited = false;

  // accept4(2) with SOCK_CLOEXEC where Asio's accept would take plain
  // accept(2): the descriptor is never without close-on-exec.
  // Out of descriptors (EMFILE, ENFILE) or memory, the daemon's connection
  // waits in the backlog and keeps the socket readable: accepting again at
  // once would spin, and giving up would leave the daemon's handshake
  // unanswered and the program without files for good. It tries again
  // every 100 ms, saying so once on stderr.
  asio::steady_timer pause{io};
  bool failing = false;
  void accept() {
    acceptor.async_wait(unix_socket::acceptor::wait_read, [this](boost::system::error_code ec) {
      if (ec) return;
      int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
          return accept();
        if (!failing)
          std::fprintf(stderr,
                       "circuit: the program's files wait: accept: %s; trying again every 100 ms\n",
                       std::strerror(errno));
        failing = true;
        pause.expires_after(std::chrono::milliseconds(100));
        return pause.async_wait([this](boost::system::error_code ec) {
          if (!ec) accept();
        });
      }
      if (failing)
        std::fprintf(stderr, "circuit: the program's files are served: accept works again\n");
      failing = false;
      unix_socket::socket s(io);
      if (s.assign(unix_socket(), fd, ec); ec) {
        ::close(fd);
        return accept();
      }
      auto peer = peer_of(s.native_handle(), ++count);
      auto c = wire::connection::start(*space, std::move(peer), wire::unix_transport(std::move(s)),
                                       [this](wire::connection* c, std::optional<error>) { conns.erase(c); });
      c->carries_many_callers();  // the daemon, for all who read goroutines/ and files/
      if (!c->closed()) conns.emplace(c.get(), c);
      accept();
    });
  }
};

program& program::get() {
  static program* p = new program;  // never destroyed: goroutines may outlive main
  return *p;
}

// What the caller waits for is only the namespace and its goroutine; the
// socket, the loop and the `serve` to the daemon are the server thread's,
// so a spawned function starts at once and a short one is not slowed.
void program::start(runtime& rt, const std::string& main_fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (impl_) return;
  auto* im = new impl;
  im->rt = &rt;
  im->host = rt.host();
  config cfg;
  cfg.host = im->host;
  cfg.log = [](std::string_view) {};
  im->space =
      std::make_unique<ns>(std::move(cfg), [im](ns& s) { return make_program_tree(s, im->lp); });
  goroutines::all().on_change([im] {
    if (im->refresh_posted.exchange(true)) return;
    asio::post(im->io, [im] {
      im->refresh_posted = false;
      refresh_goroutines(*im->space);
    });
  });
  im->main = goroutines::all().enter(main_fn);
  impl_ = im;
  std::thread([im] {
    // Named as top -H and /proc/PID/task/*/comm show it.
    pthread_setname_np(pthread_self(), "circuit-files");
    // It runs its loop even when the files are not served, so that a call
    // that waits on the loop (serve) is answered.
    im->listen();
    im->lp.run();
  }).detach();
}

void program::serve(served_file f) {
  impl* im;
  {
    std::lock_guard<std::mutex> lock(mu_);
    im = impl_;
  }
  if (!im) throw_error(EINVAL, "serve: the program serves no files before its runtime starts");
  auto add = [im, &f]() -> result<void> {
    if (!im->not_served.empty())
      return make_error(errc::io, "serve: the program's files are not served: " + im->not_served);
    return add_served_file(*im->space, std::move(f));
  };
  // On the loop's thread (a served file's read or write serving another
  // file, or a goroutine that started there and could not hand the loop
  // on) it is done there: waiting for the loop would wait for ever.
  im->lp.leave();
  result<void> r = result<void>{};
  if (im->lp.on_this_thread()) {
    r = add();
  } else {
    std::promise<result<void>> done;
    asio::post(im->io, [&] { done.set_value(add()); });
    r = done.get_future().get();
  }
  if (!r) throw_error(to_errno(r.err().code), r.err().message);
}

runtime* program::runtime_of() {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_ ? impl_->rt : nullptr;
}

std::string program::host() {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_ ? impl_->host : std::string();
}

}  // namespace circuit::detail
