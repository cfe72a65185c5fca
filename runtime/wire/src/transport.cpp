// transport.cpp — the Unix stream socket under a client, and connecting one.
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "circuit/core/errno_map.hpp"
#include "circuit/wire/client.hpp"
#include "circuit/wire/turn.hpp"

namespace circuit::wire {
namespace {

namespace asio = boost::asio;
using stream_socket = asio::local::stream_protocol::socket;

class unix_stream final : public transport {
 public:
  explicit unix_stream(stream_socket s) : socket_(std::move(s)) {}

  void async_read_some(asio::mutable_buffer buf, io_handler done) override {
    socket_.async_read_some(buf, std::move(done));
  }
  void async_write(asio::const_buffer buf, io_handler done) override {
    write_all(socket_, buf, std::move(done));
  }
  asio::any_io_executor get_executor() override { return socket_.get_executor(); }
  void close() override {
    boost::system::error_code ignored;
    socket_.shutdown(stream_socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  stream_socket socket_;
};

}  // namespace

std::unique_ptr<transport> unix_transport(stream_socket socket) {
  return std::make_unique<unix_stream>(std::move(socket));
}

void client::connect_unix(asio::any_io_executor ex, std::string path, options opts,
                          handler<std::shared_ptr<client>> done) {
  auto socket = std::make_shared<stream_socket>(ex);
  asio::local::stream_protocol::endpoint where;
  try {
    where = asio::local::stream_protocol::endpoint(path);
  } catch (const std::exception&) {  // a path longer than sun_path
    asio::post(ex, [done, path] {
      done(make_error(errc::invalid, "9p: " + path + ": socket path too long"));
    });
    return;
  }
  // Close-on-exec from the start: a program that runs another (system,
  // popen, a helper it leaves running) must not hand it its connection,
  // which would then outlive the program, and with it all its leases hold.
  boost::system::error_code ec;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    ec.assign(errno, boost::system::system_category());
  else
    socket->assign(asio::local::stream_protocol(), fd, ec);
  if (ec) {
    asio::post(ex, [done, path, ec] {
      done(make_error(from_errno(ec.value()), "9p: " + path + ": " + ec.message()));
    });
    return;
  }
  socket->async_connect(where, [ex, socket, path, opts, done](boost::system::error_code ec) {
    if (ec) return done(make_error(from_errno(ec.value()), "9p: " + path + ": " + ec.message()));
    done(make(ex, unix_transport(std::move(*socket)), opts));
  });
}

}  // namespace circuit::wire
