// member_remote.cpp — a member_remote's link and membership state: a new
// link runs the requests that waited for one, a lost one fails those in
// flight, a down verdict fails everything at once (member_remote.hpp).
#include "circuit/cluster/member_remote.hpp"

#include "member_remote_carry.hpp"

namespace circuit::cluster {

member_remote::member_remote(std::string member, clock& clk, clock::duration link_timeout)
    : member_(std::move(member)), clk_(clk), link_timeout_(link_timeout) {}

member_remote::~member_remote() {
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->fail(unreachable("the link was closed"));
  auto held = std::move(held_);
  for (auto& h : held) h->fail(unreachable("the link was closed"));
}

error member_remote::host_down() const { return make_error(errc::host_down, "host down: " + member_); }

error member_remote::unreachable(std::string_view why) const {
  return make_error(errc::host_unreachable, "host unreachable: " + member_ + " (" + std::string(why) + ")");
}

void member_remote::set_link(std::shared_ptr<remote> link) {
  link_ = std::move(link);
  cut_ = false;
  ++gen_;
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) {
    w->expiry.reset();
    w->run();
  }
}

void member_remote::lost_link() {
  link_.reset();
  fail_in_flight(unreachable("the link failed"));
}

void member_remote::set_down(bool down) {
  down_ = down;
  if (!down) return;
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->fail(host_down());
  fail_in_flight(host_down());
  auto held = std::move(held_);
  for (auto& h : held) h->fail(host_down());
}

// A cancel reaches the link's request (a flush there) and completes the
// op with `e` now; a reply that wins the race is reported instead.
void member_remote::fail_in_flight(const error& e) {
  auto ops = std::move(in_flight_);
  for (auto& w : ops)
    if (auto o = w.lock()) o->cancel(e);
}

std::uint32_t member_remote::adopt(std::uint32_t link_fid, std::vector<std::string> path,
                                   std::shared_ptr<const caller> who) {
  std::uint32_t f = next_fid_++;
  fids_[f] = fid_ref{gen_, link_fid, false, false, std::move(path), std::move(who)};
  return f;
}

void member_remote::drop_link_fid(std::uint32_t link_fid) {
  if (link_) link_->clunk(link_fid, make_op<void>([](result<void>) {}));
}

}  // namespace circuit::cluster
