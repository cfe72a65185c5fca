#include "cluster_face.hpp"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <map>
#include <random>
#include <unordered_map>

#include "circuit/cluster/link.hpp"
#include "circuit/cluster/member_remote.hpp"
#include "circuit/cluster/seal.hpp"
#include "circuit/elements/tree.hpp"
#include "circuit/wire/connection.hpp"
#include "circuit/wire/mount.hpp"
#include "exchange.hpp"
#include "log.hpp"

namespace circuit::fsd {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

namespace {

// "10.0.0.1:7000", "[::1]:7000" -> host, port.
result<std::pair<std::string, std::string>> split_address(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size())
    return make_error(errc::invalid, "address " + a + ": give it as HOST:PORT");
  std::string host = a.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, a.substr(colon + 1));
}

void close_on_exec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

std::string seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", std::chrono::duration<double>(d).count());
  return buf;
}

// The longest member name a link may open with (names are short words).
constexpr std::size_t max_name = 64;

// Keys of peer sessions, apart from the mount's (Unix session ids) and the
// socket's (2^32 + n).
constexpr std::uint64_t peer_keys = std::uint64_t{3} << 32;

}  // namespace

// Another member, as this one knows it: its directory and the link to it.
struct peer_state {
  std::shared_ptr<cluster::member_remote> dir;
  std::string address;
  std::shared_ptr<wire::client> client;  // the 9P session on the link
  bool dialing = false;
  timer_ptr retry;
};

struct cluster_face::impl {
  impl(asio::io_context& io, ns& space, clock& clk, cluster_options o)
      : io(io), space(space), clk(clk), opts(std::move(o)), links(opts.key), acceptor(io), datagrams(io),
        gossip_key(cluster::derive(opts.key, cluster::gossip_label)) {}

  asio::io_context& io;
  ns& space;
  clock& clk;
  cluster_options opts;
  cluster::link_context links;
  tcp::acceptor acceptor;
  udp::socket datagrams;
  cluster::key32 gossip_key;
  std::unique_ptr<cluster::membership> members;
  std::map<std::string, peer_state, std::less<>> peers;
  struct served_link {
    std::shared_ptr<wire::connection> conn;
    std::string member;  // who dialed it
    std::string address;
    std::uint64_t stuck_at = no_frame;  // bytes read when the watchdog found it inside a frame
  };
  static constexpr std::uint64_t no_frame = ~std::uint64_t{0};
  timer_ptr frame_watch;
  std::unordered_map<wire::connection*, served_link> served;
  std::uint64_t served_count = 0;
  std::map<std::string, udp::endpoint> endpoints;
  udp::endpoint from;
  std::array<char, 65536> packet{};
  bool stopped = false;

  result<udp::endpoint> endpoint_of(const std::string& address) {
    if (auto it = endpoints.find(address); it != endpoints.end()) return it->second;
    auto hp = split_address(address);
    if (!hp) return hp.err();
    boost::system::error_code ec;
    udp::resolver r(io);
    auto found = r.resolve(hp->first, hp->second, ec);
    if (ec || found.empty()) return make_error(errc::host_unreachable, "address " + address + ": " + ec.message());
    return endpoints[address] = found.begin()->endpoint();
  }

  void send(const std::string& address, std::string bytes) {
    auto to = endpoint_of(address);
    if (!to) return;
    auto sealed = std::make_shared<std::string>(cluster::seal(gossip_key, bytes));
    datagrams.async_send_to(asio::buffer(*sealed), *to, [sealed](boost::system::error_code, std::size_t) {});
  }

