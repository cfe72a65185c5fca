// link.cpp — accepting and dialing peer links, each under a handshake
// deadline, and the link as a 9P client's transport.
#include "circuit/cluster/link.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <list>

namespace circuit::cluster {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using duration = std::chrono::steady_clock::duration;

// Workers must not inherit peer links (see socket_face.cpp).
void close_on_exec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

std::string address_of(const tcp::endpoint& e) {
  auto a = e.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(e.port())
                   : a.to_string() + ":" + std::to_string(e.port());
}

std::string seconds(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", std::chrono::duration<double>(d).count());
  return buf;
}

// The handshake of `s` as `type`, dropped when `deadline` passes first.
// `done(ec, timed_out)` is called once, when the handshake completes.
void shake_hands(std::shared_ptr<peer_link::stream> s, asio::ssl::stream_base::handshake_type type,
                 duration deadline, std::function<void(error_code, bool)> done) {
  auto timer = std::make_shared<asio::steady_timer>(s->get_executor(), deadline);
  auto expired = std::make_shared<bool>(false);
  // Closing the socket is what ends the handshake: it completes then with
  // operation_aborted, and only its completion reports.
  timer->async_wait([s, expired](error_code ec) {
    if (ec) return;
    *expired = true;
    error_code ignored;
    s->lowest_layer().close(ignored);
  });
  s->async_handshake(type, [s, timer, expired, done = std::move(done)](error_code ec) {
    timer->cancel();
    done(ec, *expired);
  });
}

std::shared_ptr<peer_link> made(std::shared_ptr<peer_link::stream> s, std::string peer,
                                duration silence) {
  error_code ignored;
  s->lowest_layer().set_option(tcp::no_delay(true), ignored);  // 9P is request and reply
  if (silence > duration::zero()) {
    // A link the peer's kernel stops acknowledging fails in `silence`;
    // idle, it sends a probe each second, so a silent cut is seen too.
    int fd = s->lowest_layer().native_handle();
    unsigned ms = static_cast<unsigned>(
        std::chrono::duration_cast<std::chrono::milliseconds>(silence).count());
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one);
  }
  return std::make_shared<peer_link>(std::move(s), std::move(peer));
}

struct accept_loop {
  tcp::acceptor& acceptor;
  link_context& ctx;
  link_options opts;
  accept_handler done;
  // The handshakes in progress, oldest first. A new connection when they
  // are `max_handshakes` ends the oldest: connections that never speak
  // cannot keep a member's handshake out for longer than it takes others
  // to push them out, and a member's handshake takes milliseconds.
  std::list<std::shared_ptr<peer_link::stream>> handshaking;
  std::uint64_t evicted = 0;
  asio::steady_timer pause{acceptor.get_executor()};
};

void accept_next(std::shared_ptr<accept_loop> loop);

void shake(std::shared_ptr<accept_loop> loop, tcp::socket sock, std::string peer) {
  if (loop->opts.max_handshakes == 0) {
    error_code ignored;
    sock.close(ignored);
    return;
  }
  if (loop->handshaking.size() >= loop->opts.max_handshakes) {
    // Its completion (operation aborted) is reported as an eviction.
    error_code ignored;
    loop->handshaking.front()->lowest_layer().close(ignored);
    loop->handshaking.pop_front();
    // One line for the first and then every 1,000th, not one per connection.
    if (loop->evicted++ % 1000 == 0)
      loop->done(make_error(errc::busy, "link " + peer + ": " + std::to_string(loop->opts.max_handshakes) +
                                            " handshakes in progress; the oldest dropped to let it in (" +
                                            std::to_string(loop->evicted) + " dropped so far)"),
                 peer);
  }
  auto s = std::make_shared<peer_link::stream>(std::move(sock), loop->ctx.server());
  loop->handshaking.push_back(s);
  shake_hands(
      s, peer_link::stream::server, loop->opts.deadline, [loop, s, peer](error_code ec, bool late) {
        // Still listed unless it was the one dropped for a newer one.
        bool dropped = true;
        for (auto it = loop->handshaking.begin(); it != loop->handshaking.end(); ++it)
          if (*it == s) {
            dropped = false;
            loop->handshaking.erase(it);
            break;
          }
        if (dropped) return;  // counted when dropped
        if (late)
          return loop->done(
              make_error(errc::timed_out, "link " + peer + ": no handshake within " +
                                              seconds(loop->opts.deadline) + "; dropped"),
              peer);
        if (ec)
          return loop->done(
              make_error(errc::access, "link " + peer + ": handshake failed (" + ec.message() +
                                           "): not a member with this cluster's key"),
              peer);
        loop->done(made(s, peer, loop->opts.silence), peer);
      });
}

