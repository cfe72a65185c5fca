// errors.hpp — what libcircuit throws: one type per failure a program can
// act on, each carrying the errno the daemon answered and its words (the
// `error` file of the directory concerned, read on the same connection,
// so another thread's failure never shows up in yours).
//
//   try { ch.recv(2s); }
//   catch (const circuit::timeout&) { ... }        // nothing came in 2 s
//   catch (const circuit::host_down& e) { ... }    // e.words(): "host down: h2"
//   catch (const circuit::exception& e) { ... }    // anything else: e.errnum()
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace circuit {

class exception : public std::runtime_error {
 public:
  // `words` is what() as well.
  exception(int errnum, const std::string& words) : std::runtime_error(words), errnum_(errnum) {}
  int errnum() const noexcept { return errnum_; }  // EHOSTDOWN, ENOENT, ...
  std::string words() const { return what(); }

 private:
  int errnum_;
};

// The host that owns the path is down, or its link failed (EHOSTDOWN,
// EHOSTUNREACH): "host down: h2".
struct host_down : exception { using exception::exception; };
// A deadline passed before the call could complete (ETIMEDOUT); nothing
// was sent or taken.
struct timeout : exception { using exception::exception; };
// The call was interrupted (EINTR, ECANCELED).
struct cancelled : exception { using exception::exception; };
// No such host, channel or file, or it was removed while the call waited (ENOENT).
struct not_found : exception { using exception::exception; };
// The daemon's access rules refuse the caller (EACCES, EPERM).
struct permission : exception { using exception::exception; };
// The channel is closed: a send, or a receive with nothing left (EPIPE).
struct closed : exception { using exception::exception; };
// The name is taken (EEXIST).
struct exists : exception { using exception::exception; };

// A spawned function threw (EREMOTEIO): "square on h2: x must be positive".
struct app_error : exception { using exception::exception; };
// A spawned worker ended without a result (ECHILD): it crashed, was killed,
// or exited first. exit_code() is its exit status (-1 when a signal ended
// it), signal() the signal's name ("SEGV"; empty when it exited).
struct worker_died : exception {
  worker_died(const std::string& words, int exit_code, std::string signal)
      : exception(ECHILD, words), exit_code_(exit_code), signal_(std::move(signal)) {}
  int exit_code() const noexcept { return exit_code_; }
  const std::string& signal() const noexcept { return signal_; }

 private:
  int exit_code_;
  std::string signal_;
};

// Throws the type that fits `errnum`, with `words`.
[[noreturn]] void throw_error(int errnum, const std::string& words);

}  // namespace circuit
