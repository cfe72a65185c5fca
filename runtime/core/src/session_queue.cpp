#include <algorithm>
#include <cassert>

#include "session_queue.hpp"

namespace circuit {

namespace {
// Emptied queues kept for reuse: as many as fids a pipelining client
// keeps busy at once, about.
constexpr std::size_t max_spare_queues = 16;
}  // namespace

session::request_fids::request_fids(std::initializer_list<fid_t> fids) {
  assert(fids.size() >= 1 && fids.size() <= 2);
  for (fid_t f : fids)
    if (n_ == 0 || f_[0] != f) f_[n_++] = f;
  if (n_ == 2 && f_[1] < f_[0]) std::swap(f_[0], f_[1]);
}

void session::enqueue(fid_t f, request* r) {
  auto it = queues_.find(f);
  if (it == queues_.end()) {
    if (spare_queues_.empty()) {
      it = queues_.try_emplace(f).first;
    } else {
      auto node = std::move(spare_queues_.back());
      spare_queues_.pop_back();
      node.key() = f;
      it = queues_.insert(std::move(node)).position;
    }
  }
  it->second.push_back(r);
}

// Takes a completed request out of its queues; the requests behind it
// start at the next drain.
std::vector<reply<void>> session::finish(request* r) {
  if (r->finished) return {};
  r->finished = true;
  auto flushes = std::move(r->flushes);
  dequeue(r);
  auto keep = by_tag_.find(r->tag);
  if (keep != by_tag_.end() && keep->second.get() == r) {
    auto hold = std::move(keep->second);  // `r` lives until this returns
    by_tag_.erase(keep);
    space_.count_requests(-1);
  }
  return flushes;
}

bool session::at_heads(const request* r) const {
  for (fid_t f : r->fids) {
    auto it = queues_.find(f);
    if (it == queues_.end() || it->second.front() != r) return false;
  }
  return true;
}

// Starts every request that is at the head of all its queues. Iterative, so
// a long pipeline whose requests complete at once does not nest calls.
void session::drain() {
  if (draining_) return;
  draining_ = true;
  while (!ready_.empty()) {
    fid_t f = ready_.front();
    ready_.pop_front();
    auto it = queues_.find(f);
    if (it == queues_.end()) continue;
    request* r = it->second.front();
    if (r->started || !at_heads(r)) continue;
    r->started = true;
    // Moved out, not copied: it runs once (started), and a write's closure
    // holds the written bytes, up to msize.
    auto start = std::move(r->start);
    auto tagged = by_tag_.find(r->tag);
    // It may finish inside; kept until pass_on() has looked at it.
    auto keep = tagged != by_tag_.end() ? tagged->second : nullptr;
    running_ = r;
    start();
    running_ = nullptr;
  }
  draining_ = false;
}

void session::pass_on() {
  if (running_ && !running_->finished) dequeue(running_);
}

// Out of its fids' queues; the requests behind it are ready.
void session::dequeue(request* r) {
  for (fid_t f : r->fids) {
    auto it = queues_.find(f);
    if (it == queues_.end()) continue;
    auto& q = it->second;
    q.erase(std::remove(q.begin(), q.end(), r), q.end());
    if (!q.empty()) ready_.push_back(f);
    else if (spare_queues_.size() < max_spare_queues) spare_queues_.push_back(queues_.extract(it));
    else queues_.erase(it);
  }
}

// The flushed request's reply goes first: at once when the cancel completes
// it, or when it completes, if its result was already on its way.
void session::flush(tag_t old, reply<void> done) {
  auto it = by_tag_.find(old);
  if (it == by_tag_.end()) return done({});
  auto r = it->second;  // the request is freed when it completes
  auto stop = r->stop;
  stop(make_error(errc::interrupted, "interrupted"));
  if (r->finished) return done({});
  r->flushes.push_back(std::move(done));
}

}  // namespace circuit
