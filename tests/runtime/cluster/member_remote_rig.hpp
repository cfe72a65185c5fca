// member_remote_rig.hpp — a member_remote on a manual clock against a
// link whose answers the test gives by hand, for the member_remote tests.
#pragma once

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <deque>

#include "circuit/cluster/member_remote.hpp"

namespace member_remote_testing {

using namespace circuit;
using namespace std::chrono_literals;
using cluster::member_remote;

// A link that keeps every request until the test answers it. Fids it makes
// are numbered from 100; a flush (a cancel) is counted.
class held_link final : public remote {
 public:
  std::deque<std::function<void()>> answers;  // the next answer of each request, in order
  int flushed = 0, clunked = 0;
  std::optional<error> fail_reads;  // the answer of reads, when set
  std::uint32_t next = 100;
  // Every walk: where from, the names, and whose.
  std::vector<std::pair<std::optional<std::uint32_t>, std::vector<std::string>>> walks;
  std::vector<uid_t> walkers;
  std::optional<std::string> missing;  // a name walks stop at, when set

  bool up = true;  // connected()

  std::string name() const override { return "held"; }
  bool connected() const override { return up; }
  void walk(const caller& who, std::optional<std::uint32_t> from, std::vector<std::string> names,
            walk_needs, op_ptr<remote_walk> done) override {
    walks.emplace_back(from, names);
    walkers.push_back(who.uid);
    hold(done, [this, names, done] {
      remote_walk w;
      for (auto& n : names) {
        if (n == missing) return done->complete(w);  // a walk that stops short makes no fid
        w.walked.push_back(attr{.is_dir = n != "send"});
      }
      w.fid = next++;
      done->complete(w);
    });
  }
  void getattr(std::uint32_t, op_ptr<attr> done) override {
    hold(done, [done] { done->complete(attr{}); });
  }
  void lopen(std::uint32_t, int, op_ptr<attr> done) override {
    hold(done, [done] { done->complete(attr{}); });
  }
  void readdir(std::uint32_t, std::uint64_t, op_ptr<std::vector<dir_entry>> done) override {
    hold(done, [done] { done->complete(std::vector<dir_entry>{}); });
  }
  void read(std::uint32_t, std::uint64_t, std::size_t, op_ptr<std::string> done) override {
    hold(done, [this, done] {
      if (fail_reads) return done->complete(*fail_reads);
      done->complete(std::string("message"));
    });
  }
  void write(std::uint32_t, std::uint64_t, std::string d, op_ptr<std::size_t> done) override {
    hold(done, [done, n = d.size()] { done->complete(n); });
  }
  void fsync(std::uint32_t, op_ptr<void> done) override {
    hold(done, [done] { done->complete({}); });
  }
  void clunk(std::uint32_t, op_ptr<void> done) override {
    ++clunked;
    done->complete({});
  }
  void remove(std::uint32_t f, op_ptr<void> done) override { clunk(f, done); }
  void mkdir(const caller&, std::uint32_t, std::string, op_ptr<attr> done) override {
    hold(done, [done] { done->complete(attr{}); });
  }
  void unlinkat(const caller&, std::uint32_t, std::string, bool, op_ptr<void> done) override {
    hold(done, [done] { done->complete({}); });
  }

  void answer() {
    auto a = std::move(answers.front());
    answers.pop_front();
    a();
  }

 private:
  template <class T>
  void hold(const op_ptr<T>& done, std::function<void()> a) {
    done->on_cancel([this] { ++flushed; });
    answers.push_back([done, a] {
      if (!done->done()) a();
    });
  }
};

template <class T>
struct outcome {
  std::optional<result<T>> r;
  op_ptr<T> op = make_op<T>([this](result<T> x) { r = std::move(x); });
  errc code() const { return r->err().code; }
};

struct fixture {
  manual_clock clk;
  std::shared_ptr<member_remote> m = std::make_shared<member_remote>("h2", clk, 3s);
  std::shared_ptr<held_link> link = std::make_shared<held_link>();
  caller who;

  std::uint32_t walk_to(std::vector<std::string> names) {
    outcome<remote_walk> w;
    m->walk(who, std::nullopt, std::move(names), walk_needs::attributes, w.op);
    link->answer();
    REQUIRE(w.r);
    REQUIRE(*w.r);
    return *(*w.r)->fid;
  }

  // A receive on the link, unanswered, when the link fails.
  void read_then_lose_link(outcome<std::string>& parked) {
    m->set_link(link);
    std::uint32_t fid = walk_to({"channels", "c", "recv"});
    m->read(fid, 0, 100, parked.op);
    m->lost_link();
  }
};

}  // namespace member_remote_testing
