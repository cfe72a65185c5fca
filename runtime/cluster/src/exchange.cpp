// Full state exchanges: join (with the name check), push-pull, and the
// graceful leave.
#include <cmath>

#include "state.hpp"

namespace circuit::cluster {

namespace {
bool live(state s) { return s == state::alive || s == state::suspect; }
}  // namespace

std::string membership::impl::state_request(wire::exchange_kind kind) const {
  wire::exchange e{kind, {self_->m}, {}};
  e.members.reserve(all_.size());
  for (node* n : all_)
    if (n != self_ && n->m.st != state::left) e.members.push_back(n->m);
  return wire::encode_exchange(e);
}

// Another member's view. A member it holds down is only suspected here:
// we may still reach it, and the suspicion lets it refute.
void membership::impl::merge_state(const std::vector<member>& ms) {
  if (ms.empty()) return;
  const std::string& from = ms.front().name;
  for (auto& m : ms) {
    if (m.st == state::left) continue;
    node* n = lookup(m.name);
    if (!n && m.st == state::down) continue;  // never knew it alive: nothing to tell
    if (m.st == state::alive || !n) on_alive(wire::alive{m.name, m.id, m.address, m.incarnation});
    // Not a confirmation: the sender may only echo our own suspicion.
    if (m.st != state::alive) on_suspect(wire::suspect{m.name, m.incarnation, from}, false);
  }
}

std::string membership::impl::serve(const std::string& from, std::string_view request) {
  auto refuse = [](std::string why) {
    return wire::encode_exchange({wire::exchange_kind::refused, {}, std::move(why)});
  };
  auto e = wire::decode_exchange(request);
  if (!e || e->members.empty() || e->kind == wire::exchange_kind::state ||
      e->kind == wire::exchange_kind::refused) {
    ++malformed_;
    return refuse("cluster: malformed exchange from " + from);
  }
  // Not a refusal of the joiner: an empty reply reads as no answer, and
  // the joiner tries its next seed.
  if (stopped_ || leaving_) return {};
  const member& j = e->members.front();
  if (e->kind == wire::exchange_kind::join) {
    node* n = lookup(j.name);
    // A live member under another id holds the name, unless the joiner
    // comes from its address: that host restarted and takes it over.
    if (n && n->m.id != j.id && (n == self_ || (live(n->m.st) && n->m.address != j.address)))
      return refuse("cluster: name " + j.name + " is in use by " + std::to_string(n->m.id) +
                    " at " + n->m.address);
    // A takeover: the new life must outnumber the old one everywhere, so
    // it starts one past it (the joiner adopts that number from our reply).
    if (n && n != self_ && n->m.id != j.id)
      on_alive(wire::alive{j.name, j.id, j.address, std::max(j.incarnation, n->m.incarnation + 1)},
               true);
    log_("cluster: " + j.name + " joins from " + j.address);
  }
  merge_state(e->members);
  return state_request(wire::exchange_kind::state);
}

void membership::impl::try_join() {
  if (stopped_ || !join_done_) return;
  if (seeds_.empty()) {
    auto done = std::move(join_done_);
    return done(result<void>());
  }
  const std::string seed = seeds_[seed_next_ % seeds_.size()];
  std::weak_ptr<impl*> token = token_;
  auto missed = [this, seed](const std::string& why) {
    ++seed_next_;
    auto wait = clock::duration::zero();
    if (seed_next_ % seeds_.size() == 0) {  // every seed tried: back off
      wait = join_backoff_;
      join_backoff_ = std::min<clock::duration>(join_backoff_ * 2, 30s);
    }
    log_("cluster: join: " + seed + " does not answer (" + why + "); trying again in " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) +
         " ms");
    join_timer_ = clk_.start_timer(wait, [this] { try_join(); });
  };
  tr_.exchange(seed, state_request(wire::exchange_kind::join),
               [this, token, missed](result<std::string> r) {
                 if (token.expired() || stopped_ || !join_done_) return;
                 if (!r) return missed(r.err().message);
                 auto e = wire::decode_exchange(*r);
                 if (!e || e->kind == wire::exchange_kind::join ||
                     e->kind == wire::exchange_kind::push_pull)
                   return missed("a malformed reply");
                 auto done = std::move(join_done_);
                 if (e->kind == wire::exchange_kind::refused)
                   return done(make_error(errc::exists, e->reason));
                 // Our name under an older life: our word must be newer
                 // (the seed already counts us one past it).
                 for (auto& m : e->members)
                   if (m.name == self_->m.name)
                     self_->m.incarnation = std::max(
                         self_->m.incarnation, m.incarnation + (m.id != self_->m.id));
                 merge_state(e->members);
                 auto& s = self_->m;
                 broadcast(s.name, wire::alive{s.name, s.id, s.address, s.incarnation});
                 done(result<void>());
               });
}

// Scaled like memberlist's: past 32 members, one step of the interval per
// doubling, so the bytes a cluster exchanges grow gently with N.
void membership::impl::push_pull() {
  double n = double(live_);
  double mult = n <= 32 ? 1 : std::ceil(std::log2(n) - std::log2(32.0)) + 1;
  push_pull_timer_ = clk_.start_timer(
      std::chrono::duration_cast<clock::duration>(tm_.push_pull_interval * mult),
      [this] { push_pull(); });
  auto peers = random_nodes(1, "");
  if (peers.empty()) return;
  std::weak_ptr<impl*> token = token_;
  tr_.exchange(peers.front()->m.address, state_request(wire::exchange_kind::push_pull),
               [this, token](result<std::string> r) {
                 if (token.expired() || stopped_ || !r) return;
                 auto e = wire::decode_exchange(*r);
                 if (!e || e->kind != wire::exchange_kind::state) return;
                 merge_state(e->members);
               });
}

}  // namespace circuit::cluster
