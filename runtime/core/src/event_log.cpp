#include "circuit/core/event_log.hpp"

namespace circuit {

void event_log::append(std::string line) {
  completions batch;
  lines_.push_back(std::move(line));
  if (lines_.size() > window_) {
    lines_.pop_front();
    ++first_;
  }
  // Wake every parked reader; each takes what it can.
  waiting_.wake_all(batch, [&](waiter& w) { return take(w.cursor, w.max); });
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
  waiting_.park(std::move(done), waiter{cursor, max});
}

void event_log::stop() {
  completions batch;
  stopped_ = true;
  waiting_.wake_all(batch, [](waiter&) { return std::string(); });
  wakes_.fire();
}

}  // namespace circuit
