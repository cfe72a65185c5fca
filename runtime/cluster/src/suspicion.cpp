#include "suspicion.hpp"

#include <algorithm>
#include <cmath>

namespace circuit::cluster {

suspicion::suspicion(clock& clk, const std::string& from, int k, clock::duration min,
                     clock::duration max, std::function<void()> expire)
    : clk_(clk), k_(std::max(k, 0)), min_(min), max_(std::max(min, max)), start_(clk.now()),
      confirmers_{from}, expire_(std::move(expire)) {
  arm();
}

bool suspicion::confirm(const std::string& from) {
  if (n_ >= k_ || !confirmers_.insert(from).second) return false;
  ++n_;
  arm();
  return true;
}

clock::duration suspicion::timeout() const {
  if (k_ == 0) return min_;
  double frac = std::log(n_ + 1.0) / std::log(k_ + 1.0);
  auto t = max_ - std::chrono::duration_cast<clock::duration>((max_ - min_) * frac);
  return std::max(t, min_);
}

void suspicion::extend() {
  start_ = clk_.now();
  arm();
}

void suspicion::arm() {
  auto left = std::max(timeout() - (clk_.now() - start_), clock::duration::zero());
  // expire_ may destroy this suspicion: run it from a copy.
  timer_ = clk_.start_timer(left, [this] {
    auto expire = expire_;
    expire();
  });
}

}  // namespace circuit::cluster
