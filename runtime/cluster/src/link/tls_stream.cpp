// tls_stream.cpp — OpenSSL reading from and writing to buffers of ours
// (a BIO of our own), and those buffers moved to and from the socket.
#include "circuit/cluster/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "circuit/wire/turn.hpp"

namespace circuit::cluster {

namespace asio = boost::asio;
using boost::system::error_code;

struct tls_stream::core : std::enable_shared_from_this<core> {
  core(tcp::socket s, SSL_CTX* ctx);
  ~core() { SSL_free(ssl); }  // and the BIO with it

  // Makes room and reads what the socket has; `then(ec)` runs after.
  void fill(std::function<void(error_code)> then);
  // Sends what OpenSSL has written unless a send is out already (its
  // completion sends the rest).
  void flush();
  void sent(error_code ec);
  void read_into(asio::mutable_buffer buf, io_handler done, bool posted);
  void handshake(std::function<void(error_code)> done);
  template <class F>
  void post(F f) {
    asio::post(socket.get_executor(), std::move(f));
  }

  tcp::socket socket;
  SSL* ssl = nullptr;
  // Ciphertext from the socket that OpenSSL has not taken: in[at, end).
  // Small during the handshake (a connection that never finishes one
  // costs little), 64 KiB once data flows, 256 KiB on a busy link.
  std::unique_ptr<char[]> in;
  std::size_t in_size = 0, at = 0, end = 0;
  bool shaken = false;
  // Records OpenSSL has written (out) and those on the socket now.
  std::string out, sending;
  bool sending_now = false;
  error_code broken;  // a send failed: every write after fails so
  // The one write in flight: its records are in `out` (waiting) or in
  // `sending` (carried), and `write_done` runs when they are sent.
  enum { none, waiting, carried } write_state = none;
  io_handler write_done;
  std::size_t write_size = 0;
  // What reading made OpenSSL write (answers to key updates), in `out`
  // and in `sending`: a peer that asks for answers and never reads them
  // must not grow them without bound.
  bool reading = false;
  std::size_t answers_out = 0, answers_sending = 0;
};

namespace {

constexpr std::size_t handshake_buffer = 4 * 1024;
constexpr std::size_t data_buffer = 64 * 1024;
// A link whose reads fill 64 KiB (a stream of large messages) reads 256 KiB
// at once: most 9P frames then come whole from one read.
constexpr std::size_t big_buffer = 256 * 1024;
constexpr std::size_t max_kept = 4 << 20;
// Unsent answers to a peer's post-handshake messages past which the link
// is cut (members send none; a KeyUpdate answer is 22 bytes).
constexpr std::size_t max_answers = 256 * 1024;

using core = tls_stream::core;

core* core_of(BIO* b) { return static_cast<core*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, std::size_t len, std::size_t* written) {
  core* c = core_of(b);
  c->out.append(data, len);
  if (c->reading) c->answers_out += len;
  *written = len;
  return 1;
}

int bio_read(BIO* b, char* data, std::size_t len, std::size_t* got) {
  BIO_clear_retry_flags(b);
  core* c = core_of(b);
  std::size_t n = std::min(len, c->end - c->at);
  *got = n;
  if (n == 0) {
    BIO_set_retry_read(b);  // not the end: the socket has not brought more yet
    return 0;
  }
  std::memcpy(data, c->in.get() + c->at, n);
  c->at += n;
  return 1;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return static_cast<long>(core_of(b)->end - core_of(b)->at);
    default: return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "circuit link");
    if (!m || BIO_meth_set_write_ex(m, bio_write) != 1 || BIO_meth_set_read_ex(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1) {
      std::fprintf(stderr, "circuitd: link: OpenSSL refused a BIO method\n");
      std::abort();
    }
    return m;
  }();
  return m;
}

// Why OpenSSL stopped, as Asio's ssl::stream says it.
error_code error_of(SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_ZERO_RETURN: return asio::error::eof;  // close_notify
    case SSL_ERROR_SSL:
      if (unsigned long e = ERR_get_error()) return {static_cast<int>(e), asio::error::get_ssl_category()};
      [[fallthrough]];
    default: return asio::ssl::error::stream_truncated;
  }
}

}  // namespace

core::core(tcp::socket s, SSL_CTX* ctx) : socket(std::move(s)), ssl(SSL_new(ctx)) {
  BIO* b = ssl ? BIO_new(method()) : nullptr;
  if (!b) {
    std::fprintf(stderr, "circuitd: link: out of memory for a TLS session\n");
    std::abort();
  }
  BIO_set_data(b, this);
  SSL_set_bio(ssl, b, b);  // one reference, for both directions
}

