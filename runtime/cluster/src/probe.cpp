// The failure detector: one probe per (scaled) probe interval, indirect
// probes with nacks, gossip rounds, and the dispatch of datagrams.
#include <algorithm>

#include "state.hpp"

namespace circuit::cluster {

void membership::impl::start_timers() {
  // Each member starts at a random point of its intervals, so a cluster
  // started at once does not probe and gossip in lockstep.
  auto jitter = [&](clock::duration d) {
    return clock::duration(std::uniform_int_distribution<clock::duration::rep>(0, d.count())(rng_));
  };
  probe_timer_ = clk_.start_timer(jitter(tm_.probe_interval), [this] { tick_probe(); });
  gossip_timer_ = clk_.start_timer(jitter(tm_.gossip_interval), [this] { gossip(); });
  push_pull_timer_ = clk_.start_timer(jitter(tm_.push_pull_interval), [this] { push_pull(); });
}

// The probe in flight ends when the next one starts: the interval is the
// time an ack (direct or relayed) may take.
void membership::impl::tick_probe() {
  conclude_probe();
  probe_timer_ = clk_.start_timer(scaled(tm_.probe_interval), [this] { tick_probe(); });
  node* t = next_target();
  if (!t) return;
  probe_ = probe{};
  probe_.target = t->m.name;
  probe_.incarnation = t->m.incarnation;
  probe_.of_down = t->m.st == state::down;
  probe_.active = true;
  // conclude_probe() forgets the seq at the interval's end, before this
  // wait would expire.
  probe_.seq = expect([this] { probe_.acked = true; }, [this] { ++probe_.nacks; },
                      2 * scaled(tm_.probe_interval));
  wire::ping p{probe_.seq, t->m.name, self_->m.name, self_->m.address};
  // Buddy system: a suspect (or a member we hold down) hears it from us at
  // once, so it can refute.
  wire::message news;
  if (t->m.st == state::suspect)
    news = wire::suspect{t->m.name, t->m.incarnation, self_->m.name};
  else if (t->m.st == state::down)
    news = wire::dead{t->m.name, t->m.incarnation, self_->m.name};
  bool buddy = t->m.st != state::alive;
  send(t->m.address, p, buddy ? &news : nullptr);
  // A down member is probed only to let it learn that it must refute.
  if (!probe_.of_down)
    probe_.indirect = clk_.start_timer(scaled(tm_.probe_timeout), [this] { go_indirect(); });
}

void membership::impl::go_indirect() {
  if (!probe_.active || probe_.acked) return;
  node* t = lookup(probe_.target);
  if (!t) return;
  auto relays = random_nodes(tm_.indirect_checks, t->m.name);
  probe_.expected_nacks = int(relays.size());
  for (node* r : relays)
    send(r->m.address, wire::indirect_ping{probe_.seq, t->m.name, t->m.address, self_->m.name,
                                           self_->m.address});
}

void membership::impl::conclude_probe() {
  if (!probe_.active) return;
  probe_.active = false;
  acks_.erase(probe_.seq);
  if (probe_.acked) return add_awareness(-1);
  node* t = lookup(probe_.target);
  // A member held down when the probe began is not suspected for missing
  // it, even if it came back meanwhile.
  if (!t || probe_.of_down || (t->m.st != state::alive && t->m.st != state::suspect)) return;
  // Lifeguard: relays that did not even nack suggest our own link is bad.
  add_awareness(probe_.expected_nacks > 0 ? probe_.expected_nacks - probe_.nacks : 1);
  // Of the life we probed: a refutation meanwhile makes it old news.
  on_suspect(wire::suspect{t->m.name, probe_.incarnation, self_->m.name});
}

membership::impl::node* membership::impl::next_target() {
  for (std::size_t tries = 0; tries <= probe_order_.size() + 1; ++tries) {
    if (order_stale_ || probe_next_ >= probe_order_.size()) {
      probe_order_.clear();
      for (node* n : all_)
        if (n != self_ && n->m.st != state::left) probe_order_.push_back(n);
      std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
      probe_next_ = 0;
      order_stale_ = false;
      if (probe_order_.empty()) return nullptr;
    }
    node* n = probe_order_[probe_next_++];
    if (n && n->m.st != state::left) return n;
  }
  return nullptr;
}

void membership::impl::gossip() {
  gossip_timer_ = clk_.start_timer(tm_.gossip_interval, [this] { gossip(); });
  if (queue_.empty()) return;
  for (node* n : random_nodes(tm_.gossip_fanout, "")) {
    std::string out(1, char(wire::version));
    queue_.fill(out, max_packet, retransmit_limit());
    if (out.size() > 1) tr_.send(n->m.address, std::move(out));
  }
}

void membership::impl::send(const std::string& address, const wire::message& first,
                            const wire::message* second) {
  std::string out(1, char(wire::version));
  wire::encode_to(out, first);
  if (second) wire::encode_to(out, *second);
  queue_.fill(out, max_packet, retransmit_limit());
  tr_.send(address, std::move(out));
}

std::uint32_t membership::impl::expect(std::function<void()> on_ack, std::function<void()> on_nack,
                                       clock::duration within) {
  auto seq = ++next_seq_;
  auto& w = acks_[seq];
  w.on_ack = std::move(on_ack);
  w.on_nack = std::move(on_nack);
  w.expire = clk_.start_timer(within, [this, seq] {
    auto it = acks_.find(seq);
    if (it == acks_.end()) return;
    auto nack = std::move(it->second.on_nack);
    acks_.erase(it);
    if (nack) nack();
  });
  return seq;
}

// Up to k members that can answer (alive or suspect), not self nor
// `except`, at random.
std::vector<membership::impl::node*> membership::impl::random_nodes(std::size_t k,
                                                                    const std::string& except) {
  std::vector<node*> out;
  auto fits = [&](node* n) {
    return n != self_ && (n->m.st == state::alive || n->m.st == state::suspect) &&
           n->m.name != except && std::find(out.begin(), out.end(), n) == out.end();
  };
  if (all_.size() <= 64) {  // few: every candidate, shuffled
    for (node* n : all_)
      if (fits(n)) out.push_back(n);
    std::shuffle(out.begin(), out.end(), rng_);
    if (out.size() > k) out.resize(k);
    return out;
  }
  std::uniform_int_distribution<std::size_t> pick(0, all_.size() - 1);
  for (std::size_t tries = 0; out.size() < k && tries < 8 * k + 16; ++tries)
    if (node* n = all_[pick(rng_)]; fits(n)) out.push_back(n);
  return out;
}

void membership::impl::add_awareness(int delta) {
  awareness_ = std::clamp(awareness_ + delta, 0, std::max(tm_.awareness_max - 1, 0));
}

void membership::impl::on_message(const std::string& from, wire::message& m) {
  (void)from;
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, wire::ping>) on_ping(x);
        else if constexpr (std::is_same_v<T, wire::indirect_ping>) on_indirect(x);
        else if constexpr (std::is_same_v<T, wire::ack>) on_ack(x.seq, false);
        else if constexpr (std::is_same_v<T, wire::nack>) on_ack(x.seq, true);
        else if constexpr (std::is_same_v<T, wire::alive>) on_alive(x);
        else if constexpr (std::is_same_v<T, wire::suspect>) on_suspect(x);
        else on_dead(x);
      },
      m);
}

