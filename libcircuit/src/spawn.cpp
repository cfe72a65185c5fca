// spawn.cpp — the registry of functions, starting a worker that runs one,
// waiting for its result, and the worker's side: running it.
#include "circuit/spawn.hpp"

#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>

#include "goroutines.hpp"
#include "program.hpp"
#include "session.hpp"

extern char** environ;

namespace circuit {

namespace {

// Filled by static initializers (CIRCUIT_REGISTER), read after main starts.
struct registry {
  std::mutex mu;
  std::map<std::string, detail::invoker> by_name;
  std::map<detail::fn_key, std::string> names;
};
registry& functions() {
  static registry* r = new registry;  // never destroyed: the server's thread may use it at exit
  return *r;
}

// A spawned worker's arguments: "--circuit-run NAME ARGS".
constexpr const char* run_flag = "--circuit-run";
// execve takes at most 128 KiB in one argument.
constexpr std::size_t max_args = 120 * 1024;

std::string worker_name(const std::string& fn) {
  std::random_device rd;
  char buf[24];
  std::snprintf(buf, sizeof buf, "-%08x%08x", rd(), rd());
  return fn.substr(0, 40) + buf;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

namespace detail {

bool enroll(const char* name, fn_key key, invoker run) {
  auto& r = functions();
  std::lock_guard<std::mutex> lock(r.mu);
  r.by_name[name] = run;
  r.names[key] = name;
  return true;
}

const char* name_of(fn_key key) {
  auto& r = functions();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.names.find(key);
  return it == r.names.end() ? nullptr : it->second.c_str();
}

invoker invoker_of(const std::string& name) {
  auto& r = functions();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

std::optional<std::string> value_of(const std::string& result) {
  boost::system::error_code ec;
  auto v = boost::json::parse(result, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto& o = v.as_object();
  if (auto* value = o.if_contains("value")) return boost::json::serialize(*value);
  if (auto* err = o.if_contains("error"); err && err->is_string())
    throw app_error(EREMOTEIO, std::string(err->get_string()));
  return std::nullopt;
}

void worker_ended(const std::string& who, const std::string& status, const std::string& when) {
  boost::system::error_code ec;
  auto st = boost::json::parse(status, ec);
  std::string how = trimmed(status);
  int code = -1;
  std::string sig;
  if (!ec && st.is_object()) {
    if (auto* e = st.as_object().if_contains("exit"); e && e->is_int64()) {
      code = static_cast<int>(e->get_int64());
      how = "exited with status " + std::to_string(code);
    }
    if (auto* g = st.as_object().if_contains("signal"); g && g->is_string()) {
      sig = std::string(g->get_string());
      how = "died of signal " + sig;
    }
  }
  throw worker_died(who + " " + how + " " + when, code, sig);
}

namespace {

std::string excerpt(std::string s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; }

}  // namespace

// A number past a double's range parses as infinity, which serializes as
// "Infinity", not JSON: such arguments come here with those words.
void arguments_not_json(const std::string& args, const boost::system::error_code& ec) {
  throw_error(EINVAL, "the arguments are not a JSON array" +
                          (ec ? " (" + ec.message() + ")" : std::string()) + ": " + excerpt(args));
}

void arguments_not_counted(std::size_t takes, std::size_t got) {
  throw_error(EINVAL, "the function takes " + std::to_string(takes) +
                          (takes == 1 ? " argument" : " arguments") + ", not " +
                          std::to_string(got));
}

void argument_of_another_type(std::size_t index, std::size_t count, const boost::json::value& v) {
  throw_error(EINVAL, "argument " + std::to_string(index + 1) + " of " + std::to_string(count) +
                          ", " + excerpt(boost::json::serialize(v)) +
                          ", is not of the type the function takes");
}

}  // namespace detail

std::string runtime::start_worker(const std::string& host, detail::fn_key fn, const std::string& args) {
  const char* name = detail::name_of(fn);
  if (!name) throw_error(EINVAL, "spawn: the function is not registered (CIRCUIT_REGISTER(fn) at namespace scope)");
  if (args.size() > max_args)
    throw_error(E2BIG, "spawn: the arguments are " + std::to_string(args.size()) + " bytes of JSON; at most " +
                           std::to_string(max_args) + " cross by spawn (send more on a channel)");
  std::string wname = worker_name(name);
  std::string path = "/" + host + "/workers/" + wname;
  make_held({host, "workers"}, wname, "spawn");
  auto& s = session();
  auto& c = s.conn();
  boost::json::object spec;
  spec["binary"] = binary_on(host);
  spec["args"] = boost::json::array{run_flag, name, args};
  // The worker gets this program's environment, as a thread would (the
  // daemon sets CIRCUIT_HOST, CIRCUIT_WORKER and CIRCUIT_SOCKET over it).
  boost::json::array env;
  for (char** e = environ; *e; ++e) env.push_back(boost::json::string(*e));
  spec["env"] = std::move(env);
  auto r = c.put({host, "workers", wname, "spec"}, boost::json::serialize(spec));
  if (!r && r.err().code == errc::not_found) {  // evicted from the store since it was shipped
    spec["binary"] = binary_on(host, true);
    r = c.put({host, "workers", wname, "spec"}, boost::json::serialize(spec));
  }
  if (!r) s.fail(r.err(), "spawn", path + "/spec", true);
  return path;
}

// Walk, open and read of `wait` leave together (the open waits for the
// end, at most `within`); its clunk leaves with the walk, open and read of
// `result`: two round trips, and one more to find the result's end.
std::string runtime::await_result(const std::string& path, duration within) {
  auto& s = session();
  auto& c = s.conn();
  auto& cl = c.raw();
  auto names = wire::split_path(path);
  names.push_back("wait");
  detail::batch b;
  std::optional<result<std::string>> status;
  std::uint32_t fid = cl.new_fid();
  {
    detail::blocking guard("wait " + path, c);
    cl.walk(c.root(), fid, names, b.on_walk(names.size()));
    cl.set_deadline(within);
    cl.lopen(fid, wire::o_rdonly, b.on<result<wire::rlopen>>("open"));
    cl.read(fid, 0, cl.msize() - wire::rread_overhead, b.keep("read", status));
    cl.set_deadline({});
    c.finish(b);
  }
  if (b.walked)
    cl.clunk(fid, [](result<void>) {});  // leaves with what comes next
  else
    cl.release_fid(fid);
  if (b.failed) s.fail(*b.failed, "wait", path + "/wait", b.walked);
  names.back() = "result";
  auto res = c.slurp(names);
  if (!res) s.fail(res.err(), "wait", path + "/result", true);

  if (auto v = detail::value_of(*res)) return *v;
  // No result: how the worker ended says why.
  detail::worker_ended("spawn: worker " + path, **status, "before it wrote a result");
}

void runtime::kill_worker(const std::string& path) {
  auto& s = session();
  auto names = wire::split_path(path);
  names.push_back("ctl");
  if (auto r = s.conn().put(names, "kill\n"); !r) s.fail(r.err(), "kill", path + "/ctl", true);
}

// In a spawned worker: runs the function, writes its value or error to
// $CIRCUIT_WORKER/result, and exits.
void runtime::run_spawned(const std::string& fn, const std::string& args) {
  boost::json::object out;
  int code = 0;
  detail::invoker run = detail::invoker_of(fn);
  detail::program::get().start(*this, fn);  // the main thread is the goroutine that runs fn
  try {
    if (!run) throw_error(EINVAL, "spawn: no function " + fn + " is registered in this program");
    detail::decoding with(this);
    auto v = run(args);
    out["value"] = boost::json::parse(v);
  } catch (...) {
    out["error"] = fn + " on " + host() + ": " + detail::thrown_words();
    code = 1;
  }
  std::fflush(stdout);
  const char* self = std::getenv("CIRCUIT_WORKER");
  if (self) {
    auto names = wire::split_path(self);
    names.push_back("result");
    if (auto r = session().conn().put(names, boost::json::serialize(out)); !r) {
      std::fprintf(stderr, "circuit: %s: cannot write the result: %s\n", self, r.err().message.c_str());
      code = 2;
    }
  } else {
    std::fprintf(stderr, "circuit: not in a worker (no CIRCUIT_WORKER): the result is lost\n");
    code = 2;
  }
  clean_up();
  std::exit(code);
}

bool runtime::spawned_run(int argc, char** argv) {
  if (argc < 4 || std::string(argv[1]) != run_flag) return false;
  run_spawned(argv[2], argv[3]);
}

}  // namespace circuit
