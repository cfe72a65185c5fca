// membership.hpp — who is in the cluster, and who is alive: SWIM with
// Lifeguard's refinements, as a state machine on one loop thread.
//
// Every member probes one other member per probe interval (round robin
// over a shuffled list): a ping, and when no ack comes within the probe
// timeout, indirect pings through `indirect_checks` other members, which
// answer with an ack or, when the target does not answer them either, a
// nack. A member that does not answer by the end of the interval is
// suspected; the suspicion spreads by gossip, and every member that hears
// it starts a timer that shrinks as independent members confirm it. A
// member confirms a suspicion when it probed the suspect itself and got
// no ack, or (beyond the paper) when its own relayed ping to the suspect
// went unanswered within the last two probe intervals: the relays of the
// probe that raised it confirm it at once. When a timer runs out the
// member is declared down. A suspected member that
// hears of it (gossip, or the suspicion carried on the pings it gets:
// the "buddy system") refutes it with a higher incarnation number.
//
// Lifeguard: a member that misses nacks, or must refute suspicions of
// itself, is probably the slow one; its awareness score grows, which
// stretches its own probe interval and timeout, so a member with a bad
// link suspects others less. Updates (alive, suspect, down) ride on the
// probe packets and on gossip packets to `gossip_fanout` random members,
// each sent about retransmit_mult * log10(N+1) times (10: 21 at N = 100). A full state
// exchange (reliable, over `transport::exchange`) is made at join and
// every push_pull_interval with one random member, which heals
// partitions and gossip that got lost.
//
// Use (the daemon seals packets and carries them by UDP; exchanges over
// its TLS links; tests and the simulator wire members to a fake network):
//
//   membership m(clk, {send, exchange}, {"h2", id, "10.0.0.2:7000"}, timings{},
//                [](std::string_view ev, const member& x) { ... },   // "join", ...
//                [](std::string_view line) { log(line); });
//   m.join({"10.0.0.1:7000"}, [](result<void> r) { ... });
//   ... on a datagram: m.receive(from, bytes);
//   ... on an exchange request: reply(m.serve_exchange(from, bytes));
//   m.leave([] { ... });   // then destroy it
//
// Names are unique: a join whose name a live member holds under another
// id is refused, unless it comes from that member's own address (the same
// host restarted: it takes the name over with a higher incarnation).
//
// Thread safety: a membership, its clock and its transport belong to one
// loop thread. Callbacks (events, log, transport, done) run on it, never
// inside the call that caused them, except on_event/log, which may run
// inside receive(), serve_exchange() and timers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "circuit/core/clock.hpp"
#include "circuit/core/error.hpp"

namespace circuit::cluster {

using namespace std::chrono_literals;

// alive: answers probes. suspect: missed a probe, may still refute.
// down: declared dead; kept forget_after, then it leaves. left: gone
// (said goodbye, or forgotten); members() no longer lists it.
enum class state : std::uint8_t { alive = 0, suspect = 1, down = 2, left = 3 };
const char* state_name(state s);  // "alive", "suspect", "down", "left"

struct member {
  std::string name;          // unique in the cluster: the host's directory
  std::uint64_t id = 0;      // random per daemon start: a restart has a new one
  std::string address;       // where its datagrams and exchanges go
  state st = state::alive;
  std::uint32_t incarnation = 0;  // only the member itself raises it (refutation)
};

// Every timing is a circuitd flag. The defaults meet the cluster's goal
// (crash seen down everywhere within 5 s at 1,000 members with 1% loss,
// no false verdict; see circuit-cluster(7) for the measurements).
struct timings {
  clock::duration probe_interval = 500ms;  // one probe per member per interval
  clock::duration probe_timeout = 200ms;   // direct ack wait before indirect probes (> a round trip)
  clock::duration gossip_interval = 100ms; // updates to gossip_fanout random members
  clock::duration push_pull_interval = 30s;  // full exchange with one member; scaled up past 32 members
  clock::duration forget_after = 60s;      // a down member is listed this long, then leaves
  int indirect_checks = 3;     // members asked to probe for us when the direct ping fails
  int retransmit_mult = 10;    // each update is sent ceil(retransmit_mult * log10(N+1)) times
  int gossip_fanout = 4;       // members per gossip round
  int awareness_max = 8;       // our probe interval and timeout stretch up to this factor
  double suspicion_mult = 2;   // min suspicion = mult * log10(max(N,1)+1) * probe_interval
  // ... but never under this: a member stopped for a second (SIGSTOP, a
  // long GC-like stall) must have time to hear of it and refute.
  clock::duration suspicion_floor = 1s;
  double suspicion_max_mult = 6;  // it starts at max_mult * min, shrinks with confirmations
};

struct transport {
  // An unreliable datagram to a member's address (the daemon seals it and
  // sends it by UDP). It may be lost, late or duplicated.
  std::function<void(const std::string& address, std::string packet)> send;
  // A reliable request and its one reply (the daemon carries it on a TLS
  // link): the full state exchange at join and the periodic push-pull.
  // `reply` is called exactly once, later, with the answer or an error.
  std::function<void(const std::string& address, std::string request,
                     std::function<void(result<std::string>)> reply)>
      exchange;
};

class membership {
 public:
  // `self` is this member (its state and incarnation are ignored).
  // on_event gets "join", "suspect", "alive", "down" or "leave" and the
  // member it is about (never self); log gets a line for people.
  membership(clock& clk, transport t, member self, timings tm,
             std::function<void(std::string_view event, const member& m)> on_event,
             std::function<void(std::string_view line)> log);
  ~membership();  // stops; replies still in flight are ignored
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  // Full state exchange with the first seed that answers, trying them in
  // turn; while none answers, tries again (1 s, then doubling up to 30 s),
  // logging each miss: hosts start in any order. `done` once: ok at the
  // first exchange, or an error (errc::exists, "cluster: name NAME is in
  // use by ...") when a seed refuses our name. No seeds: ok at once (the
  // first member). Probing starts at construction either way.
  void join(std::vector<std::string> seeds, std::function<void(result<void>)> done);
  // Graceful: tells the others (they see "leave" at once), gossips it a
  // few rounds, then stops and calls `done`. Nothing happens after it.
  void leave(std::function<void()> done);

  // A datagram from `from`. Malformed ones are dropped (and counted).
  void receive(const std::string& from, std::string_view packet);
  // The answer to an exchange request (a join or a push-pull); empty
  // while we leave (the asker takes it as no answer).
  std::string serve_exchange(const std::string& from, std::string_view request);

  std::vector<member> members() const;  // every member incl. self, not left, by name
  const member* find(std::string_view name) const;  // nullptr if unknown or left
  const member& self() const;
  int awareness() const;                 // Lifeguard's local health score, 0 = healthy
  std::uint64_t malformed() const;       // packets and requests dropped as malformed

  // Takes `m` as known without gossip (the simulator starts a converged
  // cluster this way, instead of N joins).
  void learn(const member& m);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace circuit::cluster
