// Updates (alive, suspect, dead) merged into the table: the rules of
// incarnation numbers, the suspicion timers, and forgetting.
#include <cmath>

#include "state.hpp"

namespace circuit::cluster {

namespace {
bool live(state s) { return s == state::alive || s == state::suspect; }
}  // namespace

membership::impl::node* membership::impl::lookup(std::string_view name) const {
  auto it = table_.find(name);
  return it == table_.end() ? nullptr : it->second.get();
}

int membership::impl::retransmit_limit() const {
  return int(std::ceil(tm_.retransmit_mult * std::log10(double(live_) + 1)));
}

clock::duration membership::impl::min_suspicion() const {
  double scale = tm_.suspicion_mult * std::log10(double(std::max<std::size_t>(live_, 1)) + 1);
  return std::max(std::chrono::duration_cast<clock::duration>(tm_.probe_interval * scale),
                  tm_.suspicion_floor);
}

membership::impl::node* membership::impl::add(const member& m) {
  auto n = std::make_unique<node>();
  n->m = m;
  n->index = all_.size();
  node* p = n.get();
  all_.push_back(p);
  table_.emplace(std::string_view(p->m.name), std::move(n));
  if (live(m.st)) ++live_;
  // Probed this round still, at a random place among those not yet probed.
  if (!order_stale_) {
    probe_order_.push_back(p);
    std::uniform_int_distribution<std::size_t> at(probe_next_, probe_order_.size() - 1);
    std::swap(probe_order_.back(), probe_order_[at(rng_)]);
  }
  return p;
}

void membership::impl::set_state(node& n, state st) {
  live_ = live_ + live(st) - live(n.m.st);
  n.m.st = st;
  if (st != state::suspect) n.susp.reset();
  if (st == state::alive) n.relay_missed = {};  // it answered since, or refuted
  if (st != state::down && st != state::left) n.forget.reset();
}

// Down (or gone) long enough: "leave", then kept as a tombstone for
// another forget_after so stale gossip cannot bring it back, then erased.
void membership::impl::forget(node& n, bool emit_leave) {
  set_state(n, state::left);
  if (emit_leave) emit("leave", n);
  std::string name = n.m.name;
  n.forget = clk_.start_timer(tm_.forget_after, [this, name] {
    node* g = lookup(name);
    if (!g || g->m.st != state::left) return;
    node* last = all_.back();
    all_[g->index] = last;
    last->index = g->index;
    all_.pop_back();
    std::replace(probe_order_.begin(), probe_order_.end(), g, static_cast<node*>(nullptr));
    table_.erase(std::string_view(g->m.name));
  });
}

void membership::impl::broadcast(const std::string& about, const wire::message& m) {
  std::string bytes;
  wire::encode_to(bytes, m);
  // Suspicions from different members are independent confirmations:
  // each is carried on, none replaces another.
  auto* s = std::get_if<wire::suspect>(&m);
  queue_.add(about, std::move(bytes), s ? std::string_view(s->from) : std::string_view());
}

void membership::impl::refute(std::uint32_t heard) {
  // News of an older life of ours while our newer word is still being
  // gossiped: that word answers it. Refuting each copy would raise our
  // awareness once per copy, and stretch our timers for nothing.
  if (heard < self_->m.incarnation && queue_.holds(self_->m.name)) return;
  self_->m.incarnation = std::max(self_->m.incarnation, heard) + 1;
  add_awareness(1);  // Lifeguard: being suspected hints that we are the slow one
  auto& s = self_->m;
  broadcast(s.name, wire::alive{s.name, s.id, s.address, s.incarnation});
}

void membership::impl::on_alive(const wire::alive& a, bool takeover) {
  node* n = lookup(a.name);
  if (n == self_) {
    // Old news of ourselves with a higher number (we restarted under the
    // same id? never) or a claim by another daemon: ours must be newer.
    if (a.id == self_->m.id && a.incarnation > self_->m.incarnation && !leaving_) refute(a.incarnation);
    return;
  }
  member m{a.name, a.id, a.address, state::alive, a.incarnation};
  if (!n) {
    add(m);
    emit("join", *lookup(a.name));
    broadcast(a.name, a);
    return;
  }
  bool newer = a.incarnation > n->m.incarnation;
  bool other = a.id != n->m.id;  // a restart under the same name
  if (!takeover && !newer && !(other && !live(n->m.st))) return;
  const char* event = n->m.st == state::left ? "join"
                      : (other || n->m.st != state::alive) ? "alive"
                                                           : nullptr;
  set_state(*n, state::alive);
  n->m.id = a.id;
  n->m.address = a.address;
  n->m.incarnation = a.incarnation;
  if (event) emit(event, *n);
  broadcast(a.name, a);
}

void membership::impl::on_suspect(const wire::suspect& s, bool confirms) {
  node* n = lookup(s.name);
  // News that we are suspected is refuted even when it names an older
  // incarnation: our newer alive may never have reached its sender (it was
  // sent while we were cut off, and its retransmissions are spent).
  if (n == self_) {
    if (!leaving_) refute(s.incarnation);
    return;
  }
  if (!n || !live(n->m.st) || s.incarnation < n->m.incarnation) return;
  if (n->m.st == state::suspect && s.incarnation == n->m.incarnation) {
    if (confirms && n->susp && n->susp->confirm(s.from)) broadcast(s.name, s);
    return confirm_if_missed(*n);
  }
  n->m.incarnation = s.incarnation;
  set_state(*n, state::suspect);
  emit("suspect", *n);
  // Independent confirmations to expect: as many as members probe it
  // through us, fewer in a tiny cluster.
  int k = std::min<int>(tm_.indirect_checks, std::max<int>(int(live_) - 2, 0));
  // Scaled by our own awareness too (beyond the paper): a member whose
  // link is bad hears refutations late, so it waits longer before it
  // calls anyone down.
  auto min = scaled(min_suspicion());
  auto max = std::chrono::duration_cast<clock::duration>(min * tm_.suspicion_max_mult);
  std::string name = s.name;
  n->susp = std::make_unique<suspicion>(clk_, s.from, k, min, max, [this, name, k] {
    node* x = lookup(name);
    if (!x || x->m.st != state::suspect) return;
    // Nobody else confirmed it, and we look unhealthy ourselves: likely
    // our link, not the suspect. Wait on; a real crash is confirmed by
    // the healthy members, whose verdict reaches us.
    if (awareness_ > 0 && k > 0 && x->susp->confirmations() == 0) return x->susp->extend();
    on_dead(wire::dead{name, x->m.incarnation, self_->m.name});
  });
  broadcast(s.name, s);
  confirm_if_missed(*n);
}

// A ping we relayed to a member went unanswered lately: that is our own
// evidence, so we confirm a suspicion of it, once. Not while we look
// unhealthy ourselves (Lifeguard): then our missed pings say more about
// our link than about the suspect.
void membership::impl::confirm_if_missed(node& n) {
  if (n.relay_missed == clock::time_point{} || n.m.st != state::suspect || !n.susp) return;
  bool recent = clk_.now() - n.relay_missed <= 2 * scaled(tm_.probe_interval);
  n.relay_missed = {};
  if (!recent || awareness_ > 0) return;
  wire::suspect mine{n.m.name, n.m.incarnation, self_->m.name};
  if (n.susp->confirm(mine.from)) broadcast(mine.name, mine);
}

void membership::impl::on_dead(const wire::dead& d) {
  node* n = lookup(d.name);
  if (n == self_) {  // refuted whatever its incarnation, as in on_suspect
    if (!leaving_ && d.from != d.name) refute(d.incarnation);
    return;
  }
  if (!n || n->m.st == state::left || d.incarnation < n->m.incarnation) return;
  bool left = d.from == d.name;
  if (n->m.st == state::down && !left) return;
  n->m.incarnation = d.incarnation;
  broadcast(d.name, d);
  if (left) return forget(*n, true);  // a goodbye: gone at once
  set_state(*n, state::down);
  emit("down", *n);
  log_("cluster: " + n->m.name + " is down (by " + d.from + ")");
  std::string name = d.name;
  n->forget = clk_.start_timer(tm_.forget_after, [this, name] {
    if (node* x = lookup(name); x && x->m.st == state::down) forget(*x, true);
  });
}

}  // namespace circuit::cluster