void membership::impl::on_ping(const wire::ping& p) {
  // A ping for a name we do not bear (another daemon had this address)
  // gets no ack: the prober must not think that member alive.
  if (p.target != self_->m.name) return;
  send(p.source_address, wire::ack{p.seq});
}

// A relayed ping waits the plain probe timeout, not one stretched by our
// awareness as our own probes' are: the prober's probe ends a probe
// interval after it began, and a nack later than that counts as missing,
// which would make a healthy prober look unhealthy because we do
// (memberlist waits the plain timeout too).
void membership::impl::on_indirect(const wire::indirect_ping& p) {
  auto seq = expect([this, p] { send(p.source_address, wire::ack{p.seq}); },
                    [this, p] {
                      send(p.source_address, wire::nack{p.seq});
                      if (node* t = lookup(p.target); t && t != self_) {
                        t->relay_missed = clk_.now();
                        confirm_if_missed(*t);  // if the suspicion came first
                      }
                    },
                    tm_.probe_timeout);
  send(p.target_address, wire::ping{seq, p.target, self_->m.name, self_->m.address});
}

void membership::impl::on_ack(std::uint32_t seq, bool nack) {
  auto it = acks_.find(seq);
  if (it == acks_.end()) return;
  if (nack) {
    if (it->second.on_nack && seq == probe_.seq) it->second.on_nack();
    return;  // our own probe still waits for an ack until its end
  }
  auto ack = std::move(it->second.on_ack);
  acks_.erase(it);
  if (ack) ack();
}

}  // namespace circuit::cluster
