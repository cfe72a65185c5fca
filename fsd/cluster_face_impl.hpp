// cluster_face_impl.hpp — the cluster face's state and how it serves:
// gossip datagrams, links others dial (a 9P session or a membership
// exchange), and the membership's events. The links this member dials are
// in cluster_dial.cpp; start, leave and stop in cluster_face.cpp. Private
// to fsd.
#pragma once

#include "cluster_face.hpp"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <map>
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
inline result<std::pair<std::string, std::string>> split_address(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size())
    return make_error(errc::invalid, "address " + a + ": give it as HOST:PORT");
  std::string host = a.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, a.substr(colon + 1));
}

inline void close_on_exec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }

inline std::string seconds(std::chrono::milliseconds d) {
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
  unsigned failures = 0;    // dials failed in a row since the link last worked
  std::string failed_with;  // the last one's words
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
    c->carries_many_callers();  // its callers' parked reads must not hold the others'
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
        // It is gone: what waits on it ends now, not after the link timeout.
        if (it->second.dir) it->second.dir->set_down(true);
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

  // Links this member dials (cluster_dial.cpp).
  void dial(const std::string& name);
  void speak_9p(const std::string& name, std::shared_ptr<cluster::peer_link> link);
  void redial_later(const std::string& name);
  void dial_failed(const std::string& name, const std::string& why);
};

}  // namespace circuit::fsd
