// spawn.hpp — run a registered function in a new worker on any host.
//
//   int square(int x) { return x * x; }
//   CIRCUIT_REGISTER(square);
//
//   circuit::runtime rt(argc, argv);     // in a spawned worker: runs the function, never returns
//   auto w = rt.spawn("h2", square, 7);  // a new worker on h2 runs square(7)
//   int v = w.wait();                    // 49
//
// The worker runs the caller's own program (/proc/self/exe) with the
// arguments "--circuit-run NAME ARGS": `runtime(argc, argv)` sees them,
// calls the function registered as NAME with ARGS (a JSON array), writes
// {"value": ...} or {"error": "..."} to the worker's `result` file and
// exits (0, or 1 after an error). Arguments and results cross as JSON
// (Boost.JSON's value_from and value_to); a chan crosses as its path.
// Every step is a file operation (libcircuit(3)):
//
//   mkdir /h2/workers/square-1f2e...; echo '{"path":...,"args":[...]}' > .../spec
//   cat .../wait; cat .../result
//
// Functions are registered by name, at namespace scope, in the program's
// source (so a program and the copy of it a worker runs agree on names).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "circuit/chan.hpp"
#include "circuit/errors.hpp"
#include "circuit/runtime.hpp"

namespace circuit {

namespace detail {

using fn_key = void (*)();
// Runs a registered function: its arguments as a JSON array in, its value
// as JSON out ("null" for void). Throws what the function throws, and
// circuit::exception EINVAL for arguments that are not what it takes.
using invoker = std::string (*)(const std::string& args);

bool enroll(const char* name, fn_key key, invoker run);
const char* name_of(fn_key key);  // nullptr: not registered
invoker invoker_of(const std::string& name);  // nullptr: not registered

template <class F>
struct signature;
template <class R, class... P>
struct signature<R (*)(P...)> {
  using result = R;
  using params = std::tuple<std::decay_t<P>...>;
};

// The arguments a function got do not fit it: EINVAL with words that
// quote them (their first 64 bytes).
[[noreturn]] void arguments_not_json(const std::string& args, const boost::system::error_code& ec);
[[noreturn]] void arguments_not_counted(std::size_t takes, std::size_t got);
[[noreturn]] void argument_of_another_type(std::size_t index, std::size_t count,
                                           const boost::json::value& v);

template <auto F, std::size_t... I>
std::string invoke(const boost::json::array& a, std::index_sequence<I...>) {
  using sig = signature<decltype(F)>;
  using R = typename sig::result;
  auto arg = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
    using P = std::tuple_element_t<J, typename sig::params>;
    auto v = boost::json::try_value_to<P>(a[J]);
    if (!v) argument_of_another_type(J, sizeof...(I), a[J]);
    return std::move(*v);
  };
  if constexpr (std::is_void_v<R>) {
    F(arg(std::integral_constant<std::size_t, I>{})...);
    return "null";
  } else {
    return boost::json::serialize(boost::json::value_from(F(arg(std::integral_constant<std::size_t, I>{})...)));
  }
}

template <auto F>
std::string invoke_json(const std::string& args) {
  constexpr std::size_t n = std::tuple_size_v<typename signature<decltype(F)>::params>;
  boost::system::error_code ec;
  auto v = boost::json::parse(args, ec);
  if (ec || !v.is_array()) arguments_not_json(args, ec);
  if (v.as_array().size() != n) arguments_not_counted(n, v.as_array().size());
  return invoke<F>(v.as_array(), std::make_index_sequence<n>{});
}

// The arguments as the function's parameter types, as a JSON array.
template <class Params, class... A, std::size_t... I>
std::string encode_args(std::index_sequence<I...>, A&&... args) {
  boost::json::array a;
  (a.push_back(boost::json::value_from(std::tuple_element_t<I, Params>(std::forward<A>(args)))), ...);
  return boost::json::serialize(a);
}

// A function's value JSON `v` as R, decoded into `rt` (a chan in it opens
// there); `who` names the call in the error ("spawn: /h2/workers/f-1e2").
template <class R>
R result_as(runtime* rt, const std::string& who, const std::string& v) {
  if constexpr (!std::is_void_v<R>) {
    decoding with(rt);
    auto t = boost::json::try_value_to<R>(boost::json::parse(v));
    if (!t) throw exception(EINVAL, who + ": the result is JSON of another type: " + v);
    return std::move(*t);
  }
}

}  // namespace detail

// A worker running a spawned function. It is a path and its runtime: it
// may be copied, and must not be used after its runtime is gone.
template <class R>
class spawned {
 public:
  const std::string& path() const { return path_; }  // "/h2/workers/square-1f2e..."

  // Waits for the worker's end (a zero `within`: for ever) and gives the
  // function's value. Throws app_error with the function's exception's
  // message, worker_died when it ended without a result (a crash, a kill),
  // host_down when its host is down, timeout when `within` passed.
  R wait(duration within = {}) const {
    return detail::result_as<R>(rt_, "spawn: " + path_, rt_->await_result(path_, within));
  }
  // SIGKILL to every process of the worker.
  void kill() const { rt_->kill_worker(path_); }

 private:
  friend class runtime;
  spawned(runtime* rt, std::string path) : rt_(rt), path_(std::move(path)) {}
  runtime* rt_;
  std::string path_;
};

template <class R, class... P, class... A>
spawned<R> runtime::spawn(const std::string& host, R (*fn)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "spawn: give every argument of the function");
  std::string json = detail::encode_args<std::tuple<std::decay_t<P>...>>(std::index_sequence_for<P...>{},
                                                                          std::forward<A>(args)...);
  return spawned<R>(this, start_worker(host, reinterpret_cast<detail::fn_key>(fn), json));
}

}  // namespace circuit

// Registers a function for spawn, under its name. At namespace scope:
//   CIRCUIT_REGISTER(square);
#define CIRCUIT_REGISTER(fn)                                                              \
  [[maybe_unused]] static const bool circuit_registered_##fn = ::circuit::detail::enroll( \
      #fn, reinterpret_cast<::circuit::detail::fn_key>(&fn), &::circuit::detail::invoke_json<&fn>)
