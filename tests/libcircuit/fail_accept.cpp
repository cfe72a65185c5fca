// fail_accept — a preload for tests: the first $FAIL_ACCEPTS calls of
// accept4(2) in the process fail with EMFILE, as they do in a program
// out of descriptors; the rest are the real call. Built without
// sanitizers, so that it can be preloaded into any build of a program.
#include <dlfcn.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

namespace {
std::atomic<int> failed{0};
}

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  using real_fn = int (*)(int, sockaddr*, socklen_t*, int);
  static real_fn real = reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "accept4"));
  const char* n = std::getenv("FAIL_ACCEPTS");
  if (n && failed.fetch_add(1) < std::atoi(n)) {
    errno = EMFILE;
    return -1;
  }
  return real(fd, addr, len, flags);
}
