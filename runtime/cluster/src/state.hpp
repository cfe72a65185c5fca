// state.hpp — the inside of a membership: the member table, the probe in
// flight, the timers. Its functions live in probe.cpp (the failure
// detector), merge.cpp (updates and state changes) and exchange.cpp
// (join, push-pull, leave).
//
// Thread safety: the membership's loop thread.
#pragma once

#include <memory>
#include <random>
#include <string_view>
#include <unordered_map>

#include "broadcasts.hpp"
#include "circuit/cluster/membership.hpp"
#include "packet.hpp"
#include "suspicion.hpp"

namespace circuit::cluster {

// A datagram holds at most this many bytes (a UDP payload that is not
// fragmented on an ordinary link, with room for the daemon's seal).
inline constexpr std::size_t max_packet = 1400;

struct membership::impl {
  struct node {
    member m;
    std::unique_ptr<suspicion> susp;  // while suspect
    timer_ptr forget;                 // while down or left: then it goes
    std::size_t index = 0;            // in all_
    clock::time_point relay_missed{}; // when a ping we relayed to it went unanswered
  };
  // A reply we wait for, by sequence number: our probe's, or one we relay.
  struct ack_wait {
    std::function<void()> on_ack, on_nack;
    timer_ptr expire;
  };
  struct probe {
    std::uint32_t seq = 0;
    std::string target;
    std::uint32_t incarnation = 0;  // the target's when the probe began
    bool active = false, acked = false, of_down = false;
    int nacks = 0, expected_nacks = 0;
    timer_ptr indirect;
  };

  impl(clock& clk, transport t, member self, timings tm,
       std::function<void(std::string_view, const member&)> on_event,
       std::function<void(std::string_view)> log);

  // probe.cpp
  void start_timers();
  void tick_probe();
  void conclude_probe();
  void go_indirect();
  node* next_target();
  void gossip();
  void on_message(const std::string& from, wire::message& m);
  void on_ping(const wire::ping& p);
  void on_indirect(const wire::indirect_ping& p);
  void on_ack(std::uint32_t seq, bool nack);
  void send(const std::string& address, const wire::message& first, const wire::message* second = nullptr);
  std::uint32_t expect(std::function<void()> on_ack, std::function<void()> on_nack, clock::duration within);
  std::vector<node*> random_nodes(std::size_t k, const std::string& except);
  clock::duration scaled(clock::duration d) const { return d * (awareness_ + 1); }
  void add_awareness(int delta);

  // merge.cpp
  void on_alive(const wire::alive& a, bool from_exchange = false);
  void on_suspect(const wire::suspect& s, bool confirms = true);
  void confirm_if_missed(node& n);
  void on_dead(const wire::dead& d);
  void refute(std::uint32_t heard);
  void set_state(node& n, state st);
  node* add(const member& m);
  void forget(node& n, bool emit_leave);
  void broadcast(const std::string& about, const wire::message& m);
  void emit(std::string_view event, const node& n) { on_event_(event, n.m); }
  node* lookup(std::string_view name) const;
  int retransmit_limit() const;
  clock::duration min_suspicion() const;

  // exchange.cpp
  std::string state_request(wire::exchange_kind kind) const;
  void merge_state(const std::vector<member>& ms);
  void try_join();
  void push_pull();
  std::string serve(const std::string& from, std::string_view request);

  clock& clk_;
  transport tr_;
  timings tm_;
  std::function<void(std::string_view, const member&)> on_event_;
  std::function<void(std::string_view)> log_;

  std::unordered_map<std::string_view, std::unique_ptr<node>> table_;  // keyed by node's own name
  std::vector<node*> all_;  // the table in no order, for random picks
  node* self_ = nullptr;
  std::size_t live_ = 0;    // alive or suspect, self included: the N of the formulas
  std::mt19937_64 rng_;

  std::vector<node*> probe_order_;  // this round's targets, shuffled
  std::size_t probe_next_ = 0;
  bool order_stale_ = true;         // rebuild at the next round
  probe probe_;
  std::uint32_t next_seq_ = 0;
  std::unordered_map<std::uint32_t, ack_wait> acks_;
  broadcasts queue_;
  int awareness_ = 0;
  std::uint64_t malformed_ = 0;

  timer_ptr probe_timer_, gossip_timer_, push_pull_timer_, join_timer_, leave_timer_;
  std::vector<std::string> seeds_;
  std::size_t seed_next_ = 0;
  clock::duration join_backoff_ = 1s;
  std::function<void(result<void>)> join_done_;
  bool leaving_ = false, stopped_ = false;
  // Replies to exchanges may come after we are gone: they hold this weakly.
  std::shared_ptr<impl*> token_ = std::make_shared<impl*>(this);
};

}  // namespace circuit::cluster
