#include "socket_face.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <unordered_set>
#include <vector>

#include "circuit/wire/connection.hpp"
#include "log.hpp"

namespace circuit::fsd {

namespace asio = boost::asio;
using unix_socket = asio::local::stream_protocol;

namespace {

// The peer of a connection as the kernel knows it. Keys of socket
// sessions start at 2^32, above every Unix session id the mount uses.
caller peer_of(int fd, std::uint64_t n) {
  caller who;
  who.key = (std::uint64_t{1} << 32) + n;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    who.uid = cred.uid;
    who.gid = cred.gid;
    who.pid = cred.pid;
  } else {
    who.uid = who.gid = static_cast<uid_t>(-1);  // unknown: admitted nowhere
  }
  std::vector<gid_t> groups(64);
  for (;;) {
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
      groups.resize(size / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE) {
      groups.clear();
      break;
    }
    groups.resize(size / sizeof(gid_t) + 1);
  }
  who.groups = std::move(groups);
  // The pid is the connecting process's; a later request may come from
  // a child that inherited the descriptor, so nothing relies on it.
  return who;
}

// Whether a daemon listens at `path` now.
// Workers must not inherit the daemon's sockets. Asio opens them without
// close-on-exec; the loop thread, the only one that starts processes, sets
// it before it can start one.
void close_on_exec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

bool listening(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  bool yes = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return yes;
}

}  // namespace

struct socket_face::impl {
  impl(asio::io_context& io, ns& space) : io(io), space(space), acceptor(io) {}
  asio::io_context& io;
  ns& space;
  unix_socket::acceptor acceptor;
  std::unordered_map<wire::connection*, std::shared_ptr<wire::connection>> conns;
  std::uint64_t count = 0;
  bool stopped = false;

  // Out of descriptors (EMFILE, ENFILE), say: a connection that waits to
  // be accepted keeps the socket readable, so accepting again at once would
  // spin and log without end. The face waits a little, says so once, and
  // says when it accepts again.
  asio::steady_timer pause{io};
  bool failing = false;
  // Connections per user (not root's, not the daemon's own), and the users
  // told at their bound, said once until they are under it again.
  std::size_t max_per_user = 0;
  std::unordered_map<uid_t, std::size_t> per_user;
  std::unordered_set<uid_t> said;

  // Counts a connection of `uid`; false when it is one too many.
  bool admit(uid_t uid) {
    if (uid == 0 || uid == ::geteuid()) return true;
    auto& n = per_user[uid];
    if (n < max_per_user) return ++n, true;
    if (said.insert(uid).second)
      log_line("socket: uid " + std::to_string(uid) + " holds " + std::to_string(n) +
               " connections, its most (--max-connections); more are closed as they come");
    return false;
  }
  void let_go(uid_t uid) {
    auto it = per_user.find(uid);
    if (it == per_user.end()) return;
    said.erase(uid);
    if (--it->second == 0) per_user.erase(it);
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, unix_socket::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped) return;
        if (!failing) log_line("socket: accept: " + ec.message() + "; trying again every 100 ms");
        failing = true;
        pause.expires_after(std::chrono::milliseconds(100));
        return pause.async_wait([this](boost::system::error_code ec) {
          if (!ec && !stopped) accept();
        });
      }
      if (failing) log_line("socket: accepting connections again");
      failing = false;
      close_on_exec(s.native_handle());
      auto peer = peer_of(s.native_handle(), ++count);
      uid_t uid = peer.uid;
      if (!admit(uid)) {
        s.close(ec);
        return accept();
      }
      auto c = wire::connection::start(
          space, std::move(peer), wire::unix_transport(std::move(s)),
          [this, uid](wire::connection* c, std::optional<error> why) {
            if (why) log_line("socket: " + why->message + "; closing the connection");
            let_go(uid);
            conns.erase(c);
          });
      if (!c->closed()) conns.emplace(c.get(), c);
      accept();
    });
  }
};

socket_face::socket_face(asio::io_context& io, ns& space, std::string path,
                         std::size_t max_per_user)
    : impl_(std::make_unique<impl>(io, space)), path_(std::move(path)) {
  impl_->max_per_user = max_per_user;
}

socket_face::~socket_face() { stop(); }

std::size_t socket_face::connections() const { return impl_->conns.size(); }

result<void> socket_face::start() {
  if (path_.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(errc::invalid, "--socket " + path_ + ": the path is too long for a Unix socket");
  auto slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path_.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return make_error(errc::io, "--socket " + path_ + ": cannot make " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(errc::exists, "--socket " + path_ + ": a file that is not a socket is there");
    if (listening(path_))
      return make_error(errc::busy, "--socket " + path_ +
                                        ": another circuitd is serving there; give this one "
                                        "another --name or --socket");
    ::unlink(path_.c_str());  // a stale socket of a daemon that died
  }
  boost::system::error_code ec;
  auto& a = impl_->acceptor;
  a.open(unix_socket(), ec);
  if (!ec) close_on_exec(a.native_handle());
  if (!ec) a.bind(unix_socket::endpoint(path_), ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(errc::io, "--socket " + path_ + ": " + ec.message());
  ::chmod(path_.c_str(), 0666);  // who may do what is the core's rules
  impl_->accept();
  return {};
}

void socket_face::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->pause.cancel();
  if (impl_->acceptor.is_open()) {
    impl_->acceptor.close(ignored);
    ::unlink(path_.c_str());
  }
  auto conns = std::move(impl_->conns);
  impl_->conns.clear();
  for (auto& [raw, c] : conns) c->close();
}

}  // namespace circuit::fsd
