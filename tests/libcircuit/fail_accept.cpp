// fail_accept — a preload for tests: the first $FAIL_ACCEPTS calls of
// accept4(2) in the process fail with EMFILE, as they do in a program
// out of descriptors; and on the thread of a libcircuit program that
// serves its files (named circuit-files), after $FAIL_SOCKETS_AFTER calls
// of socket(2) that work, the next $FAIL_SOCKETS fail so (or with errno
// $FAIL_SOCKETS_ERRNO); there too, $FAIL_THREADS calls of
// pthread_create(3) fail with EAGAIN. The rest are the real calls. Built
// without sanitizers, so that it can be preloaded into any build of a
// program.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {
std::atomic<int> failed{0}, sockets{0}, threads{0};

int count(const char* name) {
  const char* n = std::getenv(name);
  return n ? std::atoi(n) : 0;
}

bool on_files_thread() {
  char name[16] = "";
  pthread_getname_np(pthread_self(), name, sizeof name);
  return std::strcmp(name, "circuit-files") == 0;
}
}  // namespace

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  using real_fn = int (*)(int, sockaddr*, socklen_t*, int);
  static real_fn real = reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "accept4"));
  if (failed.fetch_add(1) < count("FAIL_ACCEPTS")) {
    errno = EMFILE;
    return -1;
  }
  return real(fd, addr, len, flags);
}

extern "C" int socket(int domain, int type, int protocol) {
  using real_fn = int (*)(int, int, int);
  static real_fn real = reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "socket"));
  if (on_files_thread()) {
    int n = sockets.fetch_add(1) - count("FAIL_SOCKETS_AFTER");
    if (n >= 0 && n < count("FAIL_SOCKETS")) {
      errno = count("FAIL_SOCKETS_ERRNO") ? count("FAIL_SOCKETS_ERRNO") : EMFILE;
      return -1;
    }
  }
  return real(domain, type, protocol);
}

extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*),
                              void* arg) {
  using real_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static real_fn real = reinterpret_cast<real_fn>(dlsym(RTLD_NEXT, "pthread_create"));
  if (on_files_thread() && threads.fetch_add(1) < count("FAIL_THREADS")) return EAGAIN;
  return real(t, attr, fn, arg);
}
