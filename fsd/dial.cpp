#include "dial.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>

#include "circuit/wire/mount.hpp"

namespace circuit::fsd {

namespace {

// Reads one whole frame from blocking `fd` (its receive timeout set).
result<std::string> read_frame(int fd) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    auto n = wire::next_frame_size(buf, wire::max_msize);
    if (!n) return n.err();
    if (*n && buf.size() >= *n) return buf.substr(0, *n);
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got <= 0) return make_error(got == 0 ? errc::host_unreachable : errc::timed_out, "no answer to Tversion");
    buf.append(chunk, got);
  }
}

}  // namespace

result<std::shared_ptr<remote>> dial(boost::asio::io_context& io, const std::string& socket,
                                     const std::string& name, std::chrono::milliseconds deadline,
                                     budget& held) {
  using unix_socket = boost::asio::local::stream_protocol;
  unix_socket::socket s(io);
  boost::system::error_code ec;
  s.connect(unix_socket::endpoint(socket), ec);
  if (ec) return make_error(errc::host_unreachable, "mount: " + socket + ": " + ec.message());
  int fd = s.native_handle();
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  timeval tv{static_cast<time_t>(deadline.count() / 1000), static_cast<suseconds_t>(deadline.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string hello = wire::encode(wire::notag, wire::tmessage{wire::tversion{wire::max_msize, "9P2000.L"}});
  if (::write(fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size()))
    return make_error(errc::host_unreachable, "mount: " + socket + ": cannot write");
  auto frame = read_frame(fd);
  if (!frame) return make_error(frame.err().code, "mount: " + socket + ": " + frame.err().message);
  auto r = wire::decode_r(*frame, wire::max_msize);
  auto* v = r ? std::get_if<wire::rversion>(&r->message) : nullptr;
  if (!v || v->version != "9P2000.L")
    return make_error(errc::not_supported, "mount: " + socket + ": the server does not speak 9P2000.L");
  timeval none{};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  wire::client::options opts;
  opts.msize = v->msize;
  auto cl = wire::client::make(io.get_executor(), wire::unix_transport(std::move(s)), opts);
  return std::shared_ptr<remote>(std::make_shared<wire::mount>(cl, name + " at " + socket, deadline,
                                                               std::vector<std::string>{}, &held));
}

void dial_async(boost::asio::io_context& io, const std::string& socket, const std::string& via,
                const std::string& name, std::vector<std::string> tops,
                std::chrono::milliseconds deadline, budget& held,
                std::function<void(result<std::vector<std::shared_ptr<remote>>>)> done) {
  using unix_socket = boost::asio::local::stream_protocol;
  unix_socket::socket s(io);
  boost::system::error_code ec;
  s.open(unix_socket(), ec);
  if (!ec) s.non_blocking(true, ec);
  // A Unix connect either completes at once or, when the server's backlog
  // is full, would wait: refused then.
  if (!ec) s.connect(unix_socket::endpoint(via), ec);
  if (ec) return done(make_error(errc::host_unreachable, "serve: " + socket + ": " + ec.message()));
  ::fcntl(s.native_handle(), F_SETFD, FD_CLOEXEC);
  wire::client::options opts;
  opts.deadline = deadline;
  // The program ended (or its worker was removed): its files are gone.
  opts.lost = make_error(errc::not_found, name + ": the program ended: its goroutines and files are gone");
  auto cl = wire::client::make(io.get_executor(), wire::unix_transport(std::move(s)), opts);
  cl->version([cl, name, socket, tops = std::move(tops), deadline, &held,
               done = std::move(done)](result<std::uint32_t> msize) {
    if (!msize) {
      cl->close();
      return done(make_error(msize.err().code, "serve: " + socket + ": " + msize.err().message));
    }
    cl->set_deadline({});
    std::vector<std::shared_ptr<remote>> out;
    for (auto& top : tops)
      out.push_back(std::make_shared<wire::mount>(cl, name + "/" + top + " at " + socket, deadline,
                                                  std::vector<std::string>{top}, &held));
    done(std::move(out));
  });
}

}  // namespace circuit::fsd
