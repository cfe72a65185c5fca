// program.cpp — the program's 9P server (program.hpp): a thread running an
// Asio loop, a core namespace with the program's tree, a Unix socket in a
// private directory, one 9P connection per client (the daemon).
#include "program.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
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
#include "goroutines.hpp"
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
  std::unique_ptr<ns> space;
  unix_socket::acceptor acceptor{io};
  std::unordered_map<wire::connection*, std::shared_ptr<wire::connection>> conns;
  std::uint64_t count = 0;
  runtime* rt = nullptr;
  std::string host, sock;
  std::shared_ptr<goroutine> main;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, unix_socket::socket s) {
      if (ec) return;
      auto peer = peer_of(s.native_handle(), ++count);
      auto c = wire::connection::start(*space, std::move(peer), wire::unix_transport(std::move(s)),
                                       [this](wire::connection* c, std::optional<error>) { conns.erase(c); });
      if (!c->closed()) conns.emplace(c.get(), c);
      accept();
    });
  }
};

program& program::get() {
  static program* p = new program;  // never destroyed: goroutines may outlive main
  return *p;
}

void program::start(runtime& rt, const std::string& main_fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (impl_) return;
  char tmpl[] = "/tmp/circuit-program-XXXXXX";
  if (!::mkdtemp(tmpl)) throw_error(errno, std::string("circuit: cannot make a directory for the program's socket: ") + std::strerror(errno));
  auto* im = new impl;
  im->rt = &rt;
  im->host = rt.host();
  im->sock = std::string(tmpl) + "/9p";
  socket_dir = tmpl;
  std::atexit(remove_socket);
  config cfg;
  cfg.host = im->host;
  cfg.log = [](std::string_view) {};
  im->space = std::make_unique<ns>(std::move(cfg), [im](ns& s) { return make_program_tree(s, im->io); });
  boost::system::error_code ec;
  im->acceptor.open(unix_socket(), ec);
  if (!ec) im->acceptor.bind(unix_socket::endpoint(im->sock), ec);
  if (!ec) im->acceptor.listen(64, ec);
  if (ec) throw_error(EIO, "circuit: cannot serve the program's files at " + im->sock + ": " + ec.message());
  ::chmod(im->sock.c_str(), 0600);
  im->accept();
  goroutines::all().on_change([im] { asio::post(im->io, [im] { refresh_goroutines(*im->space); }); });
  im->main = goroutines::all().enter(main_fn);
  impl_ = im;
  std::thread([im] { im->io.run(); }).detach();

  // In a worker: its daemon shows the tree under the worker's directory.
  if (const char* w = std::getenv("CIRCUIT_WORKER")) {
    auto names = wire::split_path(w);
    names.push_back("ctl");
    auto& s = rt.session();
    if (auto r = s.conn().put(names, "serve " + im->sock + "\n"); !r) s.fail(r.err(), "serve", std::string(w) + "/ctl", true);
  }
}

void program::serve(served_file f) {
  impl* im;
  {
    std::lock_guard<std::mutex> lock(mu_);
    im = impl_;
  }
  if (!im) throw_error(EINVAL, "serve: the program serves no files before its runtime starts");
  std::promise<result<void>> done;
  asio::post(im->io, [&] { done.set_value(add_served_file(*im->space, std::move(f))); });
  auto r = done.get_future().get();
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
