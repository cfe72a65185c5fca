// cluster.cpp — see cluster.hpp.
#include "cluster.hpp"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness.hpp"

namespace bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string key_dir;  // the main thread's until the end, then the exit hook's

void remove_key() {
  if (key_dir.empty()) return;
  unlink((key_dir + "/key").c_str());
  rmdir(key_dir.c_str());
}

}  // namespace

std::string make_key(const std::string& circuitd) {
  char tmpl[] = "/tmp/circuit-bench-key-XXXXXX";
  if (!mkdtemp(tmpl)) fail("mkdtemp");
  key_dir = tmpl;
  at_exit(remove_key);
  std::string key = key_dir + "/key";
  std::string cmd = "'" + circuitd + "' keygen '" + key + "' >/dev/null";
  if (system(cmd.c_str()) != 0) throw std::runtime_error("circuitd keygen failed: " + cmd);
  return key;
}

circuit::cluster::cluster_key load_key(const std::string& path) {
  auto k = circuit::cluster::load_key(path);
  if (!k) throw std::runtime_error("load_key: " + k.err().message);
  return *k;
}

int free_port() {
  asio::io_context io;
  for (int i = 0; i < 50; ++i) {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    int port = a.local_endpoint().port();
    asio::ip::udp::socket u(io, asio::ip::udp::v4());
    boost::system::error_code ec;
    u.bind({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port on 127.0.0.1");
}

std::map<std::string, std::string> members(const std::string& mount) {
  std::map<std::string, std::string> out;
  std::ifstream f(mount + "/members");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name, id, address, state;
    if (in >> name >> id >> address >> state) out[name] = state;
  }
  return out;
}

bool all_alive(const std::string& mount, std::size_t n) {
  auto m = members(mount);
  if (m.size() != n) return false;
  for (auto& [name, state] : m)
    if (state != "alive") return false;
  return true;
}

void wait_alive(const std::vector<const server*>& members) {
  auto began = std::chrono::steady_clock::now();
  for (auto* m : members)
    while (!all_alive(m->mount(), members.size())) {
      if (seconds_since(began) > 20) throw std::runtime_error("the members did not list each other alive in 20 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

stream_end::stream_end(tcp::socket s) : socket_(std::move(s)) { socket_.set_option(tcp::no_delay(true)); }

void stream_end::write(const std::string& data) {
  if (tls_) asio::write(*tls_, asio::buffer(data));
  else asio::write(socket_, asio::buffer(data));
}

bool stream_end::read_exactly(std::size_t n) {
  static thread_local std::string buf(1 << 17, '\0');
  boost::system::error_code ec;
  for (std::size_t got = 0; got < n;) {
    auto b = asio::buffer(buf.data(), std::min(buf.size(), n - got));
    std::size_t r = tls_ ? tls_->read_some(b, ec) : socket_.read_some(b, ec);
    if (ec) return false;
    got += r;
  }
  return true;
}

std::size_t stream_end::read_some(char* buf, std::size_t size) {
  boost::system::error_code ec;
  std::size_t r = tls_ ? tls_->read_some(asio::buffer(buf, size), ec) : socket_.read_some(asio::buffer(buf, size), ec);
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return 0;
  if (ec) throw std::runtime_error("stream read: " + ec.message());
  return r;
}

std::string stream_end::suite() {
  if (!tls_) return "TCP";
  SSL* s = tls_->native_handle();
  return std::string(SSL_get_version(s)) + " " + SSL_get_cipher_name(s);
}

void stream_end::close() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

stream_pair::stream_pair(asio::io_context& io, circuit::cluster::link_context* ctx) {
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket d(io);
  d.connect(a.local_endpoint());
  dialer = std::make_unique<stream_end>(std::move(d));
  acceptor = std::make_unique<stream_end>(a.accept());
  if (!ctx) return;
  dialer->tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(dialer->socket_, ctx->client());
  acceptor->tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(acceptor->socket_, ctx->server());
  boost::system::error_code server_ec;
  std::thread server([&] { acceptor->tls_->handshake(asio::ssl::stream_base::server, server_ec); });
  boost::system::error_code client_ec;
  dialer->tls_->handshake(asio::ssl::stream_base::client, client_ec);
  server.join();
  if (client_ec || server_ec)
    throw std::runtime_error("TLS handshake: " + (client_ec ? client_ec : server_ec).message());
}

}  // namespace bench
