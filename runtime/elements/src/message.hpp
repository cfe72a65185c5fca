// message.hpp — one channel message: its bytes, its place in the order,
// and the share of the daemon's memory budget (budget.hpp) its bytes hold.
//
// The share is the memory the bytes take (their capacity, not only their
// length), taken as the sender writes and given back when the message goes:
// consumed, dropped, aborted, or removed with its channel. A message that
// cannot grow within the budget refuses the append and keeps what it had.
//
// Thread safety: belongs to the loop thread, like the budget.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "circuit/core/budget.hpp"

namespace circuit {

class message {
 public:
  explicit message(budget& b) : budget_(&b) {}
  message(message&& o) noexcept
      : seq(o.seq), budget_(o.budget_), bytes_(std::move(o.bytes_)), share_(std::exchange(o.share_, 0)) {
    o.bytes_.clear();
  }
  message& operator=(message&& o) noexcept {
    if (this != &o) {
      drop();
      seq = o.seq;
      budget_ = o.budget_;
      bytes_ = std::move(o.bytes_);
      o.bytes_.clear();
      share_ = std::exchange(o.share_, 0);
    }
    return *this;
  }
  message(const message&) = delete;
  message& operator=(const message&) = delete;
  ~message() { drop(); }

  // Appends `data`; false, appending nothing, when the budget cannot hold
  // the grown message. Grows by doubling (up to `max`, the largest
  // message), so a long message costs few copies; each growth is a fresh
  // string reserved exactly, since std::string::reserve may round up.
  bool append(std::string_view data, std::size_t max) {
    std::size_t need = bytes_.size() + data.size();
    if (need > share_) {
      std::size_t want = std::max(need, std::min(2 * share_, max));
      if (!charge(want) && !charge(need)) return false;
    }
    if (need > bytes_.capacity()) {
      std::string grown;
      grown.reserve(share_);
      grown.append(bytes_);
      bytes_.swap(grown);
    }
    bytes_.append(data);
    return true;
  }

  // Takes `data` whole as the bytes of an empty message, without a copy;
  // false, taking nothing, when the message is not empty or the budget
  // cannot hold it (append then decides).
  bool adopt(std::string& data) {
    if (!bytes_.empty() || !charge(data.capacity())) return false;
    bytes_ = std::move(data);
    return true;
  }

  // The message is complete: memory left over by doubling is given back
  // when it is worth a copy (a quarter of the length or more).
  void seal() {
    if (bytes_.capacity() - bytes_.size() < bytes_.size() / 4 + 64) return;
    std::string exact;
    exact.reserve(bytes_.size());
    exact.append(bytes_);
    bytes_.swap(exact);
    std::string().swap(exact);
    settle(bytes_.size());
  }

  // Frees the bytes and gives their share back.
  void drop() {
    std::string().swap(bytes_);
    settle(0);
  }

  const std::string& bytes() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  std::uint64_t seq = 0;  // place in the channel's order, from 1; 0 until delivered

 private:
  // Holds exactly n bytes of the budget, or nothing changes and false.
  bool charge(std::size_t n) {
    if (n > share_ && !budget_->take(n - share_)) return false;
    settle(n);
    return true;
  }
  void settle(std::size_t n) {
    if (n < share_) budget_->give(share_ - n);
    share_ = n;
  }

  budget* budget_;
  std::string bytes_;
  std::size_t share_ = 0;  // bytes of the budget this message holds
};

}  // namespace circuit
