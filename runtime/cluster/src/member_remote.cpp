#include "circuit/cluster/member_remote.hpp"

#include <algorithm>
#include <cstdio>

namespace circuit::cluster {

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

member_remote::member_remote(std::string member, clock& clk, clock::duration link_timeout)
    : member_(std::move(member)), clk_(clk), link_timeout_(link_timeout) {}

member_remote::~member_remote() {
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->fail(unreachable("the link was closed"));
  auto held = std::move(held_);
  for (auto& h : held) h->fail(unreachable("the link was closed"));
}

namespace {
constexpr std::string_view no_link = "no link since the link timeout; trying again";
}

error member_remote::host_down() const { return make_error(errc::host_down, "host down: " + member_); }

error member_remote::unreachable(std::string_view why) const {
  return make_error(errc::host_unreachable, "host unreachable: " + member_ + " (" + std::string(why) + ")");
}

void member_remote::set_link(std::shared_ptr<remote> link) {
  link_ = std::move(link);
  cut_ = false;
  ++gen_;
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) {
    w->expiry.reset();
    w->run();
  }
}

void member_remote::lost_link() {
  link_.reset();
  fail_in_flight(unreachable("the link failed"));
}

void member_remote::set_down(bool down) {
  down_ = down;
  if (!down) return;
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->fail(host_down());
  fail_in_flight(host_down());
  auto held = std::move(held_);
  for (auto& h : held) h->fail(host_down());
}

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

// A cancel reaches the link's request (a flush there) and completes the
// op with `e` now; a reply that wins the race is reported instead.
void member_remote::fail_in_flight(const error& e) {
  auto ops = std::move(in_flight_);
  for (auto& w : ops)
    if (auto o = w.lock()) o->cancel(e);
}

std::uint32_t member_remote::adopt(std::uint32_t link_fid, std::vector<std::string> path,
                                   std::shared_ptr<const caller> who) {
  std::uint32_t f = next_fid_++;
  fids_[f] = fid_ref{gen_, link_fid, false, false, std::move(path), std::move(who)};
  return f;
}

void member_remote::drop_link_fid(std::uint32_t link_fid) {
  if (link_) link_->clunk(link_fid, make_op<void>([](result<void>) {}));
}

template <class T, class Issue>
void member_remote::issue_now(const op_ptr<T>& done, std::optional<std::uint32_t> link_fid, Issue& issue) {
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
    if (!r && r.err().code == errc::host_unreachable && link_failed) return self->hold(outer, r.err());
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
      return done->complete(unreachable(no_link));
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

// While the member is down, its `error` files (any path ending in one)
// are answered here with "host down: NAME"; while it is cut off (no link
// since the link timeout), with "host unreachable: NAME (...)".
bool member_remote::error_walk(std::optional<std::uint32_t> from, const std::vector<std::string>& names,
                               op_ptr<remote_walk>& done) {
  auto it = from ? fids_.find(*from) : fids_.end();
  bool clone_of_error = names.empty() && it != fids_.end() && it->second.error_file;
  bool answered_here = down_ || (cut_ && !link_);
  if (!clone_of_error && (!answered_here || names.empty() || names.back() != "error")) return false;
  remote_walk w;
  for (std::size_t i = 0; i < names.size(); ++i) {
    attr a;
    a.is_dir = i + 1 < names.size();
    a.perm = a.is_dir ? 0555 : 0444;
    a.ino = remote_ino_bit | (std::uint64_t{1} << 57) | i;
    w.walked.push_back(a);
  }
  std::uint32_t f = next_fid_++;
  fids_[f] = fid_ref{gen_, 0, true};
  w.fid = f;
  done->complete(std::move(w));
  return true;
}

void member_remote::walk(const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
                         walk_needs needs, op_ptr<remote_walk> done) {
  promised_.reset();
  if (error_walk(from, names, done)) return;
  auto self = shared_from_this();
  // Where the new fid will be, and whose it is (rewalk).
  std::vector<std::string> path;
  if (auto it = from ? fids_.find(*from) : fids_.end(); it != fids_.end()) path = it->second.path;
  path.insert(path.end(), names.begin(), names.end());
  pass(done, from,
       [self, by = std::make_shared<caller>(who), needs, names = std::move(names),
        path = std::move(path)](remote& link, std::optional<std::uint32_t> lf,
                                op_ptr<remote_walk> o) mutable {
         auto gen = self->gen_;  // the link it goes on
         // Ours for the fid the link promised (pipelining, remote.hpp), made
         // before the answer; let go if the walk does not make it.
         auto early = std::make_shared<std::optional<std::uint32_t>>();
         auto adopt = make_inner_op<remote_walk>(
             o, [self, gen, early, by, path](const op_ptr<remote_walk>& o, result<remote_walk> r) {
               bool made = r && r->fid && self->gen_ == gen;
               // An interrupted walk's early fid stays for its session to end
               // (session.cpp, walk_remote).
               bool interrupted = !r && r.err().code == errc::interrupted;
               if (*early && !made && !interrupted) self->fids_.erase(**early);
               if (r && r->fid) {
                 if (self->gen_ != gen) {  // made on a link that is gone since
                   r->fid.reset();
                   return o->complete(self->unreachable("the link failed during the walk"));
                 }
                 r->fid = *early ? **early : self->adopt(*r->fid, path, by);
               }
               o->complete(std::move(r));
             });
         link.walk(*by, lf, std::move(names), needs, adopt);
         if (auto p = link.promised(); p && !adopt->done()) {
           *early = self->adopt(*p, path, by);
           self->promised_ = **early;
         }
       });
}

namespace {
template <class T>
auto plain(void (remote::*call)(std::uint32_t, op_ptr<T>)) {
  return [call](remote& link, std::optional<std::uint32_t> lf, op_ptr<T> o) { (link.*call)(*lf, o); };
}
}  // namespace

void member_remote::getattr(std::uint32_t fid, op_ptr<attr> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) {
    attr a;
    a.perm = 0444;
    a.ino = remote_ino_bit | (std::uint64_t{1} << 57) | 16;
    return done->complete(a);
  }
  pass(done, fid, plain<attr>(&remote::getattr));
}

