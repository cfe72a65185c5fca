#include "output.hpp"

namespace circuit {

void output::push(const char* data, std::size_t n) {
  buf_.append(data, n);
  serve();
  wakes_.fire();
}

void output::end() {
  eof_ = true;
  serve();
  wakes_.fire();
}

std::string output::take(std::size_t max) {
  bool was_full = full();
  std::size_t n = std::min(max, size());
  std::string out = buf_.substr(head_, n);
  head_ += n;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
    if (buf_.capacity() > (64u << 10)) buf_.shrink_to_fit();  // idle workers stay small
  } else if (head_ > buf_.size() / 2) {
    buf_.erase(0, head_);
    head_ = 0;
  }
  if (was_full && !full() && on_room) on_room();
  return out;
}

void output::serve() {
  while (!readers_.empty() && (size() > 0 || eof_)) {
    auto [max, done] = std::move(readers_.front());
    readers_.pop_front();
    done->complete(take(max));
  }
}

void output::read(std::size_t max, op_ptr<std::string> done) {
  if (size() > 0 || eof_) return done->complete(take(max));
  auto it = readers_.insert(readers_.end(), {max, done});
  done->on_cancel([this, it] { readers_.erase(it); });
}

void output::stop(const error& e) {
  auto waiting = std::move(readers_);
  readers_.clear();
  for (auto& [max, done] : waiting) done->complete(e);
  wakes_.fire();  // pollers ask again, and learn of the removal
}

}  // namespace circuit
