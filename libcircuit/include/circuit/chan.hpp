// chan.hpp — a typed channel of the cluster: a Go chan whose values cross
// as JSON (Boost.JSON's value_from and value_to: numbers, strings,
// containers, and structs described with Boost.Describe).
//
//   auto ch = rt.make_chan<int>("feedback");
//   ch.send(1);                        // waits for a place (a receiver, with cap 0)
//   int v = ch.recv();                 // waits for a message
//   if (auto v = ch.try_recv()) ...    // only if one is ready
//   ch.send(2, std::chrono::seconds(1));  // throws circuit::timeout after 1 s
//   ch.close();                        // receivers drain, then get circuit::closed
//
// A send is walk, open, write and clunk of PATH/send, in one round trip to
// the daemon; a receive is walk, open and read of PATH/recv, then reads to
// the end of the message and a clunk (libcircuit(3)).
//
// A chan is a path and its runtime: it may be copied, and must not be
// used after its runtime is gone.
//
// Thread safety: a chan may be used from any thread; each call uses the
// calling thread's connection.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "circuit/errors.hpp"
#include "circuit/runtime.hpp"

namespace circuit {

class chan_base {
 public:
  const std::string& path() const { return path_; }  // "/h1/channels/jobs"

 protected:
  chan_base(runtime* rt, std::string path) : rt_(rt), path_(std::move(path)) {}
  // The byte-level calls; a zero `within` waits for ever.
  void send_bytes(std::string msg, duration within);
  std::string recv_bytes(duration within);
  bool try_send_bytes(std::string msg);
  std::optional<std::string> try_recv_bytes();
  void close_channel();
  // EINVAL with words, for a message that is not a T.
  [[noreturn]] void not_a_value(const std::string& msg, const char* why) const;

  runtime* rt_;
  std::string path_;
};

template <class T>
class chan : public chan_base {
 public:
  void send(const T& v, duration within = {}) { send_bytes(encode(v), within); }
  T recv(duration within = {}) { return decode(recv_bytes(within)); }
  // False when there is no place now (the buffer is full, or no receiver waits).
  bool try_send(const T& v) { return try_send_bytes(encode(v)); }
  // Nothing when no message is ready now.
  std::optional<T> try_recv() {
    auto m = try_recv_bytes();
    if (!m) return std::nullopt;
    return decode(*m);
  }
  // Closes the channel for sending (closing a closed one does nothing).
  void close() { close_channel(); }

 private:
  friend class runtime;
  template <class U>
  friend boost::json::result<chan<U>> tag_invoke(boost::json::try_value_to_tag<chan<U>>, const boost::json::value&);
  chan(runtime* rt, std::string path) : chan_base(rt, std::move(path)) {}

  static std::string encode(const T& v) { return boost::json::serialize(boost::json::value_from(v)); }
  T decode(const std::string& msg) const {
    detail::decoding with(rt_);  // a chan in the message is this runtime's
    boost::system::error_code ec;
    auto v = boost::json::parse(msg, ec);
    if (ec) not_a_value(msg, "it is not JSON");
    auto t = boost::json::try_value_to<T>(v);
    if (!t) not_a_value(msg, "it is JSON of another type");
    return std::move(*t);
  }
};

// A chan crosses as its path (a JSON string); decoded, it belongs to the
// runtime that decodes it (detail::decoding_runtime).
template <class T>
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const chan<T>& c) {
  v = c.path();
}
template <class T>
boost::json::result<chan<T>> tag_invoke(boost::json::try_value_to_tag<chan<T>>, const boost::json::value& v) {
  if (!v.is_string()) return boost::json::make_error_code(boost::json::error::not_string);
  return chan<T>(&detail::decoding_runtime(), std::string(v.get_string()));
}

// Keeps `ch` in place when its runtime ends (by default a program's
// channels are removed then, so a second run starts clean).
template <class T>
void keep(runtime& rt, const chan<T>& ch) {
  rt.keep(ch.path());
}

}  // namespace circuit