void accept_next(std::shared_ptr<accept_loop> loop) {
  loop->acceptor.async_accept([loop](error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || !loop->acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors, say: report it, and wait a little rather than
      // spin on an error that will not clear at once.
      loop->done(make_error(errc::io, "link: accept: " + ec.message()), "");
      loop->pause.expires_after(std::chrono::milliseconds(100));
      return loop->pause.async_wait([loop](error_code) { accept_next(loop); });
    }
    close_on_exec(sock.native_handle());
    error_code ignored;
    std::string peer = address_of(sock.remote_endpoint(ignored));
    shake(loop, std::move(sock), std::move(peer));
    accept_next(loop);
  });
}

// "host:port" or "[v6]:port" cut in two; false when it is neither.
bool split_address(const std::string& address, std::string& host, std::string& port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return !host.empty();
}

// One dial: lookup, connect and handshake under one deadline; finish()
// reports once and stops the timer, whichever step ends it.
struct dialer : std::enable_shared_from_this<dialer> {
  dialer(asio::any_io_executor ex, link_context& ctx, std::string address, dial_handler done)
      : resolver(ex),
        stream(std::make_shared<peer_link::stream>(ex, ctx.client())),
        timer(ex),
        address(std::move(address)),
        done(std::move(done)) {}

  void start(const std::string& host, const std::string& port, duration deadline) {
    late = "no answer within " + seconds(deadline);
    timer.expires_after(deadline);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->expired = true;
      self->resolver.cancel();
      error_code ignored;
      self->stream->lowest_layer().close(ignored);
    });
    resolver.async_resolve(
        host, port, [self = shared_from_this()](error_code ec, tcp::resolver::results_type found) {
          if (ec) return self->fail(errc::host_unreachable, "cannot resolve: " + ec.message());
          self->connect(found);
        });
  }

  void connect(const tcp::resolver::results_type& found) {
    asio::async_connect(
        stream->lowest_layer(), found,
        [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
          if (ec) return self->fail(errc::host_unreachable, "connect: " + ec.message());
          close_on_exec(self->stream->lowest_layer().native_handle());
          self->stream->async_handshake(peer_link::stream::client, [self](error_code ec) {
            if (ec)
              return self->fail(errc::access, "handshake failed (" + ec.message() +
                                                  "): does the peer hold this cluster's key?");
            self->finish(made(self->stream, self->address, self->silence));
          });
        });
  }

  void fail(errc code, const std::string& why) {
    finish(make_error(expired ? errc::host_unreachable : code,
                      "link " + address + ": " + (expired ? late : why)));
  }
  void finish(result<std::shared_ptr<peer_link>> r) {
    timer.cancel();
    done(std::move(r));
  }

  tcp::resolver resolver;
  std::shared_ptr<peer_link::stream> stream;
  asio::steady_timer timer;
  std::string address, late;
  dial_handler done;
  bool expired = false;
  duration silence{};
};

}  // namespace

void peer_link::async_read_some(asio::mutable_buffer buf, io_handler done) {
  stream_->async_read_some(buf, std::move(done));
}

void peer_link::async_write(asio::const_buffer buf, io_handler done) {
  stream_->async_write(buf, std::move(done));
}

std::string peer_link::suite() {
  SSL* s = stream_->native_handle();
  return std::string(SSL_get_version(s)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(s));
}

void peer_link::close() {
  error_code ignored;
  stream_->lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_->lowest_layer().close(ignored);
}

void accept_links(tcp::acceptor& acceptor, link_context& ctx, link_options opts,
                  accept_handler done) {
  accept_next(std::make_shared<accept_loop>(accept_loop{acceptor, ctx, opts, std::move(done)}));
}

void dial_link(asio::any_io_executor ex, std::string address, link_context& ctx, link_options opts,
               dial_handler done) {
  std::string host, port;
  if (!split_address(address, host, port)) {
    return asio::post(ex, [done, address] {
      done(make_error(errc::invalid, "link " + address + ": not an address (host:port)"));
    });
  }
  auto d = std::make_shared<dialer>(ex, ctx, std::move(address), std::move(done));
  d->silence = opts.silence;
  d->start(host, port, opts.deadline);
}

namespace {

class link_stream final : public wire::transport {
 public:
  explicit link_stream(std::shared_ptr<peer_link> l) : link_(std::move(l)) {}
  ~link_stream() override { link_->close(); }
  void async_read_some(asio::mutable_buffer buf, io_handler done) override {
    link_->async_read_some(buf, std::move(done));
  }
  void async_write(asio::const_buffer buf, io_handler done) override {
    link_->async_write(buf, std::move(done));
  }
  void close() override { link_->close(); }
  asio::any_io_executor get_executor() override { return link_->get_executor(); }

 private:
  std::shared_ptr<peer_link> link_;
};

}  // namespace

std::unique_ptr<wire::transport> link_transport(std::shared_ptr<peer_link> l) {
  return std::make_unique<link_stream>(std::move(l));
}

}  // namespace circuit::cluster
