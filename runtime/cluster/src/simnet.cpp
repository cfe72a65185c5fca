#include "circuit/cluster/simnet.hpp"

namespace circuit::cluster {

// A host's own clock over the shared one: while the host is stopped, what
// falls due waits for it to resume (cancelled meanwhile: never runs).
class stoppable_clock final : public clock {
 public:
  explicit stoppable_clock(manual_clock& base) : base_(base) {}
  time_point now() const override { return base_.now(); }
  std::chrono::system_clock::time_point wall() const override { return base_.wall(); }
  timer_ptr start_timer(duration after, std::function<void()> fn) override {
    auto t = std::make_unique<held>();
    auto cancelled = t->cancelled;
    t->inner = base_.start_timer(after, [this, cancelled, fn = std::move(fn)] {
      if (*cancelled) return;
      if (stopped) return waiting.push_back([cancelled, fn] { if (!*cancelled) fn(); });
      fn();
    });
    return t;
  }
  void resume() {
    stopped = false;
    auto w = std::move(waiting);
    for (auto& fn : w) fn();
  }

  bool stopped = false;
  std::vector<std::function<void()>> waiting;  // timers and packets, in order

 private:
  struct held final : timer {
    timer_ptr inner;
    std::shared_ptr<bool> cancelled = std::make_shared<bool>(false);
    ~held() override { cancel(); }
    void cancel() override {
      *cancelled = true;
      inner.reset();
    }
  };
  manual_clock& base_;
};

struct simnet::host {
  explicit host(manual_clock& c) : clk(c) {}
  stoppable_clock clk;  // before m: m's timers go first
  std::string address;
  double loss = 0;
  clock::duration extra{};
  std::unique_ptr<membership> m;
  std::unique_ptr<result<void>> joined;
  timer_ptr resume;
};

simnet::simnet(manual_clock& clk, options o) : clk_(clk), o_(std::move(o)), rng_(o_.seed) {}
simnet::~simnet() {
  for (auto& [_, h] : hosts_) h->m.reset();
}

membership& simnet::spawn(const std::string& name, std::vector<std::string> seeds,
                          std::string address) {
  if (address.empty()) address = name;
  auto& h = hosts_[address];
  if (!h) h = std::make_unique<host>(clk_);
  h->m.reset();
  h->joined.reset();
  h->address = address;
  host* hp = h.get();
  transport t;
  t.send = [this, hp](const std::string& to, std::string p) { send(*hp, to, std::move(p)); };
  t.exchange = [this, hp](const std::string& to, std::string req,
                          std::function<void(result<std::string>)> reply) {
    auto it = hosts_.find(to);
    host* target = it == hosts_.end() ? nullptr : it->second.get();
    if (!target || !target->m || !reachable(*hp, *target)) {
      return deliver_later(o_.exchange_timeout, [reply, to] {
        reply(make_error(errc::timed_out, "sim: " + to + " does not answer"));
      });
    }
    auto d = delay(*hp, *target);
    deliver_later(d, [this, hp, target, d, req = std::move(req), reply] {
      auto serve = [this, hp, target, d, req, reply] {
        if (!target->m) return reply(make_error(errc::timed_out, "sim: crashed"));
        auto answer = target->m->serve_exchange(hp->address, req);
        deliver_later(d, [hp, answer, reply] {
          if (hp->clk.stopped) return hp->clk.waiting.push_back([answer, reply] { reply(answer); });
          reply(answer);
        });
      };
      if (target->clk.stopped) return target->clk.waiting.push_back(serve);
      serve();
    });
  };
  auto on_event = [this, address](std::string_view ev, const member& m) {
    if (o_.on_event) o_.on_event(address, ev, m);
  };
  auto log = [this, address](std::string_view line) {
    if (o_.on_log) o_.on_log(address, line);
  };
  h->m = std::make_unique<membership>(h->clk, std::move(t), member{name, next_id_++, address},
                                      o_.tm, on_event, log);
  h->m->join(std::move(seeds), [hp](result<void> r) {
    hp->joined = std::make_unique<result<void>>(std::move(r));
  });
  return *h->m;
}

const result<void>* simnet::joined(const std::string& name) const {
  return hosts_.at(name)->joined.get();
}
membership& simnet::at(const std::string& name) { return *hosts_.at(name)->m; }
bool simnet::has(const std::string& name) const {
  auto it = hosts_.find(name);
  return it != hosts_.end() && it->second->m;
}

void simnet::crash(const std::string& name) {
  auto& h = *hosts_.at(name);
  h.m.reset();
  h.clk.waiting.clear();
  h.clk.stopped = false;
}

void simnet::stop(const std::string& name, clock::duration d) {
  host* h = hosts_.at(name).get();
  h->clk.stopped = true;
  h->resume = clk_.start_timer(d, [h] { h->clk.resume(); });
}

void simnet::link_loss(const std::string& name, double p) { hosts_.at(name)->loss = p; }
void simnet::slow(const std::string& name, clock::duration extra) { hosts_.at(name)->extra = extra; }
void simnet::cut(std::set<std::string> a, std::set<std::string> b) {
  cuts_.emplace_back(std::move(a), std::move(b));
}
void simnet::heal() { cuts_.clear(); }

bool simnet::reachable(const host& from, const host& to) const {
  for (auto& [a, b] : cuts_)
    if ((a.count(from.address) && b.count(to.address)) || (b.count(from.address) && a.count(to.address)))
      return false;
  return true;
}

clock::duration simnet::delay(const host& a, const host& b) {
  std::uniform_int_distribution<clock::duration::rep> d(o_.min_delay.count(), o_.max_delay.count());
  return clock::duration(d(rng_)) + a.extra + b.extra;
}

void simnet::deliver_later(clock::duration d, std::function<void()> fn) {
  auto id = next_++;
  inflight_[id] = clk_.start_timer(d, [this, id, fn = std::move(fn)] {
    inflight_.erase(id);
    fn();
  });
}

void simnet::send(host& from, const std::string& to, std::string packet) {
  ++packets_;
  auto it = hosts_.find(to);
  std::uniform_real_distribution<double> u(0, 1);
  if (it == hosts_.end() || !reachable(from, *it->second) || u(rng_) < o_.loss ||
      u(rng_) < from.loss || u(rng_) < it->second->loss) {
    ++lost_;
    return;
  }
  host* target = it->second.get();
  std::string name = from.address;
  deliver_later(delay(from, *target), [target, name, packet = std::move(packet)] {
    if (!target->m) return;
    if (target->clk.stopped)
      return target->clk.waiting.push_back([target, name, packet] {
        if (target->m) target->m->receive(name, packet);
      });
    target->m->receive(name, packet);
  });
}

void simnet::inject(const std::string& from, const std::string& to, std::string bytes) {
  host* target = hosts_.at(to).get();
  deliver_later(o_.min_delay, [target, from, bytes = std::move(bytes)] {
    if (target->m) target->m->receive(from, bytes);
  });
}

}  // namespace circuit::cluster
