// cluster_face.hpp — circuitd as a member of a cluster (DESIGN.md §3,
// issue 8): the membership (cluster/membership.hpp) over sealed UDP
// datagrams, the peer links (cluster/link.hpp, TLS keyed from the cluster
// key) it accepts and dials on the same port, and every other member's
// directory at /NAME (cluster/member_remote.hpp), whose requests go over a
// link to that member as 9P (wire::mount, attached as each caller's uid).
//
// A link's first byte says what it carries: 'P', the dialing member's name
// then a 9P session (the accepting member serves its tree to it, as to a
// root client: the caller's uid comes in each attach, and the owner's
// rules judge it; the sessions of a member declared down are ended), or
// 'X', one membership exchange (a length-prefixed request, its reply).
//
// Which side connects: the member that shows another's directory dials it
// (as a Plan 9 mount dials its server), once per member, and again when
// the link fails while the member is alive.
//
// Thread safety: the loop thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "circuit/cluster/key.hpp"
#include "circuit/cluster/membership.hpp"
#include "circuit/core/clock.hpp"
#include "circuit/core/namespace.hpp"

namespace circuit::fsd {

struct cluster_options {
  std::string name;                  // this member (--name)
  std::string listen;                // host:port, TCP links and UDP gossip (--listen)
  std::vector<std::string> join;     // seeds (--join)
  cluster::cluster_key key;          // --key
  cluster::timings timings;          // --probe-interval ... --forget-after
  std::chrono::milliseconds link_timeout{3000};     // --link-timeout
  std::chrono::milliseconds remote_deadline{5000};  // --remote-deadline
};

class cluster_face {
 public:
  cluster_face(boost::asio::io_context& io, ns& space, clock& clk, cluster_options opts);
  ~cluster_face();

  // Binds the TCP and UDP sockets on --listen, then joins (in the
  // background: seeds that do not answer yet are tried again).
  result<void> start();
  // SIGTERM: tells the others it leaves, then calls `done`.
  void leave(std::function<void()> done);
  // Closes every link and socket.
  void stop();

  // The `members` file: "name id address state" lines.
  std::string members() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace circuit::fsd
