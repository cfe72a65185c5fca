// session_queue.hpp — a session's requests and their per-fid queues:
// a request waits until it is at the head of the queue of every fid it
// names, so requests on one fid run in order and requests on different
// fids run at once. session.cpp submits; session_queue.cpp finishes and
// drains. Private to the core.
#pragma once

#include <string>

#include "circuit/core/session.hpp"

namespace circuit {

// A request waiting its turn or running. `start` begins the work; `stop`
// ends it with an error: a queued one completes at once, a running one is
// cancelled (its op completes, with the error unless its result was first).
struct session::request {
  request(tag_t tag, request_fids fids) : tag(tag), fids(fids) {}
  tag_t tag = 0;
  request_fids fids;
  bool started = false;
  bool finished = false;
  std::function<void()> start;
  std::function<void(error)> stop;
  // Flushes of this request that came while its result was already on its
  // way: answered right after it.
  std::vector<reply<void>> flushes;
};

template <class T>
void session::submit(tag_t tag, request_fids fids, reply<T> done, std::function<void(op_ptr<T>)> run) {
  if (ending_) return done(make_error(errc::interrupted, "interrupted: the session ended"));
  if (by_tag_.count(tag))
    return done(make_error(errc::invalid, "tag " + std::to_string(tag) + " is in use by a request in flight"));
  auto r = std::make_shared<request>(tag, fids);
  request* raw = r.get();
  // A result can only arrive after the session's end if it was on its way
  // (settling, op.hpp) then; it is dropped, as the client is gone.
  auto o = make_op<T>([this, raw, alive = std::weak_ptr<bool>(alive_), done = std::move(done)](result<T> res) {
    if (alive.expired()) return;
    auto flushes = finish(raw);
    done(std::move(res));
    for (auto& f : flushes) f({});
    drain();
  });
  r->start = [o, run = std::move(run)] { run(o); };
  r->stop = [o](error e) { o->cancel(std::move(e)); };
  by_tag_.emplace(tag, r);
  space_.count_requests(1);
  for (fid_t f : r->fids) enqueue(f, raw);
  for (fid_t f : r->fids) ready_.push_back(f);
  drain();
}

}  // namespace circuit
