// error.hpp — the one error vocabulary of circuit.
//
// Every failure in the runtime is an `error`: a code from `errc`, whose
// values are pinned because they cross the wire, and a message in Plan 9
// style, "prefix: detail", meant for a person. The FUSE face maps codes to
// errno with one table (fsd/errno_map.cpp); nobody guesses a code from text.
//
// `result<T>` carries either a T or an error across module boundaries.
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace circuit {

enum class errc : std::uint16_t {
  ok = 0,
  not_found = 1,          // no such file, element or host: check the path
  invalid = 2,            // malformed input: fix the input, the message names it
  exists = 3,             // the name is taken: pick another or remove the old one
  busy = 4,               // the element is in use or already set up: wait or stop it
  would_block = 5,        // a try-operation found nothing ready: retry later
  closed = 6,             // the channel is closed (or the peer end is gone)
  interrupted = 7,        // the caller cancelled (Ctrl-C, cancel, closed connection)
  too_big = 8,            // over a configured size limit: send less or raise it
  out_of_range = 9,       // a number outside what is allowed
  not_dir = 10,           // a directory was expected
  is_dir = 11,            // a file was expected
  not_permitted = 12,     // the operation does not exist on this file or directory
  access = 13,            // the file is not open for that (read-only, write-only)
  host_down = 14,         // the host that owns the path is down
  removed = 15,           // the element went away while the call waited
  bad_state = 16,         // the call does not fit the element's state now
  io = 17,                // an operating system call failed: see the message
  no_process = 18,        // the worker has no running process: start it first
  no_memory = 19,         // the daemon's memory budget (--max-memory) is spent: read, or send less
  not_supported = 20,     // the protocol operation is not served here: use another
  timed_out = 21,         // a server did not answer within its deadline: retry, or check it
  host_unreachable = 22,  // the link to the host failed though it may be up: retry
  bad_fid = 23,           // the request names a fid the session does not have: a client bug
  no_space = 24,          // a disk bound (the binary store's) is reached: finish or remove some
  over_quota = 25,        // the caller made as many elements as one user may: remove some
  no_descriptors = 26,    // a process is out of file descriptors (EMFILE, ENFILE): close some
};

// A short name for the code, for logs ("invalid", "closed", ...).
const char* errc_name(errc code);

struct error {
  errc code = errc::ok;
  std::string message;  // "prefix: detail", no trailing newline
};

// Messages are for people, and each is kept per session (the `error`
// files) and logged: one longer than this is cut (cut_text), so a huge
// user value cannot make the daemon keep or log megabytes.
inline constexpr std::size_t max_error_text = 1024;

// `text` if it is at most `max` bytes; else its start, cut at a character
// boundary, then "... (N bytes)" with the original length: at most `max`.
std::string cut_text(std::string text, std::size_t max = max_error_text);

inline error make_error(errc code, std::string message) {
  return error{code, cut_text(std::move(message))};
}

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const error& err() const { return std::get<1>(v_); }
  error& err() { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : e_(std::move(e)) {}

  bool ok() const { return e_.code == errc::ok; }
  explicit operator bool() const { return ok(); }
  const error& err() const { return e_; }
  error& err() { return e_; }

 private:
  error e_;
};

}  // namespace circuit