void core::fill(std::function<void(error_code)> then) {
  std::size_t want = !shaken ? handshake_buffer : in_size == data_buffer && end == in_size ? big_buffer : data_buffer;
  if (in_size < want) {
    in = std::make_unique<char[]>(want);
    in_size = want;
  }
  at = end = 0;
  socket.async_read_some(asio::buffer(in.get(), in_size),
                         [self = shared_from_this(), then = std::move(then)](error_code ec, std::size_t n) {
                           self->end = n;
                           then(ec);
                         });
}

void core::flush() {
  if (sending_now || out.empty() || broken) return;
  sending.swap(out);
  out.clear();
  sending_now = true;
  answers_sending = std::exchange(answers_out, 0);
  if (write_state == waiting) write_state = carried;
  wire::write_all(socket, asio::buffer(sending),
                  [self = shared_from_this()](error_code ec, std::size_t) { self->sent(ec); });
}

void core::sent(error_code ec) {
  sending_now = false;
  sending.clear();
  answers_sending = 0;
  // Kept for the next batch (grown again, it would be copied as it
  // grows), unless a burst made it large.
  if (sending.capacity() > max_kept) std::string().swap(sending);
  bool done = write_state == carried || (ec && write_state == waiting);
  if (ec) broken = ec;
  else flush();
  if (!done) return;
  write_state = none;
  auto d = std::move(write_done);
  d(ec, ec ? 0 : write_size);
}

void core::read_into(asio::mutable_buffer buf, io_handler done, bool posted) {
  auto* p = static_cast<char*>(buf.data());
  std::size_t total = 0, n = 0;
  error_code ec;
  ERR_clear_error();
  reading = true;
  while (total < buf.size()) {
    int r = SSL_read_ex(ssl, p + total, buf.size() - total, &n);
    if (r == 1) {
      total += n;
      continue;
    }
    if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ && total == 0) ec = error_of(ssl, r);
    break;
  }
  reading = false;
  if (answers_out + answers_sending > max_answers) {
    // A peer that floods us with key updates and reads none of the
    // answers: cut it off, as a 9P client that never reads is held back.
    error_code ignored;
    socket.close(ignored);
    ec = asio::error::no_buffer_space;
    total = 0;
  }
  flush();  // what reading made OpenSSL say (an answer to a key update)
  if (total == 0 && !ec)
    return fill([self = shared_from_this(), buf, done = std::move(done)](error_code ec) mutable {
      if (ec) return done(ec, 0);
      self->read_into(buf, std::move(done), true);
    });
  if (posted) return done(ec, total);
  post([done = std::move(done), ec, total] { done(ec, total); });
}

void core::handshake(std::function<void(error_code)> done) {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl);
  flush();
  if (r == 1) {
    shaken = true;
    return post([done = std::move(done)] { done({}); });
  }
  if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
    return post([done = std::move(done), ec = error_of(ssl, r)] { done(ec); });
  fill([self = shared_from_this(), done = std::move(done)](error_code ec) mutable {
    if (ec) return done(ec);
    self->handshake(std::move(done));
  });
}

tls_stream::tls_stream(tcp::socket socket, asio::ssl::context& ctx)
    : core_(std::make_shared<core>(std::move(socket), ctx.native_handle())) {}

tls_stream::tls_stream(const asio::any_io_executor& ex, asio::ssl::context& ctx)
    : tls_stream(tcp::socket(ex), ctx) {}

tls_stream::~tls_stream() {
  error_code ignored;
  core_->socket.close(ignored);
}

tls_stream::tcp::socket& tls_stream::lowest_layer() { return core_->socket; }
asio::any_io_executor tls_stream::get_executor() { return core_->socket.get_executor(); }
ssl_st* tls_stream::native_handle() { return core_->ssl; }

void tls_stream::async_handshake(handshake_type type, std::function<void(error_code)> done) {
  if (type == client) SSL_set_connect_state(core_->ssl);
  else SSL_set_accept_state(core_->ssl);
  core_->handshake(std::move(done));
}

void tls_stream::async_read_some(asio::mutable_buffer buf, io_handler done) {
  if (buf.size() == 0) return core_->post([done = std::move(done)] { done({}, 0); });
  core_->read_into(buf, std::move(done), false);
}

void tls_stream::async_write(asio::const_buffer buf, io_handler done) {
  core& c = *core_;
  if (c.broken) return c.post([done = std::move(done), ec = c.broken] { done(ec, 0); });
  if (buf.size() == 0) return c.post([done = std::move(done)] { done({}, 0); });
  ERR_clear_error();
  std::size_t n = 0;
  int r = SSL_write_ex(c.ssl, buf.data(), buf.size(), &n);
  if (r != 1) return c.post([done = std::move(done), ec = error_of(c.ssl, r)] { done(ec, 0); });
  c.write_done = std::move(done);
  c.write_size = buf.size();
  c.write_state = core::waiting;
  c.flush();
}

}  // namespace circuit::cluster
