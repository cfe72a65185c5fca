#include "circuit/core/clock.hpp"

namespace circuit {

// Timers by due time; equal times fire in the order they were started.
struct manual_clock::state {
  std::map<std::pair<time_point, std::uint64_t>, std::function<void()>> due;
  std::uint64_t next = 0;
};

namespace {

class manual_timer final : public timer {
 public:
  using key = std::pair<clock::time_point, std::uint64_t>;
  manual_timer(std::weak_ptr<void> state, std::function<void(const key&)> drop, key k)
      : state_(std::move(state)), drop_(std::move(drop)), key_(k) {}
  ~manual_timer() override { cancel(); }
  void cancel() override {
    if (state_.lock()) drop_(key_);
    state_.reset();
  }

 private:
  std::weak_ptr<void> state_;
  std::function<void(const key&)> drop_;
  key key_;
};

}  // namespace

manual_clock::manual_clock()
    : start_(std::chrono::steady_clock::now()),
      now_(start_),
      wall_start_(std::chrono::system_clock::now()),
      state_(std::make_shared<state>()) {}

manual_clock::~manual_clock() = default;

timer_ptr manual_clock::start_timer(duration after, std::function<void()> fn) {
  auto k = std::make_pair(now_ + after, state_->next++);
  state_->due.emplace(k, std::move(fn));
  state* s = state_.get();
  return std::make_unique<manual_timer>(state_, [s](const auto& key) { s->due.erase(key); }, k);
}

void manual_clock::advance(duration d) {
  time_point end = now_ + d;
  for (;;) {
    auto it = state_->due.begin();
    if (it == state_->due.end() || it->first.first > end) break;
    now_ = it->first.first;
    auto fn = std::move(it->second);
    state_->due.erase(it);  // fired: its timer's cancel finds nothing
    fn();
  }
  now_ = end;
}

std::size_t manual_clock::pending() const { return state_->due.size(); }

}  // namespace circuit