void member_remote::lopen(std::uint32_t fid, int flags, op_ptr<attr> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) return getattr(fid, done);
  pass(done, fid,
       [self = shared_from_this(), fid, flags](remote& link, std::optional<std::uint32_t> lf,
                                               op_ptr<attr> o) {
         self->fids_.at(fid).opened = true;
         link.lopen(*lf, flags, o);
       });
}

void member_remote::readdir(std::uint32_t fid, std::uint64_t index, op_ptr<std::vector<dir_entry>> done) {
  pass(done, fid, [index](remote& link, std::optional<std::uint32_t> lf, op_ptr<std::vector<dir_entry>> o) {
    link.readdir(*lf, index, o);
  });
}

void member_remote::read(std::uint32_t fid, std::uint64_t off, std::size_t count, op_ptr<std::string> done) {
  auto it = fids_.find(fid);
  if (it != fids_.end() && it->second.error_file) {
    std::string text = (down_ ? host_down() : unreachable(no_link)).message + "\n";
    if (off >= text.size()) return done->complete(std::string());
    return done->complete(text.substr(off, count));
  }
  pass(done, fid, [off, count](remote& link, std::optional<std::uint32_t> lf, op_ptr<std::string> o) {
    link.read(*lf, off, count, o);
  });
}

void member_remote::write(std::uint32_t fid, std::uint64_t off, std::string data, op_ptr<std::size_t> done) {
  pass(done, fid, [off, data = std::move(data)](remote& link, std::optional<std::uint32_t> lf,
                                                op_ptr<std::size_t> o) mutable { link.write(*lf, off, std::move(data), o); });
}

void member_remote::fsync(std::uint32_t fid, op_ptr<void> done) { pass(done, fid, plain<void>(&remote::fsync)); }

// The ends of a fid: ours goes whatever happens. A fid whose link is gone
// ends with the reason (a send open on it was not delivered), as 9P's
// clunk frees the fid even when it fails.
void member_remote::end_fid(std::uint32_t fid, op_ptr<void> done, void (remote::*call)(std::uint32_t, op_ptr<void>)) {
  auto it = fids_.find(fid);
  if (it == fids_.end()) return done->complete(make_error(errc::bad_fid, member_ + ": no such fid"));
  fid_ref ref = it->second;
  fids_.erase(it);
  if (ref.error_file) return done->complete(result<void>());
  if (down_) return done->complete(host_down());
  if (ref.gen != gen_ || !link_) {
    // A fid only walked to left nothing on the member with its link.
    if (!ref.opened && call == &remote::clunk) return done->complete(result<void>());
    return done->complete(unreachable("its link failed before it was closed"));
  }
  auto issue = plain<void>(call);
  issue_now(done, ref.link_fid, issue);
}

void member_remote::clunk(std::uint32_t fid, op_ptr<void> done) { end_fid(fid, std::move(done), &remote::clunk); }
void member_remote::remove(std::uint32_t fid, op_ptr<void> done) { end_fid(fid, std::move(done), &remote::remove); }

void member_remote::mkdir(const caller& who, std::uint32_t dfid, std::string name, op_ptr<attr> done) {
  pass(done, dfid, [who, name = std::move(name)](remote& link, std::optional<std::uint32_t> lf, op_ptr<attr> o) mutable {
    link.mkdir(who, *lf, std::move(name), o);
  });
}

void member_remote::unlinkat(const caller& who, std::uint32_t dfid, std::string name, bool dir,
                             op_ptr<void> done) {
  pass(done, dfid, [who, name = std::move(name), dir](remote& link, std::optional<std::uint32_t> lf,
                                                     op_ptr<void> o) mutable {
    link.unlinkat(who, *lf, std::move(name), dir, o);
  });
}

void member_remote::refuse(const caller& who, std::uint32_t dfid, std::string name,
                           std::string what, op_ptr<void> done) {
  pass(done, dfid,
       [who, name = std::move(name), what = std::move(what)](
           remote& link, std::optional<std::uint32_t> lf, op_ptr<void> o) mutable {
         link.refuse(who, *lf, std::move(name), std::move(what), o);
       });
}

void member_remote::lcreate(const caller& who, std::uint32_t dfid, std::string name, int flags, mode_t mode,
                            op_ptr<attr> done) {
  pass(done, dfid,
       [self = shared_from_this(), dfid, who, name = std::move(name), flags, mode](
           remote& link, std::optional<std::uint32_t> lf, op_ptr<attr> o) mutable {
         auto& ref = self->fids_.at(dfid);  // the new file's now, and open
         ref.opened = true;
         ref.path.push_back(name);
         link.lcreate(who, *lf, std::move(name), flags, mode, o);
       });
}

}  // namespace circuit::cluster
