// files.hpp — what libcircuit_test's cases use to look at the daemon's
// mount (CIRCUIT_MOUNT): what the library did, from the files' side.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

inline std::string mount() { return std::getenv("CIRCUIT_MOUNT"); }
inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
// Whether `path` is gone within 3 s: a removal made through the socket
// reaches the kernel's cache of the mount a moment later (the daemon's
// invalidations are asynchronous).
inline bool gone_soon(const std::string& path) {
  for (int i = 0; i < 300 && exists(path); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return !exists(path);
}
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// One write(2) of `text` to `path`, then close: 0, or the errno of the
// write (or of the open).
inline int write_errno(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return errno;
  int err = ::write(fd, text.data(), text.size()) < 0 ? errno : 0;
  ::close(fd);
  return err;
}
