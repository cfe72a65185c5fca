#include "cluster_face_impl.hpp"

#include <random>

namespace circuit::fsd {

cluster_face::cluster_face(asio::io_context& io, ns& space, clock& clk, cluster_options opts)
    : impl_(std::make_unique<impl>(io, space, clk, std::move(opts))) {}

cluster_face::~cluster_face() { stop(); }

result<void> cluster_face::start() {
  impl& m = *impl_;
  auto hp = split_address(m.opts.listen);
  if (!hp) return make_error(errc::invalid, "--listen " + m.opts.listen + ": give it as HOST:PORT");
  boost::system::error_code ec;
  tcp::resolver tr(m.io);
  auto at = tr.resolve(hp->first, hp->second, ec);
  if (ec || at.empty()) return make_error(errc::invalid, "--listen " + m.opts.listen + ": " + ec.message());
  tcp::endpoint ep = at.begin()->endpoint();
  m.acceptor.open(ep.protocol(), ec);
  if (!ec) close_on_exec(m.acceptor.native_handle());
  if (!ec) m.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) m.acceptor.bind(ep, ec);
  if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(errc::io, "--listen " + m.opts.listen + ": " + ec.message());
  udp::endpoint uep(ep.address(), ep.port());
  m.datagrams.open(uep.protocol(), ec);
  if (!ec) close_on_exec(m.datagrams.native_handle());
  if (!ec) m.datagrams.bind(uep, ec);
  if (ec) return make_error(errc::io, "--listen " + m.opts.listen + " (udp): " + ec.message());
  cluster::link_options accepting;
  accepting.silence = m.opts.link_timeout;
  cluster::accept_links(m.acceptor, m.links, accepting,
                        [&m](auto l, std::string peer) { m.on_link(std::move(l), peer); });
  m.receive();
  m.watch_frames();

  std::random_device rd;
  cluster::member self{m.opts.name, (std::uint64_t{rd()} << 32) | rd(), m.opts.listen};
  cluster::transport t;
  t.send = [&m](const std::string& address, std::string packet) { m.send(address, std::move(packet)); };
  t.exchange = [&m](const std::string& address, std::string request,
                    std::function<void(result<std::string>)> reply) {
    cluster::link_options lo;
    lo.deadline = m.opts.link_timeout;  // the handshake, and each wait for the reply's next byte
    lo.silence = m.opts.link_timeout;   // a request the peer's kernel stops taking
    exchange::ask(m.io.get_executor(), address, m.links, lo, std::move(request), std::move(reply));
  };
  m.members = std::make_unique<cluster::membership>(
      m.clk, std::move(t), self, m.opts.timings,
      [&m](std::string_view ev, const cluster::member& x) { m.on_event(ev, x); },
      [](std::string_view line) { log_line("cluster: " + std::string(line)); });
  m.space.cfg().address = m.opts.listen;
  m.space.cfg().members = [this] { return members(); };
  m.members->join(m.opts.join, [](result<void> r) {
    if (!r) log_line("cluster: " + r.err().message);
  });
  return {};
}

std::string cluster_face::members() const {
  std::string t;
  if (!impl_->members) return t;
  for (auto& m : impl_->members->members()) {
    char id[17];
    snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(m.id));
    t += m.name + " " + id + " " + m.address + " " + cluster::state_name(m.st) + "\n";
  }
  return t;
}

void cluster_face::leave(std::function<void()> done) {
  if (!impl_->members) return done();
  log_line("cluster: leaving");
  impl_->members->leave(std::move(done));
}

void cluster_face::stop() {
  impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  m.space.cfg().members = nullptr;
  boost::system::error_code ignored;
  m.acceptor.close(ignored);
  m.datagrams.close(ignored);
  if (m.frame_watch) m.frame_watch->cancel();
  for (auto& [name, p] : m.peers) {
    if (p.dir) {
      p.dir->on_wanted(nullptr);  // the tree may outlive this face
      p.dir->set_down(true);      // what waits on a member ends now
    }
    if (p.client) p.client->close();
  }
  auto served = std::move(m.served);
  for (auto& [raw, s] : served) s.conn->close();
  m.members.reset();
}

}  // namespace circuit::fsd
