// go.cpp — a goroutine in another program (go.hpp): WORKER/goroutines/go
// opened for reading and writing, the call written, the result read; and
// the program's own files (rt.serve).
#include "circuit/go.hpp"

#include <cerrno>
#include <chrono>
#include <thread>

#include "goroutines.hpp"
#include "program.hpp"
#include "session.hpp"

namespace circuit {

namespace {

void same_thread(std::thread::id owner, const std::string& worker) {
  if (owner != std::this_thread::get_id())
    throw_error(EINVAL, "go: " + worker + ": a goroutine's wait belongs to the thread that called go()");
}

}  // namespace

std::pair<std::uint32_t, std::size_t> runtime::start_go(const std::string& worker, detail::fn_key fn, const std::string& args) {
  const char* name = detail::name_of(fn);
  if (!name) throw_error(EINVAL, "go: the function is not registered (CIRCUIT_REGISTER(fn) at namespace scope)");
  auto names = detail::names_of(worker, "go");
  names.push_back("goroutines");
  names.push_back("go");
  std::string file = worker + "/goroutines/go";
  std::string call = "{\"fn\":\"" + std::string(name) + "\",\"args\":" + args + "}";
  auto& s = session();
  auto& c = s.conn();
  auto& cl = c.raw();
  // A worker just spawned shows its goroutines once its program started.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    detail::batch b;
    std::uint32_t fid = cl.new_fid();
    cl.walk(c.root(), fid, names, b.on_walk(names.size()));
    cl.lopen(fid, wire::o_rdwr, b.on<result<wire::rlopen>>("open"));
    for (std::size_t off = 0; off < call.size(); off += c.max_write())
      cl.write(fid, off, call.substr(off, c.max_write()), b.on<result<std::uint32_t>>("write"));
    c.run_until([&b] { return b.out == 0; });
    if (!b.failed) return {fid, call.size()};
    if (b.walked) cl.clunk(fid, [](result<void>) {});
    bool early = !b.walked && b.failed->code == errc::not_found && std::chrono::steady_clock::now() < until;
    if (!early) s.fail(*b.failed, "go", file, b.walked);
    if (auto w = c.walk(detail::names_of(worker, "go")); !w) s.fail(w.err(), "go", worker, false);
    else (void)c.clunk(*w);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string runtime::await_go(const std::string& worker, std::uint32_t fid, std::size_t call_size,
                              std::thread::id owner, duration within) {
  same_thread(owner, worker);
  auto& s = session();
  auto& c = s.conn();
  std::string file = worker + "/goroutines/go";
  std::string got;
  {
    detail::blocking guard("go " + worker, c);
    for (;;) {
      auto r = c.read(fid, call_size + got.size(), within);  // the result starts where the call ended
      if (!r) {
        // A program that died takes its files with it: say that, not how
        // its files went.
        if (r.err().code != errc::timed_out && r.err().code != errc::interrupted) {
          auto names = wire::split_path(worker);
          names.push_back("trywait");
          if (auto status = c.slurp(names)) detail::worker_ended("go: worker " + worker, *status, "while the goroutine ran");
        }
        s.fail(r.err(), "go", file, true);
      }
      if (r->empty()) break;
      got += *r;
    }
  }
  if (auto v = detail::value_of(got)) return *v;
  throw_error(EIO, "go: " + file + ": the program answered no result");
}

// The clunk is awaited: the goroutine's open is gone before the handle is.
void runtime::end_go(std::uint32_t fid, std::thread::id owner) {
  if (owner != std::this_thread::get_id()) return;  // its thread's connection frees it at that thread's end
  try {
    (void)session().conn().clunk(fid);
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
