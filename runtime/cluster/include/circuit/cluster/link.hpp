// link.hpp — peer links: TCP connections between members, under TLS 1.3
// keyed from the cluster key, with no certificates and no CA.
//
// Both ends prove they hold the cluster key in the handshake: the key
// derived with link_label is a TLS 1.3 external PSK (RFC 8446 §2.2, with
// an ephemeral (EC)DHE exchange, so a key stolen later does not open
// traffic recorded earlier). A peer with another key, no key, or that
// speaks anything but TLS fails the handshake before a byte of the
// protocol it carries is read. Only TLS 1.3 with TLS_AES_128_GCM_SHA256
// is offered or accepted; no session tickets are issued.
//
// Use, on the accepting side (serving 9P on each link, see
// wire/connection.hpp):
//
//   link_context ctx(key);
//   accept_links(acceptor, ctx, {}, [&](result<std::shared_ptr<peer_link>> l, std::string peer) {
//     if (!l) return log_line(l.err().message);  // the message names `peer`
//     wire::connection::start(space, relay, link_transport(*l), gone);
//   });
//
// and on the dialing side (a 9P client over the link):
//
//   dial_link(ex, "10.0.0.1:7000", ctx, {}, [ex](result<std::shared_ptr<peer_link>> l) {
//     if (!l) return log_line(l.err().message);
//     auto c = wire::client::make(ex, link_transport(*l), {});
//   });
//
// A handshake that has not finished by its deadline is dropped, and at
// most `max_handshakes` run at once on an acceptor (a new connection then
// ends the oldest), so connections that never speak cost bounded memory
// and cannot keep a member out.
//
// Thread safety: a link, its context's callbacks and the accept loop
// belong to the executor they were made on (the daemon's loop thread).
// A link_context is read-only after construction and must outlive every
// link and accept loop made with it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "circuit/cluster/key.hpp"
#include "circuit/cluster/tls_stream.hpp"
#include "circuit/core/error.hpp"
#include "circuit/wire/client.hpp"

namespace circuit::cluster {

using tcp = boost::asio::ip::tcp;

// The TLS settings of every link of a member: one context for the links
// it accepts, one for those it dials, both keyed from the cluster key.
class link_context {
 public:
  explicit link_context(const cluster_key& key);
  ~link_context();
  link_context(const link_context&) = delete;
  link_context& operator=(const link_context&) = delete;

  boost::asio::ssl::context& server() { return server_; }
  boost::asio::ssl::context& client() { return client_; }
  const key32& psk() const { return psk_; }

 private:
  key32 psk_;
  boost::asio::ssl::context server_;
  boost::asio::ssl::context client_;
};

// One authenticated, encrypted byte stream to a peer. At most one read and
// one write may be in flight at a time (as for any Asio stream); both
// complete with an error once the link is closed or fails.
class peer_link : public std::enable_shared_from_this<peer_link> {
 public:
  using io_handler = wire::transport::io_handler;
  using stream = tls_stream;

  peer_link(std::shared_ptr<stream> s, std::string peer) : stream_(std::move(s)), peer_(std::move(peer)) {}
  peer_link(const peer_link&) = delete;
  peer_link& operator=(const peer_link&) = delete;

  void async_read_some(boost::asio::mutable_buffer buf, io_handler done);
  // Writes all of `buf` (which stays valid until `done` runs) or fails.
  void async_write(boost::asio::const_buffer buf, io_handler done);
  // Ends the link at once (no TLS close_notify: a peer must not be able
  // to hold a closing link open). Idempotent.
  void close();
  bool is_open() const { return stream_->lowest_layer().is_open(); }

  // The peer's address, "10.0.0.2:40312", as it was when the link was made.
  const std::string& peer() const { return peer_; }
  boost::asio::any_io_executor get_executor() { return stream_->get_executor(); }
  // What the handshake settled on, for logs: "TLSv1.3 TLS_AES_128_GCM_SHA256".
  std::string suite();

 private:
  std::shared_ptr<stream> stream_;
  std::string peer_;
};

struct link_options {
  // How long a handshake (and, dialing, the name lookup and connect) may
  // take before the connection is dropped.
  std::chrono::steady_clock::duration deadline = std::chrono::seconds(5);
  // Accepting: handshakes in progress at once; a connection over it ends
  // the oldest (logged for the first and every 1,000th). Each one in
  // progress holds about 85 KiB (OpenSSL's state and buffers, measured),
  // so silent connections cost at most ~22 MiB at the default, however
  // many there are.
  std::size_t max_handshakes = 256;
  // Once made: how long what the link sends may go unacknowledged by the
  // peer's kernel before the link fails with timed_out (TCP_USER_TIMEOUT;
  // while the link is idle, keepalive probes each second are what goes
  // unacknowledged). A peer cut off without a reset (a blackhole, a cable
  // pulled) ends the link in this time, not after TCP's retries (about 15
  // minutes). Zero: the kernel's defaults.
  std::chrono::steady_clock::duration silence{};
};

// Accepts connections on `acceptor` (listening already) until it is
// closed. `done` is called once per connection: with the link when the
// handshake succeeds, or with why it was refused (the message names the
// peer: "link 10.0.0.9:5123: handshake failed: ..."); `peer` is the
// peer's address either way. A failed accept (out of descriptors) is
// reported too, with an empty `peer`, and accepting goes on 100 ms later.
// Closing the acceptor stops accepting (close it before it is destroyed);
// the handshakes in flight then still end (by their deadline at the
// latest) and report, so `done` must stay callable until they have.
using accept_handler = std::function<void(result<std::shared_ptr<peer_link>>, std::string peer)>;
void accept_links(tcp::acceptor& acceptor, link_context& ctx, link_options opts,
                  accept_handler done);

// Connects to `address` ("host:port", "[::1]:7000") and shakes hands.
// `done` is called once, on `ex`: with the link, or with an error that
// names the address (errc::host_unreachable for a refused or timed out
// connection, errc::access for a handshake the peer refused).
using dial_handler = std::function<void(result<std::shared_ptr<peer_link>>)>;
void dial_link(boost::asio::any_io_executor ex, std::string address, link_context& ctx,
               link_options opts, dial_handler done);

// The link as the byte stream of a 9P client (wire::client::make), or of
// anything else that speaks through a wire::transport. close() closes the
// link.
std::unique_ptr<wire::transport> link_transport(std::shared_ptr<peer_link> l);

}  // namespace circuit::cluster
