// suspicion.hpp — Lifeguard's dynamic suspicion timeout for one suspect.
//
// The timer starts at `max` and shrinks toward `min` as independent
// members confirm the suspicion, on a log scale: after n of the k
// confirmations expected it is max - (max - min) * log(n+1) / log(k+1),
// never under min. A suspicion many members share is acted on soon; one
// only a member with a bad link holds waits long enough to be refuted.
//
// Thread safety: the membership's loop thread.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "circuit/core/clock.hpp"

namespace circuit::cluster {

class suspicion {
 public:
  // `from` raised it (it does not count as a confirmation); `expire` runs
  // once when the timer runs out, unless the suspicion is destroyed first.
  suspicion(clock& clk, const std::string& from, int k, clock::duration min,
            clock::duration max, std::function<void()> expire);
  // True if `from` is a new, independent confirmation (worth gossiping on).
  bool confirm(const std::string& from);
  clock::duration timeout() const;  // for the present count of confirmations
  int confirmations() const { return n_; }
  // Starts the timer again from now, at the present timeout.
  void extend();

 private:
  void arm();

  clock& clk_;
  int k_, n_ = 0;
  clock::duration min_, max_;
  clock::time_point start_;
  std::set<std::string> confirmers_;
  std::function<void()> expire_;
  timer_ptr timer_;
};

}  // namespace circuit::cluster