  void receive() {
    datagrams.async_receive_from(asio::buffer(packet), from, [this](boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted || stopped) return;
      if (!ec) {
        auto plain = cluster::open(gossip_key, std::string_view(packet.data(), n));
        std::string who = from.address().to_string() + ":" + std::to_string(from.port());
        if (!plain) log_line("cluster: a datagram from " + who + " does not open with the cluster key; dropped");
        else if (members) members->receive(who, *plain);
      }
      receive();
    });
  }

  // A link someone dialed: its first byte says what it carries. What it
  // asks (the byte, and the member name or the exchange's request after
  // it) must come within the link timeout, or the link is dropped: a peer
  // that holds the key and then says nothing must not hold it for ever.
  void on_link(result<std::shared_ptr<cluster::peer_link>> l, const std::string& peer) {
    if (!l) return log_line("cluster: " + l.err().message);
    auto link = *l;
    auto asked = std::make_shared<asio::steady_timer>(io, opts.link_timeout);
    asked->async_wait([this, link, peer](boost::system::error_code ec) {
      if (ec || !link->is_open()) return;
      log_line("cluster: link " + peer + ": nothing asked within " + seconds(opts.link_timeout) + "; closed");
      link->close();
    });
    auto first = std::make_shared<char>();
    link->async_read_some(asio::buffer(first.get(), 1), [this, link, first, peer, asked](boost::system::error_code ec,
                                                                                           std::size_t n) {
      if (!link->is_open()) return;  // the timer closed it
      if (ec || n != 1) {
        log_line("cluster: link " + peer + ": ended before asking anything; closed");
        asked->cancel();
        return link->close();
      }
      if (*first == exchange::session_byte)
        return exchange::read_message(link, max_name, [this, link, peer, asked](result<std::string> name) {
          asked->cancel();
          if (!link->is_open()) return;
          if (!name || name->empty()) {
            log_line("cluster: link " + peer + ": no member name before its 9P session (" +
                     (name ? "an empty one" : name.err().message) + "); closed");
            return link->close();
          }
          serve(link, *name);
        });
      if (*first == exchange::exchange_byte)
        return exchange::serve(link, [this, peer, asked](std::string request) {
          asked->cancel();
          return members ? members->serve_exchange(peer, request) : std::string();
        });
      asked->cancel();
      log_line("cluster: link " + peer + ": it asks for nothing circuit serves; closed");
      link->close();
    });
  }

  // A 9P session for another member, served as to a root client: the
  // caller's uid comes in each attach, and this host's rules judge it.
  void serve(std::shared_ptr<cluster::peer_link> link, const std::string& member) {
    caller peer;
    peer.uid = 0;
    peer.gid = 0;
    peer.key = peer_keys + ++served_count;
    peer.remote = true;
    std::string who = link->peer();
    auto c = wire::connection::start(space, peer, cluster::link_transport(link),
                                     [this, who](wire::connection* c, std::optional<error> why) {
                                       if (why) log_line("cluster: link " + who + ": " + why->message + "; closed");
                                       served.erase(c);
                                     });
    c->name_for_log("cluster: link " + who + " (" + member + ")");
    if (!c->closed()) served.emplace(c.get(), served_link{c, member, who});
  }

  // The watchdog of the 9P sessions served: one that has been inside a
  // frame, with no byte more, since the last look (a link timeout ago) is
  // ended. A member's frames come whole within moments; a peer that stops
  // halfway would otherwise hold its session and buffers for ever.
  void watch_frames() {
    if (stopped) return;
    std::vector<std::shared_ptr<wire::connection>> stalled;
    for (auto& [raw, s] : served) {
      bool stuck = raw->inside_frame() && s.stuck_at == raw->bytes_read();
      s.stuck_at = raw->inside_frame() ? raw->bytes_read() : no_frame;
      if (stuck) stalled.push_back(s.conn);
    }
    for (auto& c : stalled) {
      auto it = served.find(c.get());
      if (it == served.end()) continue;
      log_line("cluster: link " + it->second.address + ": a frame begun is unfinished after " +
               seconds(opts.link_timeout) + "; closed");
      c->close();
    }
    frame_watch = clk.start_timer(opts.link_timeout, [this] { watch_frames(); });
  }

  // A member declared down or gone: the sessions it had here end, so what
  // they held goes back (a message taken, a place reserved) and what they
  // were sending is dropped, even while its connection stays open (a host
  // cut off without a reset).
  void end_sessions_of(const std::string& member) {
    std::vector<std::shared_ptr<wire::connection>> ending;
    for (auto& [raw, s] : served)
      if (s.member == member) ending.push_back(s.conn);
    if (!ending.empty())
      log_line("cluster: ending " + std::to_string(ending.size()) + " session(s) of " + member);
    for (auto& c : ending) c->close();
  }

  void on_event(std::string_view ev, const cluster::member& m) {
    log_line("cluster: " + m.name + " " + std::string(ev) + " (" + m.address + ")");
    if (ev == "join") {
      auto& p = peers[m.name];
      p.address = m.address;
      if (!p.dir) {
        p.dir = std::make_shared<cluster::member_remote>(m.name, clk, opts.link_timeout);
        if (auto ok = add_member(space, m.name, p.dir); !ok) log_line("cluster: " + ok.err().message);
      }
      p.dir->set_down(false);
      p.dir->on_wanted([this, name = m.name] { dial(name); });
      return;
    }
    auto it = peers.find(m.name);
    if (ev == "leave" || ev == "down") end_sessions_of(m.name);
    if (ev == "leave") {
      if (it != peers.end()) {
        if (it->second.client) it->second.client->close();
        peers.erase(it);
      }
      (void)remove_member(space, m.name);  // not there: it never got a directory
      return;
    }
    member_event(space, m.name, std::string(ev));
    if (it == peers.end()) return;
    peer_state& p = it->second;
    if (ev == "down") {
      p.dir->set_down(true);
      if (p.client) p.client->close();
      p.client.reset();
    } else if (ev == "alive") {
      p.dir->set_down(false);
      p.address = m.address;
    }
  }

  // The 9P link to member `name`, made when a request first needs it
  // (member_remote::on_wanted), and again when it fails while the member
  // is alive (every second at most).
  void dial(const std::string& name) {
    auto it = peers.find(name);
    if (it == peers.end() || stopped) return;
    peer_state& p = it->second;
    if (p.dialing || (p.client && p.client->connected()) || p.dir->down()) return;
    p.dialing = true;
    cluster::link_options lo;
    lo.deadline = opts.link_timeout;
    cluster::dial_link(io.get_executor(), p.address, links, lo, [this, name](result<std::shared_ptr<cluster::peer_link>> l) {
      auto it = peers.find(name);
      if (it == peers.end() || stopped) {
        if (l) (*l)->close();
        return;
      }
      peer_state& p = it->second;
      p.dialing = false;
      if (!l) {
        log_line("cluster: link to " + name + ": " + l.err().message + "; trying again");
        return redial_later(name);
      }
      auto link = *l;
      // 'P' and our name; one write at a time on a link: the client starts
      // once they are out.
      auto hello = std::make_shared<std::string>(exchange::session_byte + exchange::framed(opts.name));
      link->async_write(asio::buffer(*hello), [this, name, link, hello](boost::system::error_code ec, std::size_t) {
        if (ec) {
          link->close();
          auto it = peers.find(name);
          if (it != peers.end()) log_line("cluster: link to " + name + ": " + ec.message() + "; trying again");
          return redial_later(name);
        }
        speak_9p(name, link);
      });
    });
  }

  // The 9P session on a new link to member `name`.
  void speak_9p(const std::string& name, std::shared_ptr<cluster::peer_link> link) {
    auto it = peers.find(name);
    if (it == peers.end() || stopped) return link->close();
    peer_state& p = it->second;
    {
      wire::client::options co;
      co.on_drop = [this, name](const error& why) {
        auto it = peers.find(name);
        if (it == peers.end()) return;
        log_line("cluster: link to " + name + ": " + why.message);
        it->second.client.reset();
        it->second.dir->lost_link();
        redial_later(name);
      };
      auto cl = wire::client::make(io.get_executor(), cluster::link_transport(link), co);
      p.client = cl;
      cl->version([this, name, cl](result<std::uint32_t> v) {
        auto it = peers.find(name);
        if (it == peers.end() || it->second.client != cl) return;
        if (!v) return;  // on_drop follows
        auto m = std::make_shared<wire::mount>(cl, name + " at " + it->second.address, opts.remote_deadline,
                                               std::vector<std::string>{name});
        it->second.dir->set_link(m);
        member_event(space, name, "");  // entries reached over the old link go
      });
    }
  }

  void redial_later(const std::string& name) {
    auto it = peers.find(name);
    if (it == peers.end() || stopped) return;
    it->second.retry = clk.start_timer(std::chrono::seconds(1), [this, name] { dial(name); });
  }
};

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
  cluster::accept_links(m.acceptor, m.links, {}, [&m](auto l, std::string peer) { m.on_link(std::move(l), peer); });
  m.receive();
  m.watch_frames();

  std::random_device rd;
  cluster::member self{m.opts.name, (std::uint64_t{rd()} << 32) | rd(), m.opts.listen};
  cluster::transport t;
  t.send = [&m](const std::string& address, std::string packet) { m.send(address, std::move(packet)); };
  t.exchange = [&m](const std::string& address, std::string request,
                    std::function<void(result<std::string>)> reply) {
    cluster::link_options lo;
    lo.deadline = m.opts.link_timeout;
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
    if (p.dir) p.dir->on_wanted(nullptr);  // the tree may outlive this face
    if (p.client) p.client->close();
  }
  auto served = std::move(m.served);
  for (auto& [raw, s] : served) s.conn->close();
  m.members.reset();
}

}  // namespace circuit::fsd
