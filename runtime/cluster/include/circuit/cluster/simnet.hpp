// simnet.hpp — many memberships in one process, on one manual clock, over
// a network model: the unit tests and the simulator (bench/cluster_sim)
// run the real membership code on it. The daemon does not use it.
//
// Each packet takes a random delay in [min_delay, max_delay] (plus the
// extra delay of a slow host) and is lost with probability `loss`, or the
// loss of either end's own link, or always across a cut. An exchange is
// reliable (TCP) but fails after exchange_timeout when its target is
// crashed or cut off. A stopped host (SIGSTOP) runs no timer and reads no
// packet until it resumes; then it runs what fell due and reads what
// came, as a stopped process does.
//
//   manual_clock clk;
//   simnet net(clk, {});
//   net.spawn("h1");  net.spawn("h2", {"h1"});   // h2 joins through h1
//   clk.advance(5s);
//   net.crash("h1");  clk.advance(10s);  ... net.at("h2").find("h1")->st
//
// Thread safety: one thread, the clock's.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "circuit/cluster/membership.hpp"

namespace circuit::cluster {

class simnet {
 public:
  struct options {
    clock::duration min_delay = 200us, max_delay = 2ms;
    double loss = 0;
    clock::duration exchange_timeout = 1s;
    timings tm{};
    std::uint64_t seed = 1;
    // Every event of every host: observer, event, member.
    std::function<void(const std::string&, std::string_view, const member&)> on_event;
    std::function<void(const std::string&, std::string_view)> on_log;
  };
  simnet(manual_clock& clk, options o);
  ~simnet();

  // A new member joining through `seeds` (addresses; none: the first).
  // Hosts are known by address, which is the name unless given. An
  // address whose member crashed restarts, with a new id.
  membership& spawn(const std::string& name, std::vector<std::string> seeds = {},
                    std::string address = {});
  // The join's outcome, once it came (else nullptr).
  const result<void>* joined(const std::string& address) const;
  membership& at(const std::string& address);
  bool has(const std::string& address) const;  // spawned and not crashed

  void crash(const std::string& address);            // gone, without a word
  void stop(const std::string& address, clock::duration d);  // SIGSTOP for d
  void link_loss(const std::string& address, double p);      // its own link
  void slow(const std::string& address, clock::duration extra);  // each of its packets
  // Packets between a host in `a` and one in `b` (addresses) are lost.
  void cut(std::set<std::string> a, std::set<std::string> b);
  void heal();
  // Sends raw bytes to a host, as from `from` (for malformed packets).
  void inject(const std::string& from, const std::string& to, std::string bytes);

  std::uint64_t packets() const { return packets_; }
  std::uint64_t lost() const { return lost_; }

  struct host;

 private:
  void deliver_later(clock::duration d, std::function<void()> fn);
  void send(host& from, const std::string& to, std::string packet);
  bool reachable(const host& from, const host& to) const;
  clock::duration delay(const host& a, const host& b);

  manual_clock& clk_;
  options o_;
  std::mt19937_64 rng_;
  std::map<std::string, std::unique_ptr<host>> hosts_;
  std::unordered_map<std::uint64_t, timer_ptr> inflight_;
  std::uint64_t next_ = 0, next_id_ = 1, packets_ = 0, lost_ = 0;
  std::vector<std::pair<std::set<std::string>, std::set<std::string>>> cuts_;
};

}  // namespace circuit::cluster
