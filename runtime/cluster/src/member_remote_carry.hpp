// member_remote_carry.hpp — how member_remote carries a request to its
// member: on the current link at once (issue_now), after a wait for a
// link (wait_for_link), after walking a stale fid again on a new link
// (rewalk), or held for the membership's verdict when its link failed
// under it (hold); pass chooses. Private to member_remote*.cpp: the
// operations (member_remote_ops.cpp) are each a pass of one request.
//
// Thread safety: the loop thread, as member_remote.
#pragma once

#include <algorithm>
#include <string_view>

#include "circuit/cluster/member_remote.hpp"

namespace circuit::cluster {

// The words of a call that finds the member cut off.
inline constexpr std::string_view no_link_words = "no link since the link timeout; trying again";

// A walk from the top waiting for a link: it runs when one comes, fails
// when the member goes down or the link timeout passes, and leaves the
// list when its caller cancels.
struct member_remote::waiter {
  std::function<void()> run;
  std::function<void(error)> fail;
  timer_ptr expiry;
};

// A request whose link failed under it: the member may be down (a killed
// daemon's connection ends before the membership's verdict comes), so its
// answer waits for the verdict, up to the link timeout.
struct member_remote::held {
  std::function<void(error)> fail;
  timer_ptr expiry;
};

template <class T>
void member_remote::hold(const op_ptr<T>& outer, error e) {
  auto h = std::make_shared<held>();
  std::weak_ptr<held> wh = h;
  auto self = shared_from_this();
  h->fail = [outer](error e) {
    if (!outer->done()) outer->complete(std::move(e));
  };
  h->expiry = clk_.start_timer(link_timeout_, [self, wh, e] {
    auto h = wh.lock();
    if (!h) return;
    self->held_.remove(h);
    h->fail(e);
  });
  // Its link's request is over: a cancel now ends the wait here.
  outer->cancel_through({});
  outer->on_cancel([self, wh] {
    if (auto h = wh.lock()) self->held_.remove(h);
  });
  held_.push_back(std::move(h));
}

template <class T, class Issue>
void member_remote::issue_now(const op_ptr<T>& done, std::optional<std::uint32_t> link_fid,
                              Issue& issue) {
  // Ended ops are pruned when the list has doubled since the last time,
  // not at every request: a scan per request cost O(in flight) each, and
  // a stream keeps hundreds in flight (parked receives stay for long).
  if (in_flight_.size() >= prune_at_) {
    in_flight_.remove_if([](const std::weak_ptr<op_base>& w) { return w.expired(); });
    prune_at_ = std::max<std::size_t>(64, 2 * in_flight_.size());
  }
  auto self = shared_from_this();
  std::weak_ptr<remote> carried = link_;
  auto inner = make_inner_op<T>(done, [self, carried](const op_ptr<T>& outer, result<T> r) {
    if (!r && self->down_) return outer->complete(self->host_down());
    // Its link failed: wait for the verdict. EHOSTUNREACH answered over a
    // link still up is the member's own answer (a program's 9P server on
    // it went away), and is the request's result.
    auto link = carried.lock();
    bool link_failed = !link || link != self->link_ || !link->connected();
    // A link the member's kernel stopped acknowledging for the link
    // timeout (link.hpp, silence): a cut that sent no reset. Waited long
    // enough; the member is alive for the others, or its verdict comes.
    if (!r && r.err().code == errc::timed_out && link_failed) {
      self->cut_ = true;
      return outer->complete(self->unreachable("the link went silent"));
    }
    if (!r && r.err().code == errc::host_unreachable && link_failed)
      return self->hold(outer, r.err());
    outer->complete(std::move(r));
  });
  in_flight_.push_back(inner);
  issue(*link_, link_fid, inner);
}

template <class T>
void member_remote::wait_for_link(const op_ptr<T>& done, std::function<void()> run) {
  if (wanted_) wanted_();
  auto w = std::make_shared<waiter>();
  std::weak_ptr<waiter> ww = w;
  auto self = shared_from_this();
  w->run = std::move(run);
  w->fail = [done](error e) {
    if (!done->done()) done->complete(std::move(e));
  };
  w->expiry = clk_.start_timer(link_timeout_, [self, ww] {
    auto w = ww.lock();
    if (!w) return;
    self->waiting_.remove(w);
    self->cut_ = true;
    w->fail(self->unreachable("no link within the link timeout"));
  });
  done->on_cancel([self, ww] {
    if (auto w = ww.lock()) self->waiting_.remove(w);
  });
  waiting_.push_back(std::move(w));
}

template <class T, class Issue>
void member_remote::pass(const op_ptr<T>& done, std::optional<std::uint32_t> fid, Issue issue) {
  if (down_) return done->complete(host_down());
  if (fid) {
    auto it = fids_.find(*fid);
    if (it == fids_.end())
      return done->complete(make_error(errc::bad_fid, member_ + ": no such fid"));
    const fid_ref& ref = it->second;
    if (ref.gen == gen_ && link_) return issue_now(done, ref.link_fid, issue);
    // Its link failed since. What an open held there died with it; a
    // file only walked to is walked to again on the next link.
    if (ref.opened || ref.error_file || !ref.who)
      return done->complete(
          unreachable("its link failed since this file was opened; open it again"));
  }
  if (!link_) {
    // No link now: wait for one, for at most the link timeout; at once
    // when the last wait found none (a cut does not cost each call of a
    // shell's ls a link timeout of its own).
    if (cut_) {
      if (wanted_) wanted_();
      return done->complete(unreachable(no_link_words));
    }
    auto self = shared_from_this();
    return wait_for_link(
        done, [self, done, fid, issue]() mutable { self->pass(done, fid, std::move(issue)); });
  }
  if (!fid) return issue_now(done, std::nullopt, issue);
  rewalk(*fid, done, std::move(issue));
}

// Two requests on one stale fid may both walk it again: the later walk's
// fid is let go.
template <class T, class Issue>
void member_remote::rewalk(std::uint32_t fid, const op_ptr<T>& done, Issue issue) {
  const fid_ref& ref = fids_.at(fid);
  auto self = shared_from_this();
  auto gen = gen_;
  std::string where = "/" + member_;
  for (auto& n : ref.path) where += "/" + n;
  auto again =
      make_inner_op<remote_walk>(done, [self, fid, gen, where, issue = std::move(issue)](
                                           const op_ptr<T>& outer, result<remote_walk> r) mutable {
        if (self->down_) return outer->complete(self->host_down());
        if (!r) return outer->complete(r.err());
        if (self->gen_ != gen || !self->link_)
          return outer->complete(self->unreachable("the link failed during the walk"));
        if (!r->fid)
          return outer->complete(
              make_error(errc::not_found, where + ": gone since the link was made again"));
        auto it = self->fids_.find(fid);
        if (it == self->fids_.end()) {  // let go meanwhile
          self->drop_link_fid(*r->fid);
          return outer->complete(make_error(errc::bad_fid, self->member_ + ": no such fid"));
        }
        if (it->second.gen == gen) {
          self->drop_link_fid(*r->fid);
        } else {
          it->second.gen = gen;
          it->second.link_fid = *r->fid;
        }
        self->issue_now(outer, it->second.link_fid, issue);
      });
  link_->walk(*ref.who, std::nullopt, ref.path, walk_needs::qids, again);
  (void)link_->promised();  // the request waits for the walk's answer
}

}  // namespace circuit::cluster
