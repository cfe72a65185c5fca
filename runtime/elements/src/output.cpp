#include "output.hpp"

namespace circuit {

void output::push(const char* data, std::size_t n) {
  completions batch;
  buf_.append(data, n);
  serve(batch);
  wakes_.fire();
}

void output::end() {
  completions batch;
  eof_ = true;
  serve(batch);
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

void output::serve(completions& batch) {
  while (!readers_.empty() && (size() > 0 || eof_)) {
    std::size_t max = readers_.front().data;
    readers_.wake_front(batch, take(max));
  }
}

void output::read(std::size_t max, op_ptr<std::string> done) {
  if (size() > 0 || eof_) return done->complete(take(max));
  readers_.park(std::move(done), max);
}

void output::stop(const error& e) {
  completions batch;
  readers_.wake_all(batch, [&](std::size_t) { return e; });
  wakes_.fire();  // pollers ask again, and learn of the removal
}

}  // namespace circuit
