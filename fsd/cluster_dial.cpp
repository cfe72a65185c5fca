// cluster_dial.cpp — the links this member dials to the others, for the
// 9P sessions that carry calls under their directories (cluster_face_impl.hpp).
#include "cluster_face_impl.hpp"

namespace circuit::fsd {

// The 9P link to member `name`, made when a request first needs it
// (member_remote::on_wanted), and again when it fails while the member
// is alive (every second at most).
void cluster_face::impl::dial(const std::string& name) {
  auto it = peers.find(name);
  if (it == peers.end() || stopped) return;
  peer_state& p = it->second;
  if (p.dialing || (p.client && p.client->connected()) || p.dir->down()) return;
  p.dialing = true;
  cluster::link_options lo;
  lo.deadline = opts.link_timeout;
  lo.silence = opts.link_timeout;
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
void cluster_face::impl::speak_9p(const std::string& name, std::shared_ptr<cluster::peer_link> link) {
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
      auto m = std::make_shared<wire::mount>(cl, name + " at " + it->second.address,
                                             opts.remote_deadline, std::vector<std::string>{name},
                                             &space.memory());
      it->second.dir->set_link(m);
      member_event(space, name, "");  // entries reached over the old link go
    });
  }
}

void cluster_face::impl::redial_later(const std::string& name) {
  auto it = peers.find(name);
  if (it == peers.end() || stopped) return;
  it->second.retry = clk.start_timer(std::chrono::seconds(1), [this, name] { dial(name); });
}

}  // namespace circuit::fsd
