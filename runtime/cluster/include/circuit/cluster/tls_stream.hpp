// tls_stream.hpp — TLS over a TCP socket, with OpenSSL driven directly
// rather than through Asio's ssl::stream.
//
// Asio's stream moves records between OpenSSL and the socket through a
// 17 KiB buffer each way: a 64 KiB write is four send(2)s, a 64 KiB read
// four recv(2)s and as many wakeups of the reader. Here OpenSSL writes its
// records straight into a buffer that goes out in one send(2) — all the
// records of every write made while the last send was out — and reads
// from a 64 KiB buffer filled by one recv(2). On a busy link that is a
// system call per batch rather than per record (circuit-wire(7) gives the
// figures). The bytes on the wire are the same TLS.
//
// The interface is the part of Asio's ssl::stream that peer links use:
// a handshake, then at most one read and one write in flight at a time.
// A write completes when its records are on the socket, so a peer that
// does not read holds back its writer as the kernel's buffer fills. What
// reading makes OpenSSL write (answers to a peer's key updates) is not
// held back that way, so a peer that asks for more than 256 KiB of
// answers without reading them is cut off: the read fails with
// no_buffer_space and the socket is closed. Operations still pending
// when the stream is closed or destroyed complete with an error, as
// Asio's do.
//
// Thread safety: the executor of the socket (the daemon's loop thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <functional>
#include <memory>
#include <string>

struct ssl_st;

namespace circuit::cluster {

class tls_stream : public boost::asio::ssl::stream_base {
 public:
  using tcp = boost::asio::ip::tcp;
  using io_handler = std::function<void(boost::system::error_code, std::size_t)>;

  tls_stream(tcp::socket socket, boost::asio::ssl::context& ctx);
  tls_stream(const boost::asio::any_io_executor& ex, boost::asio::ssl::context& ctx);
  ~tls_stream();
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  tcp::socket& lowest_layer();
  boost::asio::any_io_executor get_executor();
  ssl_st* native_handle();

  void async_handshake(handshake_type type, std::function<void(boost::system::error_code)> done);
  // Reads what has come, decrypted: at least one byte, at most buf's size.
  void async_read_some(boost::asio::mutable_buffer buf, io_handler done);
  // Writes all of `buf`, which need stay valid only until this returns
  // (it is encrypted at once); `done` runs when it is on the socket.
  void async_write(boost::asio::const_buffer buf, io_handler done);

  // The state the socket's operations hold on to (tls_stream.cpp).
  struct core;

 private:
  std::shared_ptr<core> core_;
};

}  // namespace circuit::cluster
