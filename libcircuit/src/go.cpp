// go.cpp — a goroutine in another program (go.hpp): WORKER/goroutines/go
// opened for reading and writing, the call written, the result read; and
// the program's own files (rt.serve).
#include "circuit/go.hpp"

#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>

#include "goroutines.hpp"
#include "program.hpp"
#include "session.hpp"

namespace circuit {

// An open of WORKER/goroutines/go: its fid and, from go() on, the read of
// its result (it starts where the call ended), which the program answers
// when the function returned. The read leaves with the call, so that go()
// and wait() together are one round trip.
struct detail::go_open {
  std::string worker, file;
  std::uint32_t fid = 0;
  std::size_t call_size = 0;
  std::thread::id owner = std::this_thread::get_id();
  std::uint16_t read_tag = 0;
  bool reading = false;  // the read is out
  std::optional<result<std::string>> first;  // its answer
};

namespace {

void same_thread(const detail::go_open& g) {
  if (g.owner != std::this_thread::get_id())
    throw_error(EINVAL, "go: " + g.worker + ": a goroutine's wait belongs to the thread that called go()");
}

// Issues the read of the result from `off` for `g`.
void read_result(wire::client& cl, const std::shared_ptr<detail::go_open>& g, std::uint64_t off) {
  g->reading = true;
  g->first.reset();
  cl.read(g->fid, off, cl.msize() - wire::rread_overhead, [g](result<std::string> r) {
    g->reading = false;
    g->first.emplace(std::move(r));
  });
  g->read_tag = cl.tag_of_last();
}

}  // namespace

std::shared_ptr<detail::go_open> runtime::start_go(const std::string& worker, detail::fn_key fn,
                                                   const std::string& args) {
  const char* name = detail::name_of(fn);
  if (!name) throw_error(EINVAL, "go: the function is not registered (CIRCUIT_REGISTER(fn) at namespace scope)");
  auto names = detail::names_of(worker, "go");
  names.push_back("goroutines");
  names.push_back("go");
  std::string call = "{\"fn\":\"" + std::string(name) + "\",\"args\":" + args + "}";
  if (call.size() > detail::max_go_call)
    throw_error(E2BIG, "go: the call is " + std::to_string(call.size()) + " bytes of JSON; at most " +
                           std::to_string(detail::max_go_call) + " cross by go (send more on a channel)");
  auto& s = session();
  auto& c = s.conn();
  auto& cl = c.raw();
  // A worker just spawned shows its goroutines once its program started.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto g = std::make_shared<detail::go_open>();
    g->worker = worker;
    g->file = worker + "/goroutines/go";
    g->fid = cl.new_fid();
    g->call_size = call.size();
    detail::batch b;
    cl.walk(c.root(), g->fid, names, b.on_walk(names.size()));
    cl.lopen(g->fid, wire::o_rdwr, b.on<result<wire::rlopen>>("open"));
    for (std::size_t off = 0; off < call.size(); off += c.max_write())
      cl.write(g->fid, off, call.substr(off, c.max_write()), b.on<result<std::uint32_t>>("write"));
    read_result(cl, g, call.size());
    c.run_until([&b] { return b.out == 0; });
    if (!b.failed) return g;
    // The read fails too (its fid is not open), and its answer is dropped.
    if (b.walked) cl.clunk(g->fid, [](result<void>) {});
    bool early = !b.walked && b.failed->code == errc::not_found && std::chrono::steady_clock::now() < until;
    if (!early) s.fail(*b.failed, "go", g->file, b.walked);
    if (auto w = c.walk(detail::names_of(worker, "go")); !w) s.fail(w.err(), "go", worker, false);
    else (void)c.clunk(*w);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string runtime::await_go(const std::shared_ptr<detail::go_open>& g, duration within) {
  same_thread(*g);
  auto& s = session();
  auto& c = s.conn();
  auto& cl = c.raw();
  auto deadline = std::chrono::steady_clock::now() + within;
  std::string got;
  {
    detail::blocking guard("go " + g->worker, c);
    for (;;) {
      if (!g->reading && !g->first) read_result(cl, g, g->call_size + got.size());
      bool done = within == duration::zero() ? (c.run_until([&g] { return g->first.has_value(); }), true)
                                              : c.run_until([&g] { return g->first.has_value(); }, deadline);
      if (!done) {
        // Flushed: it ends now, with its answer if that won.
        std::optional<result<void>> flushed;
        cl.flush(g->read_tag, [&flushed](result<void> r) { flushed.emplace(std::move(r)); });
        c.run_until([&] { return flushed && g->first; });
        if (!*g->first && g->first->err().code == errc::interrupted)
          g->first = result<std::string>(make_error(errc::timed_out, "the deadline passed"));
      }
      result<std::string> r = std::move(*g->first);
      g->first.reset();
      if (!r) {
        // A program that died takes its files with it: say that, not how
        // its files went.
        // Its daemon may learn of the end a moment after the program's
        // files went: trywait is asked for up to a second.
        if (r.err().code != errc::timed_out && r.err().code != errc::interrupted) {
          auto names = wire::split_path(g->worker);
          names.push_back("trywait");
          for (int i = 0; i < 20; ++i) {
            auto status = c.slurp(names);
            if (status) detail::worker_ended("go: worker " + g->worker, *status, "while the goroutine ran");
            if (status.err().code != errc::would_block) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }
        s.fail(r.err(), "go", g->file, true);
      }
      got += *r;
      // The result is one JSON object: whole when it parses (no read of
      // its end is needed); an empty read is its end.
      if (r->empty()) break;
      if (auto v = detail::value_of(got)) return *v;
    }
  }
  if (auto v = detail::value_of(got)) return *v;
  throw_error(EIO, "go: " + g->file + ": the program answered no result");
}

// The clunk is not awaited: it leaves with the thread's next requests (or
// with its connection's end). A read still out is flushed first.
void runtime::end_go(const std::shared_ptr<detail::go_open>& g) {
  if (g->owner != std::this_thread::get_id()) return;  // its thread's connection frees it at that thread's end
  try {
    auto& cl = session().conn().raw();
    if (g->reading) cl.flush(g->read_tag, [](result<void>) {});
    cl.clunk(g->fid, [](result<void>) {});
  } catch (const exception&) {
  }
}

void runtime::serve(const std::string& name, std::function<std::string()> read,
                    std::function<void(std::string_view)> write) {
  detail::program::get().start(*this, "main");
  detail::program::get().serve({name, std::move(read), std::move(write)});
}

runtime& runtime::current() { return detail::decoding_runtime(); }

}  // namespace circuit
