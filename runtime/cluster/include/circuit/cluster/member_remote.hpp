// member_remote.hpp — another member's directory, /circuit/NAME, as the
// core sees it: a `remote` (circuit/core/remote.hpp) that hands every
// request to the 9P session on the current link to that member, and
// answers by itself when there is no member or no link to ask, so that no
// call ever waits for TCP to give up (issue 8, forwarding).
//
//   auto m = std::make_shared<member_remote>("h2", clock, 3s);
//   m->set_link(session_over_tls);   // requests go to h2
//   m->lost_link();                  // they wait for a new link, 3 s at most
//   m->set_down(true);               // they fail at once: host down: h2
//
// Its states, and what a request meets in each:
//  - up (a link): the request goes to the link's remote, as it is.
//  - no link (it failed; the member may be alive for the others): the
//    request waits for set_link() for at most `link_timeout`, then fails
//    with errc::host_unreachable, "host unreachable: NAME". Once one has
//    waited that long in vain, later requests fail so at once (and ask
//    for a link) until set_link(). Requests that were on the failed link
//    wait as long for the membership's verdict (a killed daemon's
//    connection ends before its members see it down): host down if it
//    comes, else host unreachable. Those on a link that went silent
//    (timed_out from the link: link.hpp, silence) have waited already:
//    host unreachable at once. While requests fail so at once, `error`
//    files are answered here, as when down, with that same line.
//  - down (the membership's verdict): every request fails at once with
//    errc::host_down, "host down: NAME", those in flight and those
//    waiting for a link included. Only `error` files still open and read,
//    here, and say that same line, so a shell that got EHOSTDOWN can
//    `cat error` as it always does.
// A fid belongs to the link it was made on. One that was opened dies with
// its link (what the open held there is gone): a request on it after
// set_link() fails with host_unreachable ("its link failed since this
// file was opened; open it again"). One only walked to (a directory a
// mount's kernel keeps, a shell's working directory) is walked to again
// from the top on the next link, as whoever walked there first, and the
// request goes on: a member back from down is used again through the
// names a mount already holds. Gone meanwhile, it fails with not_found.
//
// Thread safety: the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "circuit/core/clock.hpp"
#include "circuit/core/remote.hpp"

namespace circuit::cluster {

class member_remote final : public remote, public std::enable_shared_from_this<member_remote> {
 public:
  member_remote(std::string member, clock& clk, clock::duration link_timeout);
  ~member_remote() override;

  // A new link's 9P session to the member (its version negotiated).
  void set_link(std::shared_ptr<remote> link);
  // Called when a request finds no link and waits for one: links are made
  // when first needed, not at join, so a member that nobody here uses
  // costs no connection (a join of 100 members is not 9,900 handshakes).
  void on_wanted(std::function<void()> want) { wanted_ = std::move(want); }
  // The link failed.
  void lost_link();
  // The membership's verdict; false again when the member is back.
  void set_down(bool down);
  bool down() const { return down_; }
  bool linked() const { return link_ != nullptr; }
  const std::string& member() const { return member_; }

  std::string name() const override { return member_; }
  bool aborts_at_death() const override { return true; }
  void walk(const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
            walk_needs needs, op_ptr<remote_walk> done) override;
  void getattr(std::uint32_t fid, op_ptr<attr> done) override;
  void lopen(std::uint32_t fid, int flags, op_ptr<attr> done) override;
  void readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) override;
  void read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) override;
  void write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) override;
  void fsync(std::uint32_t fid, op_ptr<void> done) override;
  void clunk(std::uint32_t fid, op_ptr<void> done) override;
  void remove(std::uint32_t fid, op_ptr<void> done) override;
  void mkdir(const caller& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) override;
  void unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir, op_ptr<void> done) override;
  void lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
               op_ptr<attr> done) override;
  void refuse(const caller& who, std::uint32_t dfid, std::string name, std::string what,
              op_ptr<void> done) override;

 private:
  // One of our fids: the link's fid on link number `gen`, or an `error`
  // file answered here while the member is down.
  struct fid_ref {
    std::uint64_t gen = 0;
    std::uint32_t link_fid = 0;
    bool error_file = false;
    bool opened = false;  // an lopen or lcreate went out on it
    // Where it is from the member's top, and whose walk reached it: what
    // walks to it again on a new link.
    std::vector<std::string> path;
    std::shared_ptr<const caller> who;
  };
  struct waiter;  // a request waiting for a link
  struct held;    // a request whose link failed, waiting for the verdict

  error host_down() const;
  error unreachable(std::string_view why) const;
  // Runs `issue` on the link (now, or once one comes), or fails `done`.
  // `fid` is ours; `issue` gets the link's fid for it.
  template <class T, class Issue>
  void pass(const op_ptr<T>& done, std::optional<std::uint32_t> fid, Issue issue);
  template <class T, class Issue>
  void issue_now(const op_ptr<T>& done, std::optional<std::uint32_t> link_fid, Issue& issue);
  // A request that waits for a link: `run` when one comes.
  template <class T>
  void wait_for_link(const op_ptr<T>& done, std::function<void()> run);
  // Walks our `fid` again on the current link, then issues as pass() does.
  template <class T, class Issue>
  void rewalk(std::uint32_t fid, const op_ptr<T>& done, Issue issue);
  void drop_link_fid(std::uint32_t link_fid);
  std::uint32_t adopt(std::uint32_t link_fid, std::vector<std::string> path,
                      std::shared_ptr<const caller> who);
  void end_fid(std::uint32_t fid, op_ptr<void> done, void (remote::*call)(std::uint32_t, op_ptr<void>));
  void fail_in_flight(const error& e);
  bool error_walk(std::optional<std::uint32_t> from, const std::vector<std::string>& names,
                  op_ptr<remote_walk>& done);
  template <class T>
  void hold(const op_ptr<T>& outer, error e);

  std::string member_;
  clock& clk_;
  clock::duration link_timeout_;
  std::shared_ptr<remote> link_;
  std::function<void()> wanted_;
  std::uint64_t gen_ = 0;  // counts set_link()
  bool down_ = false;
  bool cut_ = false;  // no link came within the link timeout, or it went silent
  std::uint32_t next_fid_ = 1;
  std::unordered_map<std::uint32_t, fid_ref> fids_;
  std::list<std::weak_ptr<op_base>> in_flight_;  // on the link; ended ones until pruned
  std::size_t prune_at_ = 64;                    // in_flight_'s size that prunes it next
  std::list<std::shared_ptr<waiter>> waiting_;   // for a link
  std::list<std::shared_ptr<held>> held_;        // their link failed
};

}  // namespace circuit::cluster
