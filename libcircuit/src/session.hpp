// session.hpp — one thread's connection to the daemon (one 9P session, so
// the `error` files it reads hold its own failures), and turning a failed
// call into the exception a program catches, with the daemon's words.
//
// Thread safety: the thread that made it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "circuit/core/error.hpp"
#include "circuit/wire/conn.hpp"

namespace circuit::detail {

class session {
 public:
  // Connects; throws circuit::exception with the words when it cannot.
  explicit session(const std::string& socket);
  wire::conn& conn() { return *c_; }

  // Throws the failure `e` of `what` ("send", "recv", "mkdir") on the file
  // `file` ("/h1/channels/a/send"). The words are the daemon's when it
  // recorded them (the `error` file of the file's directory), else
  // "what: file: " and the errno's words; a deadline that passed says so.
  // `walked`: the walk to the file succeeded (a failed walk records
  // nothing, so an older message in `error` must not be taken for it).
  [[noreturn]] void fail(const error& e, const std::string& what, const std::string& file, bool walked);

 private:
  std::unique_ptr<wire::conn> c_;
};

// Replies of requests issued together (conn.hpp).
using batch = wire::batch;

// A result file's value as JSON ({"value": ...}); throws circuit::app_error
// for {"error": "..."}; nothing when it holds neither.
std::optional<std::string> value_of(const std::string& result);

// Throws circuit::worker_died for a worker whose `wait` read `status`:
// "WHO died of signal KILL WHEN".
[[noreturn]] void worker_ended(const std::string& who, const std::string& status, const std::string& when);

// In a catch block: the words of what was thrown (what() of a
// std::exception, and says so for anything else).
std::string thrown_words();

// "/h1/channels/a" as names, refusing what is not an absolute path of
// names (throws circuit::exception EINVAL with words).
std::vector<std::string> names_of(const std::string& path, const char* what);
std::string path_of(const std::vector<std::string>& names);

}  // namespace circuit::detail
