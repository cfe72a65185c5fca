#include "circuit/cluster/membership.hpp"

#include <algorithm>

#include "state.hpp"

namespace circuit::cluster {

const char* state_name(state s) {
  static const char* const names[] = {"alive", "suspect", "down", "left"};
  return names[std::size_t(s)];
}

membership::impl::impl(clock& clk, transport t, member self, timings tm,
                       std::function<void(std::string_view, const member&)> on_event,
                       std::function<void(std::string_view)> log)
    : clk_(clk), tr_(std::move(t)), tm_(tm), on_event_(std::move(on_event)),
      log_(std::move(log)), rng_(self.id ^ 0x9e3779b97f4a7c15ull) {
  self.st = state::alive;
  self.incarnation = 0;
  self_ = add(self);
}

membership::membership(clock& clk, transport t, member self, timings tm,
                       std::function<void(std::string_view, const member&)> on_event,
                       std::function<void(std::string_view)> log)
    : impl_(std::make_unique<impl>(clk, std::move(t), std::move(self), tm, std::move(on_event),
                                   std::move(log))) {
  impl_->start_timers();
}

membership::~membership() = default;

void membership::join(std::vector<std::string> seeds, std::function<void(result<void>)> done) {
  auto& i = *impl_;
  i.seeds_ = std::move(seeds);
  i.seed_next_ = 0;
  i.join_done_ = std::move(done);
  // From the loop, never inside this call.
  i.join_timer_ = i.clk_.start_timer(clock::duration::zero(), [&i] { i.try_join(); });
}

void membership::leave(std::function<void()> done) {
  auto& i = *impl_;
  if (i.leaving_) return;
  i.leaving_ = true;
  i.join_done_ = nullptr;
  i.join_timer_.reset();
  auto& s = i.self_->m;
  i.broadcast(s.name, wire::dead{s.name, s.incarnation, s.name});
  // Say it now, then a few more gossip rounds so it reaches everyone.
  i.gossip();
  i.leave_timer_ = i.clk_.start_timer(3 * i.tm_.gossip_interval, [&i, done = std::move(done)] {
    i.stopped_ = true;
    i.probe_timer_.reset();
    i.gossip_timer_.reset();
    i.push_pull_timer_.reset();
    i.probe_.indirect.reset();
    i.acks_.clear();
    done();
  });
}

void membership::receive(const std::string& from, std::string_view packet) {
  auto& i = *impl_;
  if (i.stopped_) return;
  auto ms = wire::decode(packet);
  if (!ms) {
    ++i.malformed_;
    return;
  }
  for (auto& m : *ms) i.on_message(from, m);
}

std::string membership::serve_exchange(const std::string& from, std::string_view request) {
  return impl_->serve(from, request);
}

std::vector<member> membership::members() const {
  std::vector<member> out;
  for (auto* n : impl_->all_)
    if (n->m.st != state::left) out.push_back(n->m);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

const member* membership::find(std::string_view name) const {
  auto* n = impl_->lookup(name);
  return n && n->m.st != state::left ? &n->m : nullptr;
}

const member& membership::self() const { return impl_->self_->m; }
int membership::awareness() const { return impl_->awareness_; }
std::uint64_t membership::malformed() const { return impl_->malformed_; }

void membership::learn(const member& m) {
  auto& i = *impl_;
  if (i.lookup(m.name)) return;
  i.add(m);
  i.order_stale_ = true;
}

}  // namespace circuit::cluster
