// cluster.hpp — what the cluster benchmarks share: a cluster key, free
// loopback ports, members' views, and loopback byte streams (TLS 1.3 keyed
// exactly as circuit's peer links, or plaintext TCP) for their floors.
//
// Thread safety: a `stream_end` belongs to one thread at a time; the rest
// are plain functions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "circuit/cluster/link.hpp"
#include "harness.hpp"

namespace bench {

// A new cluster key made by `circuitd keygen`, in a temporary directory
// that goes when the benchmark ends; returns its path.
std::string make_key(const std::string& circuitd);
// Loads it, for the floors' TLS (link_context).
circuit::cluster::cluster_key load_key(const std::string& path);
// A port free on 127.0.0.1 for both TCP (links) and UDP (gossip).
int free_port();
// {name: state} from MOUNT/members; empty if it cannot be read.
std::map<std::string, std::string> members(const std::string& mount);
// Whether MOUNT/members lists exactly `n` members, all alive.
bool all_alive(const std::string& mount, std::size_t n);
// Waits until each of `members` lists all of them alive; throws after 20 s.
void wait_alive(const std::vector<const server*>& members);

// One end of a loopback connection: plaintext TCP, or TLS 1.3 with
// circuit's link settings (the cluster key's PSK, TLS_AES_128_GCM_SHA256,
// TCP_NODELAY) when made with a link_context.
class stream_end {
 public:
  using tcp = boost::asio::ip::tcp;
  explicit stream_end(tcp::socket s);
  // Writes all of `data`; reads exactly `n` bytes; reads what is there
  // (at least 1 byte, 0 at end of file). Throw on errors, but read_exactly
  // returns false at end of file.
  void write(const std::string& data);
  bool read_exactly(std::size_t n);
  std::size_t read_some(char* buf, std::size_t size);
  // The suite the handshake settled on, "TCP" for plaintext.
  std::string suite();
  void close();
  int fd() { return socket_.native_handle(); }

 private:
  friend struct stream_pair;
  tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<tcp::socket&>> tls_;
};

// Two connected ends on 127.0.0.1; TLS when `ctx` is given. The ends
// share `io` (only for their sockets: every call on them is blocking).
struct stream_pair {
  stream_pair(boost::asio::io_context& io, circuit::cluster::link_context* ctx);
  std::unique_ptr<stream_end> dialer, acceptor;
};

}  // namespace bench
