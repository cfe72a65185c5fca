// errors.cpp — an errno to the exception type a program catches.
#include "circuit/errors.hpp"

#include <cerrno>
#include <exception>

#include "session.hpp"

namespace circuit {

void throw_error(int errnum, const std::string& words) {
  switch (errnum) {
    case EHOSTDOWN:
    case EHOSTUNREACH: throw host_down(errnum, words);
    case ETIMEDOUT: throw timeout(errnum, words);
    case EINTR:
    case ECANCELED: throw cancelled(errnum, words);
    case ENOENT: throw not_found(errnum, words);
    case EACCES:
    case EPERM: throw permission(errnum, words);
    case EPIPE: throw closed(errnum, words);
    case EEXIST: throw exists(errnum, words);
    default: throw exception(errnum, words);
  }
}

namespace detail {

std::string thrown_words() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "it threw a value that is not a std::exception";
  }
}

}  // namespace detail

}  // namespace circuit
