// files.hpp — what libcircuit_test's cases use to look at the daemon's
// mount (CIRCUIT_MOUNT): what the library did, from the files' side.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

inline std::string mount() { return std::getenv("CIRCUIT_MOUNT"); }
inline bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
