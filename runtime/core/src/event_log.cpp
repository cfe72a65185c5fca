#include "circuit/core/event_log.hpp"

namespace circuit {

void event_log::append(std::string line) {
  lines_.push_back(std::move(line));
  if (lines_.size() > window_) {
    lines_.pop_front();
    ++first_;
  }
  // Wake every parked reader; each takes what it can.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w.done->complete(take(w.cursor, w.max));
  wakes_.fire();
}

std::string event_log::take(std::uint64_t* cursor, std::size_t max) const {
  std::string out;
  if (*cursor < first_) {
    out = "lost " + std::to_string(first_ - *cursor) + " events\n";
    *cursor = first_;
  }
  while (*cursor < end()) {
    const std::string& l = lines_[*cursor - first_];
    if (!out.empty() && out.size() + l.size() + 1 > max) break;
    out += l;
    out += '\n';
    ++*cursor;
  }
  return out;
}

void event_log::read(std::uint64_t* cursor, std::size_t max, op_ptr<std::string> done) {
  if (readable(*cursor)) {
    done->complete(take(cursor, max));  // empty after the stop: end of file
    return;
  }
  auto it = waiting_.insert(waiting_.end(), waiter{cursor, max, done});
  done->on_cancel([this, it] { waiting_.erase(it); });
}

void event_log::stop() {
  stopped_ = true;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w.done->complete(std::string());
  wakes_.fire();
}

}  // namespace circuit
