// turn.cpp — the open turns of a thread and what waits for them to close.
#include "circuit/wire/turn.hpp"

#include <vector>

namespace circuit::wire {
namespace {

thread_local int depth = 0;
thread_local std::vector<std::function<void()>> deferred;

}  // namespace

turn::turn() { ++depth; }

turn::~turn() {
  if (depth > 1) {
    --depth;
    return;
  }
  // Still open while they run: what they defer joins the list.
  while (!deferred.empty()) {
    auto now = std::move(deferred);
    deferred.clear();
    for (auto& f : now) f();
  }
  --depth;
}

bool turn::open() { return depth > 0; }

void turn::at_end(std::function<void()> f) { deferred.push_back(std::move(f)); }

}  // namespace circuit::wire
