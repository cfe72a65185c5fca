// session.cpp — a thread's connection, and errors with the daemon's words.
#include "session.hpp"

#include <cerrno>
#include <cstring>

#include "circuit/core/errno_map.hpp"
#include "circuit/errors.hpp"
#include "goroutines.hpp"

namespace circuit::detail {

session::session(const std::string& socket) {
  auto c = wire::conn::open(socket);
  if (!c) {
    std::string words = c.err().message;
    if (words.rfind("9p: ", 0) == 0) words = words.substr(4);
    // Out of descriptors or memory, the program is at fault, not the socket.
    bool ours = c.err().code == errc::no_descriptors || c.err().code == errc::no_memory;
    throw_error(to_errno(c.err().code),
                "circuit: cannot reach the daemon: " + words +
                    (ours ? "" : " (is circuitd running? set CIRCUIT_SOCKET to its --socket)"));
  }
  c_ = std::move(*c);
}

void session::fail(const error& e, const std::string& what, const std::string& file, bool walked) {
  int no = to_errno(e.code);
  // A cancel of the calling goroutine (its ctl) interrupted the call.
  if (std::string words; take_cancel(words)) throw_error(ECANCELED, what + ": " + file + ": " + words);
  if (!c_->connected())  // the daemon, not the path's host: say so (the next call connects again)
    throw_error(ECONNRESET, what + ": " + file + ": the connection to circuitd ended (" +
                                (e.message.rfind("9p: ", 0) == 0 ? e.message.substr(4) : e.message) + ")");
  if (e.code == errc::timed_out)
    throw_error(ETIMEDOUT, what + ": " + file + ": the deadline passed before it could " +
                               (what == "recv" ? "take a message" : "take a place"));
  if (walked) {
    auto names = wire::split_path(file);
    if (!names.empty()) names.pop_back();
    names.push_back("error");
    if (auto text = c_->slurp(names); text && !text->empty()) {
      while (!text->empty() && text->back() == '\n') text->pop_back();
      throw_error(no, *text);
    }
  }
  std::string words = e.message.rfind("9p: ", 0) == 0 ? e.message.substr(4) : std::string(std::strerror(no));
  // The owner of the path is down or cut off: the daemon's words for it.
  if (auto names = wire::split_path(file); !names.empty()) {
    if (e.code == errc::host_down) words = "host down: " + names[0];
    if (e.code == errc::host_unreachable) words = "host unreachable: " + names[0];
  }
  throw_error(no, what + ": " + file + ": " + words);
}

std::vector<std::string> names_of(const std::string& path, const char* what) {
  auto names = wire::split_path(path);
  if (path.empty() || path[0] != '/' || names.empty())
    throw_error(EINVAL, std::string(what) + ": \"" + path + "\" is not a path from the root, such as /h1/channels/jobs");
  for (auto& n : names)
    if (n == "." || n == "..") throw_error(EINVAL, std::string(what) + ": \"" + path + "\" has . or .. in it");
  return names;
}

std::string path_of(const std::vector<std::string>& names) {
  std::string p;
  for (auto& n : names) p += "/" + n;
  return p;
}

}  // namespace circuit::detail
