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
  if (p.dir->down()) p.failures = 0;  // a new run of failures once it is back
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
    if (!l) return dial_failed(name, l.err().message);
    auto link = *l;
    // 'P' and our name; one write at a time on a link: the client starts
    // once they are out.
    auto hello = std::make_shared<std::string>(exchange::session_byte + exchange::framed(opts.name));
    link->async_write(asio::buffer(*hello), [this, name, link, hello](boost::system::error_code ec, std::size_t) {
      if (ec) {
        link->close();
        return dial_failed(name, ec.message());
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
      if (it->second.failures > 0)
        log_line("cluster: link to " + name + ": works again, after " +
                 std::to_string(it->second.failures) + " failed tries");
      it->second.failures = 0;
      it->second.dir->set_link(m);
      member_event(space, name, "");  // entries reached over the old link go
    });
  }
}

// A dial to `name` failed: tried again in a second. While the member is
// alive for the others and only this link fails (a cut route), that goes
// on for as long as the cut: the log says so at the first failure, when
// the reason changes, and once a minute, not each second.
void cluster_face::impl::dial_failed(const std::string& name, const std::string& why) {
  auto it = peers.find(name);
  if (it == peers.end() || stopped) return;
  peer_state& p = it->second;
  ++p.failures;
  if (p.failures == 1 || why != p.failed_with)
    log_line("cluster: link to " + name + ": " + why + "; trying again every second");
  else if (p.failures % 60 == 0)
    log_line("cluster: link to " + name + ": " + why + " (" + std::to_string(p.failures) +
             " tries in a row); trying again every second");
  p.failed_with = why;
  redial_later(name);
}

void cluster_face::impl::redial_later(const std::string& name) {
  auto it = peers.find(name);
  if (it == peers.end() || stopped) return;
  it->second.retry = clk.start_timer(std::chrono::seconds(1), [this, name] { dial(name); });
}

}  // namespace circuit::fsd
