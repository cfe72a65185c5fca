#include "broadcasts.hpp"

#include <algorithm>

namespace circuit::cluster {

namespace {
bool before(const auto& a, const auto& b) {
  return a.sent != b.sent ? a.sent < b.sent : a.order > b.order;
}
}  // namespace

void broadcasts::add(const std::string& about, std::string bytes, std::string_view from) {
  std::erase_if(items_, [&](const item& i) {
    return i.about == about && (from.empty() || i.from.empty() || i.from == from);
  });
  items_.push_back({about, std::move(bytes), std::string(from), 0, next_++});
  if (items_.size() > max_items) {
    std::sort(items_.begin(), items_.end(), [](auto& a, auto& b) { return before(a, b); });
    items_.resize(max_items);
  }
}

bool broadcasts::holds(std::string_view about) const {
  return std::any_of(items_.begin(), items_.end(), [&](const item& i) { return i.about == about; });
}

void broadcasts::fill(std::string& out, std::size_t budget, int limit) {
  if (items_.empty()) return;
  std::sort(items_.begin(), items_.end(), [](auto& a, auto& b) { return before(a, b); });
  for (auto& i : items_) {
    if (out.size() + i.bytes.size() > budget) continue;
    out += i.bytes;
    ++i.sent;
  }
  std::erase_if(items_, [&](const item& i) { return i.sent >= limit; });
}

}  // namespace circuit::cluster
