// broadcasts.hpp — the updates waiting to be gossiped, each sent a limited
// number of times (memberlist's TransmitLimitedQueue, in small).
//
// An update about a member replaces those queued about the same member
// (only the newest news about it matters), except that suspicions raised
// by different members (`from`) stand side by side: each confirms it. A packet takes the updates sent
// the fewest times first, newest first among equals, as many as fit.
//
// Thread safety: the membership's loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace circuit::cluster {

class broadcasts {
 public:
  // `bytes`: the update already encoded (wire::encode_to).
  // `from`: the member that raised a suspicion; empty for other news.
  void add(const std::string& about, std::string bytes, std::string_view from = {});
  // Appends to `out` the updates that fit while out.size() <= budget,
  // counting one send each, and drops those sent `limit` times.
  void fill(std::string& out, std::size_t budget, int limit);
  bool empty() const { return items_.empty(); }
  // Whether news about `about` is still waiting to be sent.
  bool holds(std::string_view about) const;
  std::size_t size() const { return items_.size(); }

  // A queue longer than this drops its most-sent updates: a storm of news
  // (thousands joining at once) is carried by push-pull instead.
  static constexpr std::size_t max_items = 4096;

 private:
  struct item {
    std::string about, bytes, from;
    int sent = 0;
    std::uint64_t order = 0;
  };
  std::vector<item> items_;
  std::uint64_t next_ = 0;
};

}  // namespace circuit::cluster
